//! Which earmarked entries (lots, lot groups, purses) may serve a need, without testing every
//! entry against every need: at national scale that test alone is a billion calls.

use rustc_hash::FxHashMap;

use super::instance::{Earmark, Need, Sym};

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
#[derive(Debug, Default)]
pub(crate) struct EarmarkIndex {
    open: Vec<u32>,
    piles: FxHashMap<(Field, Sym), Vec<u32>>,
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
                None => index.open.push(i as u32),
                Some((field, values)) => {
                    let mut values = values.clone().unwrap_or_default();
                    values.sort_unstable();
                    values.dedup();
                    for value in values {
                        index
                            .piles
                            .entry((field, value))
                            .or_default()
                            .push(i as u32);
                    }
                }
            }
        }
        index
    }

    /// Orders every pile by `key` (the open pile too); [`EarmarkIndex::piles`] then gives them
    /// in that order.
    pub fn order_piles_by<K: Ord>(&mut self, key: impl Fn(u32) -> K) {
        self.open.sort_by_key(|&i| key(i));
        for pile in self.piles.values_mut() {
            pile.sort_by_key(|&i| key(i));
        }
    }

    /// The piles that may admit `need`: the open one, then those of its own values. An entry
    /// is in at most one of them.
    pub fn piles<'a>(&'a self, need: &Need) -> impl Iterator<Item = &'a [u32]> + 'a {
        std::iter::once(self.open.as_slice()).chain(own_values(need).into_iter().filter_map(
            |(field, value)| {
                value
                    .and_then(|v| self.piles.get(&(field, v)))
                    .map(Vec::as_slice)
            },
        ))
    }

    /// The entries that may admit `need`, in increasing order, into `out` (cleared first).
    pub fn candidates(&self, need: &Need, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.open);
        for (field, value) in own_values(need) {
            if let Some(pile) = value.and_then(|v| self.piles.get(&(field, v))) {
                out.extend_from_slice(pile);
            }
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
