//! The plan as MATCHING.md writes it, with a reason on every line.

use std::fmt;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize, Serializer};

use super::instance::{Id, Need, Problem, Source, SourceKind, Sym, CLASS_LABELS};
use super::{distance_km, Engine, Line};
use crate::money::Money;

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
    pub cost: Option<Money>,
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
    pub money_spent: Money,
}

/// A line's reason, written `class; share; source`: the class of the need, the fair share it
/// got, and where the supply comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    class: &'static str,
    share: Arc<str>,
    from: Supply,
}

/// Where a line's supply comes from. Goods are written from their lot when the reason is:
/// most lots have a line or two, and making a text for each (and reading it back per line)
/// took a tenth of writing the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Supply {
    Goods {
        pledged: bool,
        lot: Id,
        expires: Option<NaiveDate>,
    },
    /// Money's texts, shared by the lines paid the same way.
    Money(Arc<str>),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}; ", self.class, self.share)?;
        match &self.from {
            Supply::Goods {
                pledged,
                lot,
                expires,
            } => {
                let what = if *pledged { "pledged goods" } else { "stock" };
                write!(f, "{what} {lot}")?;
                match expires {
                    Some(date) => write!(f, ", expires {date}"),
                    None => Ok(()),
                }
            }
            Supply::Money(text) => f.write_str(text),
        }
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Need, source and offer of a plan line.
type LineKey = (usize, usize, Option<usize>);

/// A line's key as one number that sorts the same way (need, source, then offer, none first).
fn packed(need: usize, source: usize, offer: Option<usize>) -> u128 {
    let offer = offer.map_or(0, |o| o as u128 + 1);
    (need as u128) << 80 | (source as u128) << 40 | offer
}

/// The need, source and offer a [`packed`] key was made of.
fn unpacked(key: u128) -> LineKey {
    let part = |shift: u32| (key >> shift & ((1 << 40) - 1)) as usize;
    let offer = part(0);
    ((key >> 80) as usize, part(40), offer.checked_sub(1))
}

/// Lines one per need, source and offer, in the order of the instance: sorted with their
/// quantities beside the keys, so the merge reads them in order.
fn sorted_and_merged(lines: &[Line]) -> Vec<(u128, i64)> {
    let mut keyed: Vec<(u128, i64)> = lines
        .iter()
        .map(|line| {
            (
                packed(line.need(), line.source(), line.offer()),
                line.quantity,
            )
        })
        .collect();
    keyed.par_sort_unstable_by_key(|line| line.0);
    let mut merged: Vec<(u128, i64)> = Vec::with_capacity(keyed.len());
    for (key, quantity) in keyed {
        match merged.last_mut() {
            Some(last) if last.0 == key => last.1 += quantity,
            _ => merged.push((key, quantity)),
        }
    }
    merged
}

/// A goods line written while money is planned, when goods lines are final: writing them
/// then keeps the other core busy while those stages mostly take one.
pub(super) enum Drafted {
    /// A line of a need goods served in full: money and the last pass never touch it.
    Done {
        key: u128,
        line: AllocationOut,
        /// Boxed: a national plan holds about a million of these while money is planned.
        why: Option<Box<Why>>,
    },
    /// Written but for the share of its need, which money and the last pass may still raise.
    Pending(Draft),
}

impl Drafted {
    fn key(&self) -> u128 {
        match self {
            Drafted::Done { key, .. } | Drafted::Pending(Draft { key, .. }) => *key,
        }
    }
}

/// A goods line but for its need's share.
pub(super) struct Draft {
    key: u128,
    quantity: i64,
    source: Id,
    distance_km: Option<f64>,
    from: Supply,
}

/// Goods lines, one per need and lot, in order and in runs: whole for the needs `served` in
/// full, written but for their shares for the others.
pub(super) fn draft(
    problem: &Problem,
    lines: &[Line],
    served: &[bool],
    explain: bool,
) -> Vec<Vec<Drafted>> {
    let merged = sorted_and_merged(lines);
    let in_full: Arc<str> = IN_FULL.into();
    // One run per core: each run makes the texts it needs again.
    let run = merged.len().div_ceil(rayon::current_num_threads()).max(1);
    let mut runs: Vec<Vec<Drafted>> = Vec::with_capacity(rayon::current_num_threads());
    for keys in merged.chunks(run) {
        runs.push(
            keys.iter()
                .map(|&(key, quantity)| {
                    let (n, s, _) = unpacked(key);
                    let (need, source) = (&problem.needs[n], &problem.sources[s]);
                    let draft = Draft {
                        key,
                        quantity,
                        source: source.id.clone(),
                        distance_km: rounded_km(source.location, need.location),
                        from: goods_supply(source),
                    };
                    if !served[n] {
                        return Drafted::Pending(draft);
                    }
                    let why = explain.then(|| {
                        Box::new(Why {
                            class: need.class,
                            share: ShareWhy::Full,
                            source: goods_why(source),
                        })
                    });
                    let line = goods_line(need, draft, in_full.clone());
                    Drafted::Done { key, line, why }
                })
                .collect(),
        );
    }
    runs
}

/// The plan from the engine's lines and the goods lines drafted before them, and when
/// `explain`, the reasons as data (one per line).
pub(super) fn write(
    engine: &Engine,
    mut drafts: Vec<Vec<Drafted>>,
    explain: bool,
) -> (Plan, Vec<Why>) {
    let problem = engine.problem;
    let merged = sorted_and_merged(&engine.lines);
    let mut sharing: FxHashMap<usize, usize> = FxHashMap::default();
    for share in engine.shares.iter().flatten() {
        *sharing.entry(share.round).or_default() += 1;
    }
    // Each run of drafts with the other lines of its keys, on all cores, each run with its
    // own texts; the first and last runs take the other lines before and after all drafts.
    if drafts.is_empty() {
        drafts.push(Vec::new());
    }
    let starts: Vec<usize> = drafts
        .iter()
        .enumerate()
        .map(|(r, run)| match (r, run.first()) {
            (0, _) | (_, None) => 0,
            (_, Some(first)) => merged.partition_point(|line| line.0 < first.key()),
        })
        .chain([merged.len()])
        .collect();
    // The first run writes into room for the whole plan and the others are added to it: the
    // plan is not copied into a fresh one (tens of megabytes, slow to fault in here).
    let whole = drafts.iter().map(Vec::len).sum::<usize>() + merged.len();
    let parts: Vec<Written> = drafts
        .into_par_iter()
        .enumerate()
        .map_init(
            || Texts::new(engine, &sharing),
            |texts, (r, run)| {
                let others = &merged[starts[r]..starts[r + 1]];
                let room = if r == 0 {
                    whole
                } else {
                    run.len() + others.len()
                };
                texts.run(run, others, room, explain)
            },
        )
        .collect();
    let mut parts = parts.into_iter();
    let Written {
        mut allocations,
        mut whys,
        spent: mut money_spent,
    } = parts.next().expect("at least one run");
    for part in parts {
        allocations.extend(part.allocations);
        whys.extend(part.whys);
        money_spent += part.spent;
    }
    let unmet = (0..problem.needs.len())
        .into_par_iter()
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
            asked: problem.needs.par_iter().map(|n| n.quantity).sum(),
            allocated: engine.have.par_iter().sum(),
            money_spent: Money::from_fen(money_spent),
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

/// A run's lines, their reasons as data (when asked for) and what they cost in fen.
struct Written {
    allocations: Vec<AllocationOut>,
    whys: Vec<Why>,
    spent: i64,
}

/// Texts that many lines repeat, made once per run of lines.
struct Texts<'a, 'p> {
    engine: &'a Engine<'p>,
    /// How many needs took part in each fair share.
    sharing: &'a FxHashMap<usize, usize>,
    /// The last need's share and its text (a need's lines are together).
    share: Option<(usize, ShareWhy, Arc<str>)>,
    /// Equal shares repeat across the needs of a share: their texts too.
    share_texts: FxHashMap<(ShareWhy, Sym), Arc<str>>,
    /// Money's texts, by [`money_key`].
    money_froms: FxHashMap<(u64, i64), Arc<str>>,
}

impl<'a, 'p> Texts<'a, 'p> {
    fn new(engine: &'a Engine<'p>, sharing: &'a FxHashMap<usize, usize>) -> Self {
        Texts {
            engine,
            sharing,
            share: None,
            share_texts: FxHashMap::default(),
            money_froms: FxHashMap::default(),
        }
    }

    /// One line of the plan.
    fn allocation(&mut self, &(key, quantity): &(u128, i64)) -> AllocationOut {
        let (n, s, offer) = unpacked(key);
        let engine = self.engine;
        let problem = engine.problem;
        let need = &problem.needs[n];
        let source = &problem.sources[s];
        let money = source.kind == SourceKind::Money;
        let per_unit = match offer {
            Some(o) => Some(problem.offers[o].unit_price),
            None if money => need.rate,
            None => None,
        };
        let shipped_from = offer.map_or(source.location, |o| problem.offers[o].location);
        let share = self.share_of(n).clone();
        let from = if money {
            let text = self
                .money_froms
                .entry(money_key(engine, n, s, offer))
                .or_insert_with(|| money_text(engine, n, s, offer));
            Supply::Money(text.clone())
        } else {
            goods_supply(source)
        };
        AllocationOut {
            need: need.id.clone(),
            source: source.id.clone(),
            offer: offer.map(|o| problem.offers[o].id.clone()),
            quantity,
            cost: per_unit.map(|price| Money::from_fen(price * quantity)),
            distance_km: rounded_km(shipped_from, need.location),
            reason: Reason {
                class: CLASS_LABELS[need.class as usize],
                share,
                from,
            },
        }
    }

    /// The share part of need `n`'s reason, made when its first line is written (a need's
    /// lines come together).
    fn share_of(&mut self, n: usize) -> &Arc<str> {
        let engine = self.engine;
        if self.share.as_ref().is_none_or(|(m, _, _)| *m != n) {
            let share = share_why(engine, n, self.sharing);
            let text = self
                .share_texts
                .entry((share.clone(), engine.problem.needs[n].item))
                .or_insert_with(|| share_text(engine, n, &share))
                .clone();
            self.share = Some((n, share, text));
        }
        &self.share.as_ref().expect("made above").2
    }

    /// A run of drafts and the other lines among them, in key order, with room for `room`
    /// lines.
    fn run(
        &mut self,
        drafts: Vec<Drafted>,
        others: &[(u128, i64)],
        room: usize,
        explain: bool,
    ) -> Written {
        let mut written = Written {
            allocations: Vec::with_capacity(room),
            whys: Vec::with_capacity(if explain { room } else { 0 }),
            spent: 0,
        };
        let mut others = others.iter().peekable();
        for drafted in drafts {
            while let Some(line) = others.next_if(|line| line.0 < drafted.key()) {
                self.other(line, explain, &mut written);
            }
            let mut draft = match drafted {
                Drafted::Done { line, why, .. } => {
                    written.allocations.push(line);
                    written.whys.extend(why.map(|why| *why));
                    continue;
                }
                Drafted::Pending(draft) => draft,
            };
            // The last pass gave more from the same lot.
            if let Some(line) = others.next_if(|line| line.0 == draft.key) {
                draft.quantity += line.1;
            }
            let key = draft.key;
            written.allocations.push(self.finished(draft));
            if explain {
                written.whys.push(self.why(&(key, 0)));
            }
        }
        for line in others {
            self.other(line, explain, &mut written);
        }
        written
    }

    /// A line that was not drafted (money's, the last pass's), with what it cost.
    fn other(&mut self, line: &(u128, i64), explain: bool, written: &mut Written) {
        let allocation = self.allocation(line);
        written.spent += allocation.cost.map_or(0, Money::fen);
        written.allocations.push(allocation);
        if explain {
            written.whys.push(self.why(line));
        }
    }

    /// A drafted goods line with its need's share.
    fn finished(&mut self, draft: Draft) -> AllocationOut {
        let (n, _, _) = unpacked(draft.key);
        let share = self.share_of(n).clone();
        goods_line(&self.engine.problem.needs[n], draft, share)
    }

    /// Why the line just written is there, as data.
    fn why(&self, &(key, _): &(u128, i64)) -> Why {
        let (n, s, offer) = unpacked(key);
        let (_, share, _) = self.share.as_ref().expect("a line was written");
        Why {
            class: self.engine.problem.needs[n].class,
            share: share.clone(),
            source: source_why(self.engine, n, s, offer),
        }
    }
}

/// What a money line's text depends on: source, offer and rate, packed into two numbers
/// (rates are never negative).
fn money_key(engine: &Engine, n: usize, s: usize, offer: Option<usize>) -> (u64, i64) {
    let rate = engine.problem.needs[n].rate.filter(|_| offer.is_none());
    let offer = offer.map_or(0, |o| o as u64 + 1);
    ((s as u64) << 32 | offer, rate.unwrap_or(-1))
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
    match (problem.sources[s].kind, offer) {
        (SourceKind::Money, Some(o)) => SourceWhy::Purchase {
            unit_price: Money::from_fen(problem.offers[o].unit_price).to_string(),
            lead_days: problem.offers[o].lead_days,
        },
        (SourceKind::Money, None) => SourceWhy::Rate {
            rate: Money::from_fen(problem.needs[n].rate.unwrap_or(0)).to_string(),
        },
        _ => goods_why(&problem.sources[s]),
    }
}

/// A goods line from its draft and its need's share.
fn goods_line(need: &Need, draft: Draft, share: Arc<str>) -> AllocationOut {
    AllocationOut {
        need: need.id.clone(),
        source: draft.source,
        offer: None,
        quantity: draft.quantity,
        cost: None,
        distance_km: draft.distance_km,
        reason: Reason {
            class: CLASS_LABELS[need.class as usize],
            share,
            from: draft.from,
        },
    }
}

/// A goods line's source part of its reason.
fn goods_supply(source: &Source) -> Supply {
    Supply::Goods {
        pledged: source.kind == SourceKind::Pledge,
        lot: source.id.clone(),
        expires: source.expires,
    }
}

/// Distance in kilometres to one decimal, as the plan writes it.
fn rounded_km(from: Option<[f64; 2]>, to: Option<[f64; 2]>) -> Option<f64> {
    distance_km(from, to).map(|d| (d * 10.0).round() / 10.0)
}

/// Where goods held or pledged come from.
fn goods_why(source: &Source) -> SourceWhy {
    let expires = source.expires.map(date_text);
    match source.kind {
        SourceKind::Pledge => SourceWhy::Pledge { expires },
        _ => SourceWhy::Stock { expires },
    }
}

/// A date as `YYYY-MM-DD`, as chrono writes it, without its formatter.
fn date_text(date: NaiveDate) -> String {
    if !(1000..=9999).contains(&date.year()) {
        return date.to_string();
    }
    let mut text = String::with_capacity(10);
    text.push_str(itoa::Buffer::new().format(date.year()));
    for part in [date.month(), date.day()] {
        text.push('-');
        text.push(char::from(b'0' + (part / 10) as u8));
        text.push(char::from(b'0' + (part % 10) as u8));
    }
    text
}

/// `parts` written one after another. Reason texts are made this way rather than with
/// `format!`: a plan makes one per money source's way of paying and per share, thousands of
/// them.
fn concat(parts: &[&str]) -> Arc<str> {
    let mut text = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    for part in parts {
        text.push_str(part);
    }
    text.into()
}

/// The share part of the reason of a need that gets all it asked.
const IN_FULL: &str = "asked in full";

/// The share part of a reason, in English as the plan format carries it.
fn share_text(engine: &Engine, n: usize, share: &ShareWhy) -> Arc<str> {
    let problem = engine.problem;
    let item = problem.symbols.name(problem.needs[n].item);
    let (mut percent_digits, mut across_digits, mut level_digits) = (
        itoa::Buffer::new(),
        itoa::Buffer::new(),
        itoa::Buffer::new(),
    );
    match *share {
        ShareWhy::Full => IN_FULL.into(),
        ShareWhy::Equal {
            percent,
            across,
            level,
        } => concat(&[
            "equal share ",
            percent_digits.format(percent),
            "% of asked across ",
            across_digits.format(across),
            " needs for ",
            item,
            " (supply for them ran out at ",
            level_digits.format(level),
            "%)",
        ]),
        ShareWhy::Leftover { percent } => concat(&[
            percent_digits.format(percent),
            "% of asked, all the eligible supply left",
        ]),
    }
}

/// Where a money line's supply comes from, in English: a purchase through an offer, or a
/// payment at the need's rate.
fn money_text(engine: &Engine, n: usize, s: usize, offer: Option<usize>) -> Arc<str> {
    let problem = engine.problem;
    let source = &problem.sources[s].id;
    match offer {
        Some(o) => {
            let offer = &problem.offers[o];
            concat(&[
                "goods held or pledged ran out, so money ",
                source,
                " buys through offer ",
                &offer.id,
                " from ",
                &offer.supplier,
                " at ",
                &Money::from_fen(offer.unit_price).to_string(),
                " yuan, arriving in ",
                itoa::Buffer::new().format(offer.lead_days),
                " days (offers are bought cheapest first among those with capacity that arrive in time)",
            ])
        }
        None => {
            let rate = Money::from_fen(problem.needs[n].rate.unwrap_or(0)).to_string();
            concat(&["paid from money ", source, " at ", &rate, " yuan per unit"])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::engine::{plan, plan_explained};
    use crate::matching::generate::{self, Scale};

    /// Goods lines are written in two steps (all but the share while money is planned, the
    /// share at the end, merged with any line of the last pass from the same lot); the reasons
    /// as data must still be one per line and say what the text says.
    #[test]
    fn every_line_has_one_why_and_it_says_what_its_reason_says() {
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..60 {
            let scale = Scale::tiny(20 + seed as usize % 30, 6, 2, 3);
            let instance = generate::instance(seed, scale);
            let (explained, whys) = plan_explained(&instance).unwrap();
            assert_eq!(explained, plan(&instance).unwrap(), "seed {seed}");
            assert_eq!(whys.len(), explained.allocations.len(), "seed {seed}");
            for (line, why) in explained.allocations.iter().zip(&whys) {
                let text = line.reason.to_string();
                assert!(text.starts_with(CLASS_LABELS[why.class as usize]), "{text}");
                let share = match &why.share {
                    ShareWhy::Full => "; asked in full; ".to_owned(),
                    ShareWhy::Equal { percent, .. } => format!("; equal share {percent}% "),
                    ShareWhy::Leftover { percent } => format!("; {percent}% of asked, all"),
                };
                assert!(text.contains(&share), "{text} / {why:?}");
                let (kind, from) = match &why.source {
                    SourceWhy::Stock { .. } => ("stock", format!("; stock {}", line.source)),
                    SourceWhy::Pledge { .. } => {
                        ("pledge", format!("; pledged goods {}", line.source))
                    }
                    SourceWhy::Purchase { .. } => {
                        ("purchase", format!("money {} buys", line.source))
                    }
                    SourceWhy::Rate { .. } => ("rate", format!("paid from money {}", line.source)),
                };
                assert!(text.contains(&from), "{text} / {why:?}");
                kinds.insert(kind);
            }
        }
        assert_eq!(kinds.len(), 4, "every kind of source seen: {kinds:?}");
    }

    #[test]
    fn dates_and_yuan_are_written_as_chrono_and_the_format_write_them() {
        for (y, m, d) in [(2026, 1, 5), (2026, 12, 31), (999, 3, 4), (10_000, 1, 1)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(date_text(date), date.to_string());
        }
        assert_eq!(Money::from_fen(1230).to_string(), "12.30");
        assert_eq!(Money::from_fen(-5).to_string(), "-0.05");
    }

    #[test]
    fn a_packed_line_key_unpacks_to_itself_and_sorts_offerless_first() {
        for key in [
            (0, 0, None),
            (7, 3, Some(0)),
            (1 << 30, (1 << 40) - 1, Some(12)),
        ] {
            assert_eq!(unpacked(packed(key.0, key.1, key.2)), key);
        }
        assert!(packed(5, 2, None) < packed(5, 2, Some(0)));
        assert!(packed(5, 2, Some(9)) < packed(5, 3, None));
    }
}
