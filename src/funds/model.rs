//! What projects, budgets and fund movements look like in the API.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{money::Money, needs::model::BeneficiaryGroup};

text_enum!(
    /// What a disbursement pays for.
    DisbursementKind {
        Purchase = "purchase",
        Subsidy = "subsidy",
        CareGrant = "care_grant",
        Transport = "transport",
        FeeTax = "fee_tax",
        Other = "other",
    }
);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name_zh: String,
    pub name_en: Option<String>,
    /// The foundation holding the project.
    pub foundation_id: Option<i64>,
    #[serde(default)]
    pub implementers: String,
    #[serde(default)]
    pub funders: String,
    /// Where the project serves, e.g. 武汉市.
    #[serde(default)]
    pub area: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[serde(default)]
    pub goals: String,
    #[serde(default)]
    pub direct_beneficiaries: i64,
    #[serde(default)]
    pub budget_lines: Vec<BudgetLineInput>,
    #[serde(default)]
    pub indicators: Vec<IndicatorInput>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetLineInput {
    /// What the line pays for, e.g. 志愿者补贴.
    pub category: String,
    pub unit_price: Option<Money>,
    pub quantity: Option<i64>,
    /// How the quantity is counted, e.g. 人/天.
    pub unit: Option<String>,
    /// The line's budget (yuan).
    pub amount: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorInput {
    pub name: String,
    pub target: Option<i64>,
    #[serde(default)]
    pub unit: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorUpdate {
    pub achieved: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BudgetLine {
    pub id: i64,
    pub position: i64,
    pub category: String,
    pub unit_price: Option<Money>,
    pub quantity: Option<i64>,
    pub unit: Option<String>,
    /// The budget as planned.
    pub amount: Money,
    /// Moved in from other lines by budget adjustments.
    pub adjusted_in: Money,
    /// Moved out to other lines by budget adjustments.
    pub adjusted_out: Money,
    /// amount + adjusted_in − adjusted_out.
    pub budget: Money,
    /// Disbursed against the line (the ledger's debit on `line:{id}`).
    pub spent: Money,
    /// budget − spent; negative only after an admin's override.
    pub remaining_fen: i64,
    pub remaining: Money,
    pub overdrawn: bool,
    /// spent − budget when overdrawn, else 0.
    pub overdrawn_by: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Indicator {
    pub id: i64,
    pub name: String,
    pub target: Option<i64>,
    pub unit: String,
    pub achieved: i64,
    /// achieved / target in percent, one decimal (none without a target).
    pub percent: Option<String>,
}

/// Money held for one fund: unrestricted (`general`) or one restricted pledge.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FundBalance {
    /// `general` or `pledge:{id}`.
    pub fund: String,
    pub restricted: bool,
    pub received: Money,
    pub spent: Money,
    pub balance_fen: i64,
    pub balance: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Project {
    pub id: i64,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub foundation_id: Option<i64>,
    pub implementers: String,
    pub funders: String,
    pub area: String,
    pub starts_on: String,
    pub ends_on: String,
    pub goals: String,
    pub direct_beneficiaries: i64,
    pub status: String,
    /// Sum of the budget lines as planned.
    pub budget: Money,
    pub received: Money,
    pub spent: Money,
    pub budget_lines: Vec<BudgetLine>,
    pub indicators: Vec<Indicator>,
    pub funds: Vec<FundBalance>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectSummary {
    pub id: i64,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub starts_on: String,
    pub ends_on: String,
    pub status: String,
    pub budget: Money,
    pub received: Money,
    pub spent: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptInput {
    pub project_id: i64,
    /// A money pledge; earmarked pledges become a restricted fund of their own.
    pub pledge_id: i64,
    pub amount: Money,
    /// Default: today (hub time).
    pub received_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub id: i64,
    pub project_id: i64,
    pub pledge_id: i64,
    pub donor_id: i64,
    pub amount: Money,
    pub fund: String,
    pub received_on: String,
    pub entry_id: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubsidyInput {
    pub beneficiary_group: BeneficiaryGroup,
    pub headcount: i64,
    /// Yuan per person per day.
    pub rate: Money,
    pub days: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisbursementInput {
    pub project_id: i64,
    pub budget_line_id: i64,
    pub kind: DisbursementKind,
    /// `general` (unrestricted money) or `pledge:{id}` (a restricted gift).
    pub fund: String,
    /// Required except for purchases and subsidies, where it follows from the allocations or
    /// from headcount × rate × days (given anyway, it must agree).
    pub amount: Option<Money>,
    pub payee: String,
    /// For purchases: the supplier paid.
    pub supplier_id: Option<i64>,
    /// For purchases: the confirmed purchase allocations this pays for (each paid once).
    #[serde(default)]
    pub allocation_ids: Vec<i64>,
    /// For subsidy batches.
    pub subsidy: Option<SubsidyInput>,
    /// Default: today (hub time).
    pub paid_on: Option<NaiveDate>,
    pub memo: Option<String>,
    /// Admins only: lets the disbursement overdraw the fund or the budget line; kept with it.
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Disbursement {
    pub id: i64,
    pub project_id: i64,
    pub budget_line_id: i64,
    pub kind: DisbursementKind,
    pub fund: String,
    pub amount: Money,
    pub payee: String,
    pub supplier_id: Option<i64>,
    pub beneficiary_group: Option<String>,
    pub headcount: Option<i64>,
    pub rate: Option<Money>,
    pub days: Option<i64>,
    pub allocation_ids: Vec<i64>,
    pub paid_on: String,
    pub memo: Option<String>,
    pub override_reason: Option<String>,
    pub entry_id: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentInput {
    pub project_id: i64,
    pub from_line_id: i64,
    pub to_line_id: i64,
    pub amount: Money,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BudgetAdjustment {
    pub id: i64,
    pub project_id: i64,
    pub from_line_id: i64,
    pub to_line_id: i64,
    pub amount: Money,
    pub reason: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerLine {
    pub account: String,
    pub debit: Money,
    pub credit: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    pub id: i64,
    pub kind: String,
    pub memo: String,
    pub created_at: String,
    pub lines: Vec<LedgerLine>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountBalance {
    pub account: String,
    pub debit: Money,
    pub credit: Money,
    /// Debits minus credits, in fen.
    pub balance_fen: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Ledger {
    pub project_id: i64,
    pub entries: Vec<LedgerEntry>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// Every account of the project with its balance; debits and credits are equal in total.
    pub trial_balance: Vec<AccountBalance>,
}
