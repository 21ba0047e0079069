//! An independent reading of MATCHING.md rule 1 (hard constraints) and rule 4 (no idle
//! supply), written from the contract, not from the engine.

use std::collections::HashMap;

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use weave::matching::engine::{
    instance::{EarmarkIn, NeedIn, OfferIn, SourceIn},
    Instance, Plan,
};

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

pub fn fen(text: &str) -> i64 {
    let value: Decimal = text.parse().unwrap();
    i64::try_from(value * Decimal::ONE_HUNDRED).unwrap()
}

pub fn vulnerable(instance: &Instance, need: &NeedIn) -> bool {
    let groups: Vec<String> = match &instance.policy {
        Some(policy) => policy.vulnerable_groups.clone(),
        None => weave::matching::engine::instance::DEFAULT_VULNERABLE
            .map(String::from)
            .to_vec(),
    };
    need.group.as_ref().is_some_and(|g| groups.contains(g))
}

/// 0 = critical + vulnerable … 5 = normal.
pub fn class(instance: &Instance, need: &NeedIn) -> usize {
    let base = match need.urgency.as_str() {
        "critical" => 0,
        "high" => 2,
        _ => 4,
    };
    base + usize::from(!vulnerable(instance, need))
}

fn listed(list: &[String], value: Option<&String>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.contains(v))
}

fn earmark_admits(earmark: &Option<EarmarkIn>, need: &NeedIn) -> bool {
    let Some(e) = earmark else { return true };
    listed(&e.districts, need.district.as_ref())
        && listed(&e.communities, Some(&need.community))
        && listed(&e.items, Some(&need.item))
        && listed(&e.categories, need.category.as_ref())
        && listed(&e.groups, need.group.as_ref())
}

/// Whether a source may serve a need directly (goods) or pay for it (money).
pub fn eligible(instance: &Instance, source: &SourceIn, need: &NeedIn) -> bool {
    let today = date(&instance.today);
    if source.kind != "money" && (need.rate.is_some() || source.item.as_ref() != Some(&need.item)) {
        return false;
    }
    let expires = source.expires.as_deref().map(date);
    if expires.is_some_and(|e| e < today) {
        return false;
    }
    if let Some(by) = need.needed_by.as_deref().map(date) {
        if source
            .available_from
            .as_deref()
            .map(date)
            .is_some_and(|a| a > by)
        {
            return false;
        }
        if expires.is_some_and(|e| e < by) {
            return false;
        }
    }
    earmark_admits(&source.earmark, need)
}

pub fn offer_fits(instance: &Instance, offer: &OfferIn, need: &NeedIn) -> bool {
    let today = date(&instance.today);
    need.rate.is_none()
        && offer.item == need.item
        && need
            .needed_by
            .as_deref()
            .map(date)
            .is_none_or(|by| today + Days::new(offer.lead_days as u64) <= by)
}

/// Units each need received.
pub fn received(instance: &Instance, plan: &Plan) -> Vec<i64> {
    let index: HashMap<&str, usize> = instance
        .needs
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut got = vec![0; instance.needs.len()];
    for line in &plan.allocations {
        got[index[&*line.need]] += line.quantity;
    }
    got
}

/// Every hard constraint, the cost arithmetic, `unmet` and the summary.
pub fn verify(instance: &Instance, plan: &Plan) -> Result<(), String> {
    let needs: HashMap<&str, &NeedIn> = instance.needs.iter().map(|n| (n.id.as_str(), n)).collect();
    let sources: HashMap<&str, &SourceIn> = instance
        .sources
        .iter()
        .map(|s| (s.id.as_str(), s))
        .collect();
    let offers: HashMap<&str, &OfferIn> =
        instance.offers.iter().map(|o| (o.id.as_str(), o)).collect();
    let mut used: HashMap<&str, i64> = HashMap::new();
    let mut through: HashMap<&str, i64> = HashMap::new();
    let mut spent_total = 0;
    for line in &plan.allocations {
        let need = needs.get(&*line.need).ok_or("unknown need")?;
        let source = sources.get(&*line.source).ok_or("unknown source")?;
        if line.quantity <= 0 {
            return Err(format!("line {line:?}: quantity must be positive"));
        }
        if !eligible(instance, source, need) {
            return Err(format!("line {line:?}: source may not serve this need"));
        }
        match (&source.kind[..], &line.offer) {
            ("money", Some(offer)) => {
                let offer = offers.get(&**offer).ok_or("unknown offer")?;
                if !offer_fits(instance, offer, need) {
                    return Err(format!("line {line:?}: offer does not fit"));
                }
                let cost = fen(&offer.unit_price) * line.quantity;
                if line.cost.map(|c| fen(&c.to_string())) != Some(cost) {
                    return Err(format!("line {line:?}: cost is not quantity × unit_price"));
                }
                *used.entry(&source.id).or_default() += cost;
                *through.entry(&offer.id).or_default() += line.quantity;
                spent_total += cost;
            }
            ("money", None) => {
                let rate = need.rate.as_deref().map(fen).ok_or(format!(
                    "line {line:?}: money without offer for a goods need"
                ))?;
                let cost = rate * line.quantity;
                if line.cost.map(|c| fen(&c.to_string())) != Some(cost) {
                    return Err(format!("line {line:?}: cost is not quantity × rate"));
                }
                *used.entry(&source.id).or_default() += cost;
                spent_total += cost;
            }
            (_, Some(_)) => return Err(format!("line {line:?}: goods through an offer")),
            (_, None) => {
                if line.cost.is_some() {
                    return Err(format!("line {line:?}: goods carry no cost"));
                }
                *used.entry(&source.id).or_default() += line.quantity;
            }
        }
        if line.reason.to_string().trim().is_empty() {
            return Err(format!("line {line:?}: no reason"));
        }
    }
    for (id, amount) in &used {
        let source = sources[id];
        let limit = match &source.amount {
            Some(amount) => fen(amount),
            None => source.quantity.unwrap_or(0),
        };
        if *amount > limit {
            return Err(format!("source {id} gives {amount} of {limit}"));
        }
    }
    for (id, units) in &through {
        if *units > offers[id].capacity {
            return Err(format!("offer {id} sells {units} over its capacity"));
        }
    }
    let got = received(instance, plan);
    let unmet: HashMap<&str, i64> = plan.unmet.iter().map(|u| (&*u.need, u.quantity)).collect();
    for (need, units) in instance.needs.iter().zip(&got) {
        if *units > need.quantity {
            return Err(format!(
                "need {} receives {units} of {}",
                need.id, need.quantity
            ));
        }
        let short = need.quantity - units;
        if short > 0 && unmet.get(need.id.as_str()) != Some(&short) {
            return Err(format!(
                "need {} is {short} short but unmet says {:?}",
                need.id,
                unmet.get(need.id.as_str())
            ));
        }
    }
    if plan.summary.allocated != got.iter().sum::<i64>()
        || plan.summary.asked != instance.needs.iter().map(|n| n.quantity).sum::<i64>()
        || fen(&plan.summary.money_spent.to_string()) != spent_total
        || plan.summary.needs != instance.needs.len()
    {
        return Err(format!("summary {:?} does not add up", plan.summary));
    }
    Ok(())
}

/// A need left short while a source that may serve it still has enough for one more unit.
pub fn idle_supply(instance: &Instance, plan: &Plan) -> Option<String> {
    let got = received(instance, plan);
    let mut left: HashMap<&str, i64> = instance
        .sources
        .iter()
        .map(|s| {
            (
                s.id.as_str(),
                s.amount
                    .as_deref()
                    .map(fen)
                    .unwrap_or(s.quantity.unwrap_or(0)),
            )
        })
        .collect();
    let mut capacity: HashMap<&str, i64> = instance
        .offers
        .iter()
        .map(|o| (o.id.as_str(), o.capacity))
        .collect();
    let needs: HashMap<&str, &NeedIn> = instance.needs.iter().map(|n| (n.id.as_str(), n)).collect();
    for line in &plan.allocations {
        let spent = match (&line.cost, &line.offer) {
            (Some(cost), _) => fen(&cost.to_string()),
            (None, _) => line.quantity,
        };
        *left.get_mut(&*line.source).unwrap() -= spent;
        if let Some(offer) = &line.offer {
            *capacity.get_mut(&**offer).unwrap() -= line.quantity;
        }
        let _ = needs[&*line.need];
    }
    for (need, units) in instance.needs.iter().zip(&got) {
        if *units >= need.quantity {
            continue;
        }
        for source in &instance.sources {
            if !eligible(instance, source, need) {
                continue;
            }
            let remaining = left[source.id.as_str()];
            let usable = if source.kind != "money" {
                remaining > 0
            } else if let Some(rate) = &need.rate {
                remaining >= fen(rate)
            } else {
                instance.offers.iter().any(|o| {
                    offer_fits(instance, o, need)
                        && capacity[o.id.as_str()] > 0
                        && remaining >= fen(&o.unit_price)
                })
            };
            if usable {
                return Some(format!(
                    "need {} is short while {} could still serve it",
                    need.id, source.id
                ));
            }
        }
    }
    None
}
