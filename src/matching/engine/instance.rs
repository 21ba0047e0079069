//! The instance format of MATCHING.md, read and checked into the typed [`Problem`] the engine
//! works on. Every rejection names the offending record.

use std::fmt::Display;
use std::sync::Arc;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Deserialize;

/// Why an instance cannot be planned.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct InvalidInstance(pub String);

fn invalid(record: &dyn Display, message: impl Display) -> InvalidInstance {
    InvalidInstance(format!("{record}: {message}"))
}

/// The instance exactly as written in JSON.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    pub today: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    #[serde(default)]
    pub needs: Vec<NeedIn>,
    #[serde(default)]
    pub sources: Vec<SourceIn>,
    #[serde(default)]
    pub offers: Vec<OfferIn>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub vulnerable_groups: Vec<String>,
}

/// The groups treated as vulnerable when an instance has no policy.
pub const DEFAULT_VULNERABLE: [&str; 4] = [
    "elders_living_alone",
    "disabled",
    "severe_patients",
    "low_income",
];

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NeedIn {
    pub id: String,
    pub community: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub quantity: i64,
    pub urgency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceIn {
    pub id: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earmark: Option<EarmarkIn>,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EarmarkIn {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub districts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OfferIn {
    pub id: String,
    pub supplier: String,
    pub item: String,
    pub unit_price: String,
    pub capacity: i64,
    #[serde(default)]
    pub lead_days: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
}

/// The six priority classes of MATCHING.md rule 2, highest first.
pub const CLASS_LABELS: [&str; 6] = [
    "critical + vulnerable",
    "critical",
    "high + vulnerable",
    "high",
    "normal + vulnerable",
    "normal",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Urgency {
    Critical,
    High,
    Normal,
}

impl Urgency {
    fn parse(text: &str) -> Option<Urgency> {
        match text {
            "critical" => Some(Urgency::Critical),
            "high" => Some(Urgency::High),
            "normal" => Some(Urgency::Normal),
            _ => None,
        }
    }
}

/// The class index (0 = critical + vulnerable … 5 = normal).
pub fn class_of(urgency: Urgency, vulnerable: bool) -> u8 {
    let base = match urgency {
        Urgency::Critical => 0,
        Urgency::High => 2,
        Urgency::Normal => 4,
    };
    base + u8::from(!vulnerable)
}

/// A record's id, shared by the problem and the plan lines that name it.
pub type Id = Arc<str>;

/// Interned text: attribute values are compared as small integers.
pub type Sym = u32;

#[derive(Debug, Default)]
pub struct Symbols {
    index: FxHashMap<String, Sym>,
    names: Vec<String>,
}

impl Symbols {
    pub fn intern(&mut self, text: &str) -> Sym {
        if let Some(&sym) = self.index.get(text) {
            return sym;
        }
        let sym = self.names.len() as Sym;
        self.names.push(text.to_owned());
        self.index.insert(text.to_owned(), sym);
        sym
    }

    pub fn name(&self, sym: Sym) -> &str {
        &self.names[sym as usize]
    }
}

/// A checked need. Quantities are whole units; `rate` is in fen per unit.
#[derive(Debug, Clone)]
pub struct Need {
    pub id: Id,
    pub community: Sym,
    pub district: Option<Sym>,
    pub item: Sym,
    pub category: Option<Sym>,
    pub group: Option<Sym>,
    pub quantity: i64,
    pub class: u8,
    pub location: Option<[f64; 2]>,
    pub needed_by: Option<NaiveDate>,
    pub rate: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Stock,
    Pledge,
    Money,
}

/// A checked earmark: each present list must contain the need's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Earmark {
    pub districts: Option<Vec<Sym>>,
    pub communities: Option<Vec<Sym>>,
    pub items: Option<Vec<Sym>>,
    pub categories: Option<Vec<Sym>>,
    pub groups: Option<Vec<Sym>>,
}

fn allows(list: &Option<Vec<Sym>>, value: Option<Sym>) -> bool {
    match list {
        None => true,
        Some(values) => value.is_some_and(|v| values.contains(&v)),
    }
}

impl Earmark {
    pub fn admits(&self, need: &Need) -> bool {
        allows(&self.districts, need.district)
            && allows(&self.communities, Some(need.community))
            && allows(&self.items, Some(need.item))
            && allows(&self.categories, need.category)
            && allows(&self.groups, need.group)
    }

    pub fn is_open(&self) -> bool {
        *self == Earmark::default()
    }
}

/// A checked source. Goods carry `item` and `quantity` (units); money carries `amount` in fen.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: Id,
    pub kind: SourceKind,
    pub item: Option<Sym>,
    pub quantity: i64,
    pub location: Option<[f64; 2]>,
    pub expires: Option<NaiveDate>,
    pub available_from: Option<NaiveDate>,
    pub earmark: Earmark,
}

impl Source {
    /// Whether this source may serve `need` at all (item, earmark and dates; rule 1).
    pub fn may_serve(&self, need: &Need, today: NaiveDate) -> bool {
        if let Some(item) = self.item {
            if need.rate.is_some() || need.item != item {
                return false;
            }
        }
        if self.expires.is_some_and(|expires| expires < today) {
            return false;
        }
        if let Some(needed_by) = need.needed_by {
            if self.available_from.is_some_and(|from| from > needed_by) {
                return false;
            }
            if self.expires.is_some_and(|expires| expires < needed_by) {
                return false;
            }
        }
        self.earmark.admits(need)
    }
}

/// A checked supplier offer; `unit_price` in fen.
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: Id,
    pub supplier: String,
    pub item: Sym,
    pub unit_price: i64,
    pub capacity: i64,
    pub lead_days: i64,
    pub location: Option<[f64; 2]>,
}

impl Offer {
    /// Whether goods bought through this offer can reach `need` in time.
    pub fn may_serve(&self, need: &Need, today: NaiveDate) -> bool {
        need.rate.is_none()
            && need.item == self.item
            && need
                .needed_by
                .is_none_or(|by| today + chrono::Days::new(self.lead_days as u64) <= by)
    }
}

/// The instance after checking: typed, interned, ready for the engine.
#[derive(Debug)]
pub struct Problem {
    pub today: NaiveDate,
    pub needs: Vec<Need>,
    pub sources: Vec<Source>,
    pub offers: Vec<Offer>,
    pub symbols: Symbols,
}

impl Problem {
    /// The order money buys in: cheapest first (rule 5); among offers as cheap, the slowest
    /// first, so the fast ones stay for the needs that are due soon (a critical need due in a
    /// week taking the only offer that arrives tomorrow could leave a lower class due
    /// tomorrow short for nothing); then by place in the instance.
    pub fn offer_order(&self, o: usize) -> (i64, std::cmp::Reverse<i64>, usize) {
        let offer = &self.offers[o];
        (offer.unit_price, std::cmp::Reverse(offer.lead_days), o)
    }
}

const MAX_QUANTITY: i64 = 1_000_000_000_000;

fn date(record: &dyn Display, field: &str, text: &str) -> Result<NaiveDate, InvalidInstance> {
    if let Some(date) = plain_date(text) {
        return Ok(date);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        invalid(
            record,
            format!("{field} \"{text}\" is not a date (YYYY-MM-DD)"),
        )
    })
}

/// A date written exactly `YYYY-MM-DD`, read without a format pattern (an instance has one or
/// two per record; anything else goes through chrono's parser).
fn plain_date(text: &str) -> Option<NaiveDate> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0u32, |value, &b| {
            b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0'))
        })
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

fn optional_date(
    record: &dyn Display,
    field: &str,
    text: &Option<String>,
) -> Result<Option<NaiveDate>, InvalidInstance> {
    text.as_deref().map(|t| date(record, field, t)).transpose()
}

/// Parses a decimal string of yuan into fen; more than two decimals is refused.
fn fen(record: &dyn Display, field: &str, text: &str) -> Result<i64, InvalidInstance> {
    let value: Decimal = text.trim().parse().map_err(|_| {
        invalid(
            record,
            format!("{field} \"{text}\" is not a decimal amount"),
        )
    })?;
    if value.is_sign_negative() {
        return Err(invalid(record, format!("{field} must not be negative")));
    }
    let in_fen = value * Decimal::ONE_HUNDRED;
    if in_fen.fract() != Decimal::ZERO {
        return Err(invalid(
            record,
            format!("{field} has more than two decimals"),
        ));
    }
    i64::try_from(in_fen)
        .ok()
        .filter(|v| *v <= MAX_QUANTITY * 100)
        .ok_or_else(|| invalid(record, format!("{field} is too large")))
}

fn quantity(record: &dyn Display, value: i64, allow_zero: bool) -> Result<i64, InvalidInstance> {
    if value < 0 {
        return Err(invalid(record, "quantity must not be negative"));
    }
    if value == 0 && !allow_zero {
        return Err(invalid(record, "quantity must be at least 1"));
    }
    if value > MAX_QUANTITY {
        return Err(invalid(record, "quantity is too large"));
    }
    Ok(value)
}

fn location(
    record: &dyn Display,
    value: Option<[f64; 2]>,
) -> Result<Option<[f64; 2]>, InvalidInstance> {
    match value {
        Some([lat, lon]) if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) => {
            Err(invalid(
                record,
                "location must be [latitude, longitude] in degrees",
            ))
        }
        other => Ok(other),
    }
}

/// A record as error messages name it, e.g. `need "n1"`; written out only for an error.
struct Record<'a> {
    kind: &'static str,
    id: &'a str,
}

impl Display for Record<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} \"{}\"", self.kind, self.id)
    }
}

fn unique<'a>(
    seen: &mut FxHashSet<&'a str>,
    kind: &'static str,
    id: &'a str,
) -> Result<Record<'a>, InvalidInstance> {
    if id.trim().is_empty() {
        return Err(InvalidInstance(format!("a {kind} has an empty id")));
    }
    if !seen.insert(id) {
        return Err(InvalidInstance(format!("{kind} \"{id}\": duplicate id")));
    }
    Ok(Record { kind, id })
}

fn symbols_of(symbols: &mut Symbols, list: &[String]) -> Option<Vec<Sym>> {
    if list.is_empty() {
        return None;
    }
    let mut syms: Vec<Sym> = list.iter().map(|v| symbols.intern(v)).collect();
    syms.sort_unstable();
    syms.dedup();
    Some(syms)
}

impl Instance {
    /// Reads an instance from JSON text; a wrong shape names the path of the field.
    pub fn from_json(text: &str) -> Result<Instance, InvalidInstance> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| InvalidInstance(format!("{}: {}", e.path(), e.inner())))
    }

    /// Checks every record and turns the instance into a [`Problem`].
    pub fn check(&self) -> Result<Problem, InvalidInstance> {
        let today = date(&"instance", "today", &self.today)?;
        let mut symbols = Symbols::default();
        let vulnerable: FxHashSet<Sym> = match &self.policy {
            Some(policy) => policy
                .vulnerable_groups
                .iter()
                .map(|g| symbols.intern(g))
                .collect(),
            None => DEFAULT_VULNERABLE
                .iter()
                .map(|g| symbols.intern(g))
                .collect(),
        };
        let mut seen = FxHashSet::default();
        let needs = self
            .needs
            .iter()
            .map(|need| need.check(&mut seen, &mut symbols, &vulnerable))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = FxHashSet::default();
        let sources = self
            .sources
            .iter()
            .map(|source| source.check(&mut seen, &mut symbols))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = FxHashSet::default();
        let offers = self
            .offers
            .iter()
            .map(|offer| offer.check(&mut seen, &mut symbols))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Problem {
            today,
            needs,
            sources,
            offers,
            symbols,
        })
    }
}

impl NeedIn {
    fn check<'a>(
        &'a self,
        seen: &mut FxHashSet<&'a str>,
        symbols: &mut Symbols,
        vulnerable: &FxHashSet<Sym>,
    ) -> Result<Need, InvalidInstance> {
        let record = unique(seen, "need", &self.id)?;
        let urgency = Urgency::parse(&self.urgency).ok_or_else(|| {
            invalid(
                &record,
                format!(
                    "unknown urgency \"{}\" (critical, high or normal)",
                    self.urgency
                ),
            )
        })?;
        if self.community.trim().is_empty() || self.item.trim().is_empty() {
            return Err(invalid(&record, "community and item are required"));
        }
        let group = self.group.as_deref().map(|g| symbols.intern(g));
        let rate = self
            .rate
            .as_deref()
            .map(|r| fen(&record, "rate", r))
            .transpose()?;
        if rate == Some(0) {
            return Err(invalid(&record, "rate must be more than zero"));
        }
        Ok(Need {
            id: self.id.as_str().into(),
            community: symbols.intern(&self.community),
            district: self.district.as_deref().map(|d| symbols.intern(d)),
            item: symbols.intern(&self.item),
            category: self.category.as_deref().map(|c| symbols.intern(c)),
            group,
            quantity: quantity(&record, self.quantity, false)?,
            class: class_of(urgency, group.is_some_and(|g| vulnerable.contains(&g))),
            location: location(&record, self.location)?,
            needed_by: optional_date(&record, "needed_by", &self.needed_by)?,
            rate,
        })
    }
}

impl SourceIn {
    fn check<'a>(
        &'a self,
        seen: &mut FxHashSet<&'a str>,
        symbols: &mut Symbols,
    ) -> Result<Source, InvalidInstance> {
        let record = unique(seen, "source", &self.id)?;
        let kind = match self.kind.as_str() {
            "stock" => SourceKind::Stock,
            "pledge" => SourceKind::Pledge,
            "money" => SourceKind::Money,
            other => {
                return Err(invalid(
                    &record,
                    format!("unknown kind \"{other}\" (stock, pledge or money)"),
                ))
            }
        };
        let (item, quantity_units) = if kind == SourceKind::Money {
            if self.item.is_some() || self.quantity.is_some() {
                return Err(invalid(
                    &record,
                    "money carries an amount, not item and quantity",
                ));
            }
            let amount = self
                .amount
                .as_deref()
                .ok_or_else(|| invalid(&record, "missing amount"))?;
            (None, fen(&record, "amount", amount)?)
        } else {
            if self.amount.is_some() {
                return Err(invalid(
                    &record,
                    "goods carry item and quantity, not an amount",
                ));
            }
            let item = self
                .item
                .as_deref()
                .filter(|i| !i.trim().is_empty())
                .ok_or_else(|| invalid(&record, "missing item"))?;
            let units = self
                .quantity
                .ok_or_else(|| invalid(&record, "missing quantity"))?;
            (Some(symbols.intern(item)), quantity(&record, units, true)?)
        };
        let earmark = self.earmark.clone().unwrap_or_default();
        Ok(Source {
            id: self.id.as_str().into(),
            kind,
            item,
            quantity: quantity_units,
            location: location(&record, self.location)?,
            expires: optional_date(&record, "expires", &self.expires)?,
            available_from: optional_date(&record, "available_from", &self.available_from)?,
            earmark: Earmark {
                districts: symbols_of(symbols, &earmark.districts),
                communities: symbols_of(symbols, &earmark.communities),
                items: symbols_of(symbols, &earmark.items),
                categories: symbols_of(symbols, &earmark.categories),
                groups: symbols_of(symbols, &earmark.groups),
            },
        })
    }
}

impl OfferIn {
    fn check<'a>(
        &'a self,
        seen: &mut FxHashSet<&'a str>,
        symbols: &mut Symbols,
    ) -> Result<Offer, InvalidInstance> {
        let record = unique(seen, "offer", &self.id)?;
        if self.item.trim().is_empty() {
            return Err(invalid(&record, "missing item"));
        }
        if self.lead_days < 0 || self.lead_days > 3650 {
            return Err(invalid(&record, "lead_days must be between 0 and 3650"));
        }
        let unit_price = fen(&record, "unit_price", &self.unit_price)?;
        if unit_price == 0 {
            return Err(invalid(&record, "unit_price must be more than zero"));
        }
        Ok(Offer {
            id: self.id.as_str().into(),
            supplier: self.supplier.clone(),
            item: symbols.intern(&self.item),
            unit_price,
            capacity: quantity(&record, self.capacity, true)?,
            lead_days: self.lead_days,
            location: location(&record, self.location)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_dates_read_as_chrono_reads_them_and_others_fall_through() {
        for text in [
            "2020-02-10",
            "2020-12-31",
            "2024-02-29",
            "0001-01-01",
            "9999-12-31",
        ] {
            let chrono = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
            assert_eq!(plain_date(text), chrono, "{text}");
        }
        // Not plain: chrono decides (and names the field when it refuses).
        for text in [
            "2023-02-29",
            "2020-13-01",
            "2020-2-01",
            "20a0-02-01",
            "2020/02/01",
            "",
        ] {
            assert_eq!(plain_date(text), None, "{text}");
        }
        let error = date(&"need \"n1\"", "needed_by", "2023-02-29").unwrap_err();
        assert_eq!(
            error.0,
            "need \"n1\": needed_by \"2023-02-29\" is not a date (YYYY-MM-DD)"
        );
    }
}
