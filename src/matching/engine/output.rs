//! The plan as MATCHING.md writes it, with a reason on every line.

use std::collections::HashMap;

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

/// Need, source and offer of a plan line.
type LineKey = (usize, usize, Option<usize>);

pub(super) fn write(engine: &Engine) -> (Plan, Vec<Why>) {
    let problem = engine.problem;
    // One line per need, source and offer, in the order of the instance.
    let mut lines: Vec<(LineKey, i64)> = engine
        .lines
        .iter()
        .map(|line| ((line.need, line.source, line.offer), line.quantity))
        .collect();
    lines.sort_unstable_by_key(|line| line.0);
    let mut merged: Vec<(LineKey, i64)> = Vec::with_capacity(lines.len());
    for (key, quantity) in lines {
        match merged.last_mut() {
            Some(last) if last.0 == key => last.1 += quantity,
            _ => merged.push((key, quantity)),
        }
    }
    let mut sharing: HashMap<usize, usize> = HashMap::new();
    for share in engine.shares.iter().flatten() {
        *sharing.entry(share.round).or_default() += 1;
    }
    let mut money_spent = 0i64;
    let mut allocations = Vec::with_capacity(merged.len());
    let mut whys = Vec::with_capacity(merged.len());
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
        let why = why(engine, n, s, offer, &sharing);
        allocations.push(AllocationOut {
            need: need.id.clone(),
            source: source.id.clone(),
            offer: offer.map(|o| problem.offers[o].id.clone()),
            quantity,
            cost: cost.map(yuan),
            distance_km: distance_km(from, need.location).map(|d| (d * 10.0).round() / 10.0),
            reason: reason(engine, n, s, offer, &why),
        });
        whys.push(why);
    }
    let unmet = (0..problem.needs.len())
        .filter(|&n| engine.short(n) > 0)
        .map(|n| Unmet {
            need: problem.needs[n].id.clone(),
            quantity: engine.short(n),
        })
        .collect();
    let plan = Plan {
        allocations,
        unmet,
        summary: Summary {
            needs: problem.needs.len(),
            asked: problem.needs.iter().map(|n| n.quantity).sum(),
            allocated: engine.have.iter().sum(),
            money_spent: yuan(money_spent),
        },
    };
    (plan, whys)
}

/// Why a line is in the plan, as data: the service renders it in the reader's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Why {
    /// 0 = critical + vulnerable … 5 = normal.
    pub class: u8,
    pub share: ShareWhy,
    pub source: SourceWhy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShareWhy {
    /// The need gets all it asked.
    Full,
    /// An equal share: `percent` of asked, the level `level` per cent shared by `across` needs.
    Equal {
        percent: i64,
        across: usize,
        level: i64,
    },
    /// What was left that this need could use.
    Leftover { percent: i64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceWhy {
    Stock {
        expires: Option<String>,
    },
    Pledge {
        expires: Option<String>,
    },
    /// Money buys through the cheapest offer with capacity that arrives in time.
    Purchase {
        unit_price: String,
        lead_days: i64,
    },
    /// Money pays a subsidy at its rate.
    Rate {
        rate: String,
    },
}

fn why(
    engine: &Engine,
    n: usize,
    s: usize,
    offer: Option<usize>,
    sharing: &HashMap<usize, usize>,
) -> Why {
    let problem = engine.problem;
    let need = &problem.needs[n];
    let source = &problem.sources[s];
    let share = if engine.short(n) == 0 {
        ShareWhy::Full
    } else {
        let percent = engine.have[n] * 100 / need.quantity;
        match engine.shares[n] {
            Some(share) => ShareWhy::Equal {
                percent,
                across: sharing.get(&share.round).copied().unwrap_or(1),
                level: share.level.percent() as i64,
            },
            None => ShareWhy::Leftover { percent },
        }
    };
    let expires = source.expires.map(|e| e.format("%Y-%m-%d").to_string());
    let source = match (source.kind, offer) {
        (SourceKind::Money, Some(o)) => SourceWhy::Purchase {
            unit_price: yuan(problem.offers[o].unit_price),
            lead_days: problem.offers[o].lead_days,
        },
        (SourceKind::Money, None) => SourceWhy::Rate {
            rate: yuan(need.rate.unwrap_or(0)),
        },
        (SourceKind::Stock, _) => SourceWhy::Stock { expires },
        (SourceKind::Pledge, _) => SourceWhy::Pledge { expires },
    };
    Why {
        class: need.class,
        share,
        source,
    }
}

/// The reason in English, as the plan format carries it.
fn reason(engine: &Engine, n: usize, s: usize, offer: Option<usize>, why: &Why) -> String {
    let problem = engine.problem;
    let item = problem.symbols.name(problem.needs[n].item);
    let source = &problem.sources[s].id;
    let class = CLASS_LABELS[why.class as usize];
    let share = match why.share {
        ShareWhy::Full => "asked in full".to_owned(),
        ShareWhy::Equal { percent, across, level } => format!(
            "equal share {percent}% of asked across {across} needs for {item} (supply for them ran out at {level}%)"
        ),
        ShareWhy::Leftover { percent } => format!("{percent}% of asked, all the eligible supply left"),
    };
    let from = match &why.source {
        SourceWhy::Purchase {
            unit_price,
            lead_days,
        } => {
            let offer = &problem.offers[offer.expect("a purchase has an offer")];
            format!(
                "goods held or pledged ran out, so money {source} buys through offer {} from {} at {unit_price} yuan, the cheapest with capacity that arrives in {lead_days} days",
                offer.id, offer.supplier
            )
        }
        SourceWhy::Rate { rate } => format!("paid from money {source} at {rate} yuan per unit"),
        SourceWhy::Stock { expires } | SourceWhy::Pledge { expires } => {
            let what = if matches!(why.source, SourceWhy::Stock { .. }) {
                "stock"
            } else {
                "pledged goods"
            };
            match expires {
                Some(expires) => format!("{what} {source}, expires {expires}"),
                None => format!("{what} {source}"),
            }
        }
    };
    format!("{class}; {share}; {from}")
}
