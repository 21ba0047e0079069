//! Which earmarked entries (lots, lot groups, purses) may serve a need, without testing every
//! entry against every need: at national scale that test alone is a billion calls.

use chrono::NaiveDate;
use rustc_hash::FxHashMap;

use super::instance::{Earmark, Need, Sym};

/// What an earmark opens an entry to, as pool keys: a need may use the entry when one of its
/// own values is among them (and the dates fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reach {
    Open,
    District(Sym),
    Community(Sym),
    Item(Sym),
    Category(Sym),
    Group(Sym),
    /// An earmark restricting several lists: a pool of its own, checked need by need.
    Mixed(u32),
}

fn reaches(earmark: &Earmark, entry: u32) -> Vec<Reach> {
    type Keyed<'e> = (&'e Option<Vec<Sym>>, fn(Sym) -> Reach);
    let lists: [Keyed; 5] = [
        (&earmark.districts, Reach::District),
        (&earmark.communities, Reach::Community),
        (&earmark.items, Reach::Item),
        (&earmark.categories, Reach::Category),
        (&earmark.groups, Reach::Group),
    ];
    let restricting: Vec<_> = lists.iter().filter(|(list, _)| list.is_some()).collect();
    match restricting.as_slice() {
        [] => vec![Reach::Open],
        [(Some(values), reach)] => values.iter().map(|&v| reach(v)).collect(),
        _ => vec![Reach::Mixed(entry)],
    }
}

/// The pool keys a need may draw on (before its date).
fn need_reaches(need: &Need) -> [Option<Reach>; 6] {
    [
        Some(Reach::Open),
        Some(Reach::Community(need.community)),
        Some(Reach::Item(need.item)),
        need.district.map(Reach::District),
        need.category.map(Reach::Category),
        need.group.map(Reach::Group),
    ]
}

/// Entries (lot groups, purses) pooled by what their earmark opens them to and the dates they
/// serve: every entry open to one district from one date to another, say. A need draws on the
/// few pools of its own values at its own date, so a flow network through the pools grows with
/// the entries and the needs, not with their product.
pub(crate) struct Pools {
    /// The days on which some entry becomes usable or stops being usable, sorted. Dates between
    /// two of them are alike for every entry: one slot each. The last slot is for needs without
    /// a date, which every entry may serve (the only slot when no entry has dates).
    changes: Vec<NaiveDate>,
    index: FxHashMap<(Reach, usize), usize>,
    /// Per pool, its entries.
    pub lists: Vec<Vec<u32>>,
    /// Entries whose earmark restricts several lists, and an index of them.
    mixed: Vec<u32>,
    mixed_index: EarmarkIndex,
}

impl Pools {
    /// Pools `entries`, each given by its earmark and the dates it is usable from and until.
    pub fn new<'e>(
        entries: impl IntoIterator<Item = (&'e Earmark, Option<NaiveDate>, Option<NaiveDate>)>,
    ) -> Pools {
        let entries: Vec<_> = entries.into_iter().collect();
        let mut changes: Vec<NaiveDate> = entries
            .iter()
            .flat_map(|&(_, from, until)| [from, until.and_then(|u| u.succ_opt())])
            .flatten()
            .collect();
        changes.sort_unstable();
        changes.dedup();
        let mut pools = Pools {
            changes,
            index: FxHashMap::default(),
            lists: Vec::new(),
            mixed: Vec::new(),
            mixed_index: EarmarkIndex::default(),
        };
        let mut mixed_earmarks = Vec::new();
        for (e, &(earmark, from, until)) in entries.iter().enumerate() {
            let reaches = reaches(earmark, e as u32);
            if matches!(reaches.first(), Some(Reach::Mixed(_))) {
                pools.mixed.push(e as u32);
                mixed_earmarks.push(earmark);
            }
            let slots = pools.slots(from, until);
            for reach in reaches {
                for slot in slots.clone() {
                    let p = *pools.index.entry((reach, slot)).or_insert_with(|| {
                        pools.lists.push(Vec::new());
                        pools.lists.len() - 1
                    });
                    pools.lists[p].push(e as u32);
                }
            }
        }
        pools.mixed_index = EarmarkIndex::new(mixed_earmarks);
        pools
    }

    /// The slot of a date: how many changes come on or before it.
    fn slot_of(&self, date: NaiveDate) -> usize {
        self.changes.partition_point(|d| *d <= date)
    }

    /// The slot of needs without a date.
    fn undated(&self) -> usize {
        if self.changes.is_empty() {
            0
        } else {
            self.changes.len() + 1
        }
    }

    /// The slots an entry usable from `from` until `until` serves, the undated one included.
    fn slots(&self, from: Option<NaiveDate>, until: Option<NaiveDate>) -> Vec<usize> {
        let first = from.map_or(0, |from| self.slot_of(from));
        let end = until
            .and_then(|until| until.succ_opt())
            .map_or(self.changes.len() + 1, |after| self.slot_of(after));
        let mut slots: Vec<usize> = (first..end.max(first)).collect();
        if self.undated() != 0 {
            slots.push(self.undated());
        }
        slots
    }

    /// The pools `need` draws on, in increasing order. `admits` says whether an entry whose
    /// earmark restricts several lists may serve the need.
    pub fn of(&self, need: &Need, admits: impl Fn(u32) -> bool) -> Vec<u32> {
        let slot = need.needed_by.map_or(self.undated(), |by| self.slot_of(by));
        let mut own: Vec<u32> = need_reaches(need)
            .into_iter()
            .flatten()
            .filter_map(|reach| self.index.get(&(reach, slot)).map(|&p| p as u32))
            .collect();
        let mut candidates = Vec::new();
        self.mixed_index.candidates(need, &mut candidates);
        for &c in &candidates {
            let e = self.mixed[c as usize];
            let pool = self.index.get(&(Reach::Mixed(e), slot));
            if let Some(&p) = pool.filter(|_| admits(e)) {
                own.push(p as u32);
            }
        }
        own.sort_unstable();
        own
    }
}

/// The number of the pile of entries whose earmark restricts nothing.
const OPEN: usize = 0;

/// The fields an earmark can restrict, in the order an entry is filed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    District,
    Community,
    Item,
    Category,
    Group,
}

/// A need's own value for each field an earmark can restrict.
fn own_values(need: &Need) -> [(Field, Option<Sym>); 5] {
    [
        (Field::District, need.district),
        (Field::Community, Some(need.community)),
        (Field::Item, Some(need.item)),
        (Field::Category, need.category),
        (Field::Group, need.group),
    ]
}

/// Entries filed under the first list their earmark restricts, once per value in it, or as
/// open when it restricts nothing. A need can only be admitted by an open entry or one filed
/// under its own district, community, item, category or group, so those piles are the only
/// candidates; the caller still checks each one in full (the other lists, dates).
#[derive(Debug)]
pub(crate) struct EarmarkIndex {
    /// The piles by number; the first is the open one.
    lists: Vec<Vec<u32>>,
    piles: FxHashMap<(Field, Sym), usize>,
}

impl Default for EarmarkIndex {
    fn default() -> EarmarkIndex {
        EarmarkIndex {
            lists: vec![Vec::new()],
            piles: FxHashMap::default(),
        }
    }
}

impl EarmarkIndex {
    /// Files entry `i` of `earmarks` for each `i`.
    pub fn new<'e>(earmarks: impl IntoIterator<Item = &'e Earmark>) -> EarmarkIndex {
        let mut index = EarmarkIndex::default();
        for (i, earmark) in earmarks.into_iter().enumerate() {
            let lists = [
                (Field::District, &earmark.districts),
                (Field::Community, &earmark.communities),
                (Field::Item, &earmark.items),
                (Field::Category, &earmark.categories),
                (Field::Group, &earmark.groups),
            ];
            match lists.into_iter().find(|(_, list)| list.is_some()) {
                None => index.lists[OPEN].push(i as u32),
                Some((field, values)) => {
                    let mut values = values.clone().unwrap_or_default();
                    values.sort_unstable();
                    values.dedup();
                    for value in values {
                        let lists = &mut index.lists;
                        let pile = *index.piles.entry((field, value)).or_insert_with(|| {
                            lists.push(Vec::new());
                            lists.len() - 1
                        });
                        lists[pile].push(i as u32);
                    }
                }
            }
        }
        index
    }

    /// Orders every pile by `key` (the open pile too); [`EarmarkIndex::piles`] then gives them
    /// in that order.
    pub fn order_piles_by<K: Ord>(&mut self, key: impl Fn(u32) -> K) {
        for pile in &mut self.lists {
            pile.sort_by_key(|&i| key(i));
        }
    }

    /// The numbers of the piles that may admit `need`: the open one, then those of its own
    /// values. An entry is in at most one of them.
    pub fn piles<'a>(&'a self, need: &Need) -> impl Iterator<Item = usize> + 'a {
        std::iter::once(OPEN).chain(
            own_values(need)
                .into_iter()
                .filter_map(|(field, value)| value.and_then(|v| self.piles.get(&(field, v))))
                .copied(),
        )
    }

    /// Pile number `pile`'s entries.
    pub fn pile(&self, pile: usize) -> &[u32] {
        &self.lists[pile]
    }

    pub fn pile_count(&self) -> usize {
        self.lists.len()
    }

    /// The entries that may admit `need`, in increasing order, into `out` (cleared first).
    pub fn candidates(&self, need: &Need, out: &mut Vec<u32>) {
        out.clear();
        for pile in self.piles(need) {
            out.extend_from_slice(&self.lists[pile]);
        }
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(district: u32, community: u32, group: Option<u32>) -> Need {
        Need {
            id: "n".into(),
            community,
            district: Some(district),
            item: 100,
            category: Some(200),
            group,
            quantity: 1,
            class: 0,
            location: None,
            needed_by: None,
            rate: None,
        }
    }

    #[test]
    fn a_need_sees_open_entries_and_those_filed_under_its_own_values() {
        let earmarks = [
            Earmark::default(),
            Earmark {
                districts: Some(vec![1, 2]),
                ..Earmark::default()
            },
            Earmark {
                communities: Some(vec![7]),
                ..Earmark::default()
            },
            // Filed under its district list; its group list is for the caller to check.
            Earmark {
                districts: Some(vec![1]),
                groups: Some(vec![9]),
                ..Earmark::default()
            },
        ];
        let index = EarmarkIndex::new(&earmarks);
        let mut out = Vec::new();
        index.candidates(&need(1, 7, None), &mut out);
        assert_eq!(out, vec![0, 1, 2, 3]);
        index.candidates(&need(2, 8, Some(9)), &mut out);
        assert_eq!(out, vec![0, 1]);
        index.candidates(&need(3, 8, None), &mut out);
        assert_eq!(out, vec![0]);
        // Every entry admitted is a candidate.
        for n in [need(1, 7, Some(9)), need(2, 7, None), need(3, 3, Some(9))] {
            index.candidates(&n, &mut out);
            for (i, earmark) in earmarks.iter().enumerate() {
                if earmark.admits(&n) {
                    assert!(out.contains(&(i as u32)));
                }
            }
        }
    }
}
