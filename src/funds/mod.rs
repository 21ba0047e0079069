//! Funds: projects with budget lines and indicators, and a double-entry ledger per project.
//! Receipts of money pledges (`cash:{fund}` debit, `donations:{fund}` credit), disbursements
//! against a budget line from one fund (`line:{id}` debit, `cash:{fund}` credit; purchases pass
//! through `payable:{supplier}`), and budget adjustments kept as their own records. Every entry
//! sums to zero; no fund and no budget line is overdrawn unless an admin overrides it with a
//! recorded reason. Owns `/api/v1/projects`, `/receipts`, `/disbursements`,
//! `/budget-adjustments` and `/ledger`.

mod handlers;
pub mod model;
mod pages;
pub mod store;

pub use handlers::api_router;
pub use pages::page_router;

use axum::http::StatusCode;
use sqlx::Row;

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{allows, authorize, Permission, Principal},
    db::{self, Tx},
    error::AppError,
    idempotency,
    money::Money,
    pledges::model::Earmark,
    validate::Fields,
};
use model::*;

pub async fn create_project(
    state: &AppState,
    actor: &Principal,
    input: ProjectInput,
) -> Result<Project, AppError> {
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    fields.required_text("name_zh", &input.name_zh, 200);
    fields.optional_text("name_en", input.name_en.as_deref(), 200);
    for (field, value) in [
        ("implementers", &input.implementers),
        ("funders", &input.funders),
        ("area", &input.area),
    ] {
        if value.chars().count() > 500 {
            fields.push(field, "too_long", "must be at most 500 characters");
        }
    }
    if input.goals.chars().count() > 5000 {
        fields.push("goals", "too_long", "must be at most 5000 characters");
    }
    if input.ends_on < input.starts_on {
        fields.push("ends_on", "before_start", "must not be before starts_on");
    }
    fields.range_i64(
        "direct_beneficiaries",
        Some(input.direct_beneficiaries),
        0,
        100_000_000,
    );
    for (i, line) in input.budget_lines.iter().enumerate() {
        check_line(&mut fields, &format!("budget_lines[{i}]."), line);
    }
    for (i, indicator) in input.indicators.iter().enumerate() {
        check_indicator(&mut fields, &format!("indicators[{i}]."), indicator);
    }
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    if let Some(foundation) = input.foundation_id {
        let found = sqlx::query(
            "SELECT id FROM organisations WHERE id = $1 AND kind = 'foundation' AND status = 'active'",
        )
        .bind(foundation)
        .fetch_optional(tx.conn())
        .await?;
        if found.is_none() {
            return Err(AppError::validation(
                "foundation_id",
                "unknown_value",
                "no active foundation with this id",
            ));
        }
    }
    let id = insert_project(&mut tx, &input, actor.user_id).await?;
    let created = store::project(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "create",
        "project",
        id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Inserts a checked project with its budget lines and indicators; returns its id.
pub async fn insert_project(tx: &mut Tx, input: &ProjectInput, user: i64) -> Result<i64, AppError> {
    let id: i64 = sqlx::query(
        "INSERT INTO projects (name_zh, name_en, foundation_id, implementers, funders, area, starts_on, ends_on, \
         goals, direct_beneficiaries, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(input.name_zh.trim())
    .bind(input.name_en.as_deref().map(str::trim).filter(|n| !n.is_empty()))
    .bind(input.foundation_id)
    .bind(input.implementers.trim())
    .bind(input.funders.trim())
    .bind(input.area.trim())
    .bind(input.starts_on.format("%Y-%m-%d").to_string())
    .bind(input.ends_on.format("%Y-%m-%d").to_string())
    .bind(input.goals.trim())
    .bind(input.direct_beneficiaries)
    .bind(user)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await
    .map_err(crate::error::on_constraint("projects_name_key", || {
        AppError::validation("name_zh", "taken", "a project with this name exists")
    }))?
    .get(0);
    for line in &input.budget_lines {
        store::insert_line(tx, id, line).await?;
    }
    for indicator in &input.indicators {
        store::insert_indicator(tx, id, indicator).await?;
    }
    Ok(id)
}

fn check_line(fields: &mut Fields, prefix: &str, line: &BudgetLineInput) {
    fields.required_text(&format!("{prefix}category"), &line.category, 200);
    fields.optional_text(&format!("{prefix}unit"), line.unit.as_deref(), 60);
    fields.range_i64(
        &format!("{prefix}quantity"),
        line.quantity,
        0,
        1_000_000_000,
    );
}

fn check_indicator(fields: &mut Fields, prefix: &str, indicator: &IndicatorInput) {
    fields.required_text(&format!("{prefix}name"), &indicator.name, 200);
    fields.range_i64(
        &format!("{prefix}target"),
        indicator.target,
        0,
        1_000_000_000_000,
    );
    if indicator.unit.chars().count() > 60 {
        fields.push(
            &format!("{prefix}unit"),
            "too_long",
            "must be at most 60 characters",
        );
    }
}

/// Adds a budget line to a project.
pub async fn add_line(
    state: &AppState,
    actor: &Principal,
    project: i64,
    input: BudgetLineInput,
) -> Result<Project, AppError> {
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    check_line(&mut fields, "", &input);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    let before = lock_project(&mut tx, project).await?;
    store::insert_line(&mut tx, project, &input).await?;
    audited(tx, actor, "add_budget_line", &before).await
}

pub async fn add_indicator(
    state: &AppState,
    actor: &Principal,
    project: i64,
    input: IndicatorInput,
) -> Result<Project, AppError> {
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    check_indicator(&mut fields, "", &input);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    let before = lock_project(&mut tx, project).await?;
    store::insert_indicator(&mut tx, project, &input).await?;
    audited(tx, actor, "add_indicator", &before).await
}

/// Records what an indicator has achieved so far.
pub async fn update_indicator(
    state: &AppState,
    actor: &Principal,
    project: i64,
    indicator: i64,
    input: IndicatorUpdate,
) -> Result<Project, AppError> {
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    fields.range_i64("achieved", Some(input.achieved), 0, 1_000_000_000_000);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    let before = lock_project(&mut tx, project).await?;
    let done = sqlx::query("UPDATE indicators SET achieved = $1 WHERE id = $2 AND project_id = $3")
        .bind(input.achieved)
        .bind(indicator)
        .bind(project)
        .execute(tx.conn())
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    audited(tx, actor, "update_indicator", &before).await
}

async fn audited(
    mut tx: Tx,
    actor: &Principal,
    action: &str,
    before: &Project,
) -> Result<Project, AppError> {
    let after = store::project(tx.conn(), before.id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        action,
        "project",
        before.id,
        Some(before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Locks the project row: every money write of a project queues behind the one before it,
/// so balances read in the transaction stay true until it commits.
async fn lock_project(tx: &mut Tx, project: i64) -> Result<Project, AppError> {
    let lock = tx.for_update();
    sqlx::query(&format!("SELECT id FROM projects WHERE id = $1{lock}"))
        .bind(project)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| AppError::validation("project_id", "unknown_value", "no such project"))?;
    store::project(tx.conn(), project).await
}

const RECEIPT_SCOPE: &str = "POST /api/v1/receipts";

/// Records money received on a pledge into a project's fund. Once per `Idempotency-Key`.
pub async fn receive(
    state: &AppState,
    actor: &Principal,
    key: &str,
    input: ReceiptInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(Some(actor), Permission::ManageFunds)?;
    if input.amount == Money::ZERO {
        return Err(AppError::validation(
            "amount",
            "out_of_range",
            "must be above 0",
        ));
    }
    let today = state.settings.today();
    let hash = idempotency::request_hash(&input);
    idempotency::once(&state.db, actor.user_id, RECEIPT_SCOPE, key, &hash, |tx| {
        Box::pin(record_receipt(tx, actor.clone(), input.clone(), today))
    })
    .await
}

async fn record_receipt(
    tx: &mut Tx,
    actor: Principal,
    input: ReceiptInput,
    today: chrono::NaiveDate,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let receipt = receipt_in(tx, Actor::User(&actor), actor.user_id, input, today).await?;
    let body = serde_json::to_value(&receipt).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, body))
}

pub async fn receipt_in(
    tx: &mut Tx,
    by: Actor<'_>,
    user: i64,
    input: ReceiptInput,
    today: chrono::NaiveDate,
) -> Result<Receipt, AppError> {
    let project = lock_project(tx, input.project_id).await?;
    let lock = tx.for_update();
    let pledge = sqlx::query(&format!(
        "SELECT kind, status, amount_fen, earmark_json FROM pledges WHERE id = $1{lock}"
    ))
    .bind(input.pledge_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| AppError::validation("pledge_id", "unknown_value", "no such pledge"))?;
    let status: String = pledge.get("status");
    if pledge.get::<String, _>("kind") != "money" || status == "cancelled" {
        return Err(AppError::validation(
            "pledge_id",
            "not_receivable",
            "only money pledges that are not cancelled are received into a fund",
        ));
    }
    let earmark: Earmark =
        serde_json::from_str(&pledge.get::<String, _>("earmark_json")).unwrap_or_default();
    if let Some(wanted) = &earmark.project {
        if wanted != &project.name_zh && Some(wanted) != project.name_en.as_ref() {
            return Err(AppError::validation(
                "project_id",
                "earmark_mismatch",
                format!("the pledge is earmarked for the project \"{wanted}\""),
            ));
        }
    }
    let received: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT) FROM receipts WHERE pledge_id = $1",
    )
    .bind(input.pledge_id)
    .fetch_one(tx.conn())
    .await?
    .get(0);
    let left = pledge.get::<Option<i64>, _>("amount_fen").unwrap_or(0) - received;
    if input.amount.fen() > left {
        return Err(AppError::validation(
            "amount",
            "out_of_range",
            format!("the pledge has {} still to receive", Money::from_fen(left)),
        ));
    }
    let fund = if earmark.is_unrestricted() {
        "general".to_owned()
    } else {
        format!("pledge:{}", input.pledge_id)
    };
    let amount = input.amount.fen();
    let entry = store::post_entry(
        tx,
        project.id,
        "receipt",
        &format!("pledge {} received into {fund}", input.pledge_id),
        &[
            (format!("cash:{fund}"), amount),
            (format!("donations:{fund}"), -amount),
        ],
        user,
    )
    .await?;
    let id: i64 = sqlx::query(
        "INSERT INTO receipts (project_id, pledge_id, amount_fen, fund, received_on, entry_id, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(project.id)
    .bind(input.pledge_id)
    .bind(amount)
    .bind(&fund)
    .bind(input.received_on.unwrap_or(today).format("%Y-%m-%d").to_string())
    .bind(entry)
    .bind(user)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    if status == "pledged" {
        crate::pledges::store::set_status(
            tx.conn(),
            input.pledge_id,
            crate::pledges::model::PledgeStatus::Received,
            None,
        )
        .await?;
    }
    let receipt = store::receipt(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        by,
        "create",
        "receipt",
        id,
        None::<&()>,
        Some(&receipt),
    )
    .await?;
    Ok(receipt)
}

const DISBURSE_SCOPE: &str = "POST /api/v1/disbursements";

/// Pays out of one fund against one budget line. Once per `Idempotency-Key`.
pub async fn disburse(
    state: &AppState,
    actor: &Principal,
    key: &str,
    input: DisbursementInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(Some(actor), Permission::ManageFunds)?;
    check_disbursement(&input)?;
    if input.override_reason.is_some() {
        authorize(Some(actor), Permission::OverrideOverdraw)?;
    }
    let today = state.settings.today();
    let hash = idempotency::request_hash(&input);
    idempotency::once(&state.db, actor.user_id, DISBURSE_SCOPE, key, &hash, |tx| {
        Box::pin(record_disbursement(tx, actor.clone(), input.clone(), today))
    })
    .await
}

fn check_disbursement(input: &DisbursementInput) -> Result<(), AppError> {
    let mut fields = Fields::new();
    fields.required_text("payee", &input.payee, 200);
    fields.optional_text("memo", input.memo.as_deref(), 500);
    if let Some(reason) = &input.override_reason {
        fields.required_text("override_reason", reason, 500);
    }
    if parse_fund(&input.fund).is_none() {
        fields.push("fund", "invalid", "must be `general` or `pledge:{id}`");
    }
    if input.amount == Some(Money::ZERO) {
        fields.push("amount", "out_of_range", "must be above 0");
    }
    match input.kind {
        DisbursementKind::Purchase => {
            if input.allocation_ids.is_empty() {
                fields.push(
                    "allocation_ids",
                    "required",
                    "a purchase pays for confirmed purchase allocations",
                );
            }
            if input.supplier_id.is_none() {
                fields.push("supplier_id", "required", "say which supplier is paid");
            }
        }
        DisbursementKind::Subsidy => match &input.subsidy {
            None => fields.push(
                "subsidy",
                "required",
                "a subsidy batch gives beneficiary group, headcount, rate and days",
            ),
            Some(s) => {
                fields.range_i64("subsidy.headcount", Some(s.headcount), 1, 10_000_000);
                fields.range_i64("subsidy.days", Some(s.days), 1, 3660);
            }
        },
        _ => {
            if input.amount.is_none() {
                fields.push("amount", "required", "say how much is paid");
            }
        }
    }
    if input.kind != DisbursementKind::Purchase && !input.allocation_ids.is_empty() {
        fields.push(
            "allocation_ids",
            "not_allowed",
            "only purchases pay for allocations",
        );
    }
    fields.finish()
}

fn parse_fund(fund: &str) -> Option<Option<i64>> {
    match fund {
        "general" => Some(None),
        other => other
            .strip_prefix("pledge:")
            .and_then(|id| id.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(Some),
    }
}

async fn record_disbursement(
    tx: &mut Tx,
    actor: Principal,
    input: DisbursementInput,
    today: chrono::NaiveDate,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let created = disbursement_in(tx, Actor::User(&actor), actor.user_id, input, today).await?;
    let body = serde_json::to_value(&created).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, body))
}

pub async fn disbursement_in(
    tx: &mut Tx,
    by: Actor<'_>,
    user: i64,
    input: DisbursementInput,
    today: chrono::NaiveDate,
) -> Result<Disbursement, AppError> {
    let project = lock_project(tx, input.project_id).await?;
    let line = project
        .budget_lines
        .iter()
        .find(|l| l.id == input.budget_line_id)
        .cloned()
        .ok_or_else(|| {
            AppError::validation(
                "budget_line_id",
                "unknown_value",
                "no such budget line in this project",
            )
        })?;
    if let Some(supplier) = input.supplier_id {
        let found = sqlx::query("SELECT id FROM organisations WHERE id = $1 AND kind = 'supplier'")
            .bind(supplier)
            .fetch_optional(tx.conn())
            .await?;
        if found.is_none() {
            return Err(AppError::validation(
                "supplier_id",
                "unknown_value",
                "no supplier with this id",
            ));
        }
    }
    let fund_pledge = parse_fund(&input.fund).expect("checked");
    let earmark = match fund_pledge {
        Some(pledge) => Some(restricted_earmark(tx, project.id, pledge).await?),
        None => None,
    };
    let amount = match input.kind {
        DisbursementKind::Purchase => {
            purchase_amount(tx, &input, fund_pledge, earmark.as_ref()).await?
        }
        DisbursementKind::Subsidy => subsidy_amount(&input, earmark.as_ref())?,
        _ => {
            if earmark.as_ref().is_some_and(|e| !e.categories.is_empty()) {
                return Err(AppError::validation(
                    "fund",
                    "restricted",
                    "this gift is restricted to categories of goods or subsidies; pay other costs from another fund",
                ));
            }
            input.amount.expect("checked").fen()
        }
    };
    let fund = project
        .funds
        .iter()
        .find(|f| f.fund == input.fund)
        .map(|f| f.balance_fen)
        .unwrap_or(0);
    let mut overdraws = Vec::new();
    if amount > fund {
        overdraws.push(format!("the fund {} holds {}", input.fund, signed(fund)));
    }
    if amount > line.remaining_fen {
        overdraws.push(format!(
            "budget line {} \"{}\" has {} left",
            line.position,
            line.category,
            signed(line.remaining_fen)
        ));
    }
    if !overdraws.is_empty() && input.override_reason.is_none() {
        return Err(AppError::Conflict {
            code: "overdrawn",
            detail: format!(
                "paying {} would overdraw: {}",
                Money::from_fen(amount),
                overdraws.join("; ")
            ),
        });
    }
    let cash = format!("cash:{}", input.fund);
    let expense = format!("line:{}", line.id);
    let lines: Vec<(String, i64)> = match input.supplier_id {
        Some(supplier) => {
            let payable = format!("payable:{supplier}");
            vec![
                (expense, amount),
                (payable.clone(), -amount),
                (payable, amount),
                (cash, -amount),
            ]
        }
        None => vec![(expense, amount), (cash, -amount)],
    };
    let memo = format!(
        "{} {} to {}",
        input.kind.as_str(),
        Money::from_fen(amount),
        input.payee.trim()
    );
    let entry = store::post_entry(tx, project.id, "disbursement", &memo, &lines, user).await?;
    let id = store::insert_disbursement(tx, &input, amount, entry, today, user).await?;
    for allocation in &input.allocation_ids {
        let paid = sqlx::query(
            "UPDATE allocations SET disbursement_id = $1 WHERE id = $2 AND disbursement_id IS NULL",
        )
        .bind(id)
        .bind(allocation)
        .execute(tx.conn())
        .await?;
        if paid.rows_affected() != 1 {
            return Err(AppError::Conflict {
                code: "already_paid",
                detail: format!("allocation {allocation} is already paid"),
            });
        }
    }
    let created = store::disbursement(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        by,
        if input.override_reason.is_some() {
            "create_with_override"
        } else {
            "create"
        },
        "disbursement",
        id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    Ok(created)
}

fn signed(fen: i64) -> String {
    if fen < 0 {
        format!("-{}", Money::from_fen(-fen))
    } else {
        Money::from_fen(fen).to_string()
    }
}

/// The earmark of a restricted fund: the pledge must have been received into this project.
async fn restricted_earmark(tx: &mut Tx, project: i64, pledge: i64) -> Result<Earmark, AppError> {
    let row = sqlx::query(
        "SELECT p.earmark_json FROM pledges p WHERE p.id = $1 AND EXISTS \
         (SELECT 1 FROM receipts r WHERE r.pledge_id = p.id AND r.project_id = $2 AND r.fund = $3)",
    )
    .bind(pledge)
    .bind(project)
    .bind(format!("pledge:{pledge}"))
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| {
        AppError::validation(
            "fund",
            "unknown_value",
            "no restricted fund of this pledge in this project",
        )
    })?;
    Ok(serde_json::from_str(&row.get::<String, _>(0)).unwrap_or_default())
}

/// A purchase pays for confirmed purchase allocations bought with this fund's money, at the
/// cost the plan fixed; the items must be within the gift's categories.
async fn purchase_amount(
    tx: &mut Tx,
    input: &DisbursementInput,
    fund_pledge: Option<i64>,
    earmark: Option<&Earmark>,
) -> Result<i64, AppError> {
    let mut total = 0;
    for (i, allocation) in input.allocation_ids.iter().enumerate() {
        let field = format!("allocation_ids[{i}]");
        let row = sqlx::query(
            "SELECT a.pledge_id, a.cost_fen, a.status, a.disbursement_id, s.supplier_id, i.category \
             FROM allocations a JOIN supplier_offers s ON s.id = a.offer_id JOIN items i ON i.id = a.item_id \
             WHERE a.id = $1",
        )
        .bind(allocation)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| {
            AppError::validation(&field, "unknown_value", "no purchase allocation with this id")
        })?;
        if row.get::<Option<i64>, _>("disbursement_id").is_some() {
            return Err(AppError::Conflict {
                code: "already_paid",
                detail: format!("allocation {allocation} is already paid"),
            });
        }
        if row.get::<String, _>("status") != "reserved" {
            return Err(AppError::validation(
                &field,
                "released",
                "the allocation was released",
            ));
        }
        if Some(row.get::<i64, _>("supplier_id")) != input.supplier_id {
            return Err(AppError::validation(
                "supplier_id",
                "mismatch",
                format!(
                    "allocation {allocation} buys from supplier {}",
                    row.get::<i64, _>("supplier_id")
                ),
            ));
        }
        if let Some(pledge) = fund_pledge {
            if row.get::<i64, _>("pledge_id") != pledge {
                return Err(AppError::validation(
                    &field,
                    "restricted",
                    format!(
                        "allocation {allocation} is not bought with the money of pledge {pledge}"
                    ),
                ));
            }
        }
        let category: String = row.get("category");
        if let Some(e) = earmark {
            if !e.categories.is_empty() && !e.categories.iter().any(|c| c.as_str() == category) {
                return Err(AppError::validation(
                    &field,
                    "restricted",
                    format!("the gift does not cover {category}"),
                ));
            }
        }
        total += row.get::<i64, _>("cost_fen");
    }
    if let Some(amount) = input.amount {
        if amount.fen() != total {
            return Err(AppError::validation(
                "amount",
                "mismatch",
                format!("the allocations cost {}", Money::from_fen(total)),
            ));
        }
    }
    if total == 0 {
        return Err(AppError::validation(
            "allocation_ids",
            "out_of_range",
            "the allocations cost nothing",
        ));
    }
    Ok(total)
}

/// headcount × rate × days, exactly; the group must be within the gift's groups.
fn subsidy_amount(input: &DisbursementInput, earmark: Option<&Earmark>) -> Result<i64, AppError> {
    let s = input.subsidy.as_ref().expect("checked");
    let total = s
        .rate
        .fen()
        .checked_mul(s.headcount)
        .and_then(|t| t.checked_mul(s.days))
        .filter(|t| *t > 0)
        .ok_or_else(|| {
            AppError::validation(
                "subsidy.rate",
                "out_of_range",
                "the total must be above 0 and not overflow",
            )
        })?;
    if let Some(amount) = input.amount {
        if amount.fen() != total {
            return Err(AppError::validation(
                "amount",
                "mismatch",
                format!(
                    "{} people × {} yuan × {} days is {}",
                    s.headcount,
                    s.rate,
                    s.days,
                    Money::from_fen(total)
                ),
            ));
        }
    }
    if let Some(e) = earmark {
        if !e.categories.is_empty() && !e.categories.iter().any(|c| c.as_str() == "subsidy") {
            return Err(AppError::validation(
                "fund",
                "restricted",
                "the gift does not cover subsidies",
            ));
        }
        if !e.groups.is_empty() && !e.groups.contains(&s.beneficiary_group) {
            return Err(AppError::validation(
                "subsidy.beneficiary_group",
                "restricted",
                "the gift is for other beneficiary groups",
            ));
        }
    }
    Ok(total)
}

const ADJUST_SCOPE: &str = "POST /api/v1/budget-adjustments";

/// Moves budget from one line to another of the same project, with the reason. Once per
/// `Idempotency-Key`; never takes a line below what it has spent.
pub async fn adjust(
    state: &AppState,
    actor: &Principal,
    key: &str,
    input: AdjustmentInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(Some(actor), Permission::ManageFunds)?;
    let mut fields = Fields::new();
    fields.required_text("reason", &input.reason, 500);
    if input.amount == Money::ZERO {
        fields.push("amount", "out_of_range", "must be above 0");
    }
    if input.from_line_id == input.to_line_id {
        fields.push("to_line_id", "same_line", "must differ from from_line_id");
    }
    fields.finish()?;
    let hash = idempotency::request_hash(&input);
    idempotency::once(&state.db, actor.user_id, ADJUST_SCOPE, key, &hash, |tx| {
        Box::pin(record_adjustment(tx, actor.clone(), input.clone()))
    })
    .await
}

async fn record_adjustment(
    tx: &mut Tx,
    actor: Principal,
    input: AdjustmentInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let created = adjustment_in(tx, Actor::User(&actor), actor.user_id, input).await?;
    let body = serde_json::to_value(&created).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, body))
}

pub async fn adjustment_in(
    tx: &mut Tx,
    by: Actor<'_>,
    user: i64,
    input: AdjustmentInput,
) -> Result<BudgetAdjustment, AppError> {
    let project = lock_project(tx, input.project_id).await?;
    let find = |id: i64, field: &str| {
        project
            .budget_lines
            .iter()
            .find(|l| l.id == id)
            .cloned()
            .ok_or_else(|| {
                AppError::validation(
                    field,
                    "unknown_value",
                    "no such budget line in this project",
                )
            })
    };
    let from = find(input.from_line_id, "from_line_id")?;
    find(input.to_line_id, "to_line_id")?;
    if input.amount.fen() > from.remaining_fen {
        return Err(AppError::Conflict {
            code: "overdrawn",
            detail: format!(
                "budget line {} \"{}\" has {} left to move",
                from.position,
                from.category,
                signed(from.remaining_fen)
            ),
        });
    }
    let id: i64 = sqlx::query(
        "INSERT INTO budget_adjustments (project_id, from_line_id, to_line_id, amount_fen, reason, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(project.id)
    .bind(input.from_line_id)
    .bind(input.to_line_id)
    .bind(input.amount.fen())
    .bind(input.reason.trim())
    .bind(user)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    let created = store::adjustment(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        by,
        "create",
        "budget_adjustment",
        id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    Ok(created)
}

/// Whether this account may override an overdraw (for pages to show the field).
pub fn may_override(actor: &Principal) -> bool {
    allows(actor, Permission::OverrideOverdraw)
}
