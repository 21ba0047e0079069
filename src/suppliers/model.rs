//! Supplier offers and framework agreements.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{error::AppError, money::Money, validate::Fields};

text_enum!(
    AgreementStatus { Dormant = "dormant", Active = "active", Ended = "ended" }
);

text_enum!(
    OfferStatus { Active = "active", Withdrawn = "withdrawn" }
);

/// The terms of one item a supplier offers.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferTerms {
    pub item_id: i64,
    /// Yuan per unit, as a decimal string.
    pub unit_price: Money,
    /// Units the supplier can deliver per week.
    pub weekly_capacity: i64,
    /// Days from order to delivery.
    pub lead_days: i64,
    /// Smallest order in units (default 1).
    pub min_order: Option<i64>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
}

impl OfferTerms {
    /// Checks the terms, naming fields under `prefix` (e.g. `offers[2].`).
    pub fn check(&self, f: &mut Fields, prefix: &str) {
        f.range_i64(
            &format!("{prefix}weekly_capacity"),
            Some(self.weekly_capacity),
            1,
            1_000_000_000,
        );
        f.range_i64(&format!("{prefix}lead_days"), Some(self.lead_days), 0, 365);
        f.range_i64(
            &format!("{prefix}min_order"),
            self.min_order,
            1,
            1_000_000_000,
        );
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until) {
            if until < from {
                f.push(
                    &format!("{prefix}valid_until"),
                    "out_of_range",
                    "must not be before valid_from",
                );
            }
        }
    }
}

/// A standing offer outside any agreement: the supplier and its terms.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferInput {
    pub supplier_id: i64,
    pub item_id: i64,
    pub unit_price: Money,
    pub weekly_capacity: i64,
    pub lead_days: i64,
    pub min_order: Option<i64>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
}

impl OfferInput {
    pub fn terms(&self) -> OfferTerms {
        OfferTerms {
            item_id: self.item_id,
            unit_price: self.unit_price,
            weekly_capacity: self.weekly_capacity,
            lead_days: self.lead_days,
            min_order: self.min_order,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Offer {
    pub id: i64,
    pub supplier_id: i64,
    pub supplier_name: String,
    pub agreement_id: Option<i64>,
    pub item_id: i64,
    pub item_name: String,
    pub unit: String,
    pub unit_price: Money,
    pub weekly_capacity: i64,
    pub lead_days: i64,
    pub min_order: i64,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_from: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
    pub status: OfferStatus,
    /// Whether matching may buy through this offer today: active, within its validity, and
    /// (under an agreement) the agreement is active.
    pub available: bool,
    pub created_at: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementInput {
    pub supplier_id: i64,
    pub title: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
    pub note: Option<String>,
    /// The items and terms the supplier commits to once the agreement is activated.
    pub offers: Vec<OfferTerms>,
}

impl AgreementInput {
    pub fn check(&mut self) -> Result<(), AppError> {
        let mut f = Fields::new();
        self.title = f.required_text("title", &self.title, 200);
        self.note = f.optional_text("note", self.note.as_deref(), 1000);
        if self.offers.is_empty() {
            f.push(
                "offers",
                "required",
                "an agreement covers at least one item",
            );
        }
        for (i, offer) in self.offers.iter().enumerate() {
            offer.check(&mut f, &format!("offers[{i}]."));
        }
        f.finish()
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Agreement {
    pub id: i64,
    pub supplier_id: i64,
    pub supplier_name: String,
    pub title: String,
    pub status: AgreementStatus,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_until: Option<NaiveDate>,
    pub note: Option<String>,
    pub activated_at: Option<String>,
    pub activated_by: Option<i64>,
    pub activation_reason: Option<String>,
    pub ended_at: Option<String>,
    pub end_reason: Option<String>,
    pub offers: Vec<Offer>,
    pub created_at: String,
}

/// Whether an offer can be bought through on `today`.
pub fn is_available(
    status: OfferStatus,
    valid_from: Option<NaiveDate>,
    valid_until: Option<NaiveDate>,
    agreement: Option<AgreementStatus>,
    today: NaiveDate,
) -> bool {
    status == OfferStatus::Active
        && valid_from.is_none_or(|d| d <= today)
        && valid_until.is_none_or(|d| today <= d)
        && agreement.is_none_or(|a| a == AgreementStatus::Active)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dormant_agreements_and_stale_offers_are_not_available() {
        let today = NaiveDate::from_ymd_opt(2020, 2, 10).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2020, 2, d);
        assert!(is_available(OfferStatus::Active, None, None, None, today));
        assert!(!is_available(
            OfferStatus::Active,
            None,
            None,
            Some(AgreementStatus::Dormant),
            today
        ));
        assert!(is_available(
            OfferStatus::Active,
            day(1),
            day(10),
            Some(AgreementStatus::Active),
            today
        ));
        assert!(!is_available(
            OfferStatus::Active,
            day(11),
            None,
            None,
            today
        ));
        assert!(!is_available(
            OfferStatus::Active,
            None,
            day(9),
            None,
            today
        ));
        assert!(!is_available(
            OfferStatus::Withdrawn,
            None,
            None,
            None,
            today
        ));
    }
}
