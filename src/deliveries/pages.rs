//! Dispatch pages: the day's pick lists and runs (printable, readable on a phone), one run
//! with the buttons its viewer may press, and the receipt form for the community.

use axum::{
    extract::{Path, Query, State},
    response::{Html, Redirect},
    routing::{get, post},
    Router,
};
use chrono::NaiveDate;
use minijinja::{context, Value};
use serde::Deserialize;

use super::{DeliveredInput, DeliveryStatus, PrepareInput, ReceiptInput, ReceivedLine};
use crate::{
    app::AppState,
    auth::{allows, authorize, Permission, Role},
    error::AppError,
    extract::{FormBody, FormFields},
    validate::Fields,
    web::PageCtx,
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/dispatch", get(day).post(prepare))
        .route("/deliveries/{id}", get(show))
        .route("/deliveries/{id}/dispatch", post(dispatch))
        .route("/deliveries/{id}/delivered", post(delivered))
        .route("/deliveries/{id}/receipt", post(receipt))
}

#[derive(Deserialize)]
struct DayQuery {
    date: Option<String>,
}

async fn day(
    State(state): State<AppState>,
    page: PageCtx,
    Query(query): Query<DayQuery>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadDeliveries)?;
    let mut fields = Fields::new();
    let date = fields
        .form_date("date", query.date.as_deref().unwrap_or(""))
        .unwrap_or_else(|| state.settings.today() + chrono::Days::new(1));
    fields.finish()?;
    let only =
        (actor.role == Role::CommunitySecretary).then_some(actor.organisation_ids.as_slice());
    let mut conn = state.db.pool().acquire().await?;
    let day = super::day(&mut conn, date, only).await?;
    page.render(
        &state,
        "dispatch/day.html",
        context! {
            day => Value::from_serialize(&day),
            may_prepare => allows(actor, Permission::ManageStock),
            cycle => Value::from_serialize(state.settings.cycle()),
            key => uuid::Uuid::new_v4().to_string(),
        },
    )
}

#[derive(Deserialize)]
struct PrepareForm {
    csrf: String,
    key: String,
    date: String,
}

async fn prepare(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<PrepareForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    authorize(Some(actor), Permission::ManageStock)?;
    let mut fields = Fields::new();
    let date: Option<NaiveDate> = fields.form_date("date", &form.date);
    fields.finish()?;
    if form.key.trim().is_empty() {
        return Err(AppError::MissingIdempotencyKey);
    }
    let (_, body) = super::prepare(&state, actor, &form.key, PrepareInput { date }).await?;
    Ok(Redirect::to(&format!(
        "/dispatch?date={}",
        body["date"].as_str().unwrap_or("")
    )))
}

async fn show(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadDeliveries)?;
    let mut conn = state.db.pool().acquire().await?;
    let run = super::visible(&mut conn, actor, id).await?;
    let community = run.community_id;
    let may_dispatch =
        run.status == DeliveryStatus::Planned && allows(actor, Permission::ManageStock);
    let may_mark = run.status == DeliveryStatus::Dispatched
        && allows(
            actor,
            Permission::MarkDelivered {
                community_id: community,
            },
        );
    let may_confirm = matches!(
        run.status,
        DeliveryStatus::Dispatched | DeliveryStatus::Delivered
    ) && allows(
        actor,
        Permission::ConfirmReceipt {
            community_id: community,
        },
    );
    page.render(
        &state,
        "dispatch/run.html",
        context! {
            run => Value::from_serialize(&run),
            may_dispatch, may_mark, may_confirm,
        },
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn dispatch(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<CsrfForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    super::dispatch(&state, actor, id).await?;
    Ok(Redirect::to(&format!("/deliveries/{id}")))
}

async fn delivered(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<CsrfForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    super::mark_delivered(
        &state,
        actor,
        id,
        DeliveredInput {
            note: Some(form.note),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/deliveries/{id}")))
}

/// The receipt form sends `received_{line}` and `damaged_{line}` for every line.
async fn receipt(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    let mut fields = Fields::new();
    let mut lines = Vec::new();
    for (name, text) in &form.0 {
        let Some(line_id) = name
            .strip_prefix("received_")
            .and_then(|l| l.parse::<i64>().ok())
        else {
            continue;
        };
        let received = fields.form_int(name, text);
        let damaged_field = format!("damaged_{line_id}");
        let damaged = fields.form_int(&damaged_field, form.get(&damaged_field));
        let note = form.get(&format!("note_{line_id}")).trim().to_owned();
        if let Some(received) = received {
            lines.push(ReceivedLine {
                line_id,
                received,
                damaged: damaged.unwrap_or(0),
                note: (!note.is_empty()).then_some(note),
            });
        }
    }
    fields.finish()?;
    super::confirm_receipt(
        &state,
        actor,
        id,
        ReceiptInput {
            lines,
            note: Some(form.get("note").to_owned()),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/deliveries/{id}")))
}
