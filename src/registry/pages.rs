//! Registry pages: list with filters, a record with its audit trail, create, edit, archive.

use axum::{
    extract::{Path, State},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Router,
};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use super::{
    handlers::check_status_filter,
    model::{Contact, DonorType, GeoPoint, Headcounts, OrgKind, Organisation, OrganisationInput},
    store::{self, OrganisationFilter},
};
use crate::{
    app::AppState,
    audit::{self, AuditFilter},
    auth::{allows, Permission},
    error::{AppError, FieldError},
    extract::{ApiQuery, FormBody},
    web::PageCtx,
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/organisations", get(list).post(create))
        .route("/organisations/new", get(new_form))
        .route("/organisations/{id}", get(show))
        .route("/organisations/{id}/edit", get(edit_form).post(update))
        .route("/organisations/{id}/archive", post(archive))
}

async fn list(
    State(state): State<AppState>,
    page: PageCtx,
    ApiQuery(filter): ApiQuery<OrganisationFilter>,
) -> Result<Html<String>, AppError> {
    let principal = page.authorize(Permission::ReadRegistry)?;
    check_status_filter(&filter)?;
    let mut conn = state.db.pool().acquire().await?;
    let result = store::list(&mut conn, &filter).await?;
    let districts = store::districts(&mut conn).await?;
    let pages = (result.total + result.per_page - 1) / result.per_page;
    page.render(
        &state,
        "organisations/list.html",
        context! {
            result => Value::from_serialize(&result),
            filter => Value::from_serialize(&filter),
            kinds => OrgKind::ALL.map(OrgKind::as_str).to_vec(),
            districts,
            pages,
            can_create => allows(principal, Permission::CreateOrganisation),
        },
    )
}

async fn show(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let principal = page.authorize(Permission::ReadRegistry)?;
    let mut conn = state.db.pool().acquire().await?;
    let org = store::get(&mut conn, id, "").await?;
    drop(conn);
    let events = if allows(principal, Permission::ReadAudit) {
        let filter = AuditFilter {
            entity_type: Some("organisation".into()),
            entity_id: Some(id),
            limit: Some(100),
        };
        Some(audit::list(state.db.pool(), &filter).await?)
    } else {
        None
    };
    page.render(
        &state,
        "organisations/show.html",
        context! {
            org => Value::from_serialize(&org),
            events => Value::from_serialize(&events),
            can_edit => allows(principal, Permission::UpdateOrganisation { organisation_id: id }) && org.status == "active",
            can_archive => allows(principal, Permission::ArchiveOrganisation) && org.status == "active",
        },
    )
}

/// Every field of the form as typed, so a rejected form comes back as the user left it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OrganisationForm {
    csrf: String,
    kind: String,
    donor_type: String,
    name_zh: String,
    name_en: String,
    district: String,
    address: String,
    lat: String,
    lon: String,
    contact_name: String,
    contact_phone: String,
    contact_email: String,
    households: String,
    residents: String,
    residents_over_60: String,
    elders_living_alone: String,
}

impl OrganisationForm {
    fn from_record(org: &Organisation) -> Self {
        let text = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        OrganisationForm {
            csrf: String::new(),
            kind: org.kind.as_str().into(),
            donor_type: org
                .donor_type
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            name_zh: org.name_zh.clone(),
            name_en: org.name_en.clone().unwrap_or_default(),
            district: org.district.clone(),
            address: org.address.clone().unwrap_or_default(),
            lat: org.location.map(|p| p.lat.to_string()).unwrap_or_default(),
            lon: org.location.map(|p| p.lon.to_string()).unwrap_or_default(),
            contact_name: org.contact.name.clone().unwrap_or_default(),
            contact_phone: org.contact.phone.clone().unwrap_or_default(),
            contact_email: org.contact.email.clone().unwrap_or_default(),
            households: text(org.headcounts.households),
            residents: text(org.headcounts.residents),
            residents_over_60: text(org.headcounts.residents_over_60),
            elders_living_alone: text(org.headcounts.elders_living_alone),
        }
    }

    /// The typed values, or every field that is not a number where a number belongs.
    fn to_input(&self) -> Result<OrganisationInput, AppError> {
        let mut errors = Vec::new();
        let mut int = |field: &str, text: &str| -> Option<i64> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            text.parse()
                .map_err(|_| {
                    errors.push(FieldError::new(field, "invalid", "must be a whole number"))
                })
                .ok()
        };
        let headcounts = Headcounts {
            households: int("headcounts.households", &self.households),
            residents: int("headcounts.residents", &self.residents),
            residents_over_60: int("headcounts.residents_over_60", &self.residents_over_60),
            elders_living_alone: int("headcounts.elders_living_alone", &self.elders_living_alone),
        };
        let mut number = |field: &str, text: &str| -> Option<f64> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            text.parse()
                .map_err(|_| errors.push(FieldError::new(field, "invalid", "must be a number")))
                .ok()
        };
        let lat = number("location.lat", &self.lat);
        let lon = number("location.lon", &self.lon);
        let location = match (lat, lon) {
            (Some(lat), Some(lon)) => Some(GeoPoint { lat, lon }),
            (None, None) => None,
            _ => {
                errors.push(FieldError::new(
                    "location",
                    "invalid",
                    "give both latitude and longitude",
                ));
                None
            }
        };
        let kind = OrgKind::parse(&self.kind);
        if kind.is_none() {
            errors.push(FieldError::new("kind", "unknown_value", "choose a kind"));
        }
        let donor_type = match self.donor_type.as_str() {
            "" => None,
            other => {
                let parsed = DonorType::parse(other);
                if parsed.is_none() {
                    errors.push(FieldError::new(
                        "donor_type",
                        "unknown_value",
                        "individual or institution",
                    ));
                }
                parsed
            }
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let some = |s: &str| Some(s.to_owned()).filter(|s| !s.trim().is_empty());
        Ok(OrganisationInput {
            kind: kind.expect("checked above"),
            donor_type,
            name_zh: self.name_zh.clone(),
            name_en: some(&self.name_en),
            district: self.district.clone(),
            address: some(&self.address),
            location,
            contact: Contact {
                name: some(&self.contact_name),
                phone: some(&self.contact_phone),
                email: some(&self.contact_email),
            },
            headcounts,
        })
    }
}

fn render_form(
    state: &AppState,
    page: &PageCtx,
    form: &OrganisationForm,
    action: &str,
    errors: &[FieldError],
) -> Result<Html<String>, AppError> {
    page.render(
        state,
        "organisations/form.html",
        context! {
            form => Value::from_serialize(form),
            action,
            kinds => OrgKind::ALL.map(OrgKind::as_str).to_vec(),
            errors => Value::from_serialize(errors),
            error_fields => errors.iter().map(|e| e.field.clone()).collect::<Vec<_>>(),
        },
    )
}

/// A rejected form is shown again with the fields marked; other errors go to the error page.
fn form_or_error(
    result: Result<Organisation, AppError>,
    state: &AppState,
    page: &PageCtx,
    form: &OrganisationForm,
    action: &str,
) -> Result<Response, AppError> {
    match result {
        Ok(org) => Ok(Redirect::to(&format!("/organisations/{}", org.id)).into_response()),
        Err(AppError::Validation(errors)) => {
            let html = render_form(state, page, form, action, &errors)?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(other) => Err(other),
    }
}

async fn new_form(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    page.authorize(Permission::CreateOrganisation)?;
    let form = OrganisationForm {
        kind: "community".into(),
        ..Default::default()
    };
    render_form(&state, &page, &form, "/organisations", &[])
}

async fn create(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<OrganisationForm>,
) -> Result<Response, AppError> {
    let principal = page.check_csrf(&form.csrf)?;
    crate::auth::authorize(Some(principal), Permission::CreateOrganisation)?;
    let result = match form.to_input() {
        Ok(input) => super::create(&state, principal, input).await,
        Err(e) => Err(e),
    };
    form_or_error(result, &state, &page, &form, "/organisations")
}

async fn edit_form(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::UpdateOrganisation {
        organisation_id: id,
    })?;
    let mut conn = state.db.pool().acquire().await?;
    let org = store::get(&mut conn, id, "").await?;
    render_form(
        &state,
        &page,
        &OrganisationForm::from_record(&org),
        &format!("/organisations/{id}/edit"),
        &[],
    )
}

async fn update(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<OrganisationForm>,
) -> Result<Response, AppError> {
    let principal = page.check_csrf(&form.csrf)?;
    let result = match form.to_input() {
        Ok(input) => super::update(&state, Some(principal), id, input).await,
        Err(e) => Err(e),
    };
    form_or_error(
        result,
        &state,
        &page,
        &form,
        &format!("/organisations/{id}/edit"),
    )
}

#[derive(Deserialize)]
struct ArchiveForm {
    csrf: String,
    reason: String,
}

async fn archive(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<ArchiveForm>,
) -> Result<Redirect, AppError> {
    let principal = page.check_csrf(&form.csrf)?;
    crate::auth::authorize(Some(principal), Permission::ArchiveOrganisation)?;
    super::archive(&state, principal, id, &form.reason).await?;
    Ok(Redirect::to(&format!("/organisations/{id}")))
}
