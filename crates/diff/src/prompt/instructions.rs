//! Instructions: two bodies → `prompt.instruction_removed` / `_added`.
//!
//! In: the base and head [`Body`]. Out: every sentence or line holding a
//! removed or added word, whole, with its text in `value`. Words are
//! matched by a longest common subsequence; above `LCS_BUDGET` cells whole
//! sentences are matched instead.

use std::collections::HashMap;

use super::compare::path;
use super::model::*;
use crate::change::{Change, Changes};

/// Above this many LCS cells the body is compared sentence by sentence.
pub(super) const LCS_BUDGET: usize = 4_000_000;

/// Matched index pairs of a longest common subsequence, or `None` when the
/// differing middle is larger than `budget` cells.
pub(super) fn lcs(a: &[u32], b: &[u32], budget: usize) -> Option<Vec<(usize, usize)>> {
    let mut pre = 0;
    while pre < a.len() && pre < b.len() && a[pre] == b[pre] {
        pre += 1;
    }
    let mut suf = 0;
    while suf < a.len() - pre && suf < b.len() - pre && a[a.len() - 1 - suf] == b[b.len() - 1 - suf]
    {
        suf += 1;
    }
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let (n, m) = (am.len(), bm.len());
    let mut pairs: Vec<(usize, usize)> = (0..pre).map(|k| (k, k)).collect();
    if n > 0 && m > 0 {
        if (n + 1).saturating_mul(m + 1) > budget {
            return None;
        }
        let w = m + 1;
        let mut dp = vec![0u32; (n + 1) * w];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                dp[i * w + j] = if am[i] == bm[j] {
                    dp[(i + 1) * w + j + 1] + 1
                } else {
                    dp[(i + 1) * w + j].max(dp[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n && j < m {
            if am[i] == bm[j] {
                pairs.push((pre + i, pre + j));
                i += 1;
                j += 1;
            } else if dp[(i + 1) * w + j] >= dp[i * w + j + 1] {
                i += 1;
            } else {
                j += 1;
            }
        }
    }
    pairs.extend((0..suf).map(|k| (a.len() - suf + k, b.len() - suf + k)));
    Some(pairs)
}

pub(super) fn diff_instructions(id: &str, a: &Body, b: &Body, out: &mut Changes) {
    // Tokens: (role, word) interned, with the segment each belongs to.
    let tok =
        |body: &Body, ids: &mut HashMap<(Option<String>, String), u32>| -> (Vec<u32>, Vec<usize>) {
            let mut t = Vec::new();
            let mut seg = Vec::new();
            for (si, s) in body.segments.iter().enumerate() {
                for w in s.text.split(' ') {
                    let next = ids.len() as u32;
                    t.push(*ids.entry((s.role.clone(), w.to_string())).or_insert(next));
                    seg.push(si);
                }
            }
            (t, seg)
        };
    let mut owned: HashMap<(Option<String>, String), u32> = HashMap::new();
    let (ta, sa) = tok(a, &mut owned);
    let (tb, sb) = tok(b, &mut owned);
    let token_pairs = match lcs(&ta, &tb, LCS_BUDGET) {
        Some(p) => p,
        None => segment_pairs(a, b, &sa, &sb),
    };
    let mut partner_a: Vec<Option<usize>> = vec![None; ta.len()];
    let mut partner_b: Vec<Option<usize>> = vec![None; tb.len()];
    for &(i, j) in &token_pairs {
        partner_a[i] = Some(j);
        partner_b[j] = Some(i);
    }
    // A sentence is unchanged when all its words are matched, in one run.
    let changed = |n_segs: usize, seg_of: &[usize], partner: &[Option<usize>]| -> Vec<bool> {
        let mut out = vec![false; n_segs];
        let mut prev: Vec<Option<usize>> = vec![None; n_segs];
        for (k, s) in seg_of.iter().enumerate() {
            match partner[k] {
                None => out[*s] = true,
                Some(p) => {
                    if prev[*s].is_some_and(|q| q + 1 != p) {
                        out[*s] = true;
                    }
                    prev[*s] = Some(p);
                }
            }
        }
        out
    };
    let ch_a = changed(a.segments.len(), &sa, &partner_a);
    let ch_b = changed(b.segments.len(), &sb, &partner_b);
    if !ch_a.contains(&true) && !ch_b.contains(&true) {
        return;
    }
    // Order: by position in the head (a removal sits where the next kept word is), removals first.
    let (fa, fb) = (
        first_tokens(&sa, a.segments.len()),
        first_tokens(&sb, b.segments.len()),
    );
    let anchor_a = |i: usize| -> usize {
        let k = token_pairs.partition_point(|(pi, _)| *pi < i);
        token_pairs.get(k).map(|(_, pj)| *pj).unwrap_or(tb.len())
    };
    let mut events: Vec<(usize, u8, usize)> = Vec::new();
    for (s, c) in ch_a.iter().enumerate() {
        if *c {
            events.push((anchor_a(fa[s]), 0, s));
        }
    }
    for (s, c) in ch_b.iter().enumerate() {
        if *c {
            events.push((fb[s], 1, s));
        }
    }
    events.sort();
    for (_, side, s) in events {
        let (seg, kind) = if side == 0 {
            (&a.segments[s], "prompt.instruction_removed")
        } else {
            (&b.segments[s], "prompt.instruction_added")
        };
        let part = seg.role.as_deref().unwrap_or("template");
        let (lb, la) = if side == 0 {
            (seg.line, 0)
        } else {
            (0, seg.line)
        };
        let mut c = Change::new(kind, path(id, part))
            .lines(lb, la)
            .fact("value", seg.text.as_str());
        if let Some(r) = &seg.role {
            c = c.fact("role", r.as_str());
        }
        out.push(c);
    }
}

/// Fallback for very long bodies: an LCS of whole sentences, as token pairs.
pub(super) fn segment_pairs(a: &Body, b: &Body, sa: &[usize], sb: &[usize]) -> Vec<(usize, usize)> {
    let mut ids: HashMap<(Option<&str>, &str), u32> = HashMap::new();
    let mut ka = Vec::new();
    let mut kb = Vec::new();
    for (side, segs) in [(0, &a.segments), (1, &b.segments)] {
        for s in segs.iter() {
            let next = ids.len() as u32;
            let k = *ids
                .entry((s.role.as_deref(), s.text.as_str()))
                .or_insert(next);
            if side == 0 {
                ka.push(k)
            } else {
                kb.push(k)
            }
        }
    }
    let seg_pairs = lcs(&ka, &kb, LCS_BUDGET).unwrap_or_default();
    let (fa, fb) = (
        first_tokens(sa, a.segments.len()),
        first_tokens(sb, b.segments.len()),
    );
    let mut out = Vec::new();
    for (x, y) in seg_pairs {
        let n = a.segments[x].text.split(' ').count();
        out.extend((0..n).map(|k| (fa[x] + k, fb[y] + k)));
    }
    out
}

/// The index of each segment's first token.
pub(super) fn first_tokens(seg_of: &[usize], n: usize) -> Vec<usize> {
    let mut first = vec![seg_of.len(); n];
    for (k, s) in seg_of.iter().enumerate().rev() {
        first[*s] = k;
    }
    first
}
