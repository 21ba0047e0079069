//! Organisations of the resource network and the rules their records obey.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{error::AppError, validate::Fields};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Community,
    Partner,
    Hub,
    Supplier,
    Donor,
    Foundation,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::Community,
        OrgKind::Partner,
        OrgKind::Hub,
        OrgKind::Supplier,
        OrgKind::Donor,
        OrgKind::Foundation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Community => "community",
            OrgKind::Partner => "partner",
            OrgKind::Hub => "hub",
            OrgKind::Supplier => "supplier",
            OrgKind::Donor => "donor",
            OrgKind::Foundation => "foundation",
        }
    }

    pub fn parse(text: &str) -> Option<OrgKind> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl std::str::FromStr for OrgKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        OrgKind::parse(text).ok_or_else(|| {
            format!("unknown kind `{text}`; expected community, partner, hub, supplier, donor or foundation")
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DonorType {
    Individual,
    Institution,
}

impl DonorType {
    pub fn as_str(self) -> &'static str {
        match self {
            DonorType::Individual => "individual",
            DonorType::Institution => "institution",
        }
    }

    pub fn parse(text: &str) -> Option<DonorType> {
        match text {
            "individual" => Some(DonorType::Individual),
            "institution" => Some(DonorType::Institution),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    /// Latitude in degrees, −90 to 90.
    pub lat: f64,
    /// Longitude in degrees, −180 to 180.
    pub lon: f64,
}

impl GeoPoint {
    /// Stored as whole millionths of a degree (about 0.1 m on the ground).
    pub fn micro_degrees(self) -> (i64, i64) {
        (
            (self.lat * 1e6).round() as i64,
            (self.lon * 1e6).round() as i64,
        )
    }

    pub fn from_micro_degrees(lat: i64, lon: i64) -> Self {
        GeoPoint {
            lat: lat as f64 / 1e6,
            lon: lon as f64 / 1e6,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Headcounts of a community, as its secretary knows them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Headcounts {
    pub households: Option<i64>,
    pub residents: Option<i64>,
    pub residents_over_60: Option<i64>,
    pub elders_living_alone: Option<i64>,
}

/// What a client sends to create or replace an organisation's record.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganisationInput {
    pub kind: OrgKind,
    /// Required for donors: an individual or an institution.
    pub donor_type: Option<DonorType>,
    /// Name in Chinese (required).
    pub name_zh: String,
    pub name_en: Option<String>,
    /// District (区), e.g. 江汉区.
    pub district: String,
    pub address: Option<String>,
    pub location: Option<GeoPoint>,
    #[serde(default)]
    pub contact: Contact,
    /// Communities only.
    #[serde(default)]
    pub headcounts: Headcounts,
}

/// A checked organisation record, ready to store.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValidOrganisation {
    pub kind: OrgKind,
    pub donor_type: Option<DonorType>,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub district: String,
    pub address: Option<String>,
    pub location: Option<GeoPoint>,
    pub contact: Contact,
    pub headcounts: Headcounts,
}

const MAX_HEADCOUNT: i64 = 10_000_000;

impl ValidOrganisation {
    pub fn parse(input: OrganisationInput) -> Result<Self, AppError> {
        let mut f = Fields::new();
        let name_zh = f.required_text("name_zh", &input.name_zh, 120);
        let name_en = f.optional_text("name_en", input.name_en.as_deref(), 120);
        let district = f.required_text("district", &input.district, 60);
        let address = f.optional_text("address", input.address.as_deref(), 200);
        if let Some(p) = input.location {
            f.range_f64("location.lat", p.lat, -90.0, 90.0);
            f.range_f64("location.lon", p.lon, -180.0, 180.0);
        }
        let contact = Contact {
            name: f.optional_text("contact.name", input.contact.name.as_deref(), 60),
            phone: f.optional_text("contact.phone", input.contact.phone.as_deref(), 30),
            email: f.optional_text("contact.email", input.contact.email.as_deref(), 254),
        };
        if let Some(phone) = &contact.phone {
            if !phone
                .chars()
                .all(|c| c.is_ascii_digit() || "+-() ".contains(c))
            {
                f.push(
                    "contact.phone",
                    "invalid",
                    "may hold only digits, spaces and + - ( )",
                );
            }
        }
        if let Some(email) = &contact.email {
            if !is_plausible_email(email) {
                f.push("contact.email", "invalid", "is not an email address");
            }
        }
        let h = input.headcounts;
        let headcounts = Headcounts {
            households: f.range_i64("headcounts.households", h.households, 0, MAX_HEADCOUNT),
            residents: f.range_i64("headcounts.residents", h.residents, 0, MAX_HEADCOUNT),
            residents_over_60: f.range_i64(
                "headcounts.residents_over_60",
                h.residents_over_60,
                0,
                MAX_HEADCOUNT,
            ),
            elders_living_alone: f.range_i64(
                "headcounts.elders_living_alone",
                h.elders_living_alone,
                0,
                MAX_HEADCOUNT,
            ),
        };
        check_headcounts(&mut f, input.kind, &headcounts);
        match (input.kind, input.donor_type) {
            (OrgKind::Donor, None) => f.push(
                "donor_type",
                "required",
                "a donor is an individual or an institution",
            ),
            (kind, Some(_)) if kind != OrgKind::Donor => {
                f.push("donor_type", "invalid", "only donors have a donor type")
            }
            _ => {}
        }
        f.finish()?;
        Ok(ValidOrganisation {
            kind: input.kind,
            donor_type: input.donor_type,
            name_zh,
            name_en,
            district,
            address,
            location: input.location,
            contact,
            headcounts,
        })
    }
}

fn check_headcounts(f: &mut Fields, kind: OrgKind, h: &Headcounts) {
    let any = h.households.is_some()
        || h.residents.is_some()
        || h.residents_over_60.is_some()
        || h.elders_living_alone.is_some();
    if any && kind != OrgKind::Community {
        f.push("headcounts", "invalid", "only communities have headcounts");
        return;
    }
    if let (Some(over_60), Some(residents)) = (h.residents_over_60, h.residents) {
        if over_60 > residents {
            f.push(
                "headcounts.residents_over_60",
                "out_of_range",
                "cannot exceed residents",
            );
        }
    }
    if let (Some(alone), Some(over_60)) = (h.elders_living_alone, h.residents_over_60) {
        if alone > over_60 {
            f.push(
                "headcounts.elders_living_alone",
                "out_of_range",
                "cannot exceed residents over 60",
            );
        }
    }
}

fn is_plausible_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// An organisation as stored and returned by the API.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Organisation {
    pub id: i64,
    pub kind: OrgKind,
    pub donor_type: Option<DonorType>,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub district: String,
    pub address: Option<String>,
    pub location: Option<GeoPoint>,
    pub contact: Contact,
    pub headcounts: Headcounts,
    /// `active` or `archived`.
    pub status: String,
    pub archived_reason: Option<String>,
    pub archived_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn community() -> OrganisationInput {
        OrganisationInput {
            kind: OrgKind::Community,
            donor_type: None,
            name_zh: " 多闻社区 ".into(),
            name_en: Some("Duowen".into()),
            district: "江汉区".into(),
            address: None,
            location: Some(GeoPoint {
                lat: 30.59,
                lon: 114.27,
            }),
            contact: Contact::default(),
            headcounts: Headcounts {
                households: Some(1900),
                residents: Some(4700),
                residents_over_60: Some(1200),
                elders_living_alone: Some(220),
            },
        }
    }

    fn field_codes(result: Result<ValidOrganisation, AppError>) -> Vec<(String, &'static str)> {
        match result {
            Err(AppError::Validation(errors)) => {
                errors.into_iter().map(|e| (e.field, e.code)).collect()
            }
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_community_like_duowen_is_valid_and_trimmed() {
        let org = ValidOrganisation::parse(community()).unwrap();
        assert_eq!(org.name_zh, "多闻社区");
    }

    #[test]
    fn coordinates_survive_storage_exactly() {
        let p = GeoPoint {
            lat: 30.5868,
            lon: 114.2736,
        };
        let (lat, lon) = p.micro_degrees();
        assert_eq!(GeoPoint::from_micro_degrees(lat, lon), p);
        assert_eq!(
            GeoPoint::from_micro_degrees(-33_868_800, -151_209_300),
            GeoPoint {
                lat: -33.8688,
                lon: -151.2093
            }
        );
    }

    #[test]
    fn headcounts_must_nest() {
        let mut input = community();
        input.headcounts.elders_living_alone = Some(5000);
        assert_eq!(
            field_codes(ValidOrganisation::parse(input)),
            [("headcounts.elders_living_alone".to_owned(), "out_of_range")]
        );
    }

    #[test]
    fn donors_need_a_type_and_nobody_else_has_one() {
        let mut input = community();
        input.kind = OrgKind::Donor;
        input.headcounts = Headcounts::default();
        assert_eq!(
            field_codes(ValidOrganisation::parse(input.clone())),
            [("donor_type".to_owned(), "required")]
        );
        input.kind = OrgKind::Supplier;
        input.donor_type = Some(DonorType::Institution);
        assert_eq!(
            field_codes(ValidOrganisation::parse(input)),
            [("donor_type".to_owned(), "invalid")]
        );
    }

    #[test]
    fn bad_coordinates_and_contacts_are_named() {
        let mut input = community();
        input.location = Some(GeoPoint {
            lat: 91.0,
            lon: 114.0,
        });
        input.contact.phone = Some("call me".into());
        input.contact.email = Some("nobody".into());
        assert_eq!(
            field_codes(ValidOrganisation::parse(input)),
            [
                ("location.lat".to_owned(), "out_of_range"),
                ("contact.phone".to_owned(), "invalid"),
                ("contact.email".to_owned(), "invalid"),
            ]
        );
    }
}
