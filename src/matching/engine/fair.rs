//! Max-min fair filling of groups from shared supply (MATCHING.md rules 3 and 4), exact.
//!
//! Groups draw from the supply nodes they are eligible for, optionally through a channel of
//! limited capacity (a supplier offer). A *rising* group wants `weight` flow units to be full and
//! already has `base` from elsewhere; its fill fraction is `(base + flow) / weight`. Fixed groups
//! keep exactly their amount but may be re-routed, so a higher class never blocks a lower one
//! needlessly.
//!
//! Progressive filling: find the highest level `t` every rising group can reach together
//! (Dinkelbach iterations on a parametric maximum flow, in exact rational arithmetic); the groups
//! of the minimum cut at that level can go no higher, so they are frozen there, rounded to whole
//! units by largest remainder; repeat with the rest. The levels found are the exact max-min fair
//! fractions of the continuous problem.

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
    pub supplies: Vec<u32>,
    pub channel: Option<u32>,
    pub demand: Demand,
    /// What a rising group looked like before it was frozen: weight, base, unit, rank.
    pub shape: Option<(Cap, Cap, Cap, usize)>,
}

#[derive(Debug, Clone, Default)]
pub struct FairProblem {
    pub supplies: Vec<Cap>,
    pub channels: Vec<Cap>,
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
        let g = gcd(num.abs(), den.abs()).max(1);
        Level {
            num: num / g,
            den: den / g,
        }
    }

    fn less_than(self, other: Level) -> bool {
        self.num * other.den < other.num * self.den
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
    rising.sort_by(|a, b| (a.1 * b.0).cmp(&(b.1 * a.0)));
    let (mut weights, mut bases) = (0, 0);
    let mut level = Level::new(0, 1);
    for (i, &(weight, base)) in rising.iter().enumerate() {
        weights += weight;
        bases += base;
        level = Level::new(amount + bases, weights);
        if rising
            .get(i + 1)
            .is_none_or(|&(w, b)| level.num * w <= b * level.den)
        {
            break;
        }
    }
    if Level::FULL.less_than(level) {
        Level::FULL
    } else {
        level
    }
}

fn gcd(mut a: Cap, mut b: Cap) -> Cap {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

struct Built {
    net: FlowNetwork,
    demand_edges: Vec<EdgeId>,
    supply_edges: Vec<EdgeId>,
    channel_edges: Vec<EdgeId>,
    group_supply_edges: Vec<Vec<(u32, EdgeId)>>,
    total_demand: Cap,
}

const SOURCE: usize = 0;
const SINK: usize = 1;

impl FairProblem {
    fn supply_node(&self, s: u32) -> usize {
        2 + s as usize
    }

    fn group_node(&self, g: usize) -> usize {
        2 + self.supplies.len() + g
    }

    fn channel_node(&self, c: u32) -> usize {
        2 + self.supplies.len() + self.groups.len() + c as usize
    }

    /// The network with every capacity multiplied by `scale` and group demands given.
    fn build(&self, scale: Cap, demands: &[Cap]) -> Built {
        let nodes = 2 + self.supplies.len() + self.groups.len() + self.channels.len();
        let mut net = FlowNetwork::new(nodes);
        let supply_edges = (0..self.supplies.len())
            .map(|s| net.add_edge(SOURCE, self.supply_node(s as u32), self.supplies[s] * scale))
            .collect();
        let channel_edges = (0..self.channels.len())
            .map(|c| net.add_edge(self.channel_node(c as u32), SINK, self.channels[c] * scale))
            .collect();
        let mut group_supply_edges = Vec::with_capacity(self.groups.len());
        let mut demand_edges = Vec::with_capacity(self.groups.len());
        for (g, group) in self.groups.iter().enumerate() {
            let node = self.group_node(g);
            let edges = group
                .supplies
                .iter()
                .map(|&s| (s, net.add_edge(self.supply_node(s), node, INFINITE)))
                .collect();
            group_supply_edges.push(edges);
            let head = group.channel.map_or(SINK, |c| self.channel_node(c));
            demand_edges.push(net.add_edge(node, head, demands[g]));
        }
        Built {
            net,
            demand_edges,
            supply_edges,
            channel_edges,
            group_supply_edges,
            total_demand: demands.iter().sum(),
        }
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

    /// The highest level all rising groups reach together, and the groups that cannot rise
    /// above it (empty when every rising group can be filled).
    fn next_bottleneck(&self) -> (Level, Vec<usize>) {
        let mut t = Level::FULL;
        let mut blocked: Vec<usize> = Vec::new();
        loop {
            let demands = self.demands_at(t);
            let mut built = self.build(t.den, &demands);
            let flow = built.net.max_flow(SOURCE, SINK);
            if flow == built.total_demand {
                return (t, blocked);
            }
            let side = built.net.source_side(SOURCE);
            let (cut_supply, in_cut) = self.cut(&built, &side);
            blocked = in_cut;
            let next = self.level_where_saturated(cut_supply, &blocked, t);
            assert!(
                next.less_than(t),
                "fair filling must descend (cut {cut_supply})"
            );
            t = next;
        }
    }

    /// Capacity of the cut's supply and channel arcs (unscaled), and the groups whose demand
    /// arcs are not cut: together they ask for more than the cut lets through.
    fn cut(&self, built: &Built, side: &[bool]) -> (Cap, Vec<usize>) {
        let mut capacity: Cap = 0;
        for s in 0..self.supplies.len() {
            if !side[self.supply_node(s as u32)] {
                capacity += self.supplies[s];
            }
        }
        for c in 0..self.channels.len() {
            if side[self.channel_node(c as u32)] {
                capacity += self.channels[c];
            }
        }
        let _ = &built.channel_edges;
        let groups = (0..self.groups.len())
            .filter(|&g| {
                let head = self.groups[g]
                    .channel
                    .map_or(SINK, |c| self.channel_node(c));
                !side[self.group_node(g)] || side[head]
            })
            .collect();
        (capacity, groups)
    }

    /// Solves `capacity = Σ fixed + Σ max(0, t·weight − base)` over `groups` for `t < below`.
    fn level_where_saturated(&self, capacity: Cap, groups: &[usize], below: Level) -> Level {
        let mut left = capacity;
        let mut rising: Vec<(Cap, Cap)> = Vec::new();
        for &g in groups {
            match self.groups[g].demand {
                Demand::Fixed(amount) => left -= amount,
                Demand::Rising { weight, base, .. } => {
                    // Only groups below `below` take part; others ask nothing there.
                    if base * below.den < below.num * weight {
                        rising.push((weight, base));
                    }
                }
            }
        }
        assert!(
            !rising.is_empty(),
            "a cut without rising groups: fixed demands exceed supply"
        );
        // Lowest starting level first; add groups while the level reaches them.
        rising.sort_by(|a, b| (a.1 * b.0).cmp(&(b.1 * a.0)));
        let (mut weights, mut bases) = (0, 0);
        let mut level = Level::new(0, 1);
        for (i, &(weight, base)) in rising.iter().enumerate() {
            weights += weight;
            bases += base;
            level = Level::new(left + bases, weights);
            let next_starts_above = rising
                .get(i + 1)
                .is_none_or(|&(w, b)| level.num * w <= b * level.den);
            if next_starts_above {
                break;
            }
        }
        level
    }

    /// Fills every rising group as fairly as the supply allows; afterwards every group is
    /// fixed. Returns, per group, the level it was frozen at and the freeze round (numbered from
    /// `first_round`; groups frozen in one round share their level).
    pub fn solve(&mut self, first_round: usize) -> Vec<Option<(Level, usize)>> {
        let mut levels = vec![None; self.groups.len()];
        let mut round = first_round;
        loop {
            let rising: Vec<usize> = (0..self.groups.len())
                .filter(|&g| matches!(self.groups[g].demand, Demand::Rising { .. }))
                .collect();
            if rising.is_empty() {
                return levels;
            }
            let (t, blocked) = self.next_bottleneck();
            let frozen: Vec<usize> = if blocked.is_empty() {
                rising
            } else {
                blocked
                    .into_iter()
                    .filter(|&g| matches!(self.groups[g].demand, Demand::Rising { .. }))
                    .collect()
            };
            for &g in &frozen {
                levels[g] = Some((t, round));
            }
            round += 1;
            self.freeze(&frozen, t);
        }
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
    fn freeze(&mut self, frozen: &[usize], t: Level) {
        let mut order: Vec<(usize, Cap, Cap, usize, Cap)> = Vec::new(); // g, rem, denom, rank, unit
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
            let per_unit = unit * t.den;
            let whole = exact / per_unit;
            self.groups[g].shape = Some((weight, base, unit, rank));
            self.groups[g].demand = Demand::Fixed(whole * unit);
            let remainder = exact % per_unit;
            if remainder > 0 && base + (whole + 1) * unit <= weight {
                order.push((g, remainder, per_unit, rank, unit));
            }
        }
        let demands: Vec<Cap> = (0..self.groups.len()).map(|g| self.amount(g)).collect();
        let mut built = self.build(1, &demands);
        let flow = built.net.max_flow(SOURCE, SINK);
        debug_assert_eq!(
            flow, built.total_demand,
            "rounded-down amounts are feasible"
        );
        // remainder / denom, largest first; ties by rank.
        order.sort_by(|a, b| (b.1 * a.2).cmp(&(a.1 * b.2)).then(a.3.cmp(&b.3)));
        for (g, _, _, _, unit) in order {
            self.try_one_more(&mut built, g, unit);
        }
        // Whole units can leave part of the supply unused (a price larger than a share):
        // hand it out one unit at a time, emptiest group first, while any group can take it.
        loop {
            let mut open: Vec<(Cap, Cap, usize, usize, Cap)> = frozen
                .iter()
                .filter_map(|&g| {
                    let (weight, base, unit, rank) = self.rising_shape(g)?;
                    let has = base + self.amount(g);
                    (has + unit <= weight).then_some((has, weight, rank, g, unit))
                })
                .collect();
            open.sort_by(|a, b| (a.0 * b.1).cmp(&(b.0 * a.1)).then(a.2.cmp(&b.2)));
            let placed = open
                .into_iter()
                .any(|(_, _, _, g, unit)| self.try_one_more(&mut built, g, unit));
            if !placed {
                break;
            }
        }
    }

    /// Adds one whole unit to a fixed group if the supply allows it.
    fn try_one_more(&mut self, built: &mut Built, g: usize, unit: Cap) -> bool {
        let mut attempt = built.net.clone();
        attempt.widen(built.demand_edges[g], unit);
        if attempt.max_flow(SOURCE, SINK) != unit {
            return false;
        }
        built.net = attempt;
        if let Demand::Fixed(amount) = &mut self.groups[g].demand {
            *amount += unit;
        }
        true
    }

    /// Routes fixed amounts through the network: how much each group takes from each supply.
    /// Every group must be fixed.
    pub fn route(&self) -> Vec<Vec<(u32, Cap)>> {
        let demands: Vec<Cap> = self
            .groups
            .iter()
            .map(|group| match group.demand {
                Demand::Fixed(amount) => amount,
                Demand::Rising { .. } => 0,
            })
            .collect();
        let mut built = self.build(1, &demands);
        let flow = built.net.max_flow(SOURCE, SINK);
        debug_assert_eq!(flow, built.total_demand, "fixed amounts are feasible");
        let _ = &built.supply_edges;
        built
            .group_supply_edges
            .iter()
            .map(|edges| {
                edges
                    .iter()
                    .map(|&(s, e)| (s, built.net.flow(e)))
                    .filter(|&(_, amount)| amount > 0)
                    .collect()
            })
            .collect()
    }
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
            channel: None,
            demand,
            shape: None,
        }
    }

    #[test]
    fn shares_one_source_in_proportion_to_what_was_asked() {
        let problem = FairProblem {
            supplies: vec![60],
            channels: vec![],
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
            channels: vec![],
            groups: vec![group(&[0, 1], rising(100, 0)), group(&[0], rising(100, 1))],
        };
        assert_eq!(solved(problem), vec![100, 10]);
    }

    #[test]
    fn fixed_groups_are_rerouted_to_make_room() {
        // A fixed group of 10 may use either supply; the rising one only supply 0.
        let problem = FairProblem {
            supplies: vec![10, 10],
            channels: vec![],
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
            channels: vec![],
            groups: (0..4).map(|r| group(&[0], rising(3, r))).collect(),
        };
        assert_eq!(solved(problem), vec![3, 3, 2, 2]);
    }

    #[test]
    fn channels_limit_what_passes_through_them() {
        let problem = FairProblem {
            supplies: vec![1_000],
            channels: vec![30],
            groups: vec![
                Group {
                    supplies: vec![0],
                    channel: Some(0),
                    demand: rising(100, 0),
                    shape: None,
                },
                group(&[0], rising(100, 1)),
            ],
        };
        assert_eq!(solved(problem), vec![30, 100]);
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
            channels: vec![],
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
