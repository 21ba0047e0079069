//! The plan as MATCHING.md writes it, with a reason on every line.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::instance::{SourceKind, CLASS_LABELS};
use super::{distance_km, Engine};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub allocations: Vec<AllocationOut>,
    pub unmet: Vec<Unmet>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationOut {
    pub need: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmet {
    pub need: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub needs: usize,
    pub asked: i64,
    pub allocated: i64,
    pub money_spent: String,
}

/// Fen as a decimal string of yuan.
pub fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

pub(super) fn write(engine: &Engine) -> Plan {
    let problem = engine.problem;
    // One line per need, source and offer, in the order of the instance.
    let mut merged: BTreeMap<(usize, usize, Option<usize>), i64> = BTreeMap::new();
    for line in &engine.lines {
        *merged
            .entry((line.need, line.source, line.offer))
            .or_default() += line.quantity;
    }
    let mut sharing: HashMap<usize, usize> = HashMap::new();
    for share in engine.shares.iter().flatten() {
        *sharing.entry(share.round).or_default() += 1;
    }
    let mut money_spent = 0i64;
    let mut allocations = Vec::with_capacity(merged.len());
    for ((n, s, offer), quantity) in merged {
        let need = &problem.needs[n];
        let source = &problem.sources[s];
        let per_unit = match offer {
            Some(o) => Some(problem.offers[o].unit_price),
            None if source.kind == SourceKind::Money => need.rate,
            None => None,
        };
        let cost = per_unit.map(|price| price * quantity);
        money_spent += cost.unwrap_or(0);
        let from = offer.map_or(source.location, |o| problem.offers[o].location);
        allocations.push(AllocationOut {
            need: need.id.clone(),
            source: source.id.clone(),
            offer: offer.map(|o| problem.offers[o].id.clone()),
            quantity,
            cost: cost.map(yuan),
            distance_km: distance_km(from, need.location).map(|d| (d * 10.0).round() / 10.0),
            reason: reason(engine, n, s, offer, &sharing),
        });
    }
    let unmet = (0..problem.needs.len())
        .filter(|&n| engine.short(n) > 0)
        .map(|n| Unmet {
            need: problem.needs[n].id.clone(),
            quantity: engine.short(n),
        })
        .collect();
    Plan {
        allocations,
        unmet,
        summary: Summary {
            needs: problem.needs.len(),
            asked: problem.needs.iter().map(|n| n.quantity).sum(),
            allocated: engine.have.iter().sum(),
            money_spent: yuan(money_spent),
        },
    }
}

/// Why a line is in the plan: the need's class, the share it got, and where it comes from.
fn reason(
    engine: &Engine,
    n: usize,
    s: usize,
    offer: Option<usize>,
    sharing: &HashMap<usize, usize>,
) -> String {
    let problem = engine.problem;
    let need = &problem.needs[n];
    let source = &problem.sources[s];
    let item = problem.symbols.name(need.item);
    let class = CLASS_LABELS[need.class as usize];
    let share = if engine.short(n) == 0 {
        "asked in full".to_owned()
    } else {
        let percent = engine.have[n] * 100 / need.quantity;
        match engine.shares[n] {
            Some(share) => format!(
                "equal share {percent}% of asked across {} needs for {item} (supply for them ran out at {}%)",
                sharing.get(&share.round).copied().unwrap_or(1),
                share.level.percent()
            ),
            None => format!("{percent}% of asked, all the eligible supply left"),
        }
    };
    let from = match (source.kind, offer) {
        (SourceKind::Money, Some(o)) => {
            let offer = &problem.offers[o];
            format!(
                "goods held or pledged ran out, so money {} buys through offer {} from {} at {} yuan, the cheapest with capacity that arrives in {} days",
                source.id,
                offer.id,
                offer.supplier,
                yuan(offer.unit_price),
                offer.lead_days
            )
        }
        (SourceKind::Money, None) => format!(
            "paid from money {} at {} yuan per unit",
            source.id,
            yuan(need.rate.unwrap_or(0))
        ),
        (kind, _) => {
            let what = if kind == SourceKind::Stock {
                "stock"
            } else {
                "pledged goods"
            };
            match source.expires {
                Some(expires) => format!("{what} {}, expires {expires}", source.id),
                None => format!("{what} {}", source.id),
            }
        }
    };
    format!("{class}; {share}; {from}")
}
