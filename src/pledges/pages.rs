//! Pledge pages: a donor's gifts and the pledge form (its hidden idempotency key makes a
//! double tap or a resubmitted form count once), a pledge with its actions.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use minijinja::{context, Value};
use serde::Serialize;

use super::{
    model::{Earmark, PledgeInput, PledgeKind, PledgeStatus},
    store::{self, PledgeFilter},
};
use crate::{
    app::AppState,
    auth::{allows, Permission, Principal, Role},
    catalogue::{self, model::Category},
    error::{AppError, FieldError},
    extract::ApiQuery,
    needs::model::BeneficiaryGroup,
    validate::Fields,
    web::PageCtx,
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/pledges", get(list).post(create))
        .route("/pledges/new", get(new_form))
        .route("/pledges/{id}", get(show))
        .route("/pledges/{id}/status", post(change_status))
}

async fn list(
    State(state): State<AppState>,
    page: PageCtx,
    ApiQuery(filter): ApiQuery<PledgeFilter>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPledges)?;
    let only = (actor.role == Role::Donor).then_some(actor.organisation_ids.as_slice());
    let mut conn = state.db.pool().acquire().await?;
    let result = store::list(&mut conn, &filter, only).await?;
    page.render(
        &state,
        "pledges/list.html",
        context! { result => Value::from_serialize(&result) },
    )
}

/// The form as typed (several values per name for the earmark checkboxes).
#[derive(Debug, Default, Serialize)]
struct PledgeForm {
    csrf: String,
    key: String,
    donor_id: String,
    kind: String,
    amount: String,
    item_id: String,
    quantity: String,
    expires_on: String,
    pickup_location: String,
    project: String,
    districts: String,
    categories: Vec<String>,
    groups: Vec<String>,
    note: String,
}

impl PledgeForm {
    fn from_body(body: &[u8]) -> PledgeForm {
        let mut form = PledgeForm::default();
        for (name, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match name.as_ref() {
                "csrf" => form.csrf = value,
                "key" => form.key = value,
                "donor_id" => form.donor_id = value,
                "kind" => form.kind = value,
                "amount" => form.amount = value,
                "item_id" => form.item_id = value,
                "quantity" => form.quantity = value,
                "expires_on" => form.expires_on = value,
                "pickup_location" => form.pickup_location = value,
                "project" => form.project = value,
                "districts" => form.districts = value,
                "categories" => form.categories.push(value),
                "groups" => form.groups.push(value),
                "note" => form.note = value,
                _ => {}
            }
        }
        form
    }

    fn to_input(&self) -> Result<PledgeInput, AppError> {
        let mut f = Fields::new();
        let donor_id = f.form_int("donor_id", &self.donor_id);
        let quantity = f.form_int("quantity", &self.quantity);
        let item_id = f.form_int("item_id", &self.item_id);
        let amount = f.form_money("amount", &self.amount);
        let expires_on = f.form_date("expires_on", &self.expires_on);
        let kind = PledgeKind::parse(&self.kind);
        let earmark = Earmark {
            project: Some(self.project.clone()),
            districts: self
                .districts
                .split([',', '，', '、'])
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty())
                .collect(),
            communities: Vec::new(),
            categories: self
                .categories
                .iter()
                .filter_map(|c| Category::parse(c))
                .collect(),
            groups: self
                .groups
                .iter()
                .filter_map(|g| BeneficiaryGroup::parse(g))
                .collect(),
        };
        if donor_id.is_none() {
            f.push("donor_id", "required", "who gives");
        }
        if kind.is_none() {
            f.push("kind", "required", "money or goods");
        }
        f.finish()?;
        let goods = kind == Some(PledgeKind::Goods);
        Ok(PledgeInput {
            donor_id: donor_id.expect("checked"),
            kind: kind.expect("checked"),
            amount: if goods { None } else { amount },
            currency: None,
            item_id: if goods { item_id } else { None },
            quantity: if goods { quantity } else { None },
            expires_on: if goods { expires_on } else { None },
            available_from: None,
            pickup_location: Some(self.pickup_location.clone()),
            earmark,
            note: Some(self.note.clone()),
        })
    }
}

/// The donors an account may pledge for: its own, or every donor for hub and foundation.
async fn donors_for(state: &AppState, actor: &Principal) -> Result<Vec<(i64, String)>, AppError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name_zh FROM organisations WHERE kind = 'donor' AND status = 'active' ORDER BY name_zh")
            .fetch_all(state.db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .filter(|(id, _)| allows(actor, Permission::CreatePledge { donor_id: *id }))
        .collect())
}

async fn render_form(
    state: &AppState,
    page: &PageCtx,
    form: &PledgeForm,
    errors: &[FieldError],
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPledges)?;
    let donors = donors_for(state, actor).await?;
    if donors.is_empty() {
        return Err(AppError::Forbidden);
    }
    let mut conn = state.db.pool().acquire().await?;
    let items = catalogue::store::list_items(&mut conn, None).await?;
    page.render(
        state,
        "pledges/form.html",
        context! {
            form => Value::from_serialize(form),
            donors => Value::from_serialize(&donors),
            items => Value::from_serialize(&items),
            categories => Category::ALL.map(Category::as_str).to_vec(),
            groups => BeneficiaryGroup::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            errors => Value::from_serialize(errors),
            error_fields => errors.iter().map(|e| e.field.clone()).collect::<Vec<_>>(),
        },
    )
}

async fn new_form(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPledges)?;
    let form = PledgeForm {
        key: uuid::Uuid::new_v4().to_string(),
        donor_id: actor
            .organisation_ids
            .first()
            .map(i64::to_string)
            .unwrap_or_default(),
        kind: "money".into(),
        ..Default::default()
    };
    render_form(&state, &page, &form, &[]).await
}

async fn create(
    State(state): State<AppState>,
    page: PageCtx,
    body: Bytes,
) -> Result<Response, AppError> {
    let form = PledgeForm::from_body(&body);
    let actor = page.check_csrf(&form.csrf)?;
    if form.key.trim().is_empty() {
        return Err(AppError::MissingIdempotencyKey);
    }
    let result = match form.to_input() {
        Ok(input) => super::create(&state, actor, form.key.trim(), input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((_, pledge)) => Ok(Redirect::to(&format!("/pledges/{}", pledge["id"])).into_response()),
        Err(AppError::Validation(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_form(&state, &page, &form, &errors).await?,
        )
            .into_response()),
        Err(other) => Err(other),
    }
}

async fn show(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPledges)?;
    let pledge = super::visible(&state, actor, id).await?;
    let actions: Vec<&str> = PledgeStatus::ALL
        .iter()
        .filter(|s| s.is_manual() && pledge.status.can_become(**s))
        .filter(|s| {
            allows(
                actor,
                Permission::ChangePledgeStatus {
                    donor_id: pledge.donor_id,
                    status: **s,
                },
            )
        })
        .map(|s| s.as_str())
        .collect();
    page.render(
        &state,
        "pledges/show.html",
        context! { pledge => Value::from_serialize(&pledge), actions },
    )
}

#[derive(serde::Deserialize)]
struct StatusForm {
    csrf: String,
    status: String,
    #[serde(default)]
    reason: String,
}

async fn change_status(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    crate::extract::FormBody(form): crate::extract::FormBody<StatusForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    let status = PledgeStatus::parse(&form.status)
        .ok_or_else(|| AppError::validation("status", "unknown_value", "unknown status"))?;
    let reason = Some(form.reason).filter(|r| !r.trim().is_empty());
    super::change_status(&state, actor, id, status, reason).await?;
    Ok(Redirect::to(&format!("/pledges/{id}")))
}
