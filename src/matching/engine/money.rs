//! Stage two: money, for what goods could not cover. Rate needs are paid directly; goods needs
//! buy through the cheapest offer that still has capacity and arrives in time.

use chrono::NaiveDate;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::eligible::Pools;
use super::fair::{Demand, FairProblem, Group, Level};
use super::instance::{Earmark, Problem, Source};
use super::{split_by_level, Engine, Line, Share};

/// What a purchase is paid through: an offer, or the needs' own rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Channel {
    Offer(usize),
    Rate(i64),
}

/// What the needs of a pass group buy through: a tier of offers, or their own rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Tier(usize),
    Rate(i64),
}

/// The offers a market buys through in one pass: its cheapest open ones, as many as it could
/// not get last pass (at least one), so a market whose cheapest offer sells out at once does
/// not take a pass per offer. Groups plan with the dearest price of the tier, so the money a
/// pass finds always pays; what the cheaper offers leave is free for the next pass.
struct Tier {
    /// Cheapest first.
    offers: Vec<usize>,
    price: i64,
}

/// What the needs of a cluster buy: goods of one item by one date (so through the same
/// offers), or units at one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Buys {
    Goods(u32, Option<NaiveDate>),
    Rate(i64),
}

/// Needs of one class that every pass treats alike: the same purses and the same [`Buys`].
/// A pass works on clusters, not needs; their units are split among the needs at the end.
struct Cluster {
    needs: Vec<usize>,
    /// Index of the cluster's purse set.
    set: usize,
    buys: Buys,
    /// For goods, a number for its item and date: clusters with the same one buy through
    /// the same tier of offers.
    market: usize,
    asked: i64,
    have: i64,
    /// The lowest rank of its needs, for ties.
    rank: usize,
    /// The last fair share in which the cluster got units.
    share: Option<Share>,
}

/// Units a cluster bought in one pass, through one channel.
struct Planned {
    cluster: usize,
    /// Which of the `Purchase`s (purse set and channel) it belongs to.
    purchase: usize,
    units: i64,
}

/// What one purse set bought through one channel over all passes; numbered in the order the
/// passes first made them, the order they are paid in, so each source pays for the few offers
/// bought while its money lasted.
struct Purchase {
    set: usize,
    channel: Channel,
}

/// The groups of earlier passes, merged per purse set. They are fixed, so only their totals
/// matter to the next pass's flow; keeping them merged keeps each pass as small as its own
/// groups, however many passes came before.
#[derive(Default)]
struct Settled {
    groups: Vec<Group>,
    by_set: FxHashMap<usize, usize>,
}

impl Settled {
    fn add(&mut self, set: usize, supplies: &[u32], amount: i128) {
        let groups = &mut self.groups;
        let g = *self.by_set.entry(set).or_insert_with(|| {
            groups.push(Group {
                demand: Demand::Fixed(0),
                supplies: supplies.to_vec(),
                shape: None,
            });
            groups.len() - 1
        });
        if let Demand::Fixed(total) = &mut groups[g].demand {
            *total += amount;
        }
    }

    /// Solves a pass's rising groups beside the settled ones; levels are per pass group.
    fn solve_pass(&mut self, pass: &mut FairProblem, round: usize) -> Vec<Option<(Level, usize)>> {
        let settled = self.groups.len();
        let mut groups = std::mem::take(&mut self.groups);
        groups.append(&mut pass.groups);
        pass.groups = groups;
        let mut levels = pass.solve(round);
        self.groups = pass.groups.drain(..settled).collect();
        levels.drain(..settled);
        levels
    }
}

/// A purse: what makes money sources alike for every need (earmark and dates).
type Purse<'p> = (&'p Earmark, Option<NaiveDate>, Option<NaiveDate>);

fn purse(source: &Source) -> Purse<'_> {
    (&source.earmark, source.available_from, source.expires)
}

/// What money's passes start from: the purses, the open offers of each item, and the needs
/// still short, clustered. Worked out before the passes, on all cores.
pub(super) struct Market {
    purses: Vec<Vec<usize>>,
    offers_by_item: FxHashMap<u32, Vec<usize>>,
    pools: Pools,
    purse_sets: Vec<Vec<u32>>,
    /// Per purse: the money it holds.
    supplies: Vec<i128>,
    clusters: Vec<Cluster>,
    by_class: Vec<Vec<usize>>,
    markets: usize,
}

/// The market money buys in once goods are planned; `None` when there is no money to spend.
pub(super) fn market(engine: &Engine) -> Option<Market> {
    let problem = engine.problem;
    let today = problem.today;
    let mut key_index: FxHashMap<Purse, usize> = FxHashMap::default();
    let mut purses: Vec<Vec<usize>> = Vec::new();
    for (s, source) in problem.sources.iter().enumerate() {
        let expired = source.expires.is_some_and(|e| e < today);
        if source.item.is_some() || engine.left[s] <= 0 || expired {
            continue;
        }
        let index = *key_index.entry(purse(source)).or_insert_with(|| {
            purses.push(Vec::new());
            purses.len() - 1
        });
        purses[index].push(s);
    }
    if purses.is_empty() {
        return None;
    }
    let mut offers_by_item: FxHashMap<u32, Vec<usize>> = FxHashMap::default();
    for (o, offer) in problem.offers.iter().enumerate() {
        if offer.capacity > 0 {
            offers_by_item.entry(offer.item).or_default().push(o);
        }
    }
    for offers in offers_by_item.values_mut() {
        offers.sort_by_key(|&o| problem.offer_order(o));
    }

    // Which purses may pay for each need still short: the pools it draws on, as an index into
    // `purse_sets`.
    let short: Vec<usize> = (0..problem.needs.len())
        .filter(|&n| engine.short(n) > 0)
        .filter(|&n| {
            let need = &problem.needs[n];
            need.rate.is_some() || offers_by_item.contains_key(&need.item)
        })
        .collect();
    let pools = Pools::new(purses.iter().map(|members| {
        let source = &problem.sources[members[0]];
        (&source.earmark, source.available_from, source.expires)
    }));
    let mut purse_sets: Vec<Vec<u32>> = Vec::new();
    let mut set_index: FxHashMap<Vec<u32>, usize> = FxHashMap::default();
    let mut purses_of: Vec<Option<usize>> = vec![None; problem.needs.len()];
    let eligible_of: Vec<(usize, Vec<u32>)> = short
        .into_par_iter()
        .map(|n| {
            let need = &problem.needs[n];
            let eligible = pools.of(need, |p| {
                problem.sources[purses[p as usize][0]].may_serve(need, today)
            });
            (n, eligible)
        })
        .collect();
    for (n, eligible) in eligible_of {
        if !eligible.is_empty() {
            let set = *set_index.entry(eligible).or_insert_with_key(|eligible| {
                purse_sets.push(eligible.clone());
                purse_sets.len() - 1
            });
            purses_of[n] = Some(set);
        }
    }

    let supplies: Vec<i128> = purses
        .iter()
        .map(|members| members.iter().map(|&s| engine.left[s] as i128).sum())
        .collect();
    let (clusters, by_class, markets) = clusters(engine, &purses_of);
    Some(Market {
        purses,
        offers_by_item,
        pools,
        purse_sets,
        supplies,
        clusters,
        by_class,
        markets,
    })
}

/// Spends the money on what goods could not cover, class by class and pass by pass.
pub(super) fn allocate(engine: &mut Engine, market: Market) {
    let problem = engine.problem;
    let today = problem.today;
    let Market {
        purses,
        offers_by_item,
        pools,
        purse_sets,
        supplies,
        mut clusters,
        mut by_class,
        markets,
    } = market;
    // Per purse set, the groups of the current pass by route (few per set), and the sets
    // that have any, to clear after the pass.
    let mut set_groups: Vec<Vec<(Route, usize)>> = vec![Vec::new(); purse_sets.len()];
    let mut sets_in_pass: Vec<usize> = Vec::new();
    let mut planned: Vec<Planned> = Vec::new();
    let mut purchases: Vec<Purchase> = Vec::new();
    // Per channel still open, its purchases by purse set: a pass looks up only the few
    // channels it buys through, and an offer's map goes once it has sold out (there are
    // millions of purchases at national scale; one map of them all is slow to search).
    let mut purchase_ids: FxHashMap<Channel, FxHashMap<usize, usize>> = FxHashMap::default();
    let mut offer_units = vec![0i64; problem.offers.len()];
    let mut settled = Settled::default();
    for class_clusters in &mut by_class {
        let mut rates_done = false;
        // Per market, the units its tier could not sell in the last pass.
        let mut short_last_pass = vec![0i64; markets];
        for _pass in 0..=problem.offers.len() {
            // Offers that can still sell this pass, cheapest first.
            let open_offers: FxHashMap<u32, Vec<usize>> = offers_by_item
                .iter()
                .map(|(&item, offers)| {
                    let open = offers
                        .iter()
                        .copied()
                        .filter(|&o| offer_units[o] < problem.offers[o].capacity)
                        .collect();
                    (item, open)
                })
                .collect();
            let mut tiers: Vec<Tier> = Vec::new();
            let mut tier_ids: FxHashMap<Vec<usize>, usize> = FxHashMap::default();
            let mut market_tier: Vec<Option<Option<usize>>> = vec![None; markets];
            let mut pass = FairProblem {
                supplies: supplies.clone(),
                pools: pools.lists.clone(),
                groups: Vec::new(),
            };
            // Clusters with the same purses buying through the same route are one group.
            // Per pass group: its route and clusters.
            let mut members: Vec<(Route, Vec<usize>)> = Vec::new();
            // A cluster left out of a pass (full, rate paid, no offer open) stays out.
            let mut next_pass = Vec::with_capacity(class_clusters.len());
            for &c in class_clusters.iter() {
                let cluster = &clusters[c];
                if cluster.have >= cluster.asked {
                    continue;
                }
                let route = match cluster.buys {
                    Buys::Rate(_) if rates_done => continue,
                    Buys::Rate(rate) => Route::Rate(rate),
                    Buys::Goods(item, _) => {
                        // The open offers that reach a need depend on its item and date only.
                        let tier = *market_tier[cluster.market].get_or_insert_with(|| {
                            let need = &problem.needs[cluster.needs[0]];
                            let reaching = open_offers[&item]
                                .iter()
                                .copied()
                                .filter(|&o| problem.offers[o].may_serve(need, today));
                            let mut offers = Vec::new();
                            let mut reach = 0;
                            for o in reaching {
                                offers.push(o);
                                reach += problem.offers[o].capacity - offer_units[o];
                                if reach >= short_last_pass[cluster.market] {
                                    break;
                                }
                            }
                            (!offers.is_empty())
                                .then(|| intern(&mut tiers, &mut tier_ids, offers, problem))
                        });
                        match tier {
                            Some(t) => Route::Tier(t),
                            None => continue,
                        }
                    }
                };
                next_pass.push(c);
                let unit = route_price(&tiers, route);
                let in_set = &mut set_groups[cluster.set];
                let g = match in_set.iter().find(|(other, _)| *other == route) {
                    Some(&(_, g)) => g,
                    None => {
                        if in_set.is_empty() {
                            sets_in_pass.push(cluster.set);
                        }
                        in_set.push((route, pass.groups.len()));
                        pass.groups.push(Group {
                            shape: None,
                            supplies: purse_sets[cluster.set].clone(),
                            demand: Demand::Rising {
                                weight: 0,
                                base: 0,
                                unit,
                                rank: cluster.rank,
                            },
                        });
                        members.push((route, Vec::new()));
                        pass.groups.len() - 1
                    }
                };
                members[g].1.push(c);
                if let Demand::Rising { weight, base, .. } = &mut pass.groups[g].demand {
                    *weight += cluster.asked as i128 * unit;
                    *base += cluster.have as i128 * unit;
                }
            }
            rates_done = true;
            for set in sets_in_pass.drain(..) {
                set_groups[set].clear();
            }
            *class_clusters = next_pass;
            if pass.groups.is_empty() {
                break;
            }
            let levels = settled.solve_pass(&mut pass, engine.next_round);
            let routes: Vec<Route> = members.iter().map(|(route, _)| *route).collect();
            let wanted: Vec<i64> = routes
                .iter()
                .enumerate()
                .map(|(g, &route)| (pass.amount(g) / route_price(&tiers, route)) as i64)
                .collect();
            let bought = buy(problem, &tiers, &routes, &wanted, &mut offer_units);
            // What each tier could not sell of what was wanted: how far its markets reach next.
            let mut short_of_tier = vec![0i64; tiers.len()];
            let mut progress = false;
            // Each group's units among its clusters (emptiest first), on all cores: a cluster
            // is in one group of a pass.
            let splits: Vec<Vec<i64>> = members
                .par_iter()
                .zip(&bought)
                .map(|((_, group), bought)| {
                    let units = bought.iter().map(|&(_, units)| units).sum();
                    // A group of one cluster takes it all (a pass never gives more than is
                    // asked).
                    if group.len() == 1 {
                        return vec![units];
                    }
                    let parts: Vec<(i128, i128)> = group
                        .iter()
                        .map(|&c| (clusters[c].asked as i128, clusters[c].have as i128))
                        .collect();
                    let ranks: Vec<usize> = group.iter().map(|&c| clusters[c].rank).collect();
                    split_by_level(&parts, &ranks, units)
                })
                .collect();
            for (g, (route, group)) in members.iter().enumerate() {
                let set = clusters[group[0]].set;
                let units: i64 = bought[g].iter().map(|&(_, units)| units).sum();
                if let Route::Tier(t) = *route {
                    short_of_tier[t] += wanted[g] - units;
                }
                if let Some((_, round)) = levels[g] {
                    engine.next_round = engine.next_round.max(round + 1);
                }
                let mut purchases_of_group: Vec<(usize, i64)> = Vec::with_capacity(bought[g].len());
                let mut spent = 0i128;
                for &(channel, units) in &bought[g] {
                    let purchase = *purchase_ids
                        .entry(channel)
                        .or_default()
                        .entry(set)
                        .or_insert_with(|| {
                            purchases.push(Purchase { set, channel });
                            purchases.len() - 1
                        });
                    spent += units as i128 * price(engine, channel);
                    purchases_of_group.push((purchase, units));
                }
                settled.add(set, &purse_sets[set], spent);
                let mut next = purchases_of_group.iter_mut();
                let mut current = next.next();
                for (&c, &given) in group.iter().zip(&splits[g]) {
                    if given == 0 {
                        continue;
                    }
                    let cluster = &mut clusters[c];
                    cluster.have += given;
                    cluster.share = levels[g].map(|(level, round)| Share { round, level });
                    progress = true;
                    let mut owed = given;
                    while owed > 0 {
                        let (purchase, left) = current.as_mut().expect("units bought");
                        let take = owed.min(*left);
                        planned.push(Planned {
                            cluster: c,
                            purchase: *purchase,
                            units: take,
                        });
                        owed -= take;
                        *left -= take;
                        if *left == 0 {
                            current = next.next();
                        }
                    }
                }
            }
            for (market, tier) in market_tier.iter().enumerate() {
                if let Some(Some(t)) = *tier {
                    short_last_pass[market] = short_of_tier[t];
                }
            }
            purchase_ids.retain(|channel, _| match *channel {
                Channel::Offer(o) => offer_units[o] < problem.offers[o].capacity,
                Channel::Rate(_) => true,
            });
            if !progress {
                break;
            }
        }
    }

    let bought = hand_out(engine, &clusters, &planned);
    // Payment writes a line per piece: at national scale the peak of the whole plan, so what
    // the passes kept goes first.
    drop((planned, clusters, purchase_ids));
    let totals = FairProblem {
        supplies,
        pools: pools.lists,
        groups: std::mem::take(&mut settled.groups),
    };
    pay(
        engine,
        totals,
        &settled.by_set,
        &purchases,
        &bought,
        &purses,
    );
}

/// The needs with purses, clustered; and per class its clusters, in order of their needs' rank.
/// Also how many markets there may be: a cluster buying goods (one item by one date) has the
/// number of what it buys as its market.
fn clusters(
    engine: &Engine,
    purses_of: &[Option<usize>],
) -> (Vec<Cluster>, Vec<Vec<usize>>, usize) {
    let problem = engine.problem;
    let wants: Vec<(usize, usize, Buys)> = purses_of
        .par_iter()
        .enumerate()
        .filter_map(|(n, set)| {
            let set = (*set)?;
            let need = &problem.needs[n];
            let buys = match need.rate {
                Some(rate) => Buys::Rate(rate),
                None => Buys::Goods(need.item, need.needed_by),
            };
            Some((n, set, buys))
        })
        .collect();
    // Each need keyed by its cluster (class, purse set, what it buys, numbered) and its rank,
    // packed in one number, and sorted on all cores: a cluster's needs come together, in
    // order of rank.
    let mut numbered: FxHashMap<Buys, usize> = FxHashMap::default();
    let mut buys_of: Vec<Buys> = Vec::new();
    let mut keyed: Vec<(u128, usize)> = Vec::with_capacity(wants.len());
    for (n, set, buys) in wants {
        let number = *numbered.entry(buys).or_insert_with(|| {
            buys_of.push(buys);
            buys_of.len() - 1
        });
        let field = |value: usize| u32::try_from(value).expect("fewer than 2^32 records") as u128;
        let cluster = (problem.needs[n].class as u128) << 64 | field(set) << 32 | field(number);
        keyed.push((cluster << 32 | field(engine.rank[n]), n));
    }
    keyed.par_sort_unstable_by_key(|&(key, _)| key);
    let mut clusters: Vec<Cluster> = Vec::new();
    for members in keyed.chunk_by(|a, b| a.0 >> 32 == b.0 >> 32) {
        let key = members[0].0;
        let number = (key >> 32) as u32 as usize;
        let buys = buys_of[number];
        // Goods of one item and date: their number is their market's.
        let market = match buys {
            Buys::Goods(..) => number,
            Buys::Rate(_) => usize::MAX,
        };
        let needs: Vec<usize> = members.iter().map(|&(_, n)| n).collect();
        clusters.push(Cluster {
            asked: needs.iter().map(|&n| problem.needs[n].quantity).sum(),
            have: needs.iter().map(|&n| engine.have[n]).sum(),
            needs,
            set: (key >> 64) as u32 as usize,
            buys,
            market,
            rank: key as u32 as usize,
            share: None,
        });
    }
    clusters.sort_unstable_by_key(|cluster| cluster.rank);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); 6];
    for (c, cluster) in clusters.iter().enumerate() {
        let class = problem.needs[cluster.needs[0]].class;
        by_class[class as usize].push(c);
    }
    (clusters, by_class, buys_of.len())
}

/// Splits what each cluster bought among its needs (emptiest first) and deals each need its
/// units from the cluster's purchases in turn. Returns (purchase, need, units) per piece.
fn hand_out(
    engine: &mut Engine,
    clusters: &[Cluster],
    planned: &[Planned],
) -> Vec<(usize, usize, i64)> {
    let mut by_cluster: Vec<Vec<(usize, i64)>> = vec![Vec::new(); clusters.len()];
    for plan in planned {
        let bought = &mut by_cluster[plan.cluster];
        match bought.last_mut() {
            Some((purchase, units)) if *purchase == plan.purchase => *units += plan.units,
            _ => bought.push((plan.purchase, plan.units)),
        }
    }
    // A cluster's needs are its own: their shares are worked out on all cores.
    let splits: Vec<Option<Vec<i64>>> = {
        let engine: &Engine = engine;
        clusters
            .par_iter()
            .zip(&by_cluster)
            .map(|(cluster, bought)| {
                let total: i64 = bought.iter().map(|b| b.1).sum();
                (total > 0).then(|| engine.split(&cluster.needs, total))
            })
            .collect()
    };
    let mut pieces = Vec::with_capacity(planned.len());
    for ((cluster, mut bought), split) in clusters.iter().zip(by_cluster).zip(splits) {
        let Some(split) = split else {
            continue;
        };
        let mut next = 0;
        for (&n, given) in cluster.needs.iter().zip(split) {
            if given == 0 {
                continue;
            }
            engine.have[n] += given;
            engine.shares[n] = cluster.share;
            let mut owed = given;
            while owed > 0 {
                let (purchase, left) = &mut bought[next];
                let take = owed.min(*left);
                pieces.push((*purchase, n, take));
                owed -= take;
                *left -= take;
                if *left == 0 {
                    next += 1;
                }
            }
        }
    }
    pieces
}

/// The tier of these offers, numbered once per pass.
fn intern(
    tiers: &mut Vec<Tier>,
    ids: &mut FxHashMap<Vec<usize>, usize>,
    offers: Vec<usize>,
    problem: &Problem,
) -> usize {
    *ids.entry(offers).or_insert_with_key(|offers| {
        let price = offers.iter().map(|&o| problem.offers[o].unit_price);
        tiers.push(Tier {
            offers: offers.clone(),
            price: price.max().expect("a tier has offers"),
        });
        tiers.len() - 1
    })
}

fn route_price(tiers: &[Tier], route: Route) -> i128 {
    match route {
        Route::Tier(t) => tiers[t].price as i128,
        Route::Rate(rate) => rate as i128,
    }
}

/// Buys what each pass group found money for, through its route. Offers sell cheapest first;
/// one asked for more than it can still deliver shares what it has among the tiers buying
/// through it, in proportion to what each still wants, and a tier shares what it got among its
/// groups the same way. Every offer of a tier reaches every need of its groups and costs at
/// most the tier's price, so each group then takes its units from the tier's offers in turn:
/// one or two offers each, not a sliver of every one. Per group, the units bought through
/// each channel.
fn buy(
    problem: &Problem,
    tiers: &[Tier],
    routes: &[Route],
    wanted: &[i64],
    offer_units: &mut [i64],
) -> Vec<Vec<(Channel, i64)>> {
    let mut bought: Vec<Vec<(Channel, i64)>> = vec![Vec::new(); routes.len()];
    let mut groups_of_tier: Vec<Vec<usize>> = vec![Vec::new(); tiers.len()];
    for (g, &route) in routes.iter().enumerate() {
        match route {
            Route::Rate(rate) => bought[g].push((Channel::Rate(rate), wanted[g])),
            Route::Tier(t) => groups_of_tier[t].push(g),
        }
    }
    let mut still: Vec<i64> = groups_of_tier
        .iter()
        .map(|groups| groups.iter().map(|&g| wanted[g]).sum())
        .collect();
    let mut buyers: FxHashMap<usize, Vec<usize>> = FxHashMap::default();
    for (t, tier) in tiers.iter().enumerate() {
        for &o in &tier.offers {
            buyers.entry(o).or_default().push(t);
        }
    }
    let mut offers: Vec<usize> = buyers.keys().copied().collect();
    offers.sort_unstable_by_key(|&o| problem.offer_order(o));
    // Per tier, what it bought through each offer, cheapest first.
    let mut sold: Vec<Vec<(usize, i64)>> = vec![Vec::new(); tiers.len()];
    for o in offers {
        let buying = &buyers[&o];
        let wants: Vec<i64> = buying.iter().map(|&t| still[t]).collect();
        let left = problem.offers[o].capacity - offer_units[o];
        for (&t, share) in buying.iter().zip(share_out(left, &wants)) {
            if share > 0 {
                sold[t].push((o, share));
                still[t] -= share;
                offer_units[o] += share;
            }
        }
    }
    for (groups, mut sold) in groups_of_tier.iter().zip(sold) {
        let total = sold.iter().map(|&(_, units)| units).sum();
        let wants: Vec<i64> = groups.iter().map(|&g| wanted[g]).collect();
        let mut next = 0;
        for (&g, mut owed) in groups.iter().zip(share_out(total, &wants)) {
            while owed > 0 {
                let (o, left) = &mut sold[next];
                let take = owed.min(*left);
                bought[g].push((Channel::Offer(*o), take));
                owed -= take;
                *left -= take;
                if *left == 0 {
                    next += 1;
                }
            }
        }
    }
    bought
}

/// Splits up to `units` in proportion to `wants` (never more than wanted), whole units, the
/// spare ones one each to the first that were cut.
fn share_out(units: i64, wants: &[i64]) -> Vec<i64> {
    let asked: i64 = wants.iter().sum();
    if units >= asked {
        return wants.to_vec();
    }
    let mut shares: Vec<i64> = wants
        .iter()
        .map(|&want| (want as i128 * units as i128 / asked as i128) as i64)
        .collect();
    let mut spare = units - shares.iter().sum::<i64>();
    for (share, &want) in shares.iter_mut().zip(wants) {
        if spare == 0 {
            break;
        }
        if *share < want {
            *share += 1;
            spare -= 1;
        }
    }
    shares
}

fn price(engine: &Engine, channel: Channel) -> i128 {
    match channel {
        Channel::Offer(o) => engine.problem.offers[o].unit_price as i128,
        Channel::Rate(rate) => rate as i128,
    }
}

/// Pays the units bought from the purses the flow routed them through, whole units per
/// source: first each purchase in full from its set's route, in order, then each need's
/// pieces from what their purchase was paid with. A unit no single source can cover any more
/// is taken back (the last pass retries).
fn pay(
    engine: &mut Engine,
    totals: FairProblem,
    by_set: &FxHashMap<usize, usize>,
    purchases: &[Purchase],
    pieces: &[(usize, usize, i64)],
    purses: &[Vec<usize>],
) {
    let mut routes: Vec<Vec<(u32, i64)>> = totals
        .route()
        .into_iter()
        .map(|route| route.into_iter().map(|(p, fen)| (p, fen as i64)).collect())
        .collect();
    let mut units = vec![0i64; purchases.len()];
    for &(purchase, _, taken) in pieces {
        units[purchase] += taken;
    }
    // The (source, units) each purchase was paid with, one run per purchase (in one vector:
    // there are millions of purchases at national scale), and per purchase the next piece of
    // its run to use and the run's end.
    let mut paid: Vec<(usize, i64)> = Vec::with_capacity(purchases.len());
    let mut runs: Vec<(usize, usize)> = Vec::with_capacity(purchases.len());
    let mut left = engine.left.clone();
    let mut cursors = vec![0usize; purses.len()];
    for (purchase, &owed) in purchases.iter().zip(&units) {
        let unit = price(engine, purchase.channel) as i64;
        let start = paid.len();
        let mut owed = owed;
        for (purse, budget) in routes[by_set[&purchase.set]].iter_mut() {
            let purse = *purse as usize;
            let members = &purses[purse];
            while owed > 0 && *budget >= unit && cursors[purse] < members.len() {
                let s = members[cursors[purse]];
                let take = owed.min(*budget / unit).min(left[s] / unit);
                if take == 0 {
                    cursors[purse] += 1;
                    continue;
                }
                paid.push((s, take));
                left[s] -= take * unit;
                owed -= take;
                *budget -= take * unit;
            }
            if owed == 0 {
                break;
            }
        }
        runs.push((start, paid.len()));
    }
    engine.lines.reserve(pieces.len());
    for &(purchase, n, units) in pieces {
        let offer = match purchases[purchase].channel {
            Channel::Offer(o) => Some(o),
            Channel::Rate(_) => None,
        };
        let (next, end) = &mut runs[purchase];
        let mut owed = units;
        while owed > 0 && *next < *end {
            let (s, piece) = &mut paid[*next];
            let take = owed.min(*piece);
            engine.record(n, *s, offer, take);
            owed -= take;
            *piece -= take;
            if *piece == 0 {
                *next += 1;
            }
        }
        engine.have[n] -= owed;
    }
}

/// Re-deals what the money of one purse (sources alike for every need: same earmark and dates)
/// bought of each item so that every need buys from as few sources and offers as possible. Fair
/// shares leave each need a sliver from every offer that ran out while it was buying, each paid
/// by the next source of the purse; but a need only cares how many units it gets, a source how
/// many units of which offer it pays for, and an offer how many it sells, and all three stay
/// exactly as they were. Needs that must have the goods soonest take the fastest offers first:
/// an offer that reaches a need in time reaches every need with a later date, so this order keeps
/// every deadline whenever the lines before did (a cell where it would not is left as it was).
pub(super) fn consolidate_purchases(engine: &mut Engine) {
    let problem = engine.problem;
    // Each money source's purse, numbered once (goods sources buy nothing: no purse).
    let mut purse_ids: FxHashMap<Purse, u32> = FxHashMap::default();
    let purse_of: Vec<u32> = problem
        .sources
        .iter()
        .map(|source| {
            if source.item.is_some() {
                return u32::MAX;
            }
            let next = purse_ids.len() as u32;
            *purse_ids.entry(purse(source)).or_insert(next)
        })
        .collect();
    let mut cells: FxHashMap<(u32, u32), Vec<Line>> = FxHashMap::default();
    let mut kept = Vec::with_capacity(engine.lines.len());
    for line in engine.lines.drain(..) {
        match line.offer() {
            Some(o) => {
                let key = (purse_of[line.source()], problem.offers[o].item);
                cells.entry(key).or_default().push(line);
            }
            None => kept.push(line),
        }
    }
    // In a fixed order, so the plan does not depend on how the map iterates.
    let mut cells: Vec<Vec<Line>> = cells.into_values().collect();
    cells.sort_by_cached_key(|lines| {
        lines
            .iter()
            .map(|l| (l.source(), l.offer(), l.need()))
            .min()
    });
    for lines in cells {
        match deal(engine, &lines) {
            Some(dealt) => kept.extend(dealt),
            None => kept.extend(lines),
        }
    }
    engine.lines = kept;
}

/// One purse's purchases of one item in as few lines as possible: needs (soonest date first)
/// take the units each source bought through each offer in order (fastest offer first). `None`
/// when that would break a deadline or an earmark.
fn deal(engine: &Engine, lines: &[Line]) -> Option<Vec<Line>> {
    let problem = engine.problem;
    // Each need's units, soonest date first (ties by rank), and each source's units per
    // offer, fastest offer first: both keys name one need or one source and offer.
    let mut needs = Vec::with_capacity(lines.len());
    let mut bought = Vec::with_capacity(lines.len());
    for line in lines {
        let (n, s, o) = (line.need(), line.source(), line.offer()?);
        let by = problem.needs[n].needed_by;
        needs.push(((by.is_none(), by, engine.rank[n]), n, line.quantity));
        let offer = &problem.offers[o];
        bought.push((
            (offer.lead_days, offer.unit_price, o, s),
            (s, o),
            line.quantity,
        ));
    }
    let needs = summed_in_order(needs);
    let bought = summed_in_order(bought);
    let mut dealt = Vec::new();
    let mut next = bought.into_iter();
    let ((mut source, mut offer), mut left) = next.next()?;
    for (n, mut owed) in needs {
        let need = &problem.needs[n];
        while owed > 0 {
            if left == 0 {
                ((source, offer), left) = next.next()?;
            }
            let reaches = problem.offers[offer].may_serve(need, problem.today)
                && problem.sources[source].may_serve(need, problem.today);
            if !reaches {
                return None;
            }
            let take = owed.min(left);
            dealt.push(Line::new(n, source, Some(offer), take));
            owed -= take;
            left -= take;
        }
    }
    Some(dealt)
}

/// The units of each thing, in the order of its key (one key per thing).
fn summed_in_order<K: Ord, T: PartialEq>(mut units: Vec<(K, T, i64)>) -> Vec<(T, i64)> {
    units.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut summed: Vec<(T, i64)> = Vec::with_capacity(units.len());
    for (_, thing, quantity) in units {
        match summed.last_mut() {
            Some((last, total)) if *last == thing => *total += quantity,
            _ => summed.push((thing, quantity)),
        }
    }
    summed
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::matching::engine::{AllocationOut, Instance, Plan};

    /// The plan's lines as (need, what `column` says of the line, quantity), sorted.
    fn sorted_lines(
        plan: &Plan,
        column: impl Fn(&AllocationOut) -> String,
    ) -> Vec<(String, String, i64)> {
        let mut lines: Vec<(String, String, i64)> = plan
            .allocations
            .iter()
            .map(|line| (line.need.to_string(), column(line), line.quantity))
            .collect();
        lines.sort();
        lines
    }

    fn line(need: usize, source: usize, offer: usize, quantity: i64) -> Line {
        Line::new(need, source, Some(offer), quantity)
    }

    /// Units per need and per source and offer.
    fn totals(lines: &[Line]) -> (BTreeMap<usize, i64>, BTreeMap<(usize, usize), i64>) {
        let (mut needs, mut bought) = (BTreeMap::new(), BTreeMap::new());
        for l in lines {
            *needs.entry(l.need()).or_default() += l.quantity;
            *bought.entry((l.source(), l.offer().unwrap())).or_default() += l.quantity;
        }
        (needs, bought)
    }

    #[test]
    fn purchases_are_redealt_into_fewer_lines_keeping_every_total_and_deadline() {
        let instance: Instance = serde_json::from_value(serde_json::json!({
            "today": "2020-02-10",
            "needs": [
                {"id": "soon", "community": "c", "item": "mask", "quantity": 5,
                 "urgency": "high", "needed_by": "2020-02-11"},
                {"id": "later", "community": "c", "item": "mask", "quantity": 15,
                 "urgency": "high"}
            ],
            "sources": [
                {"id": "m1", "kind": "money", "amount": "100.00"},
                {"id": "m2", "kind": "money", "amount": "100.00"}
            ],
            "offers": [
                {"id": "fast", "supplier": "a", "item": "mask", "unit_price": "1.00",
                 "capacity": 10, "lead_days": 1},
                {"id": "slow", "supplier": "b", "item": "mask", "unit_price": "1.00",
                 "capacity": 10, "lead_days": 5}
            ]
        }))
        .unwrap();
        let problem = instance.check().unwrap();
        let mut engine = Engine::new(&problem);
        // Slivers, as passes leave them: each need from both sources of both offers it used.
        engine.lines = vec![
            line(0, 0, 0, 3),
            line(0, 1, 0, 2),
            line(1, 0, 0, 2),
            line(1, 1, 0, 3),
            line(1, 0, 1, 5),
            line(1, 1, 1, 5),
        ];
        let before = totals(&engine.lines);
        consolidate_purchases(&mut engine);
        assert_eq!(totals(&engine.lines), before);
        assert_eq!(engine.lines.len(), 4);
        // The need due tomorrow gets the fast offer only, from one source.
        let soon: Vec<&Line> = engine.lines.iter().filter(|l| l.need() == 0).collect();
        assert_eq!(soon.len(), 1);
        assert_eq!((soon[0].offer(), soon[0].quantity), (Some(0), 5));
    }

    #[test]
    fn purses_keep_earmarks_on_several_lists_and_dates() {
        let instance: Instance = serde_json::from_value(serde_json::json!({
            "today": "2020-02-10",
            "needs": crate::matching::engine::earmark_test_needs(),
            "sources": [
                // Only for elders in district a.
                {"id": "m1", "kind": "money", "amount": "10.00",
                 "earmark": {"districts": ["a"], "groups": ["elders_living_alone"]}},
                // Open, but only from after elder_b's date.
                {"id": "m2", "kind": "money", "amount": "10.00",
                 "available_from": "2020-02-15"}
            ],
            "offers": [
                {"id": "o1", "supplier": "s", "item": "mask", "unit_price": "1.00",
                 "capacity": 100, "lead_days": 0}
            ]
        }))
        .unwrap();
        let plan = crate::matching::engine::plan(&instance).unwrap();
        assert_eq!(
            sorted_lines(&plan, |line| line.source.to_string()),
            vec![
                ("elder_a".to_owned(), "m1".to_owned(), 10),
                ("resident_a".to_owned(), "m2".to_owned(), 10),
            ]
        );
    }

    #[test]
    fn an_offer_short_of_units_shares_them_and_the_next_offer_of_the_tier_sells_the_rest() {
        let instance: Instance = serde_json::from_value(serde_json::json!({
            "today": "2020-02-10",
            "offers": [
                {"id": "cheap", "supplier": "s", "item": "mask", "unit_price": "1.00",
                 "capacity": 2},
                {"id": "dear", "supplier": "s", "item": "mask", "unit_price": "1.50",
                 "capacity": 1}
            ]
        }))
        .unwrap();
        let problem = instance.check().unwrap();
        let tiers = [
            Tier {
                offers: vec![0, 1],
                price: 150,
            },
            Tier {
                offers: vec![0],
                price: 100,
            },
        ];
        let routes = [Route::Tier(0), Route::Tier(1), Route::Rate(500)];
        // Two groups found money for 3 and 1 units; the cheap offer has 2, the dear one 1.
        let mut sold = [0, 0];
        let bought = buy(&problem, &tiers, &routes, &[3, 1, 4], &mut sold);
        assert_eq!(
            bought[0],
            vec![(Channel::Offer(0), 2), (Channel::Offer(1), 1)]
        );
        assert_eq!(bought[1], vec![]);
        assert_eq!(bought[2], vec![(Channel::Rate(500), 4)]);
        assert_eq!(sold, [2, 1]);
    }

    #[test]
    fn among_offers_as_cheap_a_need_due_later_buys_from_the_slower_one() {
        // The critical need is due in a week; the high one tomorrow, and only the fast offer
        // arrives by then. Buying the critical need's masks from it would leave the high
        // need short for nothing.
        let instance: Instance = serde_json::from_value(serde_json::json!({
            "today": "2020-02-10",
            "needs": [
                {"id": "later", "community": "c1", "district": "d", "item": "mask",
                 "quantity": 6, "urgency": "critical", "needed_by": "2020-02-17"},
                {"id": "soon", "community": "c2", "district": "d", "item": "mask",
                 "quantity": 4, "urgency": "high", "needed_by": "2020-02-11"}
            ],
            "sources": [{"id": "m", "kind": "money", "amount": "100.00"}],
            "offers": [
                {"id": "fast", "supplier": "s1", "item": "mask", "unit_price": "0.86",
                 "capacity": 6, "lead_days": 0},
                {"id": "slow", "supplier": "s2", "item": "mask", "unit_price": "0.86",
                 "capacity": 8, "lead_days": 2}
            ]
        }))
        .unwrap();
        let plan = crate::matching::engine::plan(&instance).unwrap();
        assert_eq!(
            sorted_lines(&plan, |line| line
                .offer
                .as_deref()
                .unwrap_or_default()
                .to_owned()),
            vec![
                ("later".to_owned(), "slow".to_owned(), 6),
                ("soon".to_owned(), "fast".to_owned(), 4),
            ]
        );
        assert!(plan.unmet.is_empty());
    }
}
