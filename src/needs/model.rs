//! Needs: what a community asks for, for whom, how urgently, and where each need is in its
//! lifecycle. The lifecycle is a plain state machine, tested edge by edge.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{error::AppError, money::Money, validate::Fields};

text_enum!(
    /// How soon the need must be met.
    Urgency { Critical = "critical", High = "high", Normal = "normal" }
);

text_enum!(
    /// Who the need is for. Only counts are kept, never names.
    BeneficiaryGroup {
        EldersLivingAlone = "elders_living_alone",
        Disabled = "disabled",
        LowIncome = "low_income",
        SeverePatients = "severe_patients",
        FrontlineMedicalStaff = "frontline_medical_staff",
        CommunityWorkers = "community_workers",
        Volunteers = "volunteers",
        QuarantinedHouseholds = "quarantined_households",
        Residents = "residents",
    }
);

text_enum!(
    /// Special groups get home delivery; others pick up at the community station.
    DeliveryMode { HomeDelivery = "home_delivery", Pickup = "pickup" }
);

text_enum!(
    NeedStatus {
        Open = "open",
        PartiallyMatched = "partially_matched",
        Matched = "matched",
        InDelivery = "in_delivery",
        Delivered = "delivered",
        Closed = "closed",
        Cancelled = "cancelled",
        Expired = "expired",
    }
);

impl NeedStatus {
    /// The lifecycle: open → partially matched → matched → in delivery → delivered → closed,
    /// or cancelled / expired before delivery starts. Matching may also step back (a plan line
    /// removed returns a need to partially matched or open).
    pub fn can_become(self, next: NeedStatus) -> bool {
        use NeedStatus::*;
        matches!(
            (self, next),
            (Open, PartiallyMatched | Matched | Cancelled | Expired)
                | (
                    PartiallyMatched,
                    Open | Matched | InDelivery | Cancelled | Expired
                )
                | (Matched, PartiallyMatched | InDelivery | Cancelled)
                | (InDelivery, Delivered | PartiallyMatched)
                | (Delivered, Closed)
        )
    }

    /// Statuses set by people through the API; the others follow from matching.
    pub fn is_manual(self) -> bool {
        use NeedStatus::*;
        matches!(self, Cancelled | Expired | InDelivery | Delivered | Closed)
    }

    /// A reason is kept for the statuses that end a need early.
    pub fn needs_reason(self) -> bool {
        matches!(self, NeedStatus::Cancelled | NeedStatus::Expired)
    }

    /// Whether the need's request may still be edited.
    pub fn is_editable(self) -> bool {
        use NeedStatus::*;
        matches!(self, Open | PartiallyMatched | Matched)
    }

    /// Open needs as the board and matching see them.
    pub fn is_open(self) -> bool {
        matches!(self, NeedStatus::Open | NeedStatus::PartiallyMatched)
    }
}

/// Headcount × days at a daily rate, e.g. 120 volunteers × 5 days at 50 yuan.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Subsidy {
    pub headcount: i64,
    pub days: i64,
    /// Yuan per person per day.
    pub rate: Money,
}

impl Subsidy {
    pub fn person_days(self) -> Option<i64> {
        self.headcount.checked_mul(self.days)
    }

    pub fn total(self) -> Option<Money> {
        self.rate.times(self.person_days()?)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NeedInput {
    /// The community asking (a secretary may post only for their own).
    pub community_id: i64,
    /// The item asked for; give exactly one of `item_id` and `kit_id`.
    pub item_id: Option<i64>,
    pub kit_id: Option<i64>,
    /// Units of the item or kit. For a subsidy it is headcount × days and may be left out.
    pub quantity: Option<i64>,
    /// Required for subsidy items, refused for others.
    pub subsidy: Option<Subsidy>,
    pub urgency: Urgency,
    pub beneficiary_group: BeneficiaryGroup,
    /// How many people the need serves.
    pub beneficiary_count: i64,
    #[schema(value_type = Option<String>, format = Date)]
    pub needed_by: Option<NaiveDate>,
    pub delivery_mode: DeliveryMode,
    pub note: Option<String>,
}

/// A need whose fields are individually valid; rules needing the catalogue (subsidy items)
/// are checked by [`crate::needs::check_against_catalogue`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidNeed {
    pub community_id: i64,
    pub item_id: Option<i64>,
    pub kit_id: Option<i64>,
    pub quantity: i64,
    pub subsidy: Option<Subsidy>,
    pub urgency: Urgency,
    pub beneficiary_group: BeneficiaryGroup,
    pub beneficiary_count: i64,
    pub needed_by: Option<NaiveDate>,
    pub delivery_mode: DeliveryMode,
    pub note: Option<String>,
}

pub const MAX_QUANTITY: i64 = 100_000_000;

impl ValidNeed {
    pub fn parse(input: NeedInput, today: NaiveDate) -> Result<ValidNeed, AppError> {
        let mut f = Fields::new();
        match (input.item_id, input.kit_id) {
            (None, None) => f.push("item_id", "required", "give an item or a kit"),
            (Some(_), Some(_)) => f.push("kit_id", "invalid", "give an item or a kit, not both"),
            _ => {}
        }
        let quantity = match (input.quantity, input.subsidy) {
            (_, Some(s)) => {
                f.range_i64("subsidy.headcount", Some(s.headcount), 1, 1_000_000);
                f.range_i64("subsidy.days", Some(s.days), 1, 3_660);
                let person_days = s.person_days().unwrap_or(0);
                if input.quantity.is_some_and(|q| q != person_days) {
                    f.push(
                        "quantity",
                        "invalid",
                        format!("a subsidy's quantity is headcount × days = {person_days}"),
                    );
                }
                person_days
            }
            (Some(q), None) => {
                f.range_i64("quantity", Some(q), 1, MAX_QUANTITY);
                q
            }
            (None, None) => {
                f.push("quantity", "required", "how many units are needed");
                0
            }
        };
        f.range_i64(
            "beneficiary_count",
            Some(input.beneficiary_count),
            0,
            10_000_000,
        );
        if let Some(date) = input.needed_by {
            if date < today {
                f.push("needed_by", "out_of_range", "must not be in the past");
            }
        }
        let note = f.optional_text("note", input.note.as_deref(), 1000);
        f.finish()?;
        Ok(ValidNeed {
            community_id: input.community_id,
            item_id: input.item_id,
            kit_id: input.kit_id,
            quantity,
            subsidy: input.subsidy,
            urgency: input.urgency,
            beneficiary_group: input.beneficiary_group,
            beneficiary_count: input.beneficiary_count,
            needed_by: input.needed_by,
            delivery_mode: input.delivery_mode,
            note,
        })
    }
}

/// A need as stored and returned by the API.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Need {
    pub id: i64,
    pub community_id: i64,
    pub community_name: String,
    pub district: String,
    pub item_id: Option<i64>,
    pub kit_id: Option<i64>,
    /// Item or kit name, for people reading the record.
    pub what: String,
    pub unit: String,
    pub category: Option<String>,
    pub quantity: i64,
    pub subsidy: Option<Subsidy>,
    /// For a subsidy: headcount × days × rate.
    pub subsidy_total: Option<Money>,
    pub urgency: Urgency,
    pub beneficiary_group: BeneficiaryGroup,
    pub beneficiary_count: i64,
    #[schema(value_type = Option<String>, format = Date)]
    pub needed_by: Option<NaiveDate>,
    pub delivery_mode: DeliveryMode,
    pub note: Option<String>,
    pub status: NeedStatus,
    pub status_reason: Option<String>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use NeedStatus::*;

    #[test]
    fn the_lifecycle_allows_exactly_its_edges() {
        let allowed = [
            (Open, PartiallyMatched),
            (Open, Matched),
            (Open, Cancelled),
            (Open, Expired),
            (PartiallyMatched, Open),
            (PartiallyMatched, Matched),
            (PartiallyMatched, InDelivery),
            (PartiallyMatched, Cancelled),
            (PartiallyMatched, Expired),
            (Matched, PartiallyMatched),
            (Matched, InDelivery),
            (Matched, Cancelled),
            (InDelivery, Delivered),
            (InDelivery, PartiallyMatched),
            (Delivered, Closed),
        ];
        for &from in NeedStatus::ALL {
            for &to in NeedStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} → {to:?}"
                );
            }
        }
    }

    #[test]
    fn closed_cancelled_and_expired_are_final() {
        for from in [Closed, Cancelled, Expired] {
            assert!(NeedStatus::ALL.iter().all(|&to| !from.can_become(to)));
        }
    }

    fn input() -> NeedInput {
        NeedInput {
            community_id: 1,
            item_id: Some(1),
            kit_id: None,
            quantity: Some(500),
            subsidy: None,
            urgency: Urgency::Critical,
            beneficiary_group: BeneficiaryGroup::EldersLivingAlone,
            beneficiary_count: 220,
            needed_by: NaiveDate::from_ymd_opt(2020, 2, 12),
            delivery_mode: DeliveryMode::HomeDelivery,
            note: None,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 2, 10).unwrap()
    }

    #[test]
    fn a_subsidy_is_headcount_times_days_at_a_rate() {
        let mut need = input();
        need.quantity = None;
        need.subsidy = Some(Subsidy {
            headcount: 120,
            days: 5,
            rate: "50.00".parse().unwrap(),
        });
        let valid = ValidNeed::parse(need.clone(), today()).unwrap();
        assert_eq!(valid.quantity, 600);
        assert_eq!(
            valid.subsidy.unwrap().total().unwrap().to_string(),
            "30000.00"
        );
        need.quantity = Some(599);
        assert!(ValidNeed::parse(need, today()).is_err());
    }

    #[test]
    fn an_item_or_a_kit_but_not_both_and_not_in_the_past() {
        let mut need = input();
        need.kit_id = Some(2);
        need.needed_by = NaiveDate::from_ymd_opt(2020, 2, 1);
        match ValidNeed::parse(need, today()) {
            Err(AppError::Validation(errors)) => {
                let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["kit_id", "needed_by"]);
            }
            other => panic!("expected validation errors, got {other:?}"),
        }
    }
}
