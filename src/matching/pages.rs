//! Plan pages: the list with a button to run matching, and one plan grouped by community and
//! item with every line's reason, forms to change or remove lines, confirm or discard.

use axum::{
    extract::{Path, State},
    response::{Html, Redirect},
    routing::{get, post},
    Router,
};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use super::{
    engine::{ShareWhy, SourceWhy},
    plans::{self, Plan, PlanLine, PlanOrigin, PlanStatus},
};
use crate::{
    app::AppState,
    auth::{allows, Permission},
    error::AppError,
    extract::FormBody,
    web::PageCtx,
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/plans", get(list).post(run))
        .route("/plans/{id}", get(show))
        .route("/plans/{id}/lines/{line_id}", post(change_line))
        .route("/plans/{id}/confirm", post(confirm))
        .route("/plans/{id}/discard", post(discard))
}

async fn list(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPlans)?;
    let may_run = allows(actor, Permission::RunMatching);
    let mut conn = state.db.pool().acquire().await?;
    let plans = plans::list(&mut conn, 100).await?;
    page.render(
        &state,
        "plans/list.html",
        context! { plans => Value::from_serialize(&plans), may_run },
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn run(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<CsrfForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    crate::auth::authorize(Some(actor), Permission::RunMatching)?;
    let id = plans::run(&state, Some(actor), PlanOrigin::Manual).await?;
    Ok(Redirect::to(&format!("/plans/{id}")))
}

/// A line with its reason in the reader's language.
#[derive(Serialize)]
struct ShownLine<'a> {
    #[serde(flatten)]
    line: &'a PlanLine,
    explained: String,
}

/// Lines of one item for one community.
#[derive(Serialize)]
struct ItemGroup<'a> {
    item_name: &'a str,
    kit_name: Option<&'a str>,
    total: i64,
    lines: Vec<ShownLine<'a>>,
}

/// The reason of a line from translations: class; share; source.
fn explain(page: &PageCtx, state: &AppState, line: &PlanLine) -> String {
    let Some(why) = &line.why else {
        return line.reason.clone();
    };
    let text = |key: &str| page.text(state, key);
    let class = text(&format!("plan_class_{}", why.class));
    let share = match why.share {
        ShareWhy::Full => text("why_full"),
        ShareWhy::Equal {
            percent,
            across,
            level,
        } => text("why_equal")
            .replace("{percent}", &percent.to_string())
            .replace("{across}", &across.to_string())
            .replace("{level}", &level.to_string()),
        ShareWhy::Leftover { percent } => {
            text("why_leftover").replace("{percent}", &percent.to_string())
        }
    };
    let source = match &why.source {
        SourceWhy::Stock { expires } | SourceWhy::Pledge { expires } => {
            let key = if matches!(why.source, SourceWhy::Stock { .. }) {
                "why_stock"
            } else {
                "why_pledge"
            };
            let mut source = text(key);
            if let Some(date) = expires {
                source.push_str(&text("why_expires").replace("{date}", date));
            }
            source
        }
        SourceWhy::Purchase {
            unit_price,
            lead_days,
        } => text("why_purchase")
            .replace("{price}", unit_price)
            .replace("{days}", &lead_days.to_string()),
        SourceWhy::Rate { rate } => text("why_rate").replace("{rate}", rate),
    };
    format!(
        "{class}{sep}{share}{sep}{source}",
        sep = text("why_separator")
    )
}

#[derive(Serialize)]
struct CommunityGroup<'a> {
    name: &'a str,
    district: &'a str,
    items: Vec<ItemGroup<'a>>,
}

fn grouped<'a>(plan: &'a Plan, page: &PageCtx, state: &AppState) -> Vec<CommunityGroup<'a>> {
    let mut groups: Vec<CommunityGroup> = Vec::new();
    for line in &plan.lines {
        if groups.last().is_none_or(|g| g.name != line.community_name) {
            groups.push(CommunityGroup {
                name: &line.community_name,
                district: &line.district,
                items: Vec::new(),
            });
        }
        let community = groups.last_mut().expect("just pushed");
        if community
            .items
            .last()
            .is_none_or(|i| i.item_name != line.item_name || i.kit_name != line.kit_name.as_deref())
        {
            community.items.push(ItemGroup {
                item_name: &line.item_name,
                kit_name: line.kit_name.as_deref(),
                total: 0,
                lines: Vec::new(),
            });
        }
        let item = community.items.last_mut().expect("just pushed");
        item.total += line.quantity;
        item.lines.push(ShownLine {
            line,
            explained: explain(page, state, line),
        });
    }
    groups
}

async fn show(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadPlans)?;
    let mut conn = state.db.pool().acquire().await?;
    let plan = plans::get(&mut conn, id).await?;
    let editable =
        plan.summary.status == PlanStatus::Draft && allows(actor, Permission::RunMatching);
    page.render(
        &state,
        "plans/show.html",
        context! {
            plan => Value::from_serialize(&plan),
            communities => Value::from_serialize(grouped(&plan, &page, &state)),
            editable,
            key => uuid::Uuid::new_v4().to_string(),
        },
    )
}

#[derive(Deserialize)]
struct LineForm {
    csrf: String,
    quantity: String,
}

async fn change_line(
    State(state): State<AppState>,
    page: PageCtx,
    Path((id, line_id)): Path<(i64, i64)>,
    FormBody(form): FormBody<LineForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    crate::auth::authorize(Some(actor), Permission::RunMatching)?;
    let quantity =
        form.quantity.trim().parse::<i64>().map_err(|_| {
            AppError::validation("quantity", "not_a_number", "enter a whole number")
        })?;
    plans::change_line(&state, actor, id, line_id, quantity).await?;
    Ok(Redirect::to(&format!("/plans/{id}#line-{line_id}")))
}

#[derive(Deserialize)]
struct ConfirmForm {
    csrf: String,
    key: String,
}

async fn confirm(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<ConfirmForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    crate::auth::authorize(Some(actor), Permission::RunMatching)?;
    if form.key.trim().is_empty() {
        return Err(AppError::MissingIdempotencyKey);
    }
    plans::confirm(&state, actor, id, &form.key).await?;
    Ok(Redirect::to(&format!("/plans/{id}")))
}

#[derive(Deserialize)]
struct DiscardForm {
    csrf: String,
    reason: String,
}

async fn discard(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<DiscardForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    crate::auth::authorize(Some(actor), Permission::RunMatching)?;
    plans::discard(&state, actor, id, &form.reason).await?;
    Ok(Redirect::to(&format!("/plans/{id}")))
}
