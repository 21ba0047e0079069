//! API handlers for items and kits, and the catalogue page.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Html,
    routing::get,
    Json, Router,
};
use minijinja::{context, Value};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    model::{Category, Item, ItemInput, Kit, KitInput, ValidItem},
    store,
};
use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Auth, Permission},
    error::{on_constraint, AppError, Problem},
    extract::{empty_as_none, ApiJson, ApiQuery},
    web::PageCtx,
};

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_items, create_item))
        .routes(routes!(get_item, update_item))
        .routes(routes!(list_kits, create_kit))
        .routes(routes!(get_kit))
}

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/catalogue", get(catalogue_page))
        .route("/catalogue/items", axum::routing::post(item_form))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemFilter {
    #[serde(default, deserialize_with = "empty_as_none")]
    pub category: Option<Category>,
}

/// Active catalogue items, optionally of one category.
#[utoipa::path(get, path = "/api/v1/items", tag = "catalogue", params(ItemFilter), security(("bearer" = [])),
    responses((status = 200, body = [Item]), (status = 401, body = Problem)))]
async fn list_items(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(filter): ApiQuery<ItemFilter>,
) -> Result<Json<Vec<Item>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadCatalogue)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::list_items(&mut conn, filter.category).await?))
}

/// Adds an item to the catalogue. Admins and hub coordinators.
#[utoipa::path(post, path = "/api/v1/items", tag = "catalogue", request_body = ItemInput, security(("bearer" = [])),
    responses((status = 201, body = Item), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_item(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<ItemInput>,
) -> Result<(StatusCode, Json<Item>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageCatalogue)?;
    let created = super::create_item(&state, Actor::User(actor), input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// One item.
#[utoipa::path(get, path = "/api/v1/items/{id}", tag = "catalogue", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Item), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_item(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Item>, AppError> {
    authorize(actor.as_ref(), Permission::ReadCatalogue)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::get_item(&mut conn, id, "").await?))
}

/// Replaces an item's record. Admins and hub coordinators.
#[utoipa::path(put, path = "/api/v1/items/{id}", tag = "catalogue", request_body = ItemInput,
    params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Item), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_item(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<ItemInput>,
) -> Result<Json<Item>, AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageCatalogue)?;
    let item = ValidItem::parse(input)?;
    let mut tx = state.db.begin().await?;
    let lock = tx.for_update();
    let before = store::get_item(tx.conn(), id, lock).await?;
    let after = store::update_item(tx.conn(), id, &item)
        .await
        .map_err(on_constraint("items_code_key", super::code_taken))?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "update",
        "item",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Active kits with their items.
#[utoipa::path(get, path = "/api/v1/kits", tag = "catalogue", security(("bearer" = [])),
    responses((status = 200, body = [Kit]), (status = 401, body = Problem)))]
async fn list_kits(
    State(state): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<Kit>>, AppError> {
    authorize(actor.as_ref(), Permission::ReadCatalogue)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::list_kits(&mut conn).await?))
}

/// Defines a kit (e.g. 防疫包 = masks + alcohol + 84 disinfectant + wipes). Admins and hub coordinators.
#[utoipa::path(post, path = "/api/v1/kits", tag = "catalogue", request_body = KitInput, security(("bearer" = [])),
    responses((status = 201, body = Kit), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn create_kit(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<KitInput>,
) -> Result<(StatusCode, Json<Kit>), AppError> {
    let actor = authorize(actor.as_ref(), Permission::ManageCatalogue)?;
    Ok((
        StatusCode::CREATED,
        Json(super::create_kit(&state, Actor::User(actor), input).await?),
    ))
}

/// One kit with its items.
#[utoipa::path(get, path = "/api/v1/kits/{id}", tag = "catalogue", params(("id" = i64, Path)), security(("bearer" = [])),
    responses((status = 200, body = Kit), (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn get_kit(
    State(state): State<AppState>,
    Auth(actor): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Kit>, AppError> {
    authorize(actor.as_ref(), Permission::ReadCatalogue)?;
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::get_kit(&mut conn, id).await?))
}

async fn catalogue_page(
    State(state): State<AppState>,
    page: PageCtx,
    ApiQuery(filter): ApiQuery<ItemFilter>,
) -> Result<Html<String>, AppError> {
    render_catalogue(&state, &page, filter.category, &ItemForm::default(), &[]).await
}

async fn render_catalogue(
    state: &AppState,
    page: &PageCtx,
    category: Option<Category>,
    form: &ItemForm,
    errors: &[crate::error::FieldError],
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadCatalogue)?;
    let mut conn = state.db.pool().acquire().await?;
    let items = store::list_items(&mut conn, category).await?;
    let kits = store::list_kits(&mut conn).await?;
    page.render(
        state,
        "catalogue.html",
        context! {
            items => Value::from_serialize(&items),
            kits => Value::from_serialize(&kits),
            categories => Category::ALL.map(Category::as_str).to_vec(),
            category => category.map(Category::as_str),
            can_manage => crate::auth::allows(actor, Permission::ManageCatalogue),
            form => Value::from_serialize(form),
            errors => Value::from_serialize(errors),
        },
    )
}

/// The add-an-item form as typed.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(default)]
struct ItemForm {
    csrf: String,
    code: String,
    name_zh: String,
    name_en: String,
    category: String,
    unit_zh: String,
    unit_en: String,
    reference_price: String,
    shelf_life_days: String,
}

/// A hub coordinator adds an item from the catalogue page.
async fn item_form(
    State(state): State<AppState>,
    page: PageCtx,
    crate::extract::FormBody(form): crate::extract::FormBody<ItemForm>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    let actor = page.check_csrf(&form.csrf)?;
    authorize(Some(actor), Permission::ManageCatalogue)?;
    let mut f = crate::validate::Fields::new();
    let category = Category::parse(&form.category);
    if category.is_none() {
        f.push("category", "required", "choose a category");
    }
    let reference_price = f.form_money("reference_price", &form.reference_price);
    let shelf_life_days = f.form_int("shelf_life_days", &form.shelf_life_days);
    let errors = f.into_errors();
    let result = match category {
        Some(category) if errors.is_empty() => {
            let input = ItemInput {
                code: form.code.clone(),
                name_zh: form.name_zh.clone(),
                name_en: Some(form.name_en.clone()),
                category,
                unit_zh: form.unit_zh.clone(),
                unit_en: Some(form.unit_en.clone()),
                reference_price,
                shelf_life_days,
            };
            super::create_item(&state, Actor::User(actor), input).await
        }
        _ => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(_) => Ok(axum::response::Redirect::to("/catalogue").into_response()),
        Err(AppError::Validation(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_catalogue(&state, &page, None, &form, &errors).await?,
        )
            .into_response()),
        Err(other) => Err(other),
    }
}
