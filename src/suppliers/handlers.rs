//! API handlers for offers and agreements, and the supply page.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{Html, Redirect},
    routing::{get, post},
    Json, Router,
};
use minijinja::{context, Value};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    model::{Agreement, AgreementInput, AgreementStatus, Offer, OfferInput},
    store,
};
use crate::{
    app::AppState,
    auth::{allows, authorize, Auth, Permission},
    error::{AppError, Problem},
    extract::{empty_as_none, ApiJson, ApiQuery, FormBody},
    needs::today,
    web::PageCtx,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_offers, create_offer))
        .routes(routes!(get_offer))
        .routes(routes!(withdraw_offer))
        .routes(routes!(list_agreements, create_agreement))
        .routes(routes!(get_agreement))
        .routes(routes!(activate_agreement))
        .routes(routes!(end_agreement))
}

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/supply", get(supply_page))
        .route("/supply/agreements/{id}/activate", post(activate_form))
        .route("/supply/offers", post(offer_form))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OfferFilter {
    #[serde(default, deserialize_with = "empty_as_none")]
    pub supplier_id: Option<i64>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub item_id: Option<i64>,
}

/// Supplier offers, including those under agreements, with whether each can be bought through
/// today. A supplier sees only its own.
#[utoipa::path(get, path = "/api/v1/supplier-offers", tag = "suppliers", params(OfferFilter), security(("bearer" = [])),
    responses((status = 200, body = [Offer]), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_offers(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<OfferFilter>,
) -> Result<Json<Vec<Offer>>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadSupply)?;
    let supplier = super::supplier_scope(actor).or(filter.supplier_id);
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(
        store::list_offers(&mut conn, supplier, filter.item_id, None, today()).await?,
    ))
}

/// Records a standing offer: item, unit price, weekly capacity, lead time, minimum order, validity.
#[utoipa::path(post, path = "/api/v1/supplier-offers", tag = "suppliers", request_body = OfferInput,
    security(("bearer" = [])),
    responses((status = 201, body = Offer), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn create_offer(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<OfferInput>,
) -> Result<(StatusCode, Json<Offer>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadSupply)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_offer(&state, actor, input).await?),
    ))
}

/// One offer.
#[utoipa::path(get, path = "/api/v1/supplier-offers/{id}", tag = "suppliers", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Offer), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_offer(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Offer>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadSupply)?;
    let mut conn = state.db.pool().acquire().await?;
    let offer = store::get_offer(&mut conn, id, today()).await?;
    super::check_visible(actor, offer.supplier_id)?;
    Ok(Json(offer))
}

/// Withdraws an offer; it stays on record.
#[utoipa::path(post, path = "/api/v1/supplier-offers/{id}/withdraw", tag = "suppliers", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Offer), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn withdraw_offer(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Offer>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadSupply)?;
    Ok(Json(super::withdraw_offer(&state, actor, id).await?))
}

/// Framework agreements with their offers. A supplier sees only its own.
#[utoipa::path(get, path = "/api/v1/agreements", tag = "suppliers", security(("bearer" = [])),
    responses((status = 200, body = [Agreement]), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_agreements(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<Agreement>>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadSupply)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(
        store::list_agreements(&mut conn, super::supplier_scope(actor), today()).await?,
    ))
}

/// Records a framework agreement with a supplier. It starts dormant: its offers are not used
/// until a hub coordinator activates it.
#[utoipa::path(post, path = "/api/v1/agreements", tag = "suppliers", request_body = AgreementInput,
    security(("bearer" = [])),
    responses((status = 201, body = Agreement), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 422, body = Problem)))]
async fn create_agreement(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<AgreementInput>,
) -> Result<(StatusCode, Json<Agreement>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageAgreements)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_agreement(&state, actor, input).await?),
    ))
}

/// One agreement.
#[utoipa::path(get, path = "/api/v1/agreements/{id}", tag = "suppliers", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Agreement), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_agreement(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Agreement>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ReadSupply)?;
    let mut conn = state.db.pool().acquire().await?;
    let agreement = store::get_agreement(&mut conn, id, today()).await?;
    super::check_visible(actor, agreement.supplier_id)?;
    Ok(Json(agreement))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why, e.g. "citywide lockdown from 2020-01-23".
    pub reason: String,
}

/// Activates a dormant agreement when an emergency starts. Hub coordinators and admins.
#[utoipa::path(post, path = "/api/v1/agreements/{id}/activate", tag = "suppliers", request_body = Reason,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Agreement), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn activate_agreement(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Agreement>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageAgreements)?;
    Ok(Json(
        super::change_agreement(&state, actor, id, AgreementStatus::Active, &body.reason).await?,
    ))
}

/// Ends an agreement. Hub coordinators and admins.
#[utoipa::path(post, path = "/api/v1/agreements/{id}/end", tag = "suppliers", request_body = Reason,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Agreement), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn end_agreement(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Reason>,
) -> Result<Json<Agreement>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageAgreements)?;
    Ok(Json(
        super::change_agreement(&state, actor, id, AgreementStatus::Ended, &body.reason).await?,
    ))
}

/// Offers and agreements: a supplier's own page, or the hub's overview with activation.
async fn supply_page(
    State(state): State<AppState>,
    page: PageCtx,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadSupply)?;
    let scope = super::supplier_scope(actor);
    let mut conn = state.db.pool().acquire().await?;
    let offers = store::list_offers(&mut conn, scope, None, None, today()).await?;
    let standing: Vec<&Offer> = offers.iter().filter(|o| o.agreement_id.is_none()).collect();
    let agreements = store::list_agreements(&mut conn, scope, today()).await?;
    let suppliers: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name_zh FROM organisations WHERE kind = 'supplier' AND status = 'active' ORDER BY name_zh")
            .fetch_all(&mut *conn)
            .await?;
    let suppliers: Vec<(i64, String)> = suppliers
        .into_iter()
        .filter(|(id, _)| allows(actor, Permission::OfferForSupplier { supplier_id: *id }))
        .collect();
    let items = crate::catalogue::store::list_items(&mut conn, None).await?;
    page.render(
        &state,
        "supply.html",
        context! {
            offers => Value::from_serialize(&standing),
            agreements => Value::from_serialize(&agreements),
            can_activate => allows(actor, Permission::ManageAgreements),
            suppliers => Value::from_serialize(&suppliers),
            items => Value::from_serialize(&items),
        },
    )
}

#[derive(Deserialize)]
struct ActivateForm {
    csrf: String,
    reason: String,
}

async fn activate_form(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<ActivateForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    super::change_agreement(&state, actor, id, AgreementStatus::Active, &form.reason).await?;
    Ok(Redirect::to("/supply"))
}

#[derive(Deserialize)]
struct OfferForm {
    csrf: String,
    supplier_id: String,
    item_id: String,
    unit_price: String,
    weekly_capacity: String,
    lead_days: String,
    #[serde(default)]
    min_order: String,
}

/// A supplier (or the hub) records a standing offer from the supply page.
async fn offer_form(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<OfferForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    let mut f = crate::validate::Fields::new();
    let supplier_id = f.form_int("supplier_id", &form.supplier_id);
    let item_id = f.form_int("item_id", &form.item_id);
    let weekly_capacity = f.form_int("weekly_capacity", &form.weekly_capacity);
    let lead_days = f.form_int("lead_days", &form.lead_days);
    let min_order = f.form_int("min_order", &form.min_order);
    let unit_price = f.form_money("unit_price", &form.unit_price);
    for (field, missing) in [
        ("supplier_id", supplier_id.is_none()),
        ("item_id", item_id.is_none()),
        ("unit_price", unit_price.is_none()),
        ("weekly_capacity", weekly_capacity.is_none()),
        ("lead_days", lead_days.is_none()),
    ] {
        if missing {
            f.push(field, "required", "must be given");
        }
    }
    f.finish()?;
    let input = OfferInput {
        supplier_id: supplier_id.expect("checked"),
        item_id: item_id.expect("checked"),
        unit_price: unit_price.expect("checked"),
        weekly_capacity: weekly_capacity.expect("checked"),
        lead_days: lead_days.expect("checked"),
        min_order,
        valid_from: None,
        valid_until: None,
    };
    super::create_offer(&state, actor, input).await?;
    Ok(Redirect::to("/supply"))
}
