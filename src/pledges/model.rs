//! Pledges: a donor's promise of money or goods, optionally earmarked, and its lifecycle.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    catalogue::model::Category, error::AppError, money::Money, needs::model::BeneficiaryGroup,
    validate::Fields,
};

text_enum!(
    PledgeKind { Money = "money", Goods = "goods" }
);

text_enum!(
    PledgeStatus {
        Pledged = "pledged",
        Received = "received",
        Allocated = "allocated",
        UsedUp = "used_up",
        Cancelled = "cancelled",
    }
);

impl PledgeStatus {
    /// pledged → received → allocated → used up; a pledge not yet received may be cancelled.
    pub fn can_become(self, next: PledgeStatus) -> bool {
        use PledgeStatus::*;
        matches!(
            (self, next),
            (Pledged, Received | Cancelled) | (Received, Allocated) | (Allocated, UsedUp)
        )
    }

    /// Allocated and used up follow from matching and the ledgers.
    pub fn is_manual(self) -> bool {
        matches!(self, PledgeStatus::Received | PledgeStatus::Cancelled)
    }
}

/// Restrictions a donor puts on a gift. Each list that is present and not empty must contain
/// the need's value; an empty list does not restrict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Earmark {
    /// A project the gift is for, by name.
    pub project: Option<String>,
    #[serde(default)]
    pub districts: Vec<String>,
    /// Community organisation ids.
    #[serde(default)]
    pub communities: Vec<i64>,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub groups: Vec<BeneficiaryGroup>,
}

impl Earmark {
    pub fn is_unrestricted(&self) -> bool {
        self.project.is_none()
            && self.districts.is_empty()
            && self.communities.is_empty()
            && self.categories.is_empty()
            && self.groups.is_empty()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PledgeInput {
    /// The donor organisation (a donor account pledges for its own).
    pub donor_id: i64,
    pub kind: PledgeKind,
    /// Money pledges: yuan as a decimal string.
    pub amount: Option<Money>,
    /// Only CNY is accepted.
    pub currency: Option<String>,
    /// Goods pledges: the item and how many units.
    pub item_id: Option<i64>,
    pub quantity: Option<i64>,
    #[schema(value_type = Option<String>, format = Date)]
    pub expires_on: Option<NaiveDate>,
    /// When promised goods can be collected (default: now).
    #[schema(value_type = Option<String>, format = Date)]
    pub available_from: Option<NaiveDate>,
    pub pickup_location: Option<String>,
    #[serde(default)]
    pub earmark: Earmark,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidPledge {
    pub donor_id: i64,
    pub kind: PledgeKind,
    pub amount: Option<Money>,
    pub item_id: Option<i64>,
    pub quantity: Option<i64>,
    pub expires_on: Option<NaiveDate>,
    pub available_from: Option<NaiveDate>,
    pub pickup_location: Option<String>,
    pub earmark: Earmark,
    pub note: Option<String>,
}

impl ValidPledge {
    pub fn parse(input: PledgeInput) -> Result<ValidPledge, AppError> {
        let mut f = Fields::new();
        if input.currency.as_deref().is_some_and(|c| c != "CNY") {
            f.push("currency", "unknown_value", "only CNY is accepted");
        }
        match input.kind {
            PledgeKind::Money => {
                match input.amount {
                    None => f.push("amount", "required", "how much money is pledged"),
                    Some(a) if a == Money::ZERO => {
                        f.push("amount", "out_of_range", "must be more than zero")
                    }
                    _ => {}
                }
                for (field, present) in [
                    ("item_id", input.item_id.is_some()),
                    ("quantity", input.quantity.is_some()),
                    ("expires_on", input.expires_on.is_some()),
                ] {
                    if present {
                        f.push(field, "invalid", "only goods pledges have this");
                    }
                }
            }
            PledgeKind::Goods => {
                if input.amount.is_some() {
                    f.push(
                        "amount",
                        "invalid",
                        "a goods pledge has a quantity, not an amount",
                    );
                }
                if input.item_id.is_none() {
                    f.push("item_id", "required", "which item is pledged");
                }
                match input.quantity {
                    None => f.push("quantity", "required", "how many units are pledged"),
                    q => {
                        f.range_i64("quantity", q, 1, crate::needs::model::MAX_QUANTITY);
                    }
                }
            }
        }
        let pickup_location =
            f.optional_text("pickup_location", input.pickup_location.as_deref(), 200);
        let note = f.optional_text("note", input.note.as_deref(), 1000);
        let mut earmark = input.earmark;
        earmark.project = f.optional_text("earmark.project", earmark.project.as_deref(), 120);
        for (field, len) in [
            ("earmark.districts", earmark.districts.len()),
            ("earmark.communities", earmark.communities.len()),
        ] {
            if len > 500 {
                f.push(field, "too_long", "at most 500 entries");
            }
        }
        earmark.districts = earmark
            .districts
            .iter()
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .collect();
        f.finish()?;
        Ok(ValidPledge {
            donor_id: input.donor_id,
            kind: input.kind,
            amount: input.amount,
            item_id: input.item_id,
            quantity: input.quantity,
            expires_on: input.expires_on,
            available_from: input.available_from,
            pickup_location,
            earmark,
            note,
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Pledge {
    pub id: i64,
    pub donor_id: i64,
    pub donor_name: String,
    pub kind: PledgeKind,
    pub amount: Option<Money>,
    pub currency: String,
    pub item_id: Option<i64>,
    pub item_name: Option<String>,
    pub quantity: Option<i64>,
    #[schema(value_type = Option<String>, format = Date)]
    pub expires_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>, format = Date)]
    pub available_from: Option<NaiveDate>,
    pub pickup_location: Option<String>,
    pub earmark: Earmark,
    pub note: Option<String>,
    pub status: PledgeStatus,
    pub status_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use PledgeStatus::*;

    #[test]
    fn the_lifecycle_allows_exactly_its_edges() {
        let allowed = [
            (Pledged, Received),
            (Pledged, Cancelled),
            (Received, Allocated),
            (Allocated, UsedUp),
        ];
        for &from in PledgeStatus::ALL {
            for &to in PledgeStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} → {to:?}"
                );
            }
        }
    }

    #[test]
    fn money_and_goods_have_their_own_fields() {
        let money = PledgeInput {
            donor_id: 1,
            kind: PledgeKind::Money,
            amount: None,
            currency: Some("USD".into()),
            item_id: Some(3),
            quantity: None,
            expires_on: None,
            available_from: None,
            pickup_location: None,
            earmark: Earmark::default(),
            note: None,
        };
        match ValidPledge::parse(money) {
            Err(AppError::Validation(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["currency", "amount", "item_id"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
    }
}
