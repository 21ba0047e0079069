//! Queries of the fund books: projects with their lines, indicators and fund balances (all
//! derived from the ledger and the adjustment records), entries, and the invariant check.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use super::model::*;
use crate::{
    db::{self, Tx},
    error::AppError,
    money::Money,
    paging::Window,
};

pub async fn insert_line(
    tx: &mut Tx,
    project: i64,
    line: &BudgetLineInput,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO budget_lines (project_id, position, category, unit_price_fen, quantity, unit, amount_fen) \
         VALUES ($1, (SELECT COALESCE(MAX(position), 0) + 1 FROM budget_lines WHERE project_id = $1), $2, $3, $4, $5, $6)",
    )
    .bind(project)
    .bind(line.category.trim())
    .bind(line.unit_price.map(Money::fen))
    .bind(line.quantity)
    .bind(line.unit.as_deref().map(str::trim).filter(|u| !u.is_empty()))
    .bind(line.amount.fen())
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn insert_indicator(
    tx: &mut Tx,
    project: i64,
    indicator: &IndicatorInput,
) -> Result<(), AppError> {
    sqlx::query("INSERT INTO indicators (project_id, name, target, unit) VALUES ($1, $2, $3, $4)")
        .bind(project)
        .bind(indicator.name.trim())
        .bind(indicator.target)
        .bind(indicator.unit.trim())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Posts a balanced entry; refuses (as a bug) one whose lines do not sum to zero.
pub async fn post_entry(
    tx: &mut Tx,
    project: i64,
    kind: &str,
    memo: &str,
    lines: &[(String, i64)],
    actor: i64,
) -> Result<i64, AppError> {
    let sum: i64 = lines.iter().map(|(_, amount)| amount).sum();
    if sum != 0 || lines.iter().any(|(_, a)| *a == 0) {
        return Err(AppError::Internal(anyhow::anyhow!(
            "unbalanced ledger entry: {lines:?}"
        )));
    }
    let id: i64 = sqlx::query(
        "INSERT INTO ledger_entries (project_id, kind, memo, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(project)
    .bind(kind)
    .bind(memo)
    .bind(actor)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    for (account, amount) in lines {
        sqlx::query(
            "INSERT INTO ledger_lines (entry_id, project_id, account, amount_fen) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(project)
        .bind(account)
        .bind(amount)
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "INSERT INTO ledger_balances (project_id, account) VALUES ($1, $2) ON CONFLICT (project_id, account) DO NOTHING",
        )
        .bind(project)
        .bind(account)
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "UPDATE ledger_balances SET debit_fen = debit_fen + $1, credit_fen = credit_fen + $2 \
             WHERE project_id = $3 AND account = $4",
        )
        .bind(amount.max(&0))
        .bind((-amount).max(0))
        .bind(project)
        .bind(account)
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}

/// Debit and credit totals per account of a project.
async fn accounts(
    conn: &mut AnyConnection,
    project: i64,
) -> Result<BTreeMap<String, (i64, i64)>, AppError> {
    let rows = sqlx::query(
        "SELECT account, debit_fen AS debit, credit_fen AS credit FROM ledger_balances \
         WHERE project_id = $1 ORDER BY account",
    )
    .bind(project)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("account"), (r.get("debit"), r.get("credit"))))
        .collect())
}

pub async fn project(conn: &mut AnyConnection, id: i64) -> Result<Project, AppError> {
    let row = sqlx::query(
        "SELECT id, name_zh, name_en, foundation_id, implementers, funders, area, starts_on, ends_on, goals, \
                direct_beneficiaries, status FROM projects WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let accounts = accounts(conn, id).await?;
    let balance = |account: &str| accounts.get(account).map(|(d, c)| d - c).unwrap_or(0);
    let adjustments = sqlx::query(
        "SELECT from_line_id, to_line_id, amount_fen FROM budget_adjustments WHERE project_id = $1",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let lines = sqlx::query(
        "SELECT id, position, category, unit_price_fen, quantity, unit, amount_fen FROM budget_lines \
         WHERE project_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let budget_lines: Vec<BudgetLine> = lines
        .iter()
        .map(|r| {
            let line: i64 = r.get("id");
            let moved = |column: &str| -> i64 {
                adjustments
                    .iter()
                    .filter(|a| a.get::<i64, _>(column) == line)
                    .map(|a| a.get::<i64, _>("amount_fen"))
                    .sum()
            };
            let (amount, adjusted_in, adjusted_out) = (
                r.get::<i64, _>("amount_fen"),
                moved("to_line_id"),
                moved("from_line_id"),
            );
            let budget = amount + adjusted_in - adjusted_out;
            let spent = balance(&format!("line:{line}"));
            BudgetLine {
                id: line,
                position: r.get("position"),
                category: r.get("category"),
                unit_price: r
                    .get::<Option<i64>, _>("unit_price_fen")
                    .map(Money::from_fen),
                quantity: r.get("quantity"),
                unit: r.get("unit"),
                amount: Money::from_fen(amount),
                adjusted_in: Money::from_fen(adjusted_in),
                adjusted_out: Money::from_fen(adjusted_out),
                budget: Money::from_fen(budget.max(0)),
                spent: Money::from_fen(spent.max(0)),
                remaining_fen: budget - spent,
                remaining: Money::from_fen((budget - spent).max(0)),
                overdrawn: spent > budget,
                overdrawn_by: Money::from_fen((spent - budget).max(0)),
            }
        })
        .collect();
    let indicators = sqlx::query(
        "SELECT id, name, target, unit, achieved FROM indicators WHERE project_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let (target, achieved): (Option<i64>, i64) = (r.get("target"), r.get("achieved"));
        Indicator {
            id: r.get("id"),
            name: r.get("name"),
            target,
            unit: r.get("unit"),
            achieved,
            percent: target.filter(|t| *t > 0).map(|t| percent(achieved, t)),
        }
    })
    .collect();
    let funds: Vec<FundBalance> = accounts
        .iter()
        .filter_map(|(account, (debit, credit))| {
            let fund = account.strip_prefix("cash:")?;
            Some(FundBalance {
                fund: fund.to_owned(),
                restricted: fund != "general",
                received: Money::from_fen(*debit),
                spent: Money::from_fen(*credit),
                balance_fen: debit - credit,
                balance: Money::from_fen((debit - credit).max(0)),
            })
        })
        .collect();
    let budget: i64 = lines.iter().map(|r| r.get::<i64, _>("amount_fen")).sum();
    Ok(Project {
        id,
        name_zh: row.get("name_zh"),
        name_en: row.get("name_en"),
        foundation_id: row.get("foundation_id"),
        implementers: row.get("implementers"),
        funders: row.get("funders"),
        area: row.get("area"),
        starts_on: row.get("starts_on"),
        ends_on: row.get("ends_on"),
        goals: row.get("goals"),
        direct_beneficiaries: row.get("direct_beneficiaries"),
        status: row.get("status"),
        budget: Money::from_fen(budget),
        received: Money::from_fen(funds.iter().map(|f| f.received.fen()).sum()),
        spent: Money::from_fen(funds.iter().map(|f| f.spent.fen()).sum()),
        budget_lines,
        indicators,
        funds,
    })
}

/// achieved / target as a percentage with one decimal, rounded half up, exactly.
pub fn percent(achieved: i64, target: i64) -> String {
    let tenths = (i128::from(achieved) * 1000 * 2 + i128::from(target)) / (2 * i128::from(target));
    format!("{}.{}%", tenths / 10, tenths % 10)
}

pub async fn projects(conn: &mut AnyConnection) -> Result<Vec<ProjectSummary>, AppError> {
    let rows = sqlx::query(
        "SELECT p.id, p.name_zh, p.name_en, p.starts_on, p.ends_on, p.status, \
                CAST((SELECT COALESCE(SUM(amount_fen), 0) FROM budget_lines b WHERE b.project_id = p.id) AS BIGINT) AS budget, \
                CAST((SELECT COALESCE(SUM(debit_fen), 0) FROM ledger_balances b WHERE b.project_id = p.id \
                      AND b.account LIKE 'cash:%') AS BIGINT) AS received, \
                CAST((SELECT COALESCE(SUM(credit_fen), 0) FROM ledger_balances b WHERE b.project_id = p.id \
                      AND b.account LIKE 'cash:%') AS BIGINT) AS spent \
         FROM projects p ORDER BY p.id DESC",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| ProjectSummary {
            id: r.get("id"),
            name_zh: r.get("name_zh"),
            name_en: r.get("name_en"),
            starts_on: r.get("starts_on"),
            ends_on: r.get("ends_on"),
            status: r.get("status"),
            budget: Money::from_fen(r.get("budget")),
            received: Money::from_fen(r.get("received")),
            spent: Money::from_fen(r.get("spent")),
        })
        .collect())
}

const RECEIPT_SELECT: &str =
    "SELECT r.id, r.project_id, r.pledge_id, p.donor_id, r.amount_fen, r.fund, r.received_on, \
     r.entry_id, r.created_at FROM receipts r JOIN pledges p ON p.id = r.pledge_id";

fn receipt_from(r: &sqlx::any::AnyRow) -> Receipt {
    Receipt {
        id: r.get("id"),
        project_id: r.get("project_id"),
        pledge_id: r.get("pledge_id"),
        donor_id: r.get("donor_id"),
        amount: Money::from_fen(r.get("amount_fen")),
        fund: r.get("fund"),
        received_on: r.get("received_on"),
        entry_id: r.get("entry_id"),
        created_at: r.get("created_at"),
    }
}

pub async fn receipt(conn: &mut AnyConnection, id: i64) -> Result<Receipt, AppError> {
    let row = sqlx::query(&format!("{RECEIPT_SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(receipt_from(&row))
}

pub async fn receipts(conn: &mut AnyConnection, project: i64) -> Result<Vec<Receipt>, AppError> {
    let rows = sqlx::query(&format!(
        "{RECEIPT_SELECT} WHERE r.project_id = $1 ORDER BY r.id"
    ))
    .bind(project)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(receipt_from).collect())
}

pub async fn insert_disbursement(
    tx: &mut Tx,
    input: &DisbursementInput,
    amount: i64,
    entry: i64,
    today: chrono::NaiveDate,
    actor: i64,
) -> Result<i64, AppError> {
    let subsidy = input.subsidy.as_ref();
    let id: i64 = sqlx::query(
        "INSERT INTO disbursements (project_id, budget_line_id, kind, fund, amount_fen, payee, supplier_id, \
         beneficiary_group, headcount, rate_fen, days, allocation_ids, paid_on, memo, override_reason, entry_id, \
         created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
    )
    .bind(input.project_id)
    .bind(input.budget_line_id)
    .bind(input.kind.as_str())
    .bind(&input.fund)
    .bind(amount)
    .bind(input.payee.trim())
    .bind(input.supplier_id)
    .bind(subsidy.map(|s| s.beneficiary_group.as_str()))
    .bind(subsidy.map(|s| s.headcount))
    .bind(subsidy.map(|s| s.rate.fen()))
    .bind(subsidy.map(|s| s.days))
    .bind(serde_json::to_string(&input.allocation_ids).unwrap_or_else(|_| "[]".into()))
    .bind(input.paid_on.unwrap_or(today).format("%Y-%m-%d").to_string())
    .bind(input.memo.as_deref().map(str::trim).filter(|m| !m.is_empty()))
    .bind(input.override_reason.as_deref().map(str::trim))
    .bind(entry)
    .bind(actor)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    Ok(id)
}

const DISBURSEMENT_SELECT: &str = "SELECT id, project_id, budget_line_id, kind, fund, amount_fen, payee, supplier_id, \
     beneficiary_group, headcount, rate_fen, days, allocation_ids, paid_on, memo, override_reason, entry_id, created_at \
     FROM disbursements";

fn disbursement_from(r: &sqlx::any::AnyRow) -> Disbursement {
    Disbursement {
        id: r.get("id"),
        project_id: r.get("project_id"),
        budget_line_id: r.get("budget_line_id"),
        kind: DisbursementKind::parse(&r.get::<String, _>("kind"))
            .unwrap_or(DisbursementKind::Other),
        fund: r.get("fund"),
        amount: Money::from_fen(r.get("amount_fen")),
        payee: r.get("payee"),
        supplier_id: r.get("supplier_id"),
        beneficiary_group: r.get("beneficiary_group"),
        headcount: r.get("headcount"),
        rate: r.get::<Option<i64>, _>("rate_fen").map(Money::from_fen),
        days: r.get("days"),
        allocation_ids: serde_json::from_str(&r.get::<String, _>("allocation_ids"))
            .unwrap_or_default(),
        paid_on: r.get("paid_on"),
        memo: r.get("memo"),
        override_reason: r.get("override_reason"),
        entry_id: r.get("entry_id"),
        created_at: r.get("created_at"),
    }
}

pub async fn disbursement(conn: &mut AnyConnection, id: i64) -> Result<Disbursement, AppError> {
    let row = sqlx::query(&format!("{DISBURSEMENT_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(disbursement_from(&row))
}

pub async fn disbursements(
    conn: &mut AnyConnection,
    project: i64,
) -> Result<Vec<Disbursement>, AppError> {
    let rows = sqlx::query(&format!(
        "{DISBURSEMENT_SELECT} WHERE project_id = $1 ORDER BY id"
    ))
    .bind(project)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(disbursement_from).collect())
}

const ADJUSTMENT_SELECT: &str =
    "SELECT id, project_id, from_line_id, to_line_id, amount_fen, reason, created_at FROM budget_adjustments";

fn adjustment_from(r: &sqlx::any::AnyRow) -> BudgetAdjustment {
    BudgetAdjustment {
        id: r.get("id"),
        project_id: r.get("project_id"),
        from_line_id: r.get("from_line_id"),
        to_line_id: r.get("to_line_id"),
        amount: Money::from_fen(r.get("amount_fen")),
        reason: r.get("reason"),
        created_at: r.get("created_at"),
    }
}

pub async fn adjustment(conn: &mut AnyConnection, id: i64) -> Result<BudgetAdjustment, AppError> {
    let row = sqlx::query(&format!("{ADJUSTMENT_SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(adjustment_from(&row))
}

pub async fn adjustments(
    conn: &mut AnyConnection,
    project: i64,
) -> Result<Vec<BudgetAdjustment>, AppError> {
    let rows = sqlx::query(&format!(
        "{ADJUSTMENT_SELECT} WHERE project_id = $1 ORDER BY id"
    ))
    .bind(project)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(adjustment_from).collect())
}

/// A page of a project's entries (oldest first) and its trial balance.
pub async fn ledger(
    conn: &mut AnyConnection,
    project: i64,
    window: Window,
) -> Result<Ledger, AppError> {
    let total: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_entries WHERE project_id = $1")
            .bind(project)
            .fetch_one(&mut *conn)
            .await?
            .get(0);
    let heads = sqlx::query(&format!(
        "SELECT id, kind, memo, created_at FROM ledger_entries WHERE project_id = $1 ORDER BY id LIMIT {} OFFSET {}",
        window.per_page,
        window.offset()
    ))
    .bind(project)
    .fetch_all(&mut *conn)
    .await?;
    let mut entries: Vec<LedgerEntry> = heads
        .iter()
        .map(|r| LedgerEntry {
            id: r.get("id"),
            kind: r.get("kind"),
            memo: r.get("memo"),
            created_at: r.get("created_at"),
            lines: Vec::new(),
        })
        .collect();
    if let (Some(first), Some(last)) = (entries.first().map(|e| e.id), entries.last().map(|e| e.id))
    {
        let lines = sqlx::query(
            "SELECT entry_id, account, amount_fen FROM ledger_lines WHERE project_id = $1 AND entry_id BETWEEN $2 AND $3 \
             ORDER BY entry_id, CASE WHEN amount_fen > 0 THEN 0 ELSE 1 END",
        )
        .bind(project)
        .bind(first)
        .bind(last)
        .fetch_all(&mut *conn)
        .await?;
        let mut at = 0;
        for r in lines {
            let entry: i64 = r.get("entry_id");
            while entries[at].id != entry {
                at += 1;
            }
            let amount: i64 = r.get("amount_fen");
            entries[at].lines.push(LedgerLine {
                account: r.get("account"),
                debit: Money::from_fen(amount.max(0)),
                credit: Money::from_fen((-amount).max(0)),
            });
        }
    }
    let trial_balance = accounts(conn, project)
        .await?
        .into_iter()
        .map(|(account, (debit, credit))| AccountBalance {
            account,
            debit: Money::from_fen(debit),
            credit: Money::from_fen(credit),
            balance_fen: debit - credit,
        })
        .collect();
    Ok(Ledger {
        project_id: project,
        entries,
        total,
        page: window.page,
        per_page: window.per_page,
        trial_balance,
    })
}

/// Problems with the fund books: an entry whose lines do not sum to zero, a fund holding less
/// than nothing, a receipt or disbursement whose entry does not carry its amount. Overdrafts
/// an admin allowed are reported too, with their reason.
pub async fn verify(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    let mut problems = Vec::new();
    let unbalanced = sqlx::query(
        "SELECT entry_id, CAST(SUM(amount_fen) AS BIGINT) FROM ledger_lines GROUP BY entry_id HAVING SUM(amount_fen) <> 0",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in unbalanced {
        problems.push(format!(
            "funds: entry {} is off by {} fen",
            r.get::<i64, _>(0),
            r.get::<i64, _>(1)
        ));
    }
    let drifted = sqlx::query(
        "SELECT k.project_id, k.account FROM (SELECT project_id, account FROM ledger_balances \
              UNION SELECT project_id, account FROM ledger_lines) k \
         LEFT JOIN ledger_balances b ON b.project_id = k.project_id AND b.account = k.account \
         LEFT JOIN (SELECT project_id, account, \
                           SUM(CASE WHEN amount_fen > 0 THEN amount_fen ELSE 0 END) AS debit, \
                           SUM(CASE WHEN amount_fen < 0 THEN -amount_fen ELSE 0 END) AS credit \
                    FROM ledger_lines GROUP BY project_id, account) l \
              ON l.project_id = k.project_id AND l.account = k.account \
         WHERE COALESCE(b.debit_fen, 0) <> COALESCE(l.debit, 0) OR COALESCE(b.credit_fen, 0) <> COALESCE(l.credit, 0)",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in drifted {
        problems.push(format!(
            "funds: project {} account {} differs from the recount of its lines",
            r.get::<i64, _>(0),
            r.get::<String, _>(1)
        ));
    }
    let negative = sqlx::query(
        "SELECT project_id, account, CAST(SUM(amount_fen) AS BIGINT) FROM ledger_lines WHERE account LIKE 'cash:%' \
         GROUP BY project_id, account HAVING SUM(amount_fen) < 0",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in negative {
        let project: i64 = r.get(0);
        let account: String = r.get(1);
        let fund = account.trim_start_matches("cash:").to_owned();
        let overridden: i64 = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM disbursements WHERE project_id = $1 AND fund = $2 AND override_reason IS NOT NULL",
        )
        .bind(project)
        .bind(&fund)
        .fetch_one(&mut *conn)
        .await?
        .get(0);
        if overridden == 0 {
            problems.push(format!(
                "funds: project {project} fund {fund} is overdrawn by {} fen without an override",
                -r.get::<i64, _>(2)
            ));
        }
    }
    let mismatched = sqlx::query(
        "SELECT 'receipt' AS what, r.id FROM receipts r WHERE r.amount_fen <> \
             (SELECT COALESCE(SUM(l.amount_fen), 0) FROM ledger_lines l WHERE l.entry_id = r.entry_id AND l.amount_fen > 0) \
         UNION ALL \
         SELECT 'disbursement' AS what, d.id FROM disbursements d WHERE d.amount_fen <> \
             (SELECT COALESCE(SUM(l.amount_fen), 0) FROM ledger_lines l WHERE l.entry_id = d.entry_id AND l.account LIKE 'line:%')",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in mismatched {
        problems.push(format!(
            "funds: {} {} does not match its ledger entry",
            r.get::<String, _>(0),
            r.get::<i64, _>(1)
        ));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentages_round_half_up_to_one_decimal() {
        assert_eq!(super::percent(10072, 10000), "100.7%");
        assert_eq!(super::percent(76, 30), "253.3%");
        assert_eq!(super::percent(2, 2), "100.0%");
        assert_eq!(super::percent(0, 7), "0.0%");
        assert_eq!(super::percent(1, 8), "12.5%");
    }
}
