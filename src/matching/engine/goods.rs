//! Stage one: goods already held or pledged, item by item.

use chrono::NaiveDate;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::eligible::Pools;
use super::fair::{Demand, FairProblem, Group};
use super::instance::{Earmark, Sym};
use super::{place_key, Engine, Line, Share};

pub(super) fn allocate(engine: &mut Engine) {
    let problem = engine.problem;
    let mut needs_by_item: FxHashMap<Sym, Vec<usize>> = FxHashMap::default();
    for (n, need) in problem.needs.iter().enumerate() {
        if need.rate.is_none() {
            needs_by_item.entry(need.item).or_default().push(n);
        }
    }
    let mut needs_by_item: Vec<(Sym, Vec<usize>)> = needs_by_item.into_iter().collect();
    needs_by_item.sort_unstable_by_key(|&(item, _)| item);
    let mut lots_by_item: FxHashMap<Sym, Vec<usize>> = FxHashMap::default();
    for (s, source) in problem.sources.iter().enumerate() {
        if let Some(item) = source.item {
            let expired = source.expires.is_some_and(|e| e < problem.today);
            if source.quantity > 0 && !expired {
                lots_by_item.entry(item).or_default().push(s);
            }
        }
    }
    let work: Vec<(Vec<usize>, &Vec<usize>)> = needs_by_item
        .into_iter()
        .filter_map(|(item, needs)| Some((needs, lots_by_item.get(&item)?)))
        .collect();
    // Items share nothing in this stage: plan them on all cores and merge in item order, so
    // the plan is the same whatever the scheduling. An item touches only its own needs and
    // lots, so the items of one job share one engine, which keeps only what each decided.
    let done: Vec<Decided> = work
        .par_iter()
        .map_init(
            || engine.fork(),
            |part, (needs, lots)| {
                let shares = allocate_item(part, needs, lots);
                Decided {
                    shares,
                    lines: std::mem::take(&mut part.lines),
                    rounds: std::mem::replace(&mut part.next_round, 0),
                }
            },
        )
        .collect();
    engine
        .lines
        .reserve(done.iter().map(|part| part.lines.len()).sum());
    for part in done {
        let offset = engine.next_round;
        for line in &part.lines {
            engine.give_goods(line.need(), line.source(), line.quantity);
        }
        for (n, share) in part.shares {
            engine.shares[n] = Some(Share {
                round: share.round + offset,
                ..share
            });
        }
        engine.next_round += part.rounds;
    }
}

/// What one item's allocation decided: its lines, the shares its needs took part in, and how
/// many rounds it took.
struct Decided {
    lines: Vec<Line>,
    shares: Vec<(usize, Share)>,
    rounds: usize,
}

/// Lots that are interchangeable for every need of the item.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LotKey<'a> {
    earmark: &'a Earmark,
    /// How many of the item's distinct `needed_by` dates the lot still covers before expiring.
    covers: usize,
    /// How many of them come before the lot is available.
    too_early: usize,
}

/// Plans one item's needs from its lots; returns the shares its needs took part in.
fn allocate_item(engine: &mut Engine, needs: &[usize], lots: &[usize]) -> Vec<(usize, Share)> {
    let problem = engine.problem;
    let today = problem.today;
    let mut dates: Vec<NaiveDate> = needs
        .iter()
        .filter_map(|&n| problem.needs[n].needed_by)
        .collect();
    dates.sort_unstable();
    dates.dedup();

    let mut key_index: FxHashMap<LotKey, usize> = FxHashMap::default();
    let mut lot_groups: Vec<Vec<usize>> = Vec::new();
    for &s in lots {
        let source = &problem.sources[s];
        let key = LotKey {
            earmark: &source.earmark,
            covers: source
                .expires
                .map_or(usize::MAX, |e| dates.partition_point(|d| *d <= e)),
            too_early: source
                .available_from
                .map_or(0, |a| dates.partition_point(|d| *d < a)),
        };
        let index = *key_index.entry(key).or_insert_with(|| {
            lot_groups.push(Vec::new());
            lot_groups.len() - 1
        });
        lot_groups[index].push(s);
    }

    let pools = Pools::new(lot_groups.iter().map(|members| {
        let source = &problem.sources[members[0]];
        (&source.earmark, source.available_from, source.expires)
    }));
    // Needs that are interchangeable: same class, same pools.
    let mut need_index: FxHashMap<(u8, Vec<u32>), usize> = FxHashMap::default();
    let mut need_groups: Vec<(u8, Vec<u32>, Vec<usize>)> = Vec::new();
    for &n in needs {
        let need = &problem.needs[n];
        let own = pools.of(need, |g| {
            problem.sources[lot_groups[g as usize][0]].may_serve(need, today)
        });
        if own.is_empty() {
            continue;
        }
        let key = (need.class, own);
        let index = match need_index.get(&key) {
            Some(&index) => index,
            None => {
                need_groups.push((key.0, key.1.clone(), Vec::new()));
                need_index.insert(key, need_groups.len() - 1);
                need_groups.len() - 1
            }
        };
        need_groups[index].2.push(n);
    }
    let mut shares = Vec::new();
    if need_groups.is_empty() {
        return shares;
    }

    let mut fair = FairProblem {
        supplies: lot_groups
            .iter()
            .map(|members| members.iter().map(|&s| engine.left[s] as i128).sum())
            .collect(),
        pools: pools.lists,
        groups: Vec::new(),
    };
    let rising = |g: usize| {
        let group_needs = &need_groups[g].2;
        Group {
            shape: None,
            supplies: need_groups[g].1.clone(),
            demand: Demand::Rising {
                weight: group_needs
                    .iter()
                    .map(|&n| problem.needs[n].quantity as i128)
                    .sum(),
                base: 0,
                unit: 1,
                rank: group_needs
                    .iter()
                    .map(|&n| engine.rank[n])
                    .min()
                    .unwrap_or(0),
            },
        }
    };
    let classes: Vec<Vec<usize>> = (0..6u8)
        .map(|class| {
            (0..need_groups.len())
                .filter(|&g| need_groups[g].0 == class)
                .collect::<Vec<usize>>()
        })
        .filter(|groups| !groups.is_empty())
        .collect();
    // The first classes are often served in full: those that can all be at once need no fair
    // share worked out (each would end full, in its own round, whatever came after).
    fair.groups = classes.iter().flatten().map(|&g| rising(g)).collect();
    let mut tiers = Vec::new();
    for class in &classes {
        let first = tiers
            .last()
            .map_or(0, |tier: &std::ops::Range<usize>| tier.end);
        tiers.push(first..first + class.len());
    }
    let in_full = fair.tiers_fillable_in_full(&tiers);
    // The same groups join the problem again class by class, in this order.
    let mut groups = std::mem::take(&mut fair.groups).into_iter();
    let mut members: Vec<usize> = Vec::new(); // fair group → need group
    for (c, class) in classes.iter().enumerate() {
        let first = fair.groups.len();
        fair.groups.extend(groups.by_ref().take(class.len()));
        members.extend(class);
        let levels = if c < in_full {
            fair.fill_in_full(first, engine.next_round)
        } else {
            fair.solve(engine.next_round)
        };
        for (f, level) in levels.iter().enumerate().skip(first) {
            if let Some((level, round)) = level {
                for &n in &need_groups[members[f]].2 {
                    let share = Share {
                        round: *round,
                        level: *level,
                    };
                    shares.push((n, share));
                }
                engine.next_round = engine.next_round.max(round + 1);
            }
        }
    }

    hand_out(engine, &fair, &members, &need_groups, &lot_groups);
    shares
}

/// A group's units split among its needs (emptiest first), the needs in space-filling order.
fn nearby_order(engine: &Engine, needs: &[usize], units: i64) -> Vec<(usize, i64)> {
    let problem = engine.problem;
    let shares = engine.split(needs, units);
    let mut keyed: Vec<(u64, usize, usize, i64)> = needs
        .iter()
        .zip(shares)
        .filter(|&(_, units)| units > 0)
        .map(|(&n, units)| {
            (
                place_key(problem.needs[n].location),
                engine.rank[n],
                n,
                units,
            )
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(.., n, units)| (n, units)).collect()
}

/// Turns group amounts into lines: needs get whole units (emptiest first), lots are used
/// soonest expiry first, then in space-filling order so nearby lots go to nearby needs.
fn hand_out(
    engine: &mut Engine,
    fair: &FairProblem,
    members: &[usize],
    need_groups: &[(u8, Vec<u32>, Vec<usize>)],
    lot_groups: &[Vec<usize>],
) {
    let problem = engine.problem;
    let routes = fair.route();
    // Sort keys are made once per lot and need: a sort reads them many times, and each read of
    // a source or need record is a miss in the cache.
    let mut queues: Vec<Vec<usize>> = lot_groups
        .iter()
        .map(|lots| {
            let mut keyed: Vec<(bool, Option<NaiveDate>, u64, usize)> = lots
                .iter()
                .map(|&s| {
                    let source = &problem.sources[s];
                    let place = place_key(source.location);
                    (source.expires.is_none(), source.expires, place, s)
                })
                .collect();
            keyed.sort_unstable();
            // Popped from the back.
            keyed.into_iter().rev().map(|(.., s)| s).collect()
        })
        .collect();
    let mut wanted: Vec<(usize, i64)> = Vec::new();
    for (f, route) in routes.into_iter().enumerate() {
        let units = fair.amount(f) as i64;
        if units == 0 {
            continue;
        }
        wanted.clear();
        match need_groups[members[f]].2[..] {
            // A group of one need: it takes all (a group never gets more than it asks).
            [n] => wanted.push((n, units.min(engine.short(n)))),
            ref needs => wanted.extend(nearby_order(engine, needs, units)),
        }
        let mut cursor = 0;
        for (lot_group, amount) in route {
            let mut amount = amount as i64;
            while amount > 0 && cursor < wanted.len() {
                let queue = &mut queues[lot_group as usize];
                let Some(&lot) = queue.last() else { break };
                let take = amount.min(wanted[cursor].1).min(engine.left[lot]);
                engine.give_goods(wanted[cursor].0, lot, take);
                amount -= take;
                wanted[cursor].1 -= take;
                if wanted[cursor].1 == 0 {
                    cursor += 1;
                }
                if engine.left[lot] == 0 {
                    queues[lot_group as usize].pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::matching::engine::{plan, Instance};

    /// Units each need got, by id.
    fn received(instance: serde_json::Value) -> Vec<(String, i64)> {
        let instance: Instance = serde_json::from_value(instance).unwrap();
        let plan = plan(&instance).unwrap();
        let mut got: Vec<(String, i64)> = Vec::new();
        for line in plan.allocations {
            match got.iter_mut().find(|(need, _)| **need == *line.need) {
                Some(entry) => entry.1 += line.quantity,
                None => got.push((line.need.to_string(), line.quantity)),
            }
        }
        got.sort();
        got
    }

    #[test]
    fn pools_keep_earmarks_on_several_lists_and_dates() {
        let got = received(serde_json::json!({
            "today": "2020-02-10",
            "needs": crate::matching::engine::earmark_test_needs(),
            "sources": [
                // Only elders in district a.
                {"id": "l1", "kind": "stock", "item": "mask", "quantity": 10,
                 "earmark": {"districts": ["a"], "groups": ["elders_living_alone"]}},
                // Open, but arrives after elder_b's date.
                {"id": "l2", "kind": "pledge", "item": "mask", "quantity": 10,
                 "available_from": "2020-02-15"}
            ]
        }));
        assert_eq!(
            got,
            vec![("elder_a".to_owned(), 10), ("resident_a".to_owned(), 10)]
        );
    }
}
