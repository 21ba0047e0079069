//! The project closing report (结项报告), modelled on seed 003: basic facts, goals, services
//! delivered, spending by budget line with the adjustments and their reasons, indicators
//! planned vs achieved, funding received and subsidies paid — every figure read from the
//! ledgers and the delivery receipts. Rendered as a print-ready page, an XLSX workbook (one
//! sheet per table, real numbers) or CSV per table.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::{
    error::AppError,
    funds::{model::Project, store},
    money::Money,
    pledges::model::Earmark,
};

/// One cell: text, a whole number, an amount in fen, or a ratio shown as a percentage.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Money(i64),
    Ratio { part: i64, whole: i64 },
    Empty,
}

impl Cell {
    /// How the cell reads on the page and in CSV (amounts with two decimals, no symbol).
    pub fn display(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Money(fen) if *fen < 0 => format!("-{}", Money::from_fen(-fen)),
            Cell::Money(fen) => Money::from_fen(*fen).to_string(),
            Cell::Ratio { part, whole } => store::percent(*part, *whole),
            Cell::Empty => String::new(),
        }
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Money(_) | Cell::Ratio { .. })
    }
}

/// A table of the report; `key` names its sheet, its CSV file and its `table=` parameter.
#[derive(Debug, Clone)]
pub struct Table {
    pub key: &'static str,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A table as the page template reads it.
#[derive(Serialize)]
pub struct ShownTable {
    pub key: &'static str,
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<ShownCell>>,
}

#[derive(Serialize)]
pub struct ShownCell {
    pub text: String,
    pub number: bool,
}

impl Table {
    pub fn shown(&self) -> ShownTable {
        ShownTable {
            key: self.key,
            title: self.title.clone(),
            columns: self.columns.clone(),
            rows: self
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|c| ShownCell {
                            text: c.display(),
                            number: c.is_number(),
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

pub const TABLES: [&str; 9] = [
    "facts",
    "services",
    "communities",
    "groups",
    "budget",
    "adjustments",
    "indicators",
    "funding",
    "subsidies",
];

/// What the report is built from, before words are put on it.
pub struct Figures {
    pub project: Project,
    pub services: Vec<(String, i64, i64)>,
    pub communities: Vec<(String, String, i64, i64)>,
    pub groups: Vec<(String, i64, i64)>,
    pub adjustments: Vec<(String, String, i64, String, String)>,
    pub funding: Vec<(String, i64, String, i64)>,
    /// Subsidies by beneficiary group and daily rate: batches, person-days, amount.
    pub subsidies: Vec<(String, i64, i64, i64, i64)>,
    /// Units received per day of confirmation.
    pub deliveries_by_day: Vec<(String, i64)>,
    pub units_delivered: i64,
    pub households: i64,
}

/// The pledges whose goods and money the project accounts for: money received into it, and
/// goods pledges earmarked for it by name.
pub async fn project_pledge_ids(
    conn: &mut AnyConnection,
    project: &Project,
) -> Result<Vec<i64>, AppError> {
    let mut ids: BTreeSet<i64> =
        sqlx::query("SELECT DISTINCT pledge_id FROM receipts WHERE project_id = $1")
            .bind(project.id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
    let earmarked = sqlx::query(
        "SELECT id, earmark_json FROM pledges WHERE kind = 'goods' AND status <> 'cancelled' AND earmark_json LIKE '%project%'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in earmarked {
        let earmark: Earmark =
            serde_json::from_str(&r.get::<String, _>("earmark_json")).unwrap_or_default();
        if let Some(name) = earmark.project {
            if name == project.name_zh || Some(&name) == project.name_en.as_ref() {
                ids.insert(r.get("id"));
            }
        }
    }
    Ok(ids.into_iter().collect())
}

pub async fn figures(conn: &mut AnyConnection, id: i64) -> Result<Figures, AppError> {
    let project = store::project(conn, id).await?;
    let pledges = project_pledge_ids(conn, &project).await?;
    let pledge_list = if pledges.is_empty() {
        "0".to_owned()
    } else {
        pledges
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    // Every confirmed delivery line of the project's allocations, with its need.
    let lines = sqlx::query(&format!(
        "SELECT dl.delivery_id, dl.received, d.confirmed_at, n.id AS need_id, n.status AS need_status, \
                n.beneficiary_group, n.beneficiary_count, i.category, o.name_zh AS community, o.district \
         FROM delivery_lines dl JOIN deliveries d ON d.id = dl.delivery_id JOIN allocations a ON a.id = dl.allocation_id \
         JOIN needs n ON n.id = dl.need_id JOIN items i ON i.id = dl.item_id JOIN organisations o ON o.id = d.community_id \
         WHERE d.status = 'confirmed' AND a.pledge_id IN ({pledge_list}) ORDER BY d.confirmed_at, dl.id"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut services: BTreeMap<String, (BTreeSet<i64>, i64)> = BTreeMap::new();
    let mut communities: BTreeMap<(String, String), (BTreeSet<i64>, i64)> = BTreeMap::new();
    let mut groups: BTreeMap<String, (BTreeSet<i64>, i64)> = BTreeMap::new();
    let mut by_day: BTreeMap<String, i64> = BTreeMap::new();
    let mut counted: BTreeSet<i64> = BTreeSet::new();
    let mut households = 0;
    for r in &lines {
        let received = r.get::<Option<i64>, _>("received").unwrap_or(0);
        let need: i64 = r.get("need_id");
        let status: String = r.get("need_status");
        let service = services.entry(r.get("category")).or_default();
        if matches!(status.as_str(), "delivered" | "closed") {
            service.0.insert(need);
        }
        service.1 += received;
        let community = communities
            .entry((r.get("community"), r.get("district")))
            .or_default();
        community.0.insert(r.get("delivery_id"));
        community.1 += received;
        let group = groups.entry(r.get("beneficiary_group")).or_default();
        group.0.insert(need);
        if received > 0 && counted.insert(need) {
            group.1 += r.get::<i64, _>("beneficiary_count");
            households += r.get::<i64, _>("beneficiary_count");
        }
        let day: String = r
            .get::<Option<String>, _>("confirmed_at")
            .unwrap_or_default()
            .chars()
            .take(10)
            .collect();
        *by_day.entry(day).or_default() += received;
    }
    let adjustments = sqlx::query(
        "SELECT f.category AS from_line, t.category AS to_line, a.amount_fen, a.reason, a.created_at \
         FROM budget_adjustments a JOIN budget_lines f ON f.id = a.from_line_id JOIN budget_lines t ON t.id = a.to_line_id \
         WHERE a.project_id = $1 ORDER BY a.id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        (
            r.get("from_line"),
            r.get("to_line"),
            r.get("amount_fen"),
            r.get("reason"),
            r.get::<String, _>("created_at").chars().take(10).collect(),
        )
    })
    .collect();
    let funding = sqlx::query(
        "SELECT o.name_zh, r.pledge_id, r.fund, CAST(SUM(r.amount_fen) AS BIGINT) AS amount FROM receipts r \
         JOIN pledges p ON p.id = r.pledge_id JOIN organisations o ON o.id = p.donor_id WHERE r.project_id = $1 \
         GROUP BY o.name_zh, r.pledge_id, r.fund ORDER BY r.pledge_id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    let subsidies = sqlx::query(
        "SELECT COALESCE(beneficiary_group, '') AS beneficiary_group, COALESCE(rate_fen, 0) AS rate_fen, \
                CAST(COUNT(*) AS BIGINT) AS batches, CAST(SUM(COALESCE(headcount, 0) * COALESCE(days, 0)) AS BIGINT) AS person_days, \
                CAST(SUM(amount_fen) AS BIGINT) AS amount \
         FROM disbursements WHERE project_id = $1 AND kind = 'subsidy' \
         GROUP BY COALESCE(beneficiary_group, ''), COALESCE(rate_fen, 0) ORDER BY 1, 2",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        (
            r.get("beneficiary_group"),
            r.get("rate_fen"),
            r.get("batches"),
            r.get("person_days"),
            r.get("amount"),
        )
    })
    .collect();
    Ok(Figures {
        project,
        units_delivered: lines
            .iter()
            .map(|r| r.get::<Option<i64>, _>("received").unwrap_or(0))
            .sum(),
        households,
        services: services
            .into_iter()
            .map(|(k, (needs, units))| (k, needs.len() as i64, units))
            .collect(),
        communities: communities
            .into_iter()
            .map(|((name, district), (runs, units))| (name, district, runs.len() as i64, units))
            .collect(),
        groups: groups
            .into_iter()
            .map(|(k, (needs, people))| (k, needs.len() as i64, people))
            .collect(),
        adjustments,
        funding,
        subsidies,
        deliveries_by_day: by_day.into_iter().collect(),
    })
}

/// The report's tables with their words in one language; `text` looks up a translation.
pub fn tables(f: &Figures, text: &dyn Fn(&str) -> String) -> Vec<Table> {
    let p = &f.project;
    let cols = |keys: &[&str]| keys.iter().map(|k| text(k)).collect::<Vec<_>>();
    let name = match (text("lang_code").as_str(), &p.name_en) {
        ("en", Some(en)) => en.clone(),
        _ => p.name_zh.clone(),
    };
    let facts = vec![
        vec![Cell::Text(text("project")), Cell::Text(name)],
        vec![
            Cell::Text(text("implementers")),
            Cell::Text(p.implementers.clone()),
        ],
        vec![Cell::Text(text("funders")), Cell::Text(p.funders.clone())],
        vec![
            Cell::Text(text("period")),
            Cell::Text(format!("{} – {}", p.starts_on, p.ends_on)),
        ],
        vec![Cell::Text(text("area")), Cell::Text(p.area.clone())],
        vec![Cell::Text(text("budget")), Cell::Money(p.budget.fen())],
        vec![
            Cell::Text(text("received_money")),
            Cell::Money(p.received.fen()),
        ],
        vec![Cell::Text(text("spent")), Cell::Money(p.spent.fen())],
        vec![
            Cell::Text(text("direct_beneficiaries")),
            Cell::Int(p.direct_beneficiaries),
        ],
        vec![
            Cell::Text(text("report_units_delivered")),
            Cell::Int(f.units_delivered),
        ],
        vec![
            Cell::Text(text("report_people_reached")),
            Cell::Int(f.households),
        ],
        vec![Cell::Text(text("goals")), Cell::Text(p.goals.clone())],
    ];
    let category = |c: &str| text(&format!("category_{c}"));
    let group = |g: &str| {
        if g.is_empty() {
            String::new()
        } else {
            text(&format!("group_{g}"))
        }
    };
    let budget_rows: Vec<Vec<Cell>> = p
        .budget_lines
        .iter()
        .map(|l| {
            vec![
                Cell::Int(l.position),
                Cell::Text(l.category.clone()),
                l.unit_price
                    .map(|m| Cell::Money(m.fen()))
                    .unwrap_or(Cell::Empty),
                l.quantity.map(Cell::Int).unwrap_or(Cell::Empty),
                Cell::Money(l.amount.fen()),
                Cell::Money(l.adjusted_in.fen()),
                Cell::Money(l.adjusted_out.fen()),
                Cell::Money(l.amount.fen() + l.adjusted_in.fen() - l.adjusted_out.fen()),
                Cell::Money(l.spent.fen()),
                Cell::Money(l.remaining_fen),
            ]
        })
        .collect();
    let total = |pick: &dyn Fn(&crate::funds::model::BudgetLine) -> i64| {
        Cell::Money(p.budget_lines.iter().map(pick).sum())
    };
    let mut budget_rows = budget_rows;
    budget_rows.push(vec![
        Cell::Empty,
        Cell::Text(text("report_total")),
        Cell::Empty,
        Cell::Empty,
        total(&|l| l.amount.fen()),
        total(&|l| l.adjusted_in.fen()),
        total(&|l| l.adjusted_out.fen()),
        total(&|l| l.amount.fen() + l.adjusted_in.fen() - l.adjusted_out.fen()),
        total(&|l| l.spent.fen()),
        total(&|l| l.remaining_fen),
    ]);
    vec![
        Table {
            key: "facts",
            title: text("report_facts"),
            columns: cols(&["report_field", "report_value"]),
            rows: facts,
        },
        Table {
            key: "services",
            title: text("report_services"),
            columns: cols(&[
                "category",
                "report_needs_fulfilled",
                "report_units_delivered",
            ]),
            rows: f
                .services
                .iter()
                .map(|(c, needs, units)| {
                    vec![
                        Cell::Text(category(c)),
                        Cell::Int(*needs),
                        Cell::Int(*units),
                    ]
                })
                .collect(),
        },
        Table {
            key: "communities",
            title: text("report_communities"),
            columns: cols(&[
                "report_community",
                "org_district",
                "report_runs",
                "report_units_delivered",
            ]),
            rows: f
                .communities
                .iter()
                .map(|(c, d, runs, units)| {
                    vec![
                        Cell::Text(c.clone()),
                        Cell::Text(d.clone()),
                        Cell::Int(*runs),
                        Cell::Int(*units),
                    ]
                })
                .collect(),
        },
        Table {
            key: "groups",
            title: text("report_groups"),
            columns: cols(&["beneficiary_group", "report_needs", "report_people"]),
            rows: f
                .groups
                .iter()
                .map(|(g, needs, people)| {
                    vec![Cell::Text(group(g)), Cell::Int(*needs), Cell::Int(*people)]
                })
                .collect(),
        },
        Table {
            key: "budget",
            title: text("report_budget"),
            columns: cols(&[
                "report_no",
                "category",
                "unit_price",
                "quantity",
                "planned",
                "adjusted_in",
                "adjusted_out",
                "budget",
                "spent",
                "left",
            ]),
            rows: budget_rows,
        },
        Table {
            key: "adjustments",
            title: text("budget_adjustments"),
            columns: cols(&[
                "from_line",
                "to_line",
                "amount_yuan",
                "reason",
                "created_at",
            ]),
            rows: f
                .adjustments
                .iter()
                .map(|(from, to, fen, reason, at)| {
                    vec![
                        Cell::Text(from.clone()),
                        Cell::Text(to.clone()),
                        Cell::Money(*fen),
                        Cell::Text(reason.clone()),
                        Cell::Text(at.clone()),
                    ]
                })
                .collect(),
        },
        Table {
            key: "indicators",
            title: text("indicators"),
            columns: cols(&["indicator", "target", "unit", "achieved", "report_percent"]),
            rows: p
                .indicators
                .iter()
                .map(|i| {
                    vec![
                        Cell::Text(i.name.clone()),
                        i.target.map(Cell::Int).unwrap_or(Cell::Empty),
                        Cell::Text(i.unit.clone()),
                        Cell::Int(i.achieved),
                        match i.target {
                            Some(t) if t > 0 => Cell::Ratio {
                                part: i.achieved,
                                whole: t,
                            },
                            _ => Cell::Empty,
                        },
                    ]
                })
                .collect(),
        },
        Table {
            key: "funding",
            title: text("report_funding"),
            columns: cols(&["donor", "pledge", "fund", "amount_yuan"]),
            rows: f
                .funding
                .iter()
                .map(|(donor, pledge, fund, fen)| {
                    vec![
                        Cell::Text(donor.clone()),
                        Cell::Int(*pledge),
                        Cell::Text(fund.clone()),
                        Cell::Money(*fen),
                    ]
                })
                .collect(),
        },
        Table {
            key: "subsidies",
            title: text("report_subsidies"),
            columns: cols(&[
                "beneficiary_group",
                "subsidy_rate",
                "report_batches",
                "report_person_days",
                "amount_yuan",
            ]),
            rows: f
                .subsidies
                .iter()
                .map(|(g, rate, batches, person_days, fen)| {
                    vec![
                        Cell::Text(group(g)),
                        Cell::Money(*rate),
                        Cell::Int(*batches),
                        Cell::Int(*person_days),
                        Cell::Money(*fen),
                    ]
                })
                .collect(),
        },
    ]
}

/// The workbook: one sheet per table, numbers as numbers (amounts with two decimals,
/// percentages as percentages).
pub fn xlsx(tables: &[Table]) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let money = Format::new().set_num_format("#,##0.00");
    let percent = Format::new().set_num_format("0.0%");
    let fail = |e: rust_xlsxwriter::XlsxError| AppError::Internal(anyhow::anyhow!(e));
    for table in tables {
        let sheet = book.add_worksheet();
        sheet.set_name(table.key).map_err(fail)?;
        for (c, column) in table.columns.iter().enumerate() {
            sheet
                .write_string_with_format(0, c as u16, column, &bold)
                .map_err(fail)?;
            sheet.set_column_width(c as u16, 16).map_err(fail)?;
        }
        for (r, row) in table.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                match cell {
                    Cell::Text(t) => sheet.write_string(r, c, t).map(|_| ()),
                    Cell::Int(n) => sheet.write_number(r, c, *n as f64).map(|_| ()),
                    // The file format stores numbers as doubles; fen / 100 is exact to the fen.
                    Cell::Money(fen) => sheet
                        .write_number_with_format(r, c, *fen as f64 / 100.0, &money)
                        .map(|_| ()),
                    Cell::Ratio { part, whole } => sheet
                        .write_number_with_format(r, c, *part as f64 / *whole as f64, &percent)
                        .map(|_| ()),
                    Cell::Empty => Ok(()),
                }
                .map_err(fail)?;
            }
        }
    }
    book.save_to_buffer().map_err(fail)
}

/// One table as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese right).
pub fn csv(table: &Table) -> Result<Vec<u8>, AppError> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer
            .write_record(&table.columns)
            .map_err(|e| AppError::Internal(e.into()))?;
        for row in &table.rows {
            writer
                .write_record(row.iter().map(Cell::display))
                .map_err(|e| AppError::Internal(e.into()))?;
        }
        writer.flush().map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_numbers_with_exact_amounts() {
        assert_eq!(Cell::Money(50_000_000).display(), "500000.00");
        assert_eq!(Cell::Money(-210_000).display(), "-2100.00");
        assert_eq!(
            Cell::Ratio {
                part: 76,
                whole: 30
            }
            .display(),
            "253.3%"
        );
        assert!(Cell::Int(3).is_number());
        assert!(!Cell::Text("x".into()).is_number());
    }

    #[test]
    fn csv_has_a_bom_header_and_plain_amounts() {
        let table = Table {
            key: "budget",
            title: "预算".into(),
            columns: vec!["科目".into(), "金额".into()],
            rows: vec![vec![
                Cell::Text("志愿者补贴".into()),
                Cell::Money(18_000_000),
            ]],
        };
        let text = String::from_utf8(csv(&table).unwrap()).unwrap();
        assert_eq!(text, "\u{feff}科目,金额\n志愿者补贴,180000.00\n");
    }
}
