//! Project pages: the list with a form to open a project; one project with its budget lines
//! (planned, adjusted, spent, left), indicators, funds, receipts, disbursements and
//! adjustments, the forms to record them; and its ledger.

use axum::{
    extract::{Path, Query, State},
    response::{Html, Redirect},
    routing::{get, post},
    Router,
};
use minijinja::{context, Value};
use serde::Deserialize;

use super::{model::*, store};
use crate::{
    app::AppState,
    auth::{allows, authorize, Permission},
    error::AppError,
    extract::{FormBody, FormFields},
    needs::model::BeneficiaryGroup,
    paging::Window,
    validate::Fields,
    web::PageCtx,
};

pub fn page_router() -> Router<AppState> {
    Router::new()
        .route("/projects", get(list).post(create))
        .route("/projects/{id}", get(show))
        .route("/projects/{id}/ledger", get(ledger))
        .route("/projects/{id}/budget-lines", post(add_line))
        .route("/projects/{id}/indicators", post(add_indicator))
        .route(
            "/projects/{id}/indicators/{indicator}",
            post(update_indicator),
        )
        .route("/projects/{id}/receipts", post(receive))
        .route("/projects/{id}/disbursements", post(disburse))
        .route("/projects/{id}/adjustments", post(adjust))
}

async fn list(State(state): State<AppState>, page: PageCtx) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    let projects = store::projects(&mut conn).await?;
    page.render(
        &state,
        "projects/list.html",
        context! {
            projects => Value::from_serialize(&projects),
            may_manage => allows(actor, Permission::ManageFunds),
        },
    )
}

#[derive(Deserialize)]
struct ProjectForm {
    csrf: String,
    name_zh: String,
    #[serde(default)]
    name_en: String,
    #[serde(default)]
    implementers: String,
    #[serde(default)]
    funders: String,
    #[serde(default)]
    area: String,
    starts_on: String,
    ends_on: String,
    #[serde(default)]
    goals: String,
    #[serde(default)]
    direct_beneficiaries: String,
}

async fn create(
    State(state): State<AppState>,
    page: PageCtx,
    FormBody(form): FormBody<ProjectForm>,
) -> Result<Redirect, AppError> {
    let actor = page.check_csrf(&form.csrf)?;
    let mut fields = Fields::new();
    let starts_on = fields.form_date("starts_on", &form.starts_on);
    let ends_on = fields.form_date("ends_on", &form.ends_on);
    let beneficiaries = fields.form_int("direct_beneficiaries", &form.direct_beneficiaries);
    if starts_on.is_none() {
        fields.push("starts_on", "required", "give the start date");
    }
    if ends_on.is_none() {
        fields.push("ends_on", "required", "give the end date");
    }
    fields.finish()?;
    let input = ProjectInput {
        name_zh: form.name_zh,
        name_en: Some(form.name_en),
        foundation_id: None,
        implementers: form.implementers,
        funders: form.funders,
        area: form.area,
        starts_on: starts_on.expect("checked"),
        ends_on: ends_on.expect("checked"),
        goals: form.goals,
        direct_beneficiaries: beneficiaries.unwrap_or(0),
        budget_lines: Vec::new(),
        indicators: Vec::new(),
    };
    let project = super::create_project(&state, actor, input).await?;
    Ok(Redirect::to(&format!("/projects/{}", project.id)))
}

async fn show(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
) -> Result<Html<String>, AppError> {
    let actor = page.authorize(Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    let project = store::project(&mut conn, id).await?;
    let receipts = store::receipts(&mut conn, id).await?;
    let disbursements = store::disbursements(&mut conn, id).await?;
    let adjustments = store::adjustments(&mut conn, id).await?;
    page.render(
        &state,
        "projects/show.html",
        context! {
            project => Value::from_serialize(&project),
            receipts => Value::from_serialize(&receipts),
            disbursements => Value::from_serialize(&disbursements),
            adjustments => Value::from_serialize(&adjustments),
            kinds => DisbursementKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            groups => BeneficiaryGroup::ALL.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            may_manage => allows(actor, Permission::ManageFunds),
            may_override => super::may_override(actor),
            may_report => allows(actor, Permission::Report),
            key => uuid::Uuid::new_v4().to_string(),
        },
    )
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<i64>,
}

async fn ledger(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, AppError> {
    page.authorize(Permission::ReadFunds)?;
    let mut conn = state.db.pool().acquire().await?;
    let project = store::project(&mut conn, id).await?;
    let ledger = store::ledger(&mut conn, id, Window::new(query.page, Some(100))).await?;
    let pages = (ledger.total + ledger.per_page - 1) / ledger.per_page;
    page.render(
        &state,
        "projects/ledger.html",
        context! {
            project => Value::from_serialize(&project),
            ledger => Value::from_serialize(&ledger),
            pages,
        },
    )
}

async fn add_line(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    let mut fields = Fields::new();
    let unit_price = fields.form_money("unit_price", form.get("unit_price"));
    let quantity = fields.form_int("quantity", form.get("quantity"));
    let amount = fields.form_money("amount", form.get("amount"));
    if amount.is_none() {
        fields.push("amount", "required", "give the line's budget");
    }
    fields.finish()?;
    let input = BudgetLineInput {
        category: form.get("category").to_owned(),
        unit_price,
        quantity,
        unit: form.optional("unit"),
        amount: amount.expect("checked"),
    };
    super::add_line(&state, actor, id, input).await?;
    Ok(Redirect::to(&format!("/projects/{id}#budget")))
}

async fn add_indicator(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    let mut fields = Fields::new();
    let target = fields.form_int("target", form.get("target"));
    fields.finish()?;
    let input = IndicatorInput {
        name: form.get("name").to_owned(),
        target,
        unit: form.get("unit").trim().to_owned(),
    };
    super::add_indicator(&state, actor, id, input).await?;
    Ok(Redirect::to(&format!("/projects/{id}#indicators")))
}

async fn update_indicator(
    State(state): State<AppState>,
    page: PageCtx,
    Path((id, indicator)): Path<(i64, i64)>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    let mut fields = Fields::new();
    let achieved = fields.form_int("achieved", form.get("achieved"));
    if achieved.is_none() {
        fields.push("achieved", "required", "give what was achieved");
    }
    fields.finish()?;
    super::update_indicator(
        &state,
        actor,
        id,
        indicator,
        IndicatorUpdate {
            achieved: achieved.expect("checked"),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/projects/{id}#indicators")))
}

fn required_money(
    fields: &mut Fields,
    form: &FormFields,
    name: &str,
) -> Option<crate::money::Money> {
    let value = fields.form_money(name, form.get(name));
    if value.is_none() && form.get(name).trim().is_empty() {
        fields.push(name, "required", "give an amount in yuan");
    }
    value
}

fn required_int(fields: &mut Fields, form: &FormFields, name: &str) -> i64 {
    let value = fields.form_int(name, form.get(name));
    if value.is_none() && form.get(name).trim().is_empty() {
        fields.push(name, "required", "fill this in");
    }
    value.unwrap_or(0)
}

async fn receive(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    let pledge_id = required_int(&mut fields, &form, "pledge_id");
    let amount = required_money(&mut fields, &form, "amount");
    let received_on = fields.form_date("received_on", form.get("received_on"));
    fields.finish()?;
    let input = ReceiptInput {
        project_id: id,
        pledge_id,
        amount: amount.expect("checked"),
        received_on,
    };
    super::receive(&state, actor, form.get("key"), input).await?;
    Ok(Redirect::to(&format!("/projects/{id}#receipts")))
}

async fn disburse(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    let budget_line_id = required_int(&mut fields, &form, "budget_line_id");
    let kind = DisbursementKind::parse(form.get("kind"));
    if kind.is_none() {
        fields.push("kind", "unknown_value", "choose what the payment is for");
    }
    let amount = fields.form_money("amount", form.get("amount"));
    let supplier_id = fields.form_int("supplier_id", form.get("supplier_id"));
    let mut allocation_ids = Vec::new();
    for part in form.get("allocation_ids").split([',', ' ', '，']) {
        if let Some(id) = fields.form_int("allocation_ids", part) {
            allocation_ids.push(id);
        }
    }
    let subsidy = if kind == Some(DisbursementKind::Subsidy) {
        let group = BeneficiaryGroup::parse(form.get("beneficiary_group"));
        if group.is_none() {
            fields.push("beneficiary_group", "unknown_value", "choose the group");
        }
        let headcount = required_int(&mut fields, &form, "headcount");
        let rate = required_money(&mut fields, &form, "rate");
        let days = required_int(&mut fields, &form, "days");
        group
            .zip(rate)
            .map(|(beneficiary_group, rate)| SubsidyInput {
                beneficiary_group,
                headcount,
                rate,
                days,
            })
    } else {
        None
    };
    let paid_on = fields.form_date("paid_on", form.get("paid_on"));
    fields.finish()?;
    let input = DisbursementInput {
        project_id: id,
        budget_line_id,
        kind: kind.expect("checked"),
        fund: form.get("fund").trim().to_owned(),
        amount,
        payee: form.get("payee").to_owned(),
        supplier_id,
        allocation_ids,
        subsidy,
        paid_on,
        memo: form.optional("memo"),
        override_reason: form.optional("override_reason"),
    };
    super::disburse(&state, actor, form.get("key"), input).await?;
    Ok(Redirect::to(&format!("/projects/{id}#disbursements")))
}

async fn adjust(
    State(state): State<AppState>,
    page: PageCtx,
    Path(id): Path<i64>,
    FormBody(form): FormBody<Vec<(String, String)>>,
) -> Result<Redirect, AppError> {
    let form = FormFields(form);
    let actor = page.check_csrf(form.get("csrf"))?;
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    let from_line_id = required_int(&mut fields, &form, "from_line_id");
    let to_line_id = required_int(&mut fields, &form, "to_line_id");
    let amount = required_money(&mut fields, &form, "amount");
    fields.finish()?;
    let input = AdjustmentInput {
        project_id: id,
        from_line_id,
        to_line_id,
        amount: amount.expect("checked"),
        reason: form.get("reason").to_owned(),
    };
    super::adjust(&state, actor, form.get("key"), input).await?;
    Ok(Redirect::to(&format!("/projects/{id}#budget")))
}
