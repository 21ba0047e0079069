//! The plan as MATCHING.md writes it, with a reason on every line.

use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize, Serializer};

use super::instance::{Id, SourceKind, Sym, CLASS_LABELS};
use super::{distance_km, Engine};

/// A plan as the engine makes it. Ids are shared with the checked problem and a reason's parts
/// with the other lines that give them: a national plan has millions of lines and writing each
/// one's texts afresh took a third of the planning time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub allocations: Vec<AllocationOut>,
    pub unmet: Vec<Unmet>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocationOut {
    pub need: Id,
    pub source: Id,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<Id>,
    pub quantity: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Yuan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmet {
    pub need: Id,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub needs: usize,
    pub asked: i64,
    pub allocated: i64,
    pub money_spent: Yuan,
}

/// An amount in fen, written as a decimal string of yuan (`"12.30"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuan(pub i64);

impl Yuan {
    pub fn fen(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Yuan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&yuan(self.0))
    }
}

impl Serialize for Yuan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&yuan(self.0))
    }
}

/// A line's reason, written `class; share; source`: the class of the need, the fair share it
/// got, and where the supply comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    class: &'static str,
    share: Arc<str>,
    from: Arc<str>,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}; {}", self.class, self.share, self.from)
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Fen as a decimal string of yuan. Written by hand rather than with `format!`: a plan has a
/// cost on every purchase line.
pub fn yuan(fen: i64) -> String {
    let mut text = String::with_capacity(16);
    if fen < 0 {
        text.push('-');
    }
    let fen = fen.unsigned_abs();
    text.push_str(itoa::Buffer::new().format(fen / 100));
    text.push('.');
    let cents = (fen % 100) as u8;
    text.push(char::from(b'0' + cents / 10));
    text.push(char::from(b'0' + cents % 10));
    text
}

/// Need, source and offer of a plan line.
type LineKey = (usize, usize, Option<usize>);

/// A line's key as one number that sorts the same way (need, source, then offer, none first).
fn packed(need: usize, source: usize, offer: Option<usize>) -> u128 {
    let offer = offer.map_or(0, |o| o as u128 + 1);
    (need as u128) << 80 | (source as u128) << 40 | offer
}

/// The plan, and when `explain`, the reasons as data (one per line).
pub(super) fn write(engine: &Engine, explain: bool) -> (Plan, Vec<Why>) {
    let problem = engine.problem;
    // One line per need, source and offer, in the order of the instance.
    let mut lines: Vec<(u128, u32)> = engine
        .lines
        .iter()
        .enumerate()
        .map(|(i, line)| (packed(line.need(), line.source(), line.offer()), i as u32))
        .collect();
    lines.sort_unstable_by_key(|line| line.0);
    let mut merged: Vec<(LineKey, i64)> = Vec::with_capacity(lines.len());
    for (_, i) in lines {
        let line = &engine.lines[i as usize];
        let key = (line.need(), line.source(), line.offer());
        match merged.last_mut() {
            Some(last) if last.0 == key => last.1 += line.quantity,
            _ => merged.push((key, line.quantity)),
        }
    }
    let mut sharing: FxHashMap<usize, usize> = FxHashMap::default();
    for share in engine.shares.iter().flatten() {
        *sharing.entry(share.round).or_default() += 1;
    }
    // Lines of one need stay together so each part makes the need's texts once.
    // The first part's vectors have room for every line: the others are appended to them
    // (at national scale the lines are hundreds of megabytes, so they are moved only once).
    let parts = split_at_needs(&merged, super::workers());
    let numbered: Vec<(usize, &[(LineKey, i64)])> = parts.into_iter().enumerate().collect();
    let done = super::in_parallel(&numbered, |&(part, lines)| {
        let room = if part == 0 { merged.len() } else { lines.len() };
        write_lines(engine, lines, room, &sharing, explain)
    });
    let mut money_spent = 0i64;
    let mut allocations = Vec::new();
    let mut whys = Vec::new();
    for (spent, mut part_allocations, mut part_whys) in done {
        money_spent += spent;
        if allocations.is_empty() {
            std::mem::swap(&mut allocations, &mut part_allocations);
            std::mem::swap(&mut whys, &mut part_whys);
        }
        allocations.append(&mut part_allocations);
        whys.append(&mut part_whys);
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
            money_spent: Yuan(money_spent),
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

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// Money buys through offers with capacity that arrive in time, cheapest first.
    Purchase {
        unit_price: String,
        lead_days: i64,
    },
    /// Money pays a subsidy at its rate.
    Rate {
        rate: String,
    },
}

/// Up to `parts` runs of `lines` of about equal length, never splitting one need's lines.
fn split_at_needs(lines: &[(LineKey, i64)], parts: usize) -> Vec<&[(LineKey, i64)]> {
    let mut runs = Vec::with_capacity(parts);
    let mut rest = lines;
    for part in (1..=parts).rev() {
        let mut end = rest.len().div_ceil(part);
        while end > 0 && end < rest.len() && rest[end].0 .0 == rest[end - 1].0 .0 {
            end += 1;
        }
        let (run, after) = rest.split_at(end);
        runs.push(run);
        rest = after;
    }
    runs
}

type Written = (i64, Vec<AllocationOut>, Vec<Why>);

/// Source, offer and rate: what a line's "from" text depends on.
type FromKey = (usize, Option<usize>, Option<i64>);

/// Plan lines and their reasons for a run of merged lines (with room for `room` lines); the
/// money they spend.
fn write_lines(
    engine: &Engine,
    lines: &[(LineKey, i64)],
    room: usize,
    sharing: &FxHashMap<usize, usize>,
    explain: bool,
) -> Written {
    let problem = engine.problem;
    let mut money_spent = 0;
    let mut allocations = Vec::with_capacity(room);
    let mut whys = Vec::with_capacity(if explain { room } else { 0 });
    // Texts that many lines repeat, made once: the need's share, where supply comes from.
    let mut shares: Option<(usize, ShareWhy, Arc<str>)> = None;
    // Equal shares repeat across the needs of a share: their texts too.
    let mut share_texts: FxHashMap<(ShareWhy, Sym), Arc<str>> = FxHashMap::default();
    let mut froms: FxHashMap<FromKey, (SourceWhy, Arc<str>)> = FxHashMap::default();
    for &((n, s, offer), quantity) in lines {
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
        if shares.as_ref().is_none_or(|(m, _, _)| *m != n) {
            let share = share_why(engine, n, sharing);
            let text = share_texts
                .entry((share.clone(), need.item))
                .or_insert_with(|| share_text(engine, n, &share).into())
                .clone();
            shares = Some((n, share, text));
        }
        let (_, share, share_text) = shares.as_ref().expect("made above");
        let rate = (source.kind == SourceKind::Money && offer.is_none()).then_some(need.rate);
        let (source_why, from_text) =
            froms.entry((s, offer, rate.flatten())).or_insert_with(|| {
                let why = source_why(engine, n, s, offer);
                let text = from_text(engine, s, offer, &why).into();
                (why, text)
            });
        allocations.push(AllocationOut {
            need: need.id.clone(),
            source: source.id.clone(),
            offer: offer.map(|o| problem.offers[o].id.clone()),
            quantity,
            cost: cost.map(Yuan),
            distance_km: distance_km(from, need.location).map(|d| (d * 10.0).round() / 10.0),
            reason: Reason {
                class: CLASS_LABELS[need.class as usize],
                share: share_text.clone(),
                from: from_text.clone(),
            },
        });
        if explain {
            whys.push(Why {
                class: need.class,
                share: share.clone(),
                source: source_why.clone(),
            });
        }
    }
    (money_spent, allocations, whys)
}

fn share_why(engine: &Engine, n: usize, sharing: &FxHashMap<usize, usize>) -> ShareWhy {
    let need = &engine.problem.needs[n];
    if engine.short(n) == 0 {
        return ShareWhy::Full;
    }
    let percent = engine.have[n] * 100 / need.quantity;
    match engine.shares[n] {
        Some(share) => ShareWhy::Equal {
            percent,
            across: sharing.get(&share.round).copied().unwrap_or(1),
            level: share.level.percent() as i64,
        },
        None => ShareWhy::Leftover { percent },
    }
}

fn source_why(engine: &Engine, n: usize, s: usize, offer: Option<usize>) -> SourceWhy {
    let problem = engine.problem;
    let source = &problem.sources[s];
    let expires = source.expires.map(|e| e.to_string());
    match (source.kind, offer) {
        (SourceKind::Money, Some(o)) => SourceWhy::Purchase {
            unit_price: yuan(problem.offers[o].unit_price),
            lead_days: problem.offers[o].lead_days,
        },
        (SourceKind::Money, None) => SourceWhy::Rate {
            rate: yuan(problem.needs[n].rate.unwrap_or(0)),
        },
        (SourceKind::Stock, _) => SourceWhy::Stock { expires },
        (SourceKind::Pledge, _) => SourceWhy::Pledge { expires },
    }
}

/// The share part of a reason, in English as the plan format carries it.
fn share_text(engine: &Engine, n: usize, share: &ShareWhy) -> String {
    let problem = engine.problem;
    let item = problem.symbols.name(problem.needs[n].item);
    match *share {
        ShareWhy::Full => "asked in full".to_owned(),
        ShareWhy::Equal { percent, across, level } => format!(
            "equal share {percent}% of asked across {across} needs for {item} (supply for them ran out at {level}%)"
        ),
        ShareWhy::Leftover { percent } => format!("{percent}% of asked, all the eligible supply left"),
    }
}

/// Where a line's supply comes from, in English.
fn from_text(engine: &Engine, s: usize, offer: Option<usize>, why: &SourceWhy) -> String {
    let problem = engine.problem;
    let source = &problem.sources[s].id;
    match why {
        SourceWhy::Purchase {
            unit_price,
            lead_days,
        } => {
            let offer = &problem.offers[offer.expect("a purchase has an offer")];
            format!(
                "goods held or pledged ran out, so money {source} buys through offer {} from {} at {unit_price} yuan, arriving in {lead_days} days (offers are bought cheapest first among those with capacity that arrive in time)",
                offer.id, offer.supplier
            )
        }
        SourceWhy::Rate { rate } => format!("paid from money {source} at {rate} yuan per unit"),
        SourceWhy::Stock { expires } | SourceWhy::Pledge { expires } => {
            let what = if matches!(why, SourceWhy::Stock { .. }) {
                "stock"
            } else {
                "pledged goods"
            };
            match expires {
                Some(expires) => format!("{what} {source}, expires {expires}"),
                None => format!("{what} {source}"),
            }
        }
    }
}
