//! How text becomes search terms, the same for documents and queries: Chinese (Han) runs give
//! every single character and every pair of neighbours — so 口罩, 消毒 and 独居 match as words
//! and 罩 as a character, with no dictionary — and Latin text gives lower-case words. Mixed text
//! such as "N95口罩" gives both.

/// A term of a query or a document.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Term {
    /// One Han character or a pair of neighbours.
    Han(String),
    /// A lower-case Latin word or number.
    Word(String),
}

impl Term {
    pub fn text(&self) -> &str {
        match self {
            Term::Han(t) | Term::Word(t) => t,
        }
    }
}

fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2A6DF)
}

/// Runs of the text: Han characters, and Latin letters and digits.
fn runs(text: &str) -> Vec<(bool, String)> {
    let mut runs: Vec<(bool, String)> = Vec::new();
    for c in text.chars() {
        let kind = if is_han(c) {
            Some(true)
        } else if c.is_alphanumeric() {
            Some(false)
        } else {
            None
        };
        match (kind, runs.last_mut()) {
            (Some(han), Some((last, run))) if *last == han && !run.is_empty() => {
                run.extend(c.to_lowercase())
            }
            (Some(han), _) => runs.push((han, c.to_lowercase().collect())),
            (None, Some((_, run))) if !run.is_empty() => runs.push((false, String::new())),
            (None, _) => {}
        }
    }
    runs.retain(|(_, r)| !r.is_empty());
    runs
}

/// The terms a document is indexed under: every Han character and neighbour pair, every word.
pub fn index_terms(text: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    for (han, run) in runs(text) {
        if han {
            let chars: Vec<char> = run.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                terms.push(Term::Han(c.to_string()));
                if let Some(next) = chars.get(i + 1) {
                    terms.push(Term::Han(format!("{c}{next}")));
                }
            }
        } else {
            terms.push(Term::Word(run));
        }
    }
    terms
}

/// The terms a query asks for, all of which a result must match: a single Han character as
/// itself, a longer run as its neighbour pairs (so 独居老人 needs 独居, 居老 and 老人), words as
/// words.
pub fn query_terms(text: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    for (han, run) in runs(text) {
        if han {
            let chars: Vec<char> = run.chars().collect();
            if chars.len() == 1 {
                terms.push(Term::Han(run));
            } else {
                for pair in chars.windows(2) {
                    terms.push(Term::Han(pair.iter().collect()));
                }
            }
        } else {
            terms.push(Term::Word(run));
        }
    }
    terms.sort();
    terms.dedup();
    terms
}

/// How many typing mistakes a Latin query word may carry.
pub fn typos_allowed(word: &str) -> usize {
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn han(t: &str) -> Term {
        Term::Han(t.into())
    }

    #[test]
    fn chinese_gives_characters_and_pairs() {
        assert_eq!(index_terms("口罩"), vec![han("口"), han("口罩"), han("罩")]);
        assert_eq!(query_terms("罩"), vec![han("罩")]);
        assert_eq!(
            query_terms("独居老人"),
            vec![han("居老"), han("独居"), han("老人")]
        );
    }

    #[test]
    fn mixed_text_gives_words_and_han_terms() {
        let terms = index_terms("N95口罩, 84 Disinfectant");
        assert!(terms.contains(&Term::Word("n95".into())));
        assert!(terms.contains(&han("口罩")));
        assert!(terms.contains(&Term::Word("disinfectant".into())));
        assert!(terms.contains(&Term::Word("84".into())));
        assert_eq!(
            query_terms("N95 口罩"),
            vec![han("口罩"), Term::Word("n95".into())]
        );
    }

    #[test]
    fn longer_words_tolerate_more_typos() {
        assert_eq!(typos_allowed("mask"), 0);
        assert_eq!(typos_allowed("disinfectnt"), 2);
        assert_eq!(typos_allowed("gloves"), 1);
    }
}
