//! The matching engine: open needs and available supply in, a fair and explained plan out.
//! Pure code: no database, no clock, no async. The contract is `../shared/MATCHING.md`.
//!
//! How a plan is made:
//! 1. **Goods** (stock and pledged goods, per item). Needs and lots are aggregated into groups
//!    that are interchangeable for eligibility (earmark, dates, class); the [`fair`] solver
//!    fills the classes one after another with exact max-min fairness and re-routes what higher
//!    classes got so lower ones are not blocked needlessly. Whole units by largest remainder.
//! 2. **Money**, only for what goods could not cover (rule 5): rate needs are paid directly;
//!    goods needs buy through the cheapest offer that still has capacity and arrives by
//!    `needed_by`, again class by class with the same fair solver (in fen). A pass buys through
//!    the cheapest open offers of each item and date, as many as the last pass wanted and could
//!    not get; needs still short move on to the next offers in the next pass.
//! 3. Groups are split back to needs (emptiest first), lots are handed out soonest expiry first
//!    and nearest along a space-filling curve, and a last pass hands out anything still usable.
//!    Each purse's purchases are then re-dealt into as few lines as possible (same totals).
//!    Every line gets its reason.

mod eligible;
pub mod fair;
pub mod flow;
mod goods;
pub mod instance;
mod money;
mod output;

use std::sync::Arc;

use chrono::NaiveDate;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

pub use instance::{Instance, InvalidInstance, Problem};
pub use output::{AllocationOut, Plan, ShareWhy, SourceWhy, Summary, Unmet, Why};

use eligible::EarmarkIndex;
use fair::{water_level, Level};
use instance::Sym;

/// Plans an instance: checks it, then runs the engine.
pub fn plan(instance: &Instance) -> Result<Plan, InvalidInstance> {
    let problem = instance.check()?;
    Ok(solve(&problem))
}

/// Plans a checked problem.
pub fn solve(problem: &Problem) -> Plan {
    run(problem, false).0
}

/// Plans an instance and says why each line is there as data (one [`Why`] per allocation).
pub fn plan_explained(instance: &Instance) -> Result<(Plan, Vec<Why>), InvalidInstance> {
    let problem = instance.check()?;
    Ok(solve_explained(&problem))
}

/// Plans a checked problem, with the reasons as data.
pub fn solve_explained(problem: &Problem) -> (Plan, Vec<Why>) {
    run(problem, true)
}

/// The three stages: goods, then money, then whatever is still usable; then the plan.
fn run(problem: &Problem, explain: bool) -> (Plan, Vec<Why>) {
    let mut engine = Engine::new(problem);
    goods::allocate(&mut engine);
    // Goods lines are written on the other core while money, the last pass and the re-deal
    // run (those stages mostly take one), whole for the needs already served in full.
    let goods_lines = std::mem::take(&mut engine.lines);
    let served: Vec<bool> = (0..problem.needs.len())
        .map(|n| engine.short(n) == 0)
        .collect();
    // What money buys in is worked out first, on both cores.
    let market = money::market(&engine);
    let ((), drafts) = rayon::join(
        || {
            if let Some(market) = market {
                money::allocate(&mut engine, market);
            }
            engine.top_up();
            money::consolidate_purchases(&mut engine);
        },
        || output::draft(problem, &goods_lines, &served, explain),
    );
    drop(goods_lines);
    // The networks kept for their memory, on this thread and on every worker of the pool.
    flow::release_spare_networks();
    rayon::broadcast(|_| flow::release_spare_networks());
    output::write(&engine, drafts, explain)
}

/// Sources of a money pile per block: the last pass walks a pile richest first (as the
/// sources were when it began) and most of them have been drained by then, so each block
/// keeps the most any of its sources still holds and a need passes over the blocks that
/// cannot pay one unit.
const BLOCK: usize = 64;

struct PileBlocks {
    /// Per pile, per block of `BLOCK` entries: the most one of them holds.
    most: Vec<Vec<i64>>,
    /// Per entry: the piles it is in and its place there.
    places: Vec<Vec<(usize, usize)>>,
}

impl PileBlocks {
    fn new(index: &EarmarkIndex, entries: usize, holds: impl Fn(u32) -> i64) -> PileBlocks {
        let mut places = vec![Vec::new(); entries];
        let most = (0..index.pile_count())
            .map(|p| {
                let pile = index.pile(p);
                for (at, &c) in pile.iter().enumerate() {
                    places[c as usize].push((p, at));
                }
                pile.chunks(BLOCK)
                    .map(|block| most_of(block, &holds))
                    .collect()
            })
            .collect();
        PileBlocks { most, places }
    }

    /// Entry `c` holds less than before: its blocks are measured again.
    fn measure(&mut self, index: &EarmarkIndex, c: u32, holds: impl Fn(u32) -> i64) {
        for &(p, at) in &self.places[c as usize] {
            let pile = index.pile(p);
            let start = at / BLOCK * BLOCK;
            let block = &pile[start..(start + BLOCK).min(pile.len())];
            self.most[p][at / BLOCK] = most_of(block, &holds);
        }
    }
}

/// The most any entry of `block` holds.
fn most_of(block: &[u32], holds: &impl Fn(u32) -> i64) -> i64 {
    block.iter().map(|&c| holds(c)).max().unwrap_or(0)
}

/// One line of the plan while it is being made. Kept small: a national plan holds millions of
/// them before purchases are re-dealt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    need: u32,
    source: u32,
    /// `NO_OFFER` when the line buys through no offer.
    offer: u32,
    pub quantity: i64,
}

const NO_OFFER: u32 = u32::MAX;

impl Line {
    pub fn new(need: usize, source: usize, offer: Option<usize>, quantity: i64) -> Line {
        let index = |i: usize| u32::try_from(i).expect("fewer than 2^32 records");
        Line {
            need: index(need),
            source: index(source),
            offer: offer.map_or(NO_OFFER, index),
            quantity,
        }
    }

    pub fn need(&self) -> usize {
        self.need as usize
    }

    pub fn source(&self) -> usize {
        self.source as usize
    }

    pub fn offer(&self) -> Option<usize> {
        (self.offer != NO_OFFER).then_some(self.offer as usize)
    }
}

/// Which fair share a need received: the stage, the round, and the level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share {
    pub round: usize,
    pub level: Level,
}

pub(crate) struct Engine<'a> {
    pub problem: &'a Problem,
    /// Units each need has received so far.
    pub have: Vec<i64>,
    /// What is left of each source (units for goods, fen for money).
    pub left: Vec<i64>,
    /// Units bought through each offer.
    pub bought: Vec<i64>,
    pub lines: Vec<Line>,
    /// The last fair share each need took part in, for its explanation.
    pub shares: Vec<Option<Share>>,
    /// Position of each need when sorted by id: ties go to the lower. Shared by forks.
    pub rank: Arc<[usize]>,
    pub next_round: usize,
}

impl<'a> Engine<'a> {
    fn new(problem: &'a Problem) -> Engine<'a> {
        let mut by_id: Vec<usize> = (0..problem.needs.len()).collect();
        by_id.par_sort_by(|&a, &b| problem.needs[a].id.cmp(&problem.needs[b].id));
        let mut rank = vec![0; problem.needs.len()];
        for (position, &n) in by_id.iter().enumerate() {
            rank[n] = position;
        }
        Engine {
            problem,
            have: vec![0; problem.needs.len()],
            left: problem.sources.iter().map(|s| s.quantity).collect(),
            bought: vec![0; problem.offers.len()],
            lines: Vec::new(),
            shares: vec![None; problem.needs.len()],
            rank: rank.into(),
            next_round: 0,
        }
    }

    /// A fresh engine over the same problem and what is left, for one part of the work. It
    /// keeps no shares: a part reports its own.
    pub fn fork(&self) -> Engine<'a> {
        Engine {
            problem: self.problem,
            have: self.have.clone(),
            left: self.left.clone(),
            bought: self.bought.clone(),
            lines: Vec::new(),
            shares: Vec::new(),
            rank: Arc::clone(&self.rank),
            next_round: 0,
        }
    }

    pub fn short(&self, n: usize) -> i64 {
        self.problem.needs[n].quantity - self.have[n]
    }

    pub fn give(&mut self, need: usize, source: usize, offer: Option<usize>, quantity: i64) {
        if quantity > 0 {
            self.have[need] += quantity;
            self.record(need, source, offer, quantity);
        }
    }

    /// Gives `quantity` units of goods from lot `lot`: no offer and no rate to look up.
    pub fn give_goods(&mut self, need: usize, lot: usize, quantity: i64) {
        if quantity > 0 {
            self.have[need] += quantity;
            self.left[lot] -= quantity;
            debug_assert!(self.left[lot] >= 0, "lot {lot} overdrawn");
            self.lines.push(Line::new(need, lot, None, quantity));
        }
    }

    /// Writes a line for units already counted in `have`.
    pub fn record(&mut self, need: usize, source: usize, offer: Option<usize>, quantity: i64) {
        if quantity <= 0 {
            return;
        }
        match offer {
            Some(o) => {
                self.left[source] -= quantity * self.problem.offers[o].unit_price;
                self.bought[o] += quantity;
            }
            None => {
                let per_unit = self.problem.needs[need]
                    .rate
                    .filter(|_| self.is_money(source));
                self.left[source] -= quantity * per_unit.unwrap_or(1);
            }
        }
        debug_assert!(self.left[source] >= 0, "source {source} overdrawn");
        self.lines.push(Line::new(need, source, offer, quantity));
    }

    fn is_money(&self, source: usize) -> bool {
        self.problem.sources[source].item.is_none()
    }

    /// Splits `units` among `needs` so the emptiest rise first (largest remainder, ties by id).
    pub fn split(&self, needs: &[usize], units: i64) -> Vec<i64> {
        let parts: Vec<(i128, i128)> = needs
            .iter()
            .map(|&n| (self.problem.needs[n].quantity as i128, self.have[n] as i128))
            .collect();
        let ranks: Vec<usize> = needs.iter().map(|&n| self.rank[n]).collect();
        split_by_level(&parts, &ranks, units)
    }

    /// A last pass, in class order and emptiest first, that hands out anything still usable:
    /// whole units the aggregated rounding could not place.
    fn top_up(&mut self) {
        let problem = self.problem;
        // Sorted on copied keys (class, have, asked, rank), on all cores.
        let mut keyed: Vec<(u8, i64, i64, usize, usize)> = (0..problem.needs.len())
            .filter(|&n| self.short(n) > 0)
            .map(|n| {
                let need = &problem.needs[n];
                (need.class, self.have[n], need.quantity, self.rank[n], n)
            })
            .collect();
        keyed.par_sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then(((a.1 as i128) * b.2 as i128).cmp(&((b.1 as i128) * a.2 as i128)))
                .then(a.3.cmp(&b.3))
        });
        let short: Vec<usize> = keyed.into_iter().map(|key| key.4).collect();
        let mut goods_by_item: FxHashMap<Sym, Vec<usize>> = FxHashMap::default();
        let mut money: Vec<usize> = Vec::new();
        for (s, source) in problem.sources.iter().enumerate() {
            match source.item {
                Some(item) => goods_by_item.entry(item).or_default().push(s),
                None => money.push(s),
            }
        }
        // Only lots with something left can help.
        let mut lots_by_item: FxHashMap<Sym, (Vec<usize>, EarmarkIndex)> = FxHashMap::default();
        for (item, mut lots) in goods_by_item {
            lots.retain(|&s| self.left[s] > 0);
            let index = EarmarkIndex::new(lots.iter().map(|&s| &problem.sources[s].earmark));
            lots_by_item.insert(item, (lots, index));
        }
        let mut candidates = Vec::new();
        for &n in &short {
            let need = &problem.needs[n];
            if let Some((lots, index)) = lots_by_item.get(&need.item) {
                index.candidates(need, &mut candidates);
                for s in candidates.iter().map(|&c| lots[c as usize]) {
                    if self.short(n) == 0 {
                        break;
                    }
                    if self.left[s] > 0 && problem.sources[s].may_serve(need, problem.today) {
                        let take = self.left[s].min(self.short(n));
                        self.give_goods(n, s, take);
                    }
                }
            }
        }
        let mut offers_by_item: FxHashMap<Sym, Vec<usize>> = FxHashMap::default();
        for (o, offer) in problem.offers.iter().enumerate() {
            offers_by_item.entry(offer.item).or_default().push(o);
        }
        for offers in offers_by_item.values_mut() {
            offers.sort_by_key(|&o| problem.offer_order(o));
        }
        // Each pile richest first: once a source held less than a need's cheapest unit when
        // this pass began, so does every source after it.
        let mut money_index = EarmarkIndex::new(money.iter().map(|&s| &problem.sources[s].earmark));
        let held: Vec<i64> = money.iter().map(|&s| self.left[s]).collect();
        money_index.order_piles_by(|c| (std::cmp::Reverse(held[c as usize]), c));
        let mut blocks = PileBlocks::new(&money_index, money.len(), |c| held[c as usize]);
        // Per item and date, the offers that arrive in time, cheapest first.
        let mut reaching: FxHashMap<(Sym, Option<NaiveDate>), Vec<usize>> = FxHashMap::default();
        let mut usable: Vec<usize> = Vec::new();
        for &n in &short {
            let need = &problem.needs[n];
            // Only offers with capacity left that arrive in time can sell to this need.
            usable.clear();
            if need.rate.is_none() {
                let offers = reaching
                    .entry((need.item, need.needed_by))
                    .or_insert_with(|| {
                        let offers = offers_by_item
                            .get(&need.item)
                            .map_or(&[][..], Vec::as_slice);
                        let arrive =
                            |o: &&usize| problem.offers[**o].may_serve(need, problem.today);
                        offers.iter().filter(arrive).copied().collect()
                    });
                offers.retain(|&o| self.bought[o] < problem.offers[o].capacity);
                usable.extend_from_slice(offers);
            }
            let Some(mut least) = self.least_unit(need, &usable) else {
                continue;
            };
            'piles: for p in money_index.piles(need) {
                let pile = money_index.pile(p);
                let mut end = pile.partition_point(|&c| held[c as usize] >= least);
                let mut at = 0;
                while at < end {
                    // A block whose richest source cannot pay a unit any more is passed over.
                    if blocks.most[p][at / BLOCK] < least {
                        at = (at / BLOCK + 1) * BLOCK;
                        continue;
                    }
                    let c = pile[at];
                    at += 1;
                    let s = money[c as usize];
                    if self.left[s] < least || !problem.sources[s].may_serve(need, problem.today) {
                        continue;
                    }
                    self.buy_for(n, s, &usable);
                    blocks.measure(&money_index, c, |c| self.left[money[c as usize]]);
                    usable.retain(|&o| self.bought[o] < problem.offers[o].capacity);
                    match self.least_unit(need, &usable) {
                        Some(price) if self.short(n) > 0 => least = price,
                        _ => break 'piles,
                    }
                    end = pile.partition_point(|&c| held[c as usize] >= least);
                }
            }
        }
    }

    /// The least a source must hold to pay one unit for `need`: its rate, or the cheapest of
    /// the offers it may buy through.
    fn least_unit(&self, need: &instance::Need, offers: &[usize]) -> Option<i64> {
        match need.rate {
            Some(rate) => Some(rate),
            None => offers
                .iter()
                .map(|&o| self.problem.offers[o].unit_price)
                .min(),
        }
    }

    /// Pays from money source `s` what it can for need `n`: at the need's rate, or through
    /// `offers` in order.
    fn buy_for(&mut self, n: usize, s: usize, offers: &[usize]) {
        let problem = self.problem;
        if let Some(rate) = problem.needs[n].rate {
            let take = (self.left[s] / rate).min(self.short(n));
            self.give(n, s, None, take);
            return;
        }
        for &o in offers {
            let offer = &problem.offers[o];
            if self.short(n) == 0 || self.left[s] < offer.unit_price {
                continue;
            }
            let take = (offer.capacity - self.bought[o])
                .min(self.left[s] / offer.unit_price)
                .min(self.short(n));
            self.give(n, s, Some(o), take);
        }
    }
}

/// Splits `units` among `parts` (asked, has) so the emptiest rise first: whole units below the
/// common level, then one more each by largest remainder (ties by `ranks`), then whatever is
/// left (only when levels hit the top) to anyone still short, in order.
pub(crate) fn split_by_level(parts: &[(i128, i128)], ranks: &[usize], units: i64) -> Vec<i64> {
    let level = water_level(parts, units as i128);
    let mut given: Vec<i64> = Vec::with_capacity(parts.len());
    let mut remainders: Vec<(i128, usize)> = Vec::new();
    for (i, &(asked, has)) in parts.iter().enumerate() {
        let exact = (level.num * asked - has * level.den).max(0);
        let whole = (exact / level.den).min(asked - has);
        given.push(whole as i64);
        if whole < asked - has && exact % level.den > 0 {
            remainders.push((exact % level.den, i));
        }
    }
    let mut spare = units - given.iter().sum::<i64>();
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(ranks[a.1].cmp(&ranks[b.1])));
    for (_, i) in remainders {
        if spare == 0 {
            break;
        }
        given[i] += 1;
        spare -= 1;
    }
    for (i, &(asked, has)) in parts.iter().enumerate() {
        let room = (asked - has) as i64 - given[i];
        let extra = room.min(spare).max(0);
        given[i] += extra;
        spare -= extra;
    }
    given
}

/// Needs for the engine's earmark tests: ten masks each for an elder and a resident of
/// district a, and for an elder of district b who needs them by 2020-02-12.
#[cfg(test)]
pub(crate) fn earmark_test_needs() -> serde_json::Value {
    let need = |id: &str, district: &str, group: &str| {
        serde_json::json!({"id": id, "community": "c", "district": district,
            "item": "mask", "quantity": 10, "urgency": "high", "group": group})
    };
    let mut needs = vec![
        need("elder_a", "a", "elders_living_alone"),
        need("resident_a", "a", "residents"),
        need("elder_b", "b", "elders_living_alone"),
    ];
    needs[2]["needed_by"] = "2020-02-12".into();
    serde_json::Value::Array(needs)
}

/// A key that keeps nearby points near each other when sorted (Morton order).
pub(crate) fn place_key(location: Option<[f64; 2]>) -> u64 {
    let Some([lat, lon]) = location else {
        return u64::MAX;
    };
    let y = (((lat + 90.0) / 180.0) * 65535.0) as u64;
    let x = (((lon + 180.0) / 360.0) * 65535.0) as u64;
    let spread = |mut v: u64| {
        v &= 0xffff;
        v = (v | (v << 8)) & 0x00ff_00ff;
        v = (v | (v << 4)) & 0x0f0f_0f0f;
        v = (v | (v << 2)) & 0x3333_3333;
        (v | (v << 1)) & 0x5555_5555
    };
    spread(x) | (spread(y) << 1)
}

/// Great-circle distance in kilometres.
pub(crate) fn distance_km(a: Option<[f64; 2]>, b: Option<[f64; 2]>) -> Option<f64> {
    let ([lat1, lon1], [lat2, lon2]) = (a?, b?);
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    Some(2.0 * 6371.0 * h.sqrt().min(1.0).asin())
}
