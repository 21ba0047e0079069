//! Max-min fair filling of groups from shared supply (MATCHING.md rules 3 and 4), exact.
//!
//! Groups draw from the supply nodes they are eligible for. A *rising* group wants `weight`
//! flow units to be full and already has `base` from elsewhere; its fill fraction is
//! `(base + flow) / weight`. Fixed groups keep exactly their amount but may be re-routed, so a
//! higher class never blocks a lower one needlessly.
//!
//! Decomposition (Fujishige's algorithm for a lexicographically optimal base): take the level
//! `t` at which the rising groups would use up all the supply if nothing restricted them, and
//! compute a maximum flow with every rising group asking for its share at `t`. If it goes
//! through, every rising group ends at exactly `t`. If not, the minimum cut splits the problem
//! in two that share nothing: the groups behind the cut can only use the supply behind it (all
//! of it, at levels below `t`), the others never need it (they end at `t` or above). Each half
//! is solved the same way. Exact rational arithmetic throughout; the levels found are the exact
//! max-min fair fractions of the continuous problem, and each final part is then rounded to
//! whole units by largest remainder on its own small network.

use num_integer::Integer;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::flow::{Cap, EdgeId, FlowNetwork, INFINITE};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Demand {
    /// Already decided: exactly this many flow units.
    Fixed(Cap),
    /// To be filled fairly. `unit` flow units make one whole unit of the need (1 for goods,
    /// the price in fen for purchases). `rank` breaks remainder ties (lower first).
    Rising {
        weight: Cap,
        base: Cap,
        unit: Cap,
        rank: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Group {
    /// What the group may draw on: supplies, or pools when the problem has pools.
    pub supplies: Vec<u32>,
    pub demand: Demand,
    /// What a rising group looked like before it was frozen: weight, base, unit, rank.
    pub shape: Option<(Cap, Cap, Cap, usize)>,
}

#[derive(Debug, Clone, Default)]
pub struct FairProblem {
    pub supplies: Vec<Cap>,
    /// Optional: supplies that many groups reach together (say, every lot open to one district
    /// on one date), each a list of supplies. With pools, a group lists the pools it draws on,
    /// and the network stays linear in size where listing every supply would multiply.
    pub pools: Vec<Vec<u32>>,
    pub groups: Vec<Group>,
}

/// A level as an exact fraction `num / den`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub num: Cap,
    pub den: Cap,
}

impl Level {
    const FULL: Level = Level { num: 1, den: 1 };

    fn new(num: Cap, den: Cap) -> Level {
        let g = num.gcd(&den).max(1);
        Level {
            num: num / g,
            den: den / g,
        }
    }

    /// Per cent, rounded down, for explanations.
    pub fn percent(self) -> i128 {
        self.num * 100 / self.den
    }
}

/// The level `t ≤ 1` at which `Σ max(0, t·weight − base)` over `parts` equals `amount`
/// (water filling: the emptiest rise first).
pub fn water_level(parts: &[(Cap, Cap)], amount: Cap) -> Level {
    let mut rising: Vec<(Cap, Cap)> = parts.iter().copied().filter(|p| p.0 > 0).collect();
    // Emptiest first; when none has anything yet they all rise from zero together.
    if rising.iter().any(|p| p.1 > 0) {
        rising.sort_unstable_by(|a, b| (a.1 * b.0).cmp(&(b.1 * a.0)));
    }
    let (mut weights, mut bases) = (0, 0);
    // Reduced once at the end: the comparisons do not need it, and a gcd per step is slow.
    let (mut num, mut den) = (0, 1);
    for (i, &(weight, base)) in rising.iter().enumerate() {
        weights += weight;
        bases += base;
        (num, den) = (amount + bases, weights);
        if rising.get(i + 1).is_none_or(|&(w, b)| num * w <= b * den) {
            break;
        }
    }
    if num >= den {
        Level::FULL
    } else {
        Level::new(num, den)
    }
}

/// The flow network: source → supply → (pool →) eligibility set → sink, one edge to the sink
/// per group. Groups with the same eligible supplies (or pools) share one eligibility-set node,
/// which keeps the edges few when many groups draw on the same supplies.
struct Built {
    net: FlowNetwork,
    demand_edges: Vec<EdgeId>,
    supply_edges: Vec<EdgeId>,
    /// Per pool: the edges from its supplies.
    pool_edges: Vec<Vec<(u32, EdgeId)>>,
    /// Per eligibility set: the edges from its supplies (or pools).
    set_edges: Vec<Vec<(u32, EdgeId)>>,
    /// Per group: its eligibility set.
    group_sets: Vec<usize>,
    first_set: usize,
    total_demand: Cap,
}

impl Built {
    /// The node a group's flow passes through: its eligibility set's.
    fn group_node(&self, g: usize) -> usize {
        self.first_set + self.group_sets[g]
    }
}

const SOURCE: usize = 0;
const SINK: usize = 1;

/// A rising group once solved: its fixed demand, shape, level and round.
type Frozen = (Demand, Option<(Cap, Cap, Cap, usize)>, (Level, usize));

/// Cancels up to `amount` of the flow on `edges` (first edges first), calling `upstream` with
/// each edge's tail and the amount taken off it; returns what could not be cancelled.
fn cancel_from(
    net: &mut FlowNetwork,
    edges: &[(u32, EdgeId)],
    mut amount: Cap,
    mut upstream: impl FnMut(&mut FlowNetwork, u32, Cap),
) -> Cap {
    for &(tail, edge) in edges {
        if amount == 0 {
            break;
        }
        let take = net.flow(edge).min(amount);
        if take > 0 {
            net.cancel(edge, take);
            upstream(net, tail, take);
            amount -= take;
        }
    }
    amount
}

/// Some of a problem's groups and supplies.
struct Members {
    groups: Vec<bool>,
    supplies: Vec<bool>,
}

impl Members {
    fn all(problem: &FairProblem) -> Members {
        Members {
            groups: vec![true; problem.groups.len()],
            supplies: vec![true; problem.supplies.len()],
        }
    }

    fn any(&self) -> bool {
        self.groups
            .iter()
            .chain(&self.supplies)
            .any(|&member| member)
    }

    fn group_list(&self) -> Vec<usize> {
        (0..self.groups.len()).filter(|&g| self.groups[g]).collect()
    }

    /// These but for `others`.
    fn without(self, others: &Members) -> Members {
        let but = |mine: Vec<bool>, theirs: &[bool]| {
            mine.into_iter()
                .zip(theirs)
                .map(|(m, &t)| m && !t)
                .collect()
        };
        Members {
            groups: but(self.groups, &others.groups),
            supplies: but(self.supplies, &others.supplies),
        }
    }
}

/// A network a part keeps from the part it was cut from, and which groups and supplies in it
/// are still the part's own (the others went in front of a cut and were emptied).
struct Inherited {
    built: Built,
    own: Members,
}

/// A final part of the decomposition: groups that all end at one level, with the supply that
/// only they use.
struct Leaf {
    level: Level,
    part: FairProblem,
    /// Per group of the part, its index in the whole problem.
    ids: Vec<usize>,
    /// The index in the whole problem of the part's first group of its own.
    first: usize,
    built: Built,
}

impl FairProblem {
    fn supply_node(&self, s: u32) -> usize {
        2 + s as usize
    }

    /// The node a group's entry (a supply, or a pool: numbered among the pools in use)
    /// stands for.
    fn entry_node(&self, entry: u32, pool_nodes: &[u32]) -> usize {
        if self.pools.is_empty() {
            self.supply_node(entry)
        } else {
            2 + self.supplies.len() + pool_nodes[entry as usize] as usize
        }
    }

    /// The network with every supply multiplied by `scale` and group demands given.
    fn build(&self, scale: Cap, demands: &[Cap]) -> Built {
        let mut set_index: FxHashMap<&[u32], usize> = FxHashMap::default();
        let mut sets: Vec<&[u32]> = Vec::new();
        let group_sets: Vec<usize> = self
            .groups
            .iter()
            .map(|group| {
                *set_index.entry(&group.supplies).or_insert_with(|| {
                    sets.push(&group.supplies);
                    sets.len() - 1
                })
            })
            .collect();
        // Only the pools some group draws on get a node and edges: an item has thousands of
        // pools, and the groups of one class or one part of it use few of them.
        let mut pool_nodes = vec![u32::MAX; self.pools.len()];
        let mut pools_used = 0;
        if !self.pools.is_empty() {
            for &p in self.groups.iter().flat_map(|group| &group.supplies) {
                if pool_nodes[p as usize] == u32::MAX {
                    pool_nodes[p as usize] = pools_used;
                    pools_used += 1;
                }
            }
        }
        let first_set = 2 + self.supplies.len() + pools_used as usize;
        let edges = self.supplies.len()
            + (self.pools.iter().zip(&pool_nodes))
                .filter(|(_, &node)| node != u32::MAX)
                .map(|(pool, _)| pool.len())
                .sum::<usize>()
            + sets.iter().map(|s| s.len()).sum::<usize>()
            + self.groups.len();
        let bound = self.bound(scale, demands);
        let mut net = FlowNetwork::with_bound(first_set + sets.len(), edges, bound);
        let supply_edges = (0..self.supplies.len())
            .map(|s| net.add_edge(SOURCE, self.supply_node(s as u32), self.supplies[s] * scale))
            .collect();
        let pool_edges = (0..self.pools.len())
            .map(|p| {
                if pool_nodes[p] == u32::MAX {
                    return Vec::new();
                }
                let node = self.entry_node(p as u32, &pool_nodes);
                self.pools[p]
                    .iter()
                    .map(|&s| (s, net.add_edge(self.supply_node(s), node, INFINITE)))
                    .collect()
            })
            .collect();
        let set_edges = sets
            .iter()
            .enumerate()
            .map(|(k, entries)| {
                entries
                    .iter()
                    .map(|&e| {
                        let from = self.entry_node(e, &pool_nodes);
                        (e, net.add_edge(from, first_set + k, INFINITE))
                    })
                    .collect()
            })
            .collect();
        let demand_edges = group_sets
            .iter()
            .zip(demands)
            .map(|(&k, &demand)| net.add_edge(first_set + k, SINK, demand))
            .collect();
        Built {
            net,
            demand_edges,
            supply_edges,
            pool_edges,
            set_edges,
            group_sets,
            first_set,
            total_demand: demands.iter().sum(),
        }
    }

    /// The most a network of this problem at `scale` with `demands` carries: nothing in it can
    /// carry more than the supply, nor ask more than the demands.
    fn bound(&self, scale: Cap, demands: &[Cap]) -> Cap {
        let supply = self.supplies.iter().sum::<Cap>().saturating_mul(scale);
        supply.saturating_add(demands.iter().sum::<Cap>())
    }

    /// Puts the capacities of `scale` and `demands` on a network built for these groups, with
    /// no flow: the structure is reused from one step to the next.
    fn reset(&self, built: &mut Built, scale: Cap, demands: &[Cap]) {
        for (s, &edge) in built.supply_edges.iter().enumerate() {
            built.net.set_capacity(edge, self.supplies[s] * scale);
        }
        for edges in built.pool_edges.iter().chain(&built.set_edges) {
            for &(_, edge) in edges {
                built.net.set_capacity(edge, INFINITE);
            }
        }
        for (&edge, &demand) in built.demand_edges.iter().zip(demands) {
            built.net.set_capacity(edge, demand);
        }
        built.total_demand = demands.iter().sum();
    }

    /// Demands at level `t`, scaled by `t.den`.
    fn demands_at(&self, t: Level) -> Vec<Cap> {
        self.groups
            .iter()
            .map(|group| match group.demand {
                Demand::Fixed(amount) => amount * t.den,
                Demand::Rising { weight, base, .. } => (t.num * weight - base * t.den).max(0),
            })
            .collect()
    }

    /// The groups `groups` with only the supplies marked in `kept` (renumbered; pools left
    /// empty are dropped).
    fn part(&self, groups: &[usize], kept: &[bool]) -> FairProblem {
        let mut local = vec![u32::MAX; self.supplies.len()];
        let mut supplies = Vec::new();
        for (s, &amount) in self.supplies.iter().enumerate() {
            if kept[s] {
                local[s] = supplies.len() as u32;
                supplies.push(amount);
            }
        }
        // Only the pools the part's groups draw on, each with its kept supplies: per pool, its
        // number in the part (`u32::MAX` when it keeps no supply), once a group draws on it.
        let mut pools = Vec::new();
        let mut local_pool: Vec<Option<u32>> = vec![None; self.pools.len()];
        if !self.pools.is_empty() {
            for &g in groups {
                for &p in &self.groups[g].supplies {
                    if local_pool[p as usize].is_some() {
                        continue;
                    }
                    let members: Vec<u32> = self.pools[p as usize]
                        .iter()
                        .map(|&s| local[s as usize])
                        .filter(|&s| s != u32::MAX)
                        .collect();
                    let id = if members.is_empty() {
                        u32::MAX
                    } else {
                        pools.push(members);
                        pools.len() as u32 - 1
                    };
                    local_pool[p as usize] = Some(id);
                }
            }
        }
        let entry = |e: u32| {
            if self.pools.is_empty() {
                local[e as usize]
            } else {
                local_pool[e as usize].expect("every pool of the part's groups is numbered")
            }
        };
        let groups = groups
            .iter()
            .map(|&g| {
                let group = &self.groups[g];
                Group {
                    supplies: group
                        .supplies
                        .iter()
                        .map(|&e| entry(e))
                        .filter(|&e| e != u32::MAX)
                        .collect(),
                    demand: group.demand.clone(),
                    shape: group.shape,
                }
            })
            .collect();
        FairProblem {
            supplies,
            pools,
            groups,
        }
    }

    /// The level at which the rising groups would use up all the supply left after the fixed
    /// ones if nothing restricted them (at most full). `None` when no group is rising.
    fn even_level(&self) -> Option<Level> {
        let rising: Vec<(Cap, Cap)> = self
            .groups
            .iter()
            .filter_map(|group| match group.demand {
                Demand::Rising { weight, base, .. } => Some((weight, base)),
                Demand::Fixed(_) => None,
            })
            .collect();
        if rising.is_empty() {
            return None;
        }
        let fixed: Cap = (0..self.groups.len()).map(|g| self.amount(g)).sum();
        let available = self.supplies.iter().sum::<Cap>() - fixed;
        Some(water_level(&rising, available.max(0)))
    }

    /// Splits the problem into final parts, each with the one level its rising groups end at.
    /// `ids` numbers the groups in the whole problem. The two sides of a cut share nothing, so
    /// they are split further on both cores. The side behind a cut is usually most of the
    /// problem: it keeps the network, with what went in front of the cut emptied, instead of
    /// being built again (`inherited`: that network and what is still this part's own).
    fn decompose(mut self, ids: Vec<usize>, inherited: Option<Inherited>) -> Vec<Leaf> {
        let Some(level) = self.even_level() else {
            return Vec::new(); // only fixed groups: routed at the end
        };
        let demands = self.demands_at(level);
        let (mut built, own) = match inherited {
            Some(Inherited { mut built, own })
                if built.net.holds(self.bound(level.den, &demands)) =>
            {
                self.reset(&mut built, level.den, &demands);
                (built, own)
            }
            Some(Inherited { own, .. }) => {
                // Too narrow for this level: made compact and built afresh.
                let groups = own.group_list();
                let ids = groups.iter().map(|&g| ids[g]).collect();
                return self.part(&groups, &own.supplies).decompose(ids, None);
            }
            None => (self.build(level.den, &demands), Members::all(&self)),
        };
        let flow = built.net.max_flow(SOURCE, SINK);
        // In front of the cut (reachable from the source): groups that end at this level or
        // above and never need the supply behind it. Behind: groups that only reach supply
        // behind the cut, all of which they need. Feasible fixed amounts always leave some
        // group or supply in front; if none is, the part cannot be split (and would be split
        // again forever).
        let front = (flow < built.total_demand).then(|| {
            let side = built.net.source_side(SOURCE);
            Members {
                groups: (0..self.groups.len())
                    .map(|g| own.groups[g] && side[built.group_node(g)])
                    .collect(),
                supplies: (0..self.supplies.len())
                    .map(|s| own.supplies[s] && side[self.supply_node(s as u32)])
                    .collect(),
            }
        });
        debug_assert!(
            front.as_ref().is_none_or(Members::any),
            "fixed amounts beyond the supply: {:?}",
            self.groups
        );
        let Some(front) = front.filter(Members::any) else {
            let first = ids[own.groups.iter().position(|&own| own).unwrap_or(0)];
            return vec![Leaf {
                level,
                part: self,
                ids,
                first,
                built,
            }];
        };
        let front_groups = front.group_list();
        let front_ids = front_groups.iter().map(|&g| ids[g]).collect();
        let front_part = self.part(&front_groups, &front.supplies);
        // This problem and its network go on as the side behind, the front emptied.
        for &g in &front_groups {
            self.groups[g].demand = Demand::Fixed(0);
        }
        for (supply, _) in self
            .supplies
            .iter_mut()
            .zip(&front.supplies)
            .filter(|(_, &f)| f)
        {
            *supply = 0;
        }
        let behind = Inherited {
            built,
            own: own.without(&front),
        };
        let (mut leaves, more) = rayon::join(
            || front_part.decompose(front_ids, None),
            || self.decompose(ids, Some(behind)),
        );
        leaves.extend(more);
        leaves
    }

    /// Fills every rising group as fairly as the supply allows; afterwards every group is
    /// fixed. Returns, per group, the level it was frozen at and the freeze round (numbered from
    /// `first_round` in order of level; groups of one round share their level).
    pub fn solve(&mut self, first_round: usize) -> Vec<Option<(Level, usize)>> {
        // Fixed groups with the same supplies are interchangeable for routing: solve with one
        // merged group each, which keeps the networks small as classes and passes pile up
        // fixed groups.
        let mut groups: Vec<Group> = Vec::new();
        let mut merged: FxHashMap<&[u32], usize> = FxHashMap::default();
        let mut rising = Vec::new();
        for (g, group) in self.groups.iter().enumerate() {
            match group.demand {
                Demand::Fixed(amount) => {
                    let c = *merged.entry(&group.supplies).or_insert_with(|| {
                        groups.push(Group {
                            demand: Demand::Fixed(0),
                            ..group.clone()
                        });
                        groups.len() - 1
                    });
                    if let Demand::Fixed(total) = &mut groups[c].demand {
                        *total += amount;
                    }
                }
                Demand::Rising { .. } => {
                    rising.push((g, groups.len()));
                    groups.push(group.clone());
                }
            }
        }
        let compact = FairProblem {
            supplies: self.supplies.clone(),
            pools: self.pools.clone(),
            groups,
        };
        let solved = compact.solve_compact(first_round);
        let mut levels = vec![None; self.groups.len()];
        for (g, c) in rising {
            if let Some((demand, shape, level)) = solved[c].clone() {
                self.groups[g].demand = demand;
                self.groups[g].shape = shape;
                levels[g] = Some(level);
            }
        }
        levels
    }

    /// How many of `tiers` (runs of rising groups, the first tier first) can be filled in full
    /// together: the longest run of tiers from the first whose groups all get what they ask
    /// at once, with the fixed groups keeping theirs. One network, flow added tier by tier.
    pub fn tiers_fillable_in_full(&self, tiers: &[std::ops::Range<usize>]) -> usize {
        let full = |g: usize| match self.groups[g].demand {
            Demand::Fixed(amount) => amount,
            Demand::Rising { weight, base, .. } => weight - base,
        };
        // Only tiers that together ask no more than all the supply can be filled: the network
        // needs no group of the others (the later classes, usually most of the groups).
        let supply: Cap = self.supplies.iter().sum();
        let fixed: Cap = (0..self.groups.len()).map(|g| self.amount(g)).sum();
        let mut wanted = fixed;
        let mut asking = Vec::new();
        for tier in tiers {
            let tier_wants: Cap = tier.clone().map(full).sum();
            if wanted + tier_wants > supply {
                break;
            }
            wanted += tier_wants;
            asking.push(tier_wants);
        }
        if asking.is_empty() {
            return 0;
        }
        let beyond = &tiers[asking.len()..];
        let groups: Vec<usize> = (0..self.groups.len())
            .filter(|g| !beyond.iter().any(|tier| tier.contains(g)))
            .collect();
        let part = self.part(&groups, &vec![true; self.supplies.len()]);
        let demands: Vec<Cap> = groups.iter().map(|&g| full(g)).collect();
        // Built for the full demands (so its width fits them), then closed to the tiers.
        let mut built = part.build(1, &demands);
        // The part keeps the groups in order: a tier's groups are one run of its groups.
        let local = |tier: &std::ops::Range<usize>| {
            let first = groups.partition_point(|&g| g < tier.start);
            first..first + tier.len()
        };
        for tier in &tiers[..asking.len()] {
            for g in local(tier) {
                built.net.set_capacity(built.demand_edges[g], 0);
            }
        }
        let mut wanted = fixed;
        let mut flow = built.net.max_flow(SOURCE, SINK);
        for (k, (tier, tier_wants)) in tiers.iter().zip(asking.iter()).enumerate() {
            for g in local(tier) {
                built.net.widen(built.demand_edges[g], demands[g]);
            }
            wanted += tier_wants;
            flow += built.net.max_flow(SOURCE, SINK);
            if flow < wanted {
                return k;
            }
        }
        asking.len()
    }

    /// Fixes the rising groups from `first` on at what they ask, as [`solve`](Self::solve)
    /// would when they can all have it: level full, in round `round`.
    pub fn fill_in_full(&mut self, first: usize, round: usize) -> Vec<Option<(Level, usize)>> {
        let mut levels = vec![None; self.groups.len()];
        for (g, level) in levels.iter_mut().enumerate().skip(first) {
            let group = &mut self.groups[g];
            if let Demand::Rising {
                weight,
                base,
                unit,
                rank,
            } = group.demand
            {
                group.shape = Some((weight, base, unit, rank));
                group.demand = Demand::Fixed((weight - base) / unit * unit);
                *level = Some((Level::FULL, round));
            }
        }
        levels
    }

    /// Per rising group: its rounded (fixed) demand and shape, its level and round.
    fn solve_compact(self, first_round: usize) -> Vec<Option<Frozen>> {
        let count = self.groups.len();
        let mut leaves = self.decompose((0..count).collect(), None);
        leaves.sort_unstable_by(|a, b| {
            (a.level.num * b.level.den)
                .cmp(&(b.level.num * a.level.den))
                .then(a.first.cmp(&b.first))
        });
        // Each final part is rounded on its own network: on all cores.
        let frozen: Vec<Vec<usize>> = leaves
            .par_iter_mut()
            .map(|leaf| {
                let frozen: Vec<usize> = (0..leaf.part.groups.len())
                    .filter(|&g| matches!(leaf.part.groups[g].demand, Demand::Rising { .. }))
                    .collect();
                leaf.part.freeze(&mut leaf.built, &frozen, leaf.level);
                frozen
            })
            .collect();
        let mut solved = vec![None; count];
        let mut round = first_round;
        let mut previous = None;
        for (leaf, frozen) in leaves.iter().zip(frozen) {
            if previous.is_some_and(|level| level != leaf.level) {
                round += 1;
            }
            previous = Some(leaf.level);
            for g in frozen {
                let group = &leaf.part.groups[g];
                solved[leaf.ids[g]] =
                    Some((group.demand.clone(), group.shape, (leaf.level, round)));
            }
        }
        solved
    }
    fn rising_shape(&self, g: usize) -> Option<(Cap, Cap, Cap, usize)> {
        self.groups[g].shape
    }

    /// The fixed amount of a group.
    pub fn amount(&self, g: usize) -> Cap {
        match self.groups[g].demand {
            Demand::Fixed(amount) => amount,
            Demand::Rising { .. } => 0,
        }
    }

    /// Fixes `frozen` at level `t`: whole units rounded down, then one more unit each in order
    /// of largest remainder (ties by rank) while the supply still allows it.
    fn freeze(&mut self, built: &mut Built, frozen: &[usize], t: Level) {
        let mut order: Vec<(usize, Cap, Cap, usize, Cap)> = Vec::new(); // g, rem, denom, rank, unit
        let mut exact_total: Cap = 0;
        for &g in frozen {
            let Demand::Rising {
                weight,
                base,
                unit,
                rank,
            } = self.groups[g].demand
            else {
                continue;
            };
            let exact = (t.num * weight - base * t.den).max(0); // flow units × t.den
            exact_total += exact;
            let per_unit = unit * t.den;
            let whole = exact / per_unit;
            self.groups[g].shape = Some((weight, base, unit, rank));
            self.groups[g].demand = Demand::Fixed(whole * unit);
            let remainder = exact % per_unit;
            if remainder > 0 && base + (whole + 1) * unit <= weight {
                order.push((g, remainder, per_unit, rank, unit));
            }
        }
        // At the full level the network already carries exactly these amounts (the scale is
        // one and every amount whole); below it, they are routed afresh at scale one.
        if t != Level::FULL {
            let demands: Vec<Cap> = (0..self.groups.len()).map(|g| self.amount(g)).collect();
            self.reset(built, 1, &demands);
            let flow = built.net.max_flow(SOURCE, SINK);
            debug_assert_eq!(
                flow, built.total_demand,
                "rounded-down amounts are feasible"
            );
        }
        // What the continuous solution gave these groups beyond their whole units.
        let mut spare = exact_total / t.den - frozen.iter().map(|&g| self.amount(g)).sum::<Cap>();
        // Largest remainder first (ties by rank), one unit each while the spare lasts.
        order.sort_unstable_by(|a, b| (b.1 * a.2).cmp(&(a.1 * b.2)).then(a.3.cmp(&b.3)));
        let mut batch: Vec<(usize, Cap)> = Vec::new();
        for &(g, _, _, _, unit) in &order {
            if unit <= spare {
                spare -= unit;
                batch.push((g, unit));
            }
        }
        self.add_units(built, &batch);
        // Whole units can leave part of the supply unused (a price larger than a share):
        // hand out what is left one unit per group at a time, while any group can take one.
        loop {
            let mut open: Vec<(usize, Cap)> = frozen
                .iter()
                .filter_map(|&g| {
                    let (weight, base, unit, _) = self.rising_shape(g)?;
                    (base + self.amount(g) + unit <= weight).then_some((g, unit))
                })
                .collect();
            open.sort_unstable_by(|&(a, _), &(b, _)| {
                let (wa, ba, _, ra) = self.rising_shape(a).expect("shaped");
                let (wb, bb, _, rb) = self.rising_shape(b).expect("shaped");
                ((ba + self.amount(a)) * wb)
                    .cmp(&((bb + self.amount(b)) * wa))
                    .then(ra.cmp(&rb))
            });
            if open.is_empty() || self.add_units(built, &open) == 0 {
                break;
            }
        }
    }

    /// Offers one more whole unit to each group of `batch` in one flow; a group that gets only
    /// part of a unit gives it back. Returns how many groups got theirs.
    fn add_units(&mut self, built: &mut Built, batch: &[(usize, Cap)]) -> usize {
        for &(g, unit) in batch {
            built.net.widen(built.demand_edges[g], unit);
        }
        built.net.max_flow(SOURCE, SINK);
        let mut placed = 0;
        for &(g, unit) in batch {
            let edge = built.demand_edges[g];
            let got = built.net.flow(edge) - self.amount(g);
            if got == unit {
                placed += 1;
                if let Demand::Fixed(amount) = &mut self.groups[g].demand {
                    *amount += unit;
                }
            } else {
                self.cancel_through(built, g, got);
                built.net.narrow(edge, unit);
            }
        }
        placed
    }

    /// Cancels `amount` of the flow reaching the sink through group `g` (source → supply →
    /// (pool →) set → sink), keeping every node balanced.
    fn cancel_through(&self, built: &mut Built, g: usize, amount: Cap) {
        if amount == 0 {
            return;
        }
        built.net.cancel(built.demand_edges[g], amount);
        let k = built.group_sets[g];
        let set_edges = std::mem::take(&mut built.set_edges[k]);
        let left = cancel_from(&mut built.net, &set_edges, amount, |net, entry, take| {
            if self.pools.is_empty() {
                net.cancel(built.supply_edges[entry as usize], take);
            } else {
                let left = cancel_from(
                    net,
                    &built.pool_edges[entry as usize],
                    take,
                    |net, s, take| net.cancel(built.supply_edges[s as usize], take),
                );
                debug_assert_eq!(left, 0, "the flow out of a pool comes from its supplies");
            }
        });
        built.set_edges[k] = set_edges;
        debug_assert_eq!(left, 0, "the flow through a group comes from its supplies");
    }

    /// Routes fixed amounts through the network: how much each group takes from each supply.
    /// Every group must be fixed.
    pub fn route(&self) -> Vec<Vec<(u32, Cap)>> {
        let demands: Vec<Cap> = (0..self.groups.len()).map(|g| self.amount(g)).collect();
        let mut built = self.build(1, &demands);
        let flow = built.net.max_flow(SOURCE, SINK);
        debug_assert_eq!(flow, built.total_demand, "fixed amounts are feasible");
        // Each eligibility set (and pool) passes on what it received; any split among the
        // groups of a set is valid (they all may use every supply of the set).
        let inflows = |edges: &Vec<Vec<(u32, EdgeId)>>| -> Vec<Vec<(u32, Cap)>> {
            edges
                .iter()
                .map(|edges| {
                    edges
                        .iter()
                        .map(|&(tail, e)| (tail, built.net.flow(e)))
                        .filter(|&(_, amount)| amount > 0)
                        .collect()
                })
                .collect()
        };
        let mut into_sets = inflows(&built.set_edges);
        let mut into_pools = inflows(&built.pool_edges);
        let mut routes = Vec::with_capacity(self.groups.len());
        for (&k, &demand_edge) in built.group_sets.iter().zip(&built.demand_edges) {
            let mut route = Vec::new();
            for (entry, amount) in take_from(&mut into_sets[k], built.net.flow(demand_edge)) {
                if self.pools.is_empty() {
                    route.push((entry, amount));
                } else {
                    route.extend(take_from(&mut into_pools[entry as usize], amount));
                }
            }
            routes.push(route);
        }
        routes
    }
}

/// Takes `wanted` off the back of `inflow`, as (where from, amount) pieces.
fn take_from(inflow: &mut Vec<(u32, Cap)>, mut wanted: Cap) -> Vec<(u32, Cap)> {
    let mut taken = Vec::new();
    while wanted > 0 {
        let Some(last) = inflow.last_mut() else {
            break;
        };
        let take = last.1.min(wanted);
        taken.push((last.0, take));
        last.1 -= take;
        wanted -= take;
        if last.1 == 0 {
            inflow.pop();
        }
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rising(weight: Cap, rank: usize) -> Demand {
        Demand::Rising {
            weight,
            base: 0,
            unit: 1,
            rank,
        }
    }

    fn amounts(problem: &FairProblem) -> Vec<Cap> {
        (0..problem.groups.len())
            .map(|g| problem.amount(g))
            .collect()
    }

    fn solved(mut problem: FairProblem) -> Vec<Cap> {
        problem.solve(0);
        amounts(&problem)
    }

    fn group(supplies: &[u32], demand: Demand) -> Group {
        Group {
            supplies: supplies.to_vec(),
            demand,
            shape: None,
        }
    }

    #[test]
    fn shares_one_source_in_proportion_to_what_was_asked() {
        let problem = FairProblem {
            supplies: vec![60],
            pools: Vec::new(),
            groups: vec![group(&[0], rising(100, 0)), group(&[0], rising(50, 1))],
        };
        let mut problem = problem;
        let levels = problem.solve(0);
        assert_eq!(amounts(&problem), vec![40, 20]);
        assert_eq!(levels[0].unwrap().0, Level::new(2, 5));
    }

    #[test]
    fn a_group_with_its_own_supply_rises_above_the_shared_level() {
        // Group 0 can use supply 0 (10) and 1 (100); group 1 only supply 0.
        let problem = FairProblem {
            supplies: vec![10, 100],
            pools: Vec::new(),
            groups: vec![group(&[0, 1], rising(100, 0)), group(&[0], rising(100, 1))],
        };
        assert_eq!(solved(problem), vec![100, 10]);
    }

    #[test]
    fn fixed_groups_are_rerouted_to_make_room() {
        // A fixed group of 10 may use either supply; the rising one only supply 0.
        let problem = FairProblem {
            supplies: vec![10, 10],
            pools: Vec::new(),
            groups: vec![
                group(&[0, 1], Demand::Fixed(10)),
                group(&[0], rising(10, 0)),
            ],
        };
        assert_eq!(solved(problem), vec![10, 10]);
    }

    #[test]
    fn remainders_go_to_the_largest_then_the_first() {
        // 10 units over asks 3, 3, 3, 3 = 2.5 each: two get 3, two get 2, by rank.
        let problem = FairProblem {
            supplies: vec![10],
            pools: Vec::new(),
            groups: (0..4).map(|r| group(&[0], rising(3, r))).collect(),
        };
        assert_eq!(solved(problem), vec![3, 3, 2, 2]);
    }

    #[test]
    fn parts_that_share_nothing_end_at_their_own_levels_in_order() {
        // Group 0 can only use supply 0 (30 for 100 asked): 30%. Groups 1, 2 (100 each) and 3
        // (10, may use either supply) share supply 1: 80 / 210 = 8/21 each, whole units by
        // largest remainder (38.1, 38.1, 3.8 → 38, 38, 4).
        let mut problem = FairProblem {
            supplies: vec![30, 80],
            pools: Vec::new(),
            groups: vec![
                group(&[0], rising(100, 0)),
                group(&[1], rising(100, 1)),
                group(&[1], rising(100, 2)),
                group(&[0, 1], rising(10, 3)),
            ],
        };
        let levels = problem.solve(7);
        let level = |g: usize| levels[g].unwrap();
        assert_eq!(amounts(&problem), vec![30, 38, 38, 4]);
        // Rounds are numbered from the first one given, lowest level first.
        assert_eq!(level(0), (Level::new(3, 10), 7));
        assert_eq!(level(1), (Level::new(8, 21), 8));
        assert_eq!(level(2), level(1));
        assert_eq!(level(3), level(1));
    }

    #[test]
    fn a_group_no_supply_reaches_stays_empty_and_the_others_fill() {
        let problem = FairProblem {
            supplies: vec![50],
            pools: Vec::new(),
            groups: vec![group(&[], rising(10, 0)), group(&[0], rising(40, 1))],
        };
        assert_eq!(solved(problem), vec![0, 40]);
    }

    #[test]
    fn water_level_fills_the_emptiest_first() {
        // Asks 10 (has 5) and 10 (has 0); 7 more units: both reach 60%.
        assert_eq!(water_level(&[(10, 5), (10, 0)], 7), Level::new(3, 5));
        assert_eq!(water_level(&[(10, 5), (10, 0)], 3), Level::new(3, 10));
        assert_eq!(water_level(&[(10, 0)], 30), Level::FULL);
    }

    #[test]
    fn a_group_that_already_has_more_waits_for_the_others() {
        let problem = FairProblem {
            supplies: vec![50],
            pools: Vec::new(),
            groups: vec![
                group(
                    &[0],
                    Demand::Rising {
                        weight: 100,
                        base: 50,
                        unit: 1,
                        rank: 0,
                    },
                ),
                group(&[0], rising(100, 1)),
            ],
        };
        // The second reaches 50% first; then both rise together: 50 + 0, 0 + 50.
        assert_eq!(solved(problem), vec![0, 50]);
    }
}
