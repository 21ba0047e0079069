//! Needs pages: the list, the form a secretary posts from (on a phone), a need with its
//! status actions and versions, and the sheet upload with its per-row report.

use axum::{
    extract::{Multipart, Path, State},
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use super::{
    import::ImportMode,
    model::{BeneficiaryGroup, DeliveryMode, NeedInput, NeedStatus, Subsidy, Urgency},
    store::{self, NeedFilter},
};
use crate::{
    app::AppState,
    auth::{allows, Permission, Principal, Role},
    catalogue,
    error::{AppError, FieldError},
    extract::{ApiQuery, FormBody},
    validate::Fields,
    web::PageCtx,
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/needs", get(list).post(create))
        .route("/needs/new", get(new_form))
        .route("/needs/import", get(import_form).post(import))
        .route("/needs/{id}", get(show))
        .route("/needs/{id}/status", axum::routing::post(change_status))
}

async fn list(
    State(state): State<AppState>,
    page: PageCtx,
    ApiQuery(mut filter): ApiQuery<NeedFilter>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadNeeds)?;
    // A secretary starts from their own community's needs.
    if actor.role == Role::CommunitySecretary && filter.community_id.is_none() {
        filter.community_id = actor.organisation_ids.first().copied();
    }
    let mut conn = state.db.pool().acquire().await?;
    let result = store::list(&mut conn, &filter).await?;
    let pages = (result.total + result.per_page - 1) / result.per_page;
    page.render(
        &state,
        "needs/list.html",
        context! {
            result => Value::from_serialize(&result),
            filter => Value::from_serialize(&filter),
            statuses => NeedStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            urgencies => Urgency::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            pages,
            can_post => allows(actor, Permission::ImportNeeds),
        },
    )
}

/// The form as typed, so a rejected form comes back as the user left it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct NeedForm {
    csrf: String,
    community_id: String,
    /// `item:ID` or `kit:ID`.
    what: String,
    quantity: String,
    headcount: String,
    days: String,
    rate: String,
    urgency: String,
    beneficiary_group: String,
    beneficiary_count: String,
    needed_by: String,
    delivery_mode: String,
    note: String,
}

impl NeedForm {
    fn to_input(&self) -> Result<NeedInput, AppError> {
        let mut f = Fields::new();
        let community_id = f.form_int("community_id", &self.community_id);
        let quantity = f.form_int("quantity", &self.quantity);
        let headcount = f.form_int("subsidy.headcount", &self.headcount);
        let days = f.form_int("subsidy.days", &self.days);
        let rate = f.form_money("subsidy.rate", &self.rate);
        let beneficiary_count = f
            .form_int("beneficiary_count", &self.beneficiary_count)
            .unwrap_or(0);
        let needed_by = f.form_date("needed_by", &self.needed_by);
        let (item_id, kit_id) = match self.what.split_once(':') {
            Some(("item", id)) => (id.parse().ok(), None),
            Some(("kit", id)) => (None, id.parse().ok()),
            _ => (None, None),
        };
        if item_id.is_none() && kit_id.is_none() {
            f.push("item_id", "required", "choose an item or a kit");
        }
        let subsidy = match (headcount, days, rate) {
            (None, None, None) => None,
            (Some(headcount), Some(days), Some(rate)) => Some(Subsidy {
                headcount,
                days,
                rate,
            }),
            _ => {
                f.push(
                    "subsidy",
                    "required",
                    "give headcount, days and rate together",
                );
                None
            }
        };
        let urgency = Urgency::parse(&self.urgency);
        let group = BeneficiaryGroup::parse(&self.beneficiary_group);
        let delivery = DeliveryMode::parse(&self.delivery_mode);
        for (field, missing) in [
            ("urgency", urgency.is_none()),
            ("beneficiary_group", group.is_none()),
            ("delivery_mode", delivery.is_none()),
            ("community_id", community_id.is_none()),
        ] {
            if missing {
                f.push(field, "required", "choose one");
            }
        }
        f.finish()?;
        Ok(NeedInput {
            community_id: community_id.expect("checked"),
            item_id,
            kit_id,
            quantity: if subsidy.is_some() { None } else { quantity },
            subsidy,
            urgency: urgency.expect("checked"),
            beneficiary_group: group.expect("checked"),
            beneficiary_count,
            needed_by,
            delivery_mode: delivery.expect("checked"),
            note: Some(self.note.clone()),
        })
    }
}

/// The communities an account may post for: its own, or every active one for the hub.
async fn postable_communities(
    state: &AppState,
    actor: &Principal,
) -> Result<Vec<(i64, String)>, AppError> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, name_zh FROM organisations WHERE kind = 'community' AND status = 'active' ORDER BY district, name_zh")
            .fetch_all(state.db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .filter(|(id, _)| allows(actor, Permission::PostNeed { community_id: *id }))
        .collect())
}

async fn render_form(
    state: &AppState,
    page: &PageCtx,
    form: &NeedForm,
    errors: &[FieldError],
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ImportNeeds)?;
    let communities = postable_communities(state, actor).await?;
    let mut conn = state.db.pool().acquire().await?;
    let items = catalogue::store::list_items(&mut conn, None).await?;
    let kits = catalogue::store::list_kits(&mut conn).await?;
    page.render(
        state,
        "needs/form.html",
        context! {
            form => Value::from_serialize(form),
            communities => Value::from_serialize(&communities),
            items => Value::from_serialize(&items),
            kits => Value::from_serialize(&kits),
            urgencies => Urgency::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            groups => BeneficiaryGroup::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            modes => DeliveryMode::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            errors => Value::from_serialize(errors),
            error_fields => errors.iter().map(|e| e.field.clone()).collect::<Vec<_>>(),
        },
    )
}

async fn new_form(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ImportNeeds)?;
    let form = NeedForm {
        community_id: actor
            .organisation_ids
            .first()
            .map(i64::to_string)
            .unwrap_or_default(),
        urgency: "normal".into(),
        delivery_mode: "pickup".into(),
        ..Default::default()
    };
    render_form(&state, &page, &form, &[]).await
}

async fn create(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<NeedForm>,
) -> Result<Response, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    let result = match form.to_input() {
        Ok(input) => super::create(&state, actor, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(need) => Ok(Redirect::to(&format!("/needs/{}", need.id)).into_response()),
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
    let actor = page.authorize(Permission::ReadNeeds)?;
    let mut conn = state.db.pool().acquire().await?;
    let need = store::get(&mut conn, id).await?;
    let versions = store::versions(&mut conn, id).await?;
    let actions: Vec<&str> = NeedStatus::ALL
        .iter()
        .filter(|s| s.is_manual() && need.status.can_become(**s))
        .filter(|s| {
            allows(
                actor,
                Permission::ChangeNeedStatus {
                    community_id: need.community_id,
                    status: **s,
                },
            )
        })
        .map(|s| s.as_str())
        .collect();
    page.render(
        &state,
        "needs/show.html",
        context! {
            need => Value::from_serialize(&need),
            versions => Value::from_serialize(&versions),
            actions,
        },
    )
}

#[derive(Deserialize)]
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
    FormBody(form): FormBody<StatusForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    let status = NeedStatus::parse(&form.status)
        .ok_or_else(|| AppError::validation("status", "unknown_value", "unknown status"))?;
    let reason = Some(form.reason).filter(|r| !r.trim().is_empty());
    super::change_status(&state, actor, id, status, reason).await?;
    Ok(Redirect::to(&format!("/needs/{id}")))
}

async fn import_form(
    State(state): State<AppState>,
    page: PageCtx,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ImportNeeds)?;
    page.render(
        &state,
        "needs/import.html",
        context! { report => Value::from(()) },
    )
}

/// The uploaded sheet (multipart form: csrf, mode, file).
async fn import(
    State(state): State<AppState>,
    page: PageCtx,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let mut csrf = String::new();
    let mut mode = ImportMode::AllOrNothing;
    let mut file: Option<(bool, Vec<u8>)> = None;
    let bad = |e: axum::extract::multipart::MultipartError| AppError::BadRequest {
        code: "bad_upload",
        detail: e.body_text(),
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.map_err(bad)?,
            "mode" => {
                mode = ImportMode::parse(&field.text().await.map_err(bad)?)
                    .unwrap_or(ImportMode::AllOrNothing)
            }
            "file" => {
                let name = field.file_name().unwrap_or("").to_lowercase();
                let bytes = field.bytes().await.map_err(bad)?;
                file = Some((
                    name.ends_with(".xlsx") || bytes.starts_with(b"PK"),
                    bytes.to_vec(),
                ));
            }
            _ => {}
        }
    }
    let actor = page.check_csrf(&csrf)?;
    crate::auth::authorize(Some(actor), Permission::ImportNeeds)?;
    let Some((xlsx, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(AppError::validation(
            "file",
            "required",
            "choose the sheet to upload",
        ));
    };
    let (status, report) = match super::import_sheet(&state, actor, &bytes, xlsx, mode, None).await
    {
        Ok(report) => (
            StatusCode::OK,
            serde_json::to_value(&report).map_err(anyhow::Error::from)?,
        ),
        Err(AppError::SheetRejected { report, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, report),
        Err(other) => return Err(other),
    };
    let html = page.render(
        &state,
        "needs/import.html",
        context! { report => Value::from_serialize(&report) },
    )?;
    Ok((status, html).into_response())
}
