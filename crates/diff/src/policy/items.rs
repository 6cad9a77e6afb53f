//! A pack's items and blocks, keyed for matching.
//!
//! In: a parsed pack. Out: its imports, constants and blocks; blocks keyed
//! by kind, name and occurrence, their children and attribute names, and
//! the path segments facts are reported under.

use std::collections::HashMap;

use tenet_dsl::ast::{Block, Entry, Item, Pack};

pub(super) fn join(path: &str, seg: &str) -> String {
    format!("{path}.{seg}")
}

pub(super) fn block_seg(b: &Block, occ: usize) -> String {
    let mut s = b.title();
    if occ > 0 {
        s.push_str(&format!("#{}", occ + 1));
    }
    s
}

/// Keys blocks by kind, name and occurrence, in order.
pub(super) fn keyed<'b>(blocks: &[&'b Block]) -> Vec<((String, String, usize), &'b Block)> {
    let mut count: HashMap<(String, String), usize> = HashMap::new();
    blocks
        .iter()
        .map(|b| {
            let k = (b.kind.name.clone(), b.name_str().to_string());
            let n = count.entry(k.clone()).or_insert(0);
            let occ = *n;
            *n += 1;
            ((k.0, k.1, occ), *b)
        })
        .collect()
}

pub(super) fn children(b: &Block) -> Vec<&Block> {
    b.entries
        .iter()
        .filter_map(|e| match e {
            Entry::Block(c) => Some(c),
            Entry::Attr(_) => None,
        })
        .collect()
}

/// Attribute keys of both blocks: the base's order, then the head's additions.
pub(super) fn field_names<'b>(a: &'b Block, b: &'b Block) -> Vec<&'b str> {
    let mut names: Vec<&str> = Vec::new();
    for attr in a.attrs().chain(b.attrs()) {
        if !names.contains(&attr.key.name.as_str()) {
            names.push(&attr.key.name);
        }
    }
    names
}

pub(super) fn blocks(p: &Pack) -> Vec<&Block> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Block(b) => Some(b),
            _ => None,
        })
        .collect()
}

pub(super) fn imports(p: &Pack) -> Vec<&tenet_dsl::ast::Import> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Import(x) => Some(x),
            _ => None,
        })
        .collect()
}

pub(super) fn consts(p: &Pack) -> Vec<&tenet_dsl::ast::Const> {
    p.items
        .iter()
        .filter_map(|i| match i {
            Item::Const(x) => Some(x),
            _ => None,
        })
        .collect()
}
