//! The embedded search index: an inverted index in memory, no service to run. Documents are
//! added, replaced and removed one by one; a query matches documents holding every one of its
//! terms — Han terms exactly, Latin words exactly, by prefix (names while typing) or with a
//! typo or two — and ranks them by how well and where they matched.

use std::collections::{BTreeMap, HashMap};

use super::{
    text::{index_terms, query_terms, typos_allowed, Term},
    Doc, Query,
};

/// Where a term was found: the title weighs more than the rest of the text.
const TITLE: u32 = 3;
const BODY: u32 = 1;

#[derive(Default)]
pub struct Index {
    docs: Vec<Option<Doc>>,
    slot_of: HashMap<String, usize>,
    free: Vec<usize>,
    /// Term → (document slot → field weight).
    postings: BTreeMap<Term, HashMap<usize, u32>>,
    terms_of: Vec<Vec<Term>>,
}

/// One hit before paging.
pub struct Hit<'a> {
    pub doc: &'a Doc,
    pub score: u32,
    /// The term to show in the snippet.
    pub matched: String,
}

impl Index {
    pub fn len(&self) -> usize {
        self.slot_of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot_of.is_empty()
    }

    /// Adds a document, or replaces the one with the same key.
    pub fn put(&mut self, doc: Doc) {
        self.remove(&doc.key);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.docs.push(None);
            self.terms_of.push(Vec::new());
            self.docs.len() - 1
        });
        let mut weights: HashMap<Term, u32> = HashMap::new();
        for term in index_terms(&format!("{} {}", doc.title_zh, doc.title_en)) {
            weights.insert(term, TITLE);
        }
        for term in index_terms(&doc.text) {
            weights.entry(term).or_insert(BODY);
        }
        for (term, weight) in &weights {
            self.postings
                .entry(term.clone())
                .or_default()
                .insert(slot, *weight);
        }
        self.terms_of[slot] = weights.into_keys().collect();
        self.slot_of.insert(doc.key.clone(), slot);
        self.docs[slot] = Some(doc);
    }

    pub fn remove(&mut self, key: &str) {
        let Some(slot) = self.slot_of.remove(key) else {
            return;
        };
        for term in std::mem::take(&mut self.terms_of[slot]) {
            if let Some(posting) = self.postings.get_mut(&term) {
                posting.remove(&slot);
                if posting.is_empty() {
                    self.postings.remove(&term);
                }
            }
        }
        self.docs[slot] = None;
        self.free.push(slot);
    }

    /// The documents each query term may match, with a quality: 4 exact, 2 prefix, 1 typo.
    fn candidates(&self, term: &Term, last: bool) -> HashMap<usize, (u32, String)> {
        let mut found: HashMap<usize, (u32, String)> = HashMap::new();
        let mut add = |posting: &HashMap<usize, u32>, quality: u32, text: &str| {
            for (slot, weight) in posting {
                let score = quality * weight;
                let entry = found.entry(*slot).or_insert((0, String::new()));
                if score > entry.0 {
                    *entry = (score, text.to_owned());
                }
            }
        };
        if let Some(posting) = self.postings.get(term) {
            add(posting, 4, term.text());
        }
        let Term::Word(word) = term else {
            return found;
        };
        // Names while typing: the last word of the query matches as a prefix.
        if last {
            let start = Term::Word(word.clone());
            for (t, posting) in self.postings.range(start..) {
                match t {
                    Term::Word(w) if w.starts_with(word.as_str()) => {
                        if w != word {
                            add(posting, 2, w)
                        }
                    }
                    _ => break,
                }
            }
        }
        let typos = typos_allowed(word);
        if typos > 0 {
            let length = word.chars().count();
            for (t, posting) in self.postings.range(Term::Word(String::new())..) {
                let Term::Word(w) = t else { continue };
                if w.chars().count().abs_diff(length) <= typos
                    && w != word
                    && strsim::damerau_levenshtein(w, word) <= typos
                {
                    add(posting, 1, w);
                }
            }
        }
        found
    }

    /// Documents matching every term of the query and its filters, best first.
    pub fn search(&self, query: &Query, may_see: &dyn Fn(&Doc) -> bool) -> Vec<Hit<'_>> {
        let terms = query_terms(&query.q);
        if terms.is_empty() {
            return Vec::new();
        }
        let last_word = terms.iter().rposition(|t| matches!(t, Term::Word(_)));
        let mut matched: Option<HashMap<usize, (u32, String)>> = None;
        for (i, term) in terms.iter().enumerate() {
            let found = self.candidates(term, Some(i) == last_word);
            matched = Some(match matched {
                None => found,
                Some(so_far) => so_far
                    .into_iter()
                    .filter_map(|(slot, (score, text))| {
                        found.get(&slot).map(|(s, t)| {
                            let best = if *s > score { t.clone() } else { text };
                            (slot, (score + s, best))
                        })
                    })
                    .collect(),
            });
        }
        let mut hits: Vec<Hit> = matched
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(slot, (score, text))| {
                let doc = self.docs[slot].as_ref()?;
                (query.admits(doc) && may_see(doc)).then_some(Hit {
                    doc,
                    score,
                    matched: text,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| a.doc.kind.rank().cmp(&b.doc.kind.rank()))
                .then_with(|| a.doc.key.cmp(&b.doc.key))
        });
        hits
    }

    /// Titles starting with the text typed so far, for suggestions.
    pub fn suggest(&self, prefix: &str, may_see: &dyn Fn(&Doc) -> bool, limit: usize) -> Vec<&Doc> {
        let prefix = prefix.trim().to_lowercase();
        if prefix.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<&Doc> = self
            .docs
            .iter()
            .flatten()
            .filter(|d| {
                d.title_zh.to_lowercase().starts_with(&prefix)
                    || d.title_en.to_lowercase().starts_with(&prefix)
            })
            .filter(|d| may_see(d))
            .collect();
        found.sort_by(|a, b| a.kind.rank().cmp(&b.kind.rank()).then(a.key.cmp(&b.key)));
        found.truncate(limit);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::Kind;

    fn doc(key: &str, kind: Kind, zh: &str, en: &str, text: &str) -> Doc {
        Doc {
            key: key.into(),
            kind,
            record_id: 1,
            title_zh: zh.into(),
            title_en: en.into(),
            text: text.into(),
            district: "江汉区".into(),
            category: String::new(),
            status: "active".into(),
            acl: vec!["public".into()],
            link: "/".into(),
        }
    }

    fn query(q: &str) -> Query {
        Query {
            q: q.into(),
            ..Query::default()
        }
    }

    fn keys(index: &Index, q: &str) -> Vec<String> {
        index
            .search(&query(q), &|_| true)
            .iter()
            .map(|h| h.doc.key.clone())
            .collect()
    }

    fn sample() -> Index {
        let mut index = Index::default();
        index.put(doc(
            "item:1",
            Kind::Item,
            "一次性医用口罩",
            "Medical mask",
            "protective",
        ));
        index.put(doc(
            "item:2",
            Kind::Item,
            "84消毒液",
            "84 disinfectant",
            "disinfection",
        ));
        index.put(doc(
            "organisation:3",
            Kind::Organisation,
            "多闻社区",
            "Duowen Community",
            "江汉区",
        ));
        index.put(doc(
            "need:4",
            Kind::Need,
            "一次性医用口罩 · 多闻社区",
            "",
            "独居老人 送货上门",
        ));
        index
    }

    #[test]
    fn chinese_words_and_single_characters_match() {
        let index = sample();
        assert_eq!(keys(&index, "口罩"), ["item:1", "need:4"]);
        assert_eq!(keys(&index, "消毒"), ["item:2"]);
        assert_eq!(keys(&index, "罩"), ["item:1", "need:4"]);
        assert_eq!(keys(&index, "独居"), ["need:4"]);
        assert!(
            keys(&index, "口罩 消毒").is_empty(),
            "every term must match"
        );
    }

    #[test]
    fn latin_words_match_with_typos_and_by_prefix() {
        let index = sample();
        assert_eq!(keys(&index, "disinfectnt"), ["item:2"]);
        assert_eq!(keys(&index, "Duo"), ["organisation:3"]);
        assert_eq!(keys(&index, "84 消毒"), ["item:2"]);
        assert!(keys(&index, "xyz").is_empty());
    }

    #[test]
    fn replacing_and_removing_documents_updates_the_postings() {
        let mut index = sample();
        index.put(doc("item:1", Kind::Item, "护目镜", "Goggles", ""));
        assert_eq!(keys(&index, "口罩"), ["need:4"]);
        assert_eq!(keys(&index, "护目镜"), ["item:1"]);
        index.remove("need:4");
        assert!(keys(&index, "口罩").is_empty());
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn suggestions_are_titles_by_prefix() {
        let index = sample();
        let found: Vec<&str> = index
            .suggest("多闻", &|_| true, 10)
            .iter()
            .map(|d| d.key.as_str())
            .collect();
        assert_eq!(found, ["organisation:3"]);
    }
}
