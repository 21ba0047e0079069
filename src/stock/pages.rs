//! Stock pages: balances by item and location, lots nearing expiry, forms to receive, move
//! and adjust goods, a lot's movement history with reversal, and stocktake entry with its
//! report.

use axum::{
    extract::{Path, Query, State},
    response::{Html, Redirect},
    routing::{get, post},
    Router,
};
use minijinja::{context, Value};
use serde::Deserialize;

use super::{
    views::{self, MovementFilter, StockFilter},
    CountInput, MovementInput, StocktakeInput,
};
use crate::{
    app::AppState,
    auth::{allows, authorize, Permission},
    error::AppError,
    extract::{FormBody, FormFields},
    validate::Fields,
    web::PageCtx,
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/stock", get(overview))
        .route("/stock/movements", post(post_movement))
        .route("/stock/lots/{id}", get(lot))
        .route("/stocktakes/new", get(new_stocktake))
        .route("/stocktakes", post(create_stocktake))
        .route("/stocktakes/{id}", get(stocktake))
}

/// Days ahead that count as "nearing expiry" on the stock page.
const EXPIRY_WINDOW_DAYS: u64 = 30;

async fn overview(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    let balances = views::balances(&mut conn, &StockFilter::default()).await?;
    let soon = (state.settings.today() + chrono::Days::new(EXPIRY_WINDOW_DAYS + 1))
        .format("%Y-%m-%d")
        .to_string();
    let expiring = views::lots(&mut conn, Some(&soon), None).await?;
    let lots = views::lots(&mut conn, None, None).await?;
    let locations = super::locations(&mut conn).await?;
    page.render(
        &state,
        "stock/overview.html",
        context! {
            balances => Value::from_serialize(&balances),
            expiring => Value::from_serialize(&expiring),
            lots => Value::from_serialize(&lots),
            locations => Value::from_serialize(&locations),
            window => EXPIRY_WINDOW_DAYS,
            may_move => allows(actor, Permission::ManageStock),
            key => uuid::Uuid::new_v4().to_string(),
        },
    )
}

#[derive(Deserialize)]
struct MovementForm {
    csrf: String,
    key: String,
    kind: String,
    #[serde(default)]
    pledge_id: String,
    #[serde(default)]
    lot_id: String,
    #[serde(default)]
    location_id: String,
    #[serde(default)]
    to_location_id: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    expires_on: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    movement_id: String,
}

impl MovementForm {
    /// The movement the form asks for; every field problem at once.
    fn input(&self) -> Result<MovementInput, AppError> {
        let mut fields = Fields::new();
        let mut int = |name: &str, text: &str| {
            let value = fields.form_int(name, text);
            if value.is_none() && !text.trim().is_empty() {
                return 0;
            }
            value.unwrap_or_else(|| {
                fields.push(name, "required", "fill this in");
                0
            })
        };
        let input = match self.kind.as_str() {
            "receive" => MovementInput::Receive {
                pledge_id: Some(int("pledge_id", &self.pledge_id)),
                location_id: int("location_id", &self.location_id),
                quantity: int("quantity", &self.quantity),
                allocation_id: None,
                expires_on: None,
                lot_code: None,
            },
            "transfer" => MovementInput::Transfer {
                lot_id: int("lot_id", &self.lot_id),
                from_location_id: int("location_id", &self.location_id),
                to_location_id: int("to_location_id", &self.to_location_id),
                quantity: int("quantity", &self.quantity),
            },
            "adjust" => MovementInput::Adjust {
                lot_id: int("lot_id", &self.lot_id),
                location_id: int("location_id", &self.location_id),
                quantity: int("quantity", &self.quantity),
                reason: self.reason.clone(),
            },
            "reversal" => MovementInput::Reversal {
                movement_id: int("movement_id", &self.movement_id),
                reason: self.reason.clone(),
            },
            _ => {
                return Err(AppError::validation(
                    "kind",
                    "unknown_value",
                    "choose receive, transfer, adjust or reversal",
                ))
            }
        };
        let expires_on = fields.form_date("expires_on", &self.expires_on);
        fields.finish()?;
        Ok(match input {
            MovementInput::Receive {
                pledge_id,
                location_id,
                quantity,
                ..
            } => MovementInput::Receive {
                pledge_id,
                location_id,
                quantity,
                allocation_id: None,
                expires_on,
                lot_code: None,
            },
            other => other,
        })
    }
}

async fn post_movement(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<MovementForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    authorize(Some(actor), Permission::ManageStock)?;
    if form.key.trim().is_empty() {
        return Err(AppError::MissingIdempotencyKey);
    }
    let (_, body) = super::post_movement(&state, actor, &form.key, form.input()?).await?;
    let lot = body["movements"][0]["lot_id"].as_i64().unwrap_or(0);
    Ok(Redirect::to(&format!("/stock/lots/{lot}")))
}

async fn lot(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    let history = views::movements(
        &mut conn,
        &MovementFilter {
            lot_id: Some(id),
            per_page: Some(200),
            ..MovementFilter::default()
        },
    )
    .await?;
    if history.items.is_empty() {
        return Err(AppError::NotFound);
    }
    let held: Vec<_> = views::lots(&mut conn, None, None)
        .await?
        .into_iter()
        .filter(|l| l.lot_id == id)
        .collect();
    let locations = super::locations(&mut conn).await?;
    page.render(
        &state,
        "stock/lot.html",
        context! {
            lot_id => id,
            movements => Value::from_serialize(&history.items),
            held => Value::from_serialize(&held),
            locations => Value::from_serialize(&locations),
            may_move => allows(actor, Permission::ManageStock),
            key => uuid::Uuid::new_v4().to_string(),
        },
    )
}

#[derive(Deserialize)]
struct LocationQuery {
    location_id: Option<i64>,
}

async fn new_stocktake(
    State(state): State<AppState>,
    page: PageCtx,
    Query(query): Query<LocationQuery>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ManageStock)?;
    let mut conn = state.db.pool().acquire().await?;
    let locations = super::locations(&mut conn).await?;
    let location = query
        .location_id
        .or_else(|| locations.first().map(|l| l.id));
    let lots = match location {
        Some(id) => views::lots(&mut conn, None, Some(id)).await?,
        None => Vec::new(),
    };
    page.render(
        &state,
        "stock/stocktake_form.html",
        context! {
            locations => Value::from_serialize(&locations),
            location_id => location,
            lots => Value::from_serialize(&lots),
            key => uuid::Uuid::new_v4().to_string(),
        },
    )
}

async fn create_stocktake(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    authorize(Some(actor), Permission::ManageStock)?;
    let mut fields = Fields::new();
    let location_id = fields.form_int("location_id", form.get("location_id"));
    let mut lines = Vec::new();
    for (name, text) in &form.0 {
        if let Some(lot) = name
            .strip_prefix("count_")
            .and_then(|id| id.parse::<i64>().ok())
        {
            if let Some(counted) = fields.form_int(name, text) {
                lines.push(CountInput {
                    lot_id: lot,
                    counted,
                });
            }
        }
    }
    fields.finish()?;
    let input = StocktakeInput {
        location_id: location_id.unwrap_or(0),
        note: Some(form.get("note").to_owned()),
        lines,
    };
    let (_, body) = super::stocktake(&state, actor, form.get("key"), input).await?;
    Ok(Redirect::to(&format!(
        "/stocktakes/{}",
        body["id"].as_i64().unwrap_or(0)
    )))
}

async fn stocktake(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ReadStock)?;
    let mut conn = state.db.pool().acquire().await?;
    let report = views::stocktake(&mut conn, id).await?;
    page.render(
        &state,
        "stock/stocktake.html",
        context! { report => Value::from_serialize(&report) },
    )
}
