//! Report pages: a gift's feedback (print-ready, with share links), a donor's gifts, the
//! shared read-only view, the closing report with its charts, the public project page, the
//! feedback batch form's result and the outbox.

use axum::{
    extract::{Path, Query, State},
    response::{Html, Redirect},
    routing::{get, post},
    Router,
};
use minijinja::{context, Value};
use serde::Deserialize;

use super::{
    charts,
    closing::{self, Figures, Table},
    BatchInput, ShareInput,
};
use crate::{
    app::AppState,
    auth::{allows, authorize, Permission},
    error::AppError,
    extract::FormBody,
    notify::{self, OutboxStatus},
    web::{Lang, PageCtx},
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/pledges/{id}/feedback", get(gift))
        .route("/pledges/{id}/share", post(share))
        .route("/share-links/{id}/revoke", post(revoke))
        .route("/donors/{id}/feedback", get(donor))
        .route("/shared/{token}", get(shared))
        .route("/projects/{id}/report", get(report))
        .route("/projects/{id}/feedback-batch", post(batch))
        .route("/public/projects/{id}", get(public))
        .route("/outbox", get(outbox))
}

/// The closing report page: its tables and two charts. With a page context it carries the
/// site's navigation; without one (the API's `format=html`) it stands alone.
pub fn render_closing(
    state: &AppState,
    lang: Lang,
    figures: &Figures,
    tables: &[Table],
    page: Option<&PageCtx>,
) -> Result<String, AppError> {
    let text = |key: &str| state.pages.text(lang, key);
    let lines: Vec<(String, i64, i64)> = figures
        .project
        .budget_lines
        .iter()
        .map(|l| (l.category.clone(), l.budget.fen(), l.spent.fen()))
        .collect();
    let spending = charts::spending_by_line(
        &text("report_chart_spending"),
        &lines,
        (&text("budget"), &text("spent")),
    );
    let deliveries =
        charts::deliveries_over_time(&text("report_chart_deliveries"), &figures.deliveries_by_day);
    let shown: Vec<_> = tables.iter().map(Table::shown).collect();
    let values = context! {
        project => Value::from_serialize(&figures.project),
        tables => Value::from_serialize(&shown),
        spending_chart => Value::from_safe_string(spending),
        deliveries_chart => Value::from_safe_string(deliveries),
        has_deliveries => !figures.deliveries_by_day.is_empty(),
        table_keys => closing::TABLES,
    };
    match page {
        Some(page) => Ok(page.render(state, "reports/closing.html", values)?.0),
        None => state.pages.render_in(lang, "reports/closing.html", values),
    }
}

async fn report(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    let figures = closing::figures(&mut conn, id).await?;
    let text = |key: &str| state.pages.text(page.lang, key);
    let tables = closing::tables(&figures, &text);
    Ok(Html(render_closing(
        &state,
        page.lang,
        &figures,
        &tables,
        Some(&page),
    )?))
}

async fn gift(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPledges)?;
    let mut conn = state.db.pool().acquire().await?;
    let gift = super::visible_gift(&mut conn, actor, id).await?;
    let links = super::links(&mut conn, id).await?;
    page.render(
        &state,
        "reports/feedback.html",
        context! {
            gifts => Value::from_serialize([&gift]),
            donor_name => &gift.donor_name,
            links => Value::from_serialize(&links),
            pledge_id => id,
            may_share => allows(actor, Permission::ShareFeedback { donor_id: gift.donor_id }),
        },
    )
}

#[derive(Deserialize)]
struct ShareForm {
    csrf: String,
    #[serde(default)]
    days: String,
}

async fn share(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<ShareForm>,
) -> Result<Html<String>, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    let mut fields = crate::validate::Fields::new();
    let days = fields.form_int("days", &form.days);
    fields.finish()?;
    let link = super::share(
        &state,
        actor,
        id,
        ShareInput {
            expires_in_days: days,
        },
    )
    .await?;
    let mut conn = state.db.pool().acquire().await?;
    let gift = super::visible_gift(&mut conn, actor, id).await?;
    let links = super::links(&mut conn, id).await?;
    page.render(
        &state,
        "reports/feedback.html",
        context! {
            gifts => Value::from_serialize([&gift]),
            donor_name => &gift.donor_name,
            links => Value::from_serialize(&links),
            new_link => link.url,
            pledge_id => id,
            may_share => true,
        },
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn revoke(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<CsrfForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    let link = super::revoke(&state, actor, id).await?;
    Ok(Redirect::to(&format!(
        "/pledges/{}/feedback",
        link.pledge_id
    )))
}

async fn donor(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPledges)?;
    if !allows(actor, Permission::ReadFeedback { donor_id: id }) {
        return Err(AppError::NotFound);
    }
    let mut conn = state.db.pool().acquire().await?;
    let feedback = super::feedback::donor(&mut conn, id).await?;
    page.render(
        &state,
        "reports/feedback.html",
        context! {
            gifts => Value::from_serialize(&feedback.gifts),
            donor_name => &feedback.donor_name,
            summary => Value::from_serialize(&feedback),
        },
    )
}

async fn shared(
    State(state): State<AppState>,
    page: PageCtx,
    Path(token): Path<String>,
) -> Result<Html<String>, AppError> {
    let mut conn = state.db.pool().acquire().await?;
    let pledge = super::shared_pledge(&mut conn, &token).await?;
    let gift = super::feedback::gift(&mut conn, pledge).await?;
    page.render(
        &state,
        "reports/shared.html",
        context! { gifts => Value::from_serialize([&gift]), donor_name => &gift.donor_name },
    )
}

#[derive(Deserialize)]
struct BatchForm {
    csrf: String,
    key: String,
    #[serde(default)]
    lang: String,
}

async fn batch(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<BatchForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    authorize(Some(actor), Permission::Report)?;
    let input = BatchInput {
        lang: Some(form.lang).filter(|l| !l.is_empty()),
    };
    let (_, body) = super::feedback_batch(&state, actor, &form.key, id, input).await?;
    Ok(Redirect::to(&format!(
        "/outbox?batch_id={}",
        body["batch_id"].as_i64().unwrap_or(0)
    )))
}

async fn public(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let mut conn = state.db.pool().acquire().await?;
    let project = super::public_project(&mut conn, id).await?;
    page.render(
        &state,
        "reports/public.html",
        context! { project => Value::from_serialize(&project) },
    )
}

#[derive(Deserialize)]
struct OutboxQuery {
    batch_id: Option<i64>,
    status: Option<String>,
}

async fn outbox(
    State(state): State<AppState>,
    page: PageCtx,
    Query(query): Query<OutboxQuery>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ReadOutbox)?;
    let status = query.status.as_deref().and_then(OutboxStatus::parse);
    let mut conn = state.db.pool().acquire().await?;
    let messages = notify::list(&mut conn, status, query.batch_id, 200).await?;
    page.render(
        &state,
        "reports/outbox.html",
        context! { messages => Value::from_serialize(&messages), batch_id => query.batch_id },
    )
}
