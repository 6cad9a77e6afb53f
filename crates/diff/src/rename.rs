//! Renames: which removed and added elements are one element renamed, and
//! the evidence for it.
//!
//! A detector says which pairs *could* be one element (same shape, same
//! type and arguments) and which the head *declares* renamed
//! (`x-renamed-from`, `x-aliases`); [`pair`] picks the pairs and says why
//! each was picked. The evidence goes on the `field.renamed` fact as
//! `match` (`declared`, `only_candidate`, `similar`) and `similarity` (the
//! measured similarity of the two names, 0 to 1), and the `semantic_diff`
//! pack turns it into a confidence. No detector states a confidence: how
//! sure a guess is, is the pack's call.

use super::change::Change;
use std::collections::HashSet;

/// Why a removed and an added element were paired as a rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The head says so (`x-renamed-from: old`, `x-aliases: [old]`).
    Declared,
    /// Neither side has another candidate of the same shape.
    OnlyCandidate,
    /// Several candidates: the most similar name was picked.
    Similar,
}

impl Match {
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Declared => "declared",
            Match::OnlyCandidate => "only_candidate",
            Match::Similar => "similar",
        }
    }
}

/// A removed element paired with an added one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// Index in the removed list.
    pub removed: usize,
    /// Index in the added list.
    pub added: usize,
    pub by: Match,
    /// The names' similarity (normalized Damerau-Levenshtein), rounded to
    /// two decimals: a measurement, reported whatever the match.
    pub similarity: f64,
}

impl Pair {
    /// The evidence facts, on a `field.renamed` change.
    pub fn evidence(&self, c: Change) -> Change {
        c.fact("match", self.by.as_str())
            .fact("similarity", self.similarity)
    }
}

/// The similarity of two names, 0 (nothing shared) to 1 (equal).
pub fn similarity(a: &str, b: &str) -> f64 {
    (strsim::normalized_damerau_levenshtein(a, b) * 100.0).round() / 100.0
}

/// Pairs removed and added names as renames. `declared(i, j)`: the head
/// declares added `j` a rename of removed `i`; `alike(i, j)`: the two
/// could be one element. Declared pairs come first; the other candidates
/// pair most similar first, ties by source order, so the result is stable.
/// A pair is an `only_candidate` when neither of its elements is a
/// candidate of anything else.
pub fn pair(
    removed: &[&str],
    added: &[&str],
    declared: impl Fn(usize, usize) -> bool,
    alike: impl Fn(usize, usize) -> bool,
) -> Vec<Pair> {
    let mut cands: Vec<(usize, usize, bool, f64)> = Vec::new();
    for (i, r) in removed.iter().enumerate() {
        for (j, n) in added.iter().enumerate() {
            let d = declared(i, j);
            if d || alike(i, j) {
                cands.push((i, j, d, similarity(r, n)));
            }
        }
    }
    let count_r = |i: usize| cands.iter().filter(|c| c.0 == i).count();
    let count_a = |j: usize| cands.iter().filter(|c| c.1 == j).count();
    let mut order: Vec<usize> = (0..cands.len()).collect();
    order.sort_by(|&x, &y| {
        let (cx, cy) = (&cands[x], &cands[y]);
        cy.2.cmp(&cx.2)
            .then(cy.3.partial_cmp(&cx.3).unwrap_or(std::cmp::Ordering::Equal))
            .then((cx.0, cx.1).cmp(&(cy.0, cy.1)))
    });
    let (mut used_r, mut used_a) = (HashSet::new(), HashSet::new());
    let mut pairs = Vec::new();
    for k in order {
        let (i, j, d, sim) = cands[k];
        if used_r.contains(&i) || used_a.contains(&j) {
            continue;
        }
        used_r.insert(i);
        used_a.insert(j);
        let by = if d {
            Match::Declared
        } else if count_r(i) == 1 && count_a(j) == 1 {
            Match::OnlyCandidate
        } else {
            Match::Similar
        };
        pairs.push(Pair {
            removed: i,
            added: j,
            by,
            similarity: sim,
        });
    }
    pairs.sort_by_key(|p| p.removed);
    pairs
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn never(_: usize, _: usize) -> bool {
        false
    }

    #[test]
    fn one_candidate_each_way_is_an_only_candidate() {
        let p = pair(&["customer"], &["buyer"], never, |_, _| true);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].removed, p[0].added, p[0].by),
            (0, 0, Match::OnlyCandidate)
        );
        assert_eq!(p[0].similarity, similarity("customer", "buyer"));
    }

    #[test]
    fn several_candidates_pick_the_most_similar_name() {
        let p = pair(&["userName"], &["login", "userNames"], never, |_, _| true);
        assert_eq!(p.len(), 1);
        assert_eq!((p[0].added, p[0].by), (1, Match::Similar));
        assert_eq!(p[0].similarity, 0.89);
    }

    #[test]
    fn a_declared_rename_wins_over_a_closer_name() {
        let p = pair(
            &["userName"],
            &["userNames", "login"],
            |_, j| j == 1,
            |_, _| true,
        );
        assert_eq!((p[0].added, p[0].by), (1, Match::Declared));
        // The measurement is still reported.
        assert_eq!(p[0].similarity, similarity("userName", "login"));
    }

    #[test]
    fn an_added_element_wanted_by_two_removals_is_not_an_only_candidate() {
        let p = pair(&["a", "b"], &["x"], never, |_, _| true);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].by, Match::Similar);
    }

    #[test]
    fn nothing_alike_pairs_nothing() {
        assert!(pair(&["a"], &["b"], never, never).is_empty());
    }

    #[test]
    fn similarity_is_a_rounded_measurement() {
        assert_eq!(similarity("abc", "abc"), 1.0);
        assert_eq!(similarity("abc", "xyz"), 0.0);
        assert_eq!(similarity("userName", "userNames"), 0.89);
    }

    /// Where a source states a confidence: `conf` or `confidence` (any
    /// case, as a word or a part of a snake-case name) followed, within one
    /// statement (up to the next `;`, at most 300 characters), by a number
    /// with a fraction. Gives the 1-based lines.
    fn states_confidence(text: &str) -> Vec<usize> {
        let re = regex::Regex::new(r"(?i)(?:^|[^a-z])conf(?:idence)?(?:[^a-z;])[^;]{0,300}?\d\.\d")
            .unwrap();
        re.find_iter(text)
            .map(|m| text[..m.start()].lines().count().max(1))
            .collect()
    }

    /// Detectors report evidence, never a confidence: no detector source
    /// may pair a confidence with a number (the pack's rules state every
    /// confidence). `classify.rs` and `report.rs` carry the pack's verdict.
    #[test]
    fn no_detector_states_a_confidence() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src.clone()];
        let mut offenders = Vec::new();
        let mut read = 0;
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                if !name.ends_with(".rs") || ["classify.rs", "report.rs"].contains(&name.as_str()) {
                    continue;
                }
                read += 1;
                let text = std::fs::read_to_string(&p).unwrap();
                // This test's own examples are not a detector's.
                let text = match text.find("mod confidence_check_examples") {
                    Some(i) => &text[..i],
                    None => &text[..],
                };
                for n in states_confidence(text) {
                    offenders.push(format!("{}:{n}", p.display()));
                }
            }
        }
        assert!(
            read > 20,
            "read only {read} sources under {}",
            src.display()
        );
        assert!(
            offenders.is_empty(),
            "detectors state a confidence (report evidence instead, and let the pack decide): {}",
            offenders.join(", ")
        );
    }

    /// The check finds what it is for: the shapes the detectors used before
    /// they reported evidence.
    mod confidence_check_examples {
        use super::states_confidence;

        #[test]
        fn the_check_catches_a_stated_confidence() {
            let hit = |t: &str| !states_confidence(t).is_empty();
            assert!(hit("    .confidence(0.85)"));
            assert!(hit(
                "let confidence = if declared.is_some() {\n    1.0\n} else {\n    0.6\n};"
            ));
            assert!(hit("/// `(i, j, confidence)`: certain (0.9) when alone"));
            assert!(hit("c.detector_confidence = 0.5;"));
            assert!(hit("let conf = 0.6;"));
            assert_eq!(states_confidence("a;\nb;\nlet conf = 0.6;"), [3]);
            assert!(!hit("let config = 0.5;"));
            assert!(!hit(".fact(\"similarity\", 0.87)"));
            assert!(!hit(
                "/// how sure a guess is: the pack's confidence;\nlet x = 0.5;"
            ));
        }
    }
}
