//! Blocks against the kind table: kinds, placement, names, fields, the
//! rules of each kind, taxonomies and test expectations.

use super::*;

impl<'a> Cx<'a> {
    pub(super) fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub(super) fn local_consts(&self) -> &BTreeMap<String, Value> {
        &self.consts[self.self_index]
    }

    pub(super) fn scorers(&self) -> Vec<&str> {
        self.top_blocks()
            .filter(|b| b.kind.name == "scorer")
            .map(|b| b.name_str())
            .collect()
    }

    pub(super) fn top_blocks(&self) -> impl Iterator<Item = &'a Block> + 'a {
        let pack: &'a Pack = self.pack;
        pack.items.iter().filter_map(|i| match i {
            Item::Block(b) => Some(b),
            _ => None,
        })
    }

    pub(super) fn check_items(&mut self) {
        // Unique names among top-level blocks (tests have their own namespace).
        let mut seen: HashMap<(bool, String), Span> = HashMap::new();
        let blocks: Vec<&Block> = self.top_blocks().collect();
        for b in &blocks {
            let Some(name) = &b.name else { continue };
            let key = (b.kind.name == "test", name.name.clone());
            if let Some(first) = seen.get(&key) {
                let what = if key.0 { "test" } else { "block" };
                self.err(
                    Diagnostic::new(
                        Code::DuplicateName,
                        name.span,
                        format!(
                            "{what} name `{}` is used twice in pack `{}`",
                            name.name, self.pack.name.name
                        ),
                    )
                    .label("second definition")
                    .also(*first, "first definition")
                    .help("names identify blocks in decisions and tests; make them unique"),
                );
            } else {
                seen.insert(key, name.span);
            }
        }
        let taxonomies: Vec<&&Block> = blocks
            .iter()
            .filter(|b| b.kind.name == "taxonomy")
            .collect();
        if let Some(t) = taxonomies.first() {
            self.check_taxonomy(t);
        }
        if let Some(second) = taxonomies.get(1) {
            self.err(
                Diagnostic::new(
                    Code::DuplicateName,
                    second.kind.span,
                    "a pack may declare one taxonomy",
                )
                .label("second taxonomy")
                .help("put the levels in one `taxonomy` block; other packs import it"),
            );
        }
        self.check_watcher_cycles(&blocks);
        self.check_baseline_extends(&blocks);
        self.check_correlate_sources(&blocks);
        self.check_masking_categories(&blocks);
        for b in blocks {
            self.check_block(b, "");
        }
    }

    /// What scoring peers let through and turn into NaN at run time: a
    /// negative weight, bounds that are not `[lower, upper]` with lower
    /// below upper.
    fn check_factor(&mut self, b: &Block) {
        if let Some(a) = b.attr("weight") {
            if let Some(v) = self.fold(&a.value) {
                let w = match v {
                    Value::Int(i) => Some(i as f64),
                    Value::Float(f) => Some(f),
                    _ => None,
                };
                if w.is_some_and(|w| w < 0.0 || !w.is_finite()) {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidValue,
                            a.value.span,
                            format!("`weight` {v} is negative"),
                        )
                        .label("here")
                        .help("a weight is 0 or more; 0 leaves the factor out of every score"),
                    );
                }
            }
        }
        if let Some(a) = b.attr("bounds") {
            if let Some(Value::List(l)) = self.fold(&a.value) {
                let n = |v: &Value| match v {
                    Value::Int(i) => Some(*i as f64),
                    Value::Float(f) => Some(*f),
                    _ => None,
                };
                let ok =
                    l.len() == 2 && matches!((n(&l[0]), n(&l[1])), (Some(lo), Some(hi)) if lo < hi);
                if !ok {
                    let what = match (l.len(), l.first().and_then(n), l.get(1).and_then(n)) {
                        (2, Some(lo), Some(hi)) if lo == hi => {
                            "are empty (lower equals upper)".to_string()
                        }
                        (2, Some(_), Some(_)) => "are inverted (lower above upper)".to_string(),
                        (k, _, _) => format!("hold {k} values"),
                    };
                    self.err(
                        Diagnostic::new(
                            Code::InvalidValue,
                            a.value.span,
                            format!("`bounds` {what}"),
                        )
                        .label("here")
                        .help("write `[lower, upper]` with lower below upper, such as `[0, 100]`"),
                    );
                }
            }
        }
    }

    /// A setting's comparator from its folded fields; `Ok(None)` when a
    /// field is not a constant (nothing to check here).
    fn comparator(&self, b: &Block) -> Result<Option<crate::compare::Comparator>, String> {
        let mut fields = Vec::new();
        for name in crate::compare::COMPARATORS.iter().chain(["order"].iter()) {
            if let Some(a) = b.attr(name) {
                match self.fold(&a.value) {
                    Some(v) => fields.push((*name, v)),
                    None => return Ok(None),
                }
            }
        }
        crate::compare::Comparator::from_fields(&fields).map(Some)
    }

    /// A baseline that `extends` another may only tighten it: each
    /// setting both declare must be at least as strict in the child (a
    /// setting only the parent declares is inherited as is).
    fn check_baseline_extends(&mut self, blocks: &[&'a Block]) {
        let baselines: Vec<&Block> = blocks
            .iter()
            .copied()
            .filter(|b| b.kind.name == "baseline")
            .collect();
        let named = |n: &str| {
            baselines
                .iter()
                .copied()
                .find(|b| b.name.as_ref().is_some_and(|x| x.name == n))
        };
        for child in &baselines {
            let Some(ext) = child.attr("extends") else {
                continue;
            };
            let parent_name = match self.fold(&ext.value) {
                Some(Value::Str(s)) => s.to_string(),
                _ => match &ext.value.kind {
                    crate::ast::ExprKind::Name(n) => n.clone(),
                    _ => continue,
                },
            };
            let Some(parent) = named(&parent_name) else {
                continue;
            };
            let settings = |b: &'a Block| -> Vec<&'a Block> {
                b.blocks().filter(|s| s.kind.name == "setting").collect()
            };
            for cs in settings(child) {
                let Some(cname) = &cs.name else { continue };
                let Some(ps) = settings(parent)
                    .into_iter()
                    .find(|p| p.name.as_ref().is_some_and(|n| n.name == cname.name))
                else {
                    continue;
                };
                let (Ok(Some(c)), Ok(Some(p))) = (self.comparator(cs), self.comparator(ps)) else {
                    continue;
                };
                if let Err(why) = c.tightens(&p) {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidValue,
                            cs.span,
                            format!(
                                "setting `{}` of baseline `{}` loosens `{parent_name}`: {why}",
                                cname.name,
                                child.name.as_ref().map(|n| n.name.as_str()).unwrap_or("")
                            ),
                        )
                        .label("loosens the baseline it extends")
                        .also(ps.span, "the requirement it extends")
                        .help("a baseline that `extends` another may only add settings or tighten them; write a separate baseline to loosen"),
                    );
                }
            }
        }
    }

    /// Every discovery source a `correlate` rule reads is declared by a
    /// `source` block: dark-inventory needs its freshness SLO to know when
    /// the source is stale (and must not auto-close on its word).
    fn check_correlate_sources(&mut self, blocks: &[&'a Block]) {
        let declared: Vec<String> = blocks
            .iter()
            .filter(|b| b.kind.name == "source")
            .filter_map(|b| b.name.as_ref().map(|n| n.name.clone()))
            .collect();
        for b in blocks.iter().filter(|b| b.kind.name == "correlate") {
            let Some(a) = b.attr("source") else { continue };
            let ExprKind::List(items) = &a.value.kind else {
                continue;
            };
            for item in items {
                let Some(name) = bare_or_string(item) else {
                    continue;
                };
                if !declared.contains(&name) {
                    self.err(
                        Diagnostic::new(
                            Code::UnresolvedName,
                            item.span,
                            format!(
                                "correlate `{}` reads source `{name}`, which no `source` block declares",
                                b.name.as_ref().map(|n| n.name.as_str()).unwrap_or("")
                            ),
                        )
                        .label("not declared")
                        .help(format!("declare it: `source {name} {{ freshness_slo 3h }}` (past its freshness SLO a source is stale, and nothing it saw auto-closes)")),
                    );
                }
            }
        }
    }

    /// A masking policy's `redact`, `hash` and `drop` entries are
    /// `record.` paths or data categories: a category must be declared (or
    /// be the parent of one declared), and a category's paths are paths.
    fn check_masking_categories(&mut self, blocks: &[&'a Block]) {
        let declared: Vec<String> = blocks
            .iter()
            .filter(|b| b.kind.name == "data_category")
            .filter_map(|b| b.name.as_ref().map(|n| n.name.clone()))
            .collect();
        let strings = |b: &Block, field: &str| -> Vec<(String, Span)> {
            let Some(a) = b.attr(field) else {
                return Vec::new();
            };
            let ExprKind::List(items) = &a.value.kind else {
                return Vec::new();
            };
            items
                .iter()
                .filter_map(|i| bare_or_string(i).map(|s| (s, i.span)))
                .collect()
        };
        let help = "a path is `record.` and dot-separated keys (`record.features.ethnicity`); a number indexes an array, `*` is every element";
        for b in blocks.iter().filter(|b| b.kind.name == "data_category") {
            let paths = strings(b, "paths");
            if paths.is_empty() {
                if let Some(a) = b.attr("paths") {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidValue,
                            a.value.span,
                            "a data category with no paths masks nothing",
                        )
                        .label("empty")
                        .help(help),
                    );
                }
            }
            for (p, span) in paths {
                if let Some(problem) = record_path_problem(&p) {
                    self.err(
                        Diagnostic::new(
                            Code::InvalidValue,
                            span,
                            format!("data category path `{p}` {problem}"),
                        )
                        .label("not a record path")
                        .help(help),
                    );
                }
            }
        }
        for b in blocks.iter().filter(|b| b.kind.name == "masking") {
            let policy = b.name.as_ref().map(|n| n.name.as_str()).unwrap_or("");
            for (field, verb) in [("redact", "redacts"), ("hash", "hashes"), ("drop", "drops")] {
                for (entry, span) in strings(b, field) {
                    if entry.starts_with("record.") {
                        if let Some(problem) = record_path_problem(&entry) {
                            self.err(
                                Diagnostic::new(
                                    Code::InvalidValue,
                                    span,
                                    format!("masking `{policy}` {verb} `{entry}`, which {problem}"),
                                )
                                .label("not a record path")
                                .help(help),
                            );
                        }
                        continue;
                    }
                    let covers = declared.iter().any(|c| {
                        c == &entry
                            || c.strip_prefix(entry.as_str())
                                .is_some_and(|r| r.starts_with('.'))
                    });
                    if !covers {
                        self.err(
                            Diagnostic::new(
                                Code::UnresolvedName,
                                span,
                                format!(
                                    "masking `{policy}` {verb} `{entry}`, which is neither a `record.` path nor a declared data category (nor the parent of one)"
                                ),
                            )
                            .label("not declared")
                            .help(format!("declare it: `data_category {entry} {{ paths [\"record.<path>\"] }}`, or name a path as `record.<path>`")),
                        );
                    }
                }
            }
        }
    }

    /// `depends_on` between watchers must not loop: a watcher in a cycle
    /// could never be evaluated after its parents (the meta-monitor
    /// suppresses children by their parents' states).
    fn check_watcher_cycles(&mut self, blocks: &[&'a Block]) {
        let parents = |b: &Block| -> Vec<(String, Span)> {
            let Some(a) = b.attr("depends_on") else {
                return Vec::new();
            };
            match &a.value.kind {
                ExprKind::List(items) => items
                    .iter()
                    .filter_map(|e| bare_or_string(e).map(|n| (n, e.span)))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let watchers: BTreeMap<String, Vec<(String, Span)>> = blocks
            .iter()
            .filter(|b| b.kind.name == "watcher")
            .map(|b| (b.name_str().to_string(), parents(b)))
            .collect();
        let mut reported: BTreeSet<String> = BTreeSet::new();
        for start in watchers.keys() {
            // Depth-first from `start`, following `depends_on`.
            let mut stack: Vec<(String, usize)> = vec![(start.clone(), 0)];
            while let Some((name, i)) = stack.pop() {
                let Some(ps) = watchers.get(&name) else {
                    continue;
                };
                match ps.get(i) {
                    None => continue,
                    Some((p, span)) => {
                        stack.push((name.clone(), i + 1));
                        if p == start {
                            let mut names: Vec<String> =
                                stack.iter().map(|(n, _)| n.clone()).collect();
                            names.push(start.clone());
                            let key: BTreeSet<String> = names.iter().cloned().collect();
                            let key = key.into_iter().collect::<Vec<_>>().join(",");
                            if reported.insert(key) {
                                self.err(
                                    Diagnostic::new(
                                        Code::InvalidValue,
                                        *span,
                                        format!(
                                            "watchers depend on each other in a cycle: {}",
                                            names.join(" → ")
                                        ),
                                    )
                                    .label("this dependency closes the cycle")
                                    .help("a watcher's parents are evaluated before it; remove one `depends_on` of the cycle"),
                                );
                            }
                            continue;
                        }
                        if stack.iter().any(|(n, _)| n == p) || stack.len() > watchers.len() {
                            continue;
                        }
                        stack.push((p.clone(), 0));
                    }
                }
            }
        }
    }

    /// Level names that reports, the gates and CI already use for their
    /// own meanings (no change, a change no rule classifies, lint findings,
    /// broken packs, `--fail-on never`) are not levels; a level is
    /// described by one `level` block at most.
    pub(super) fn check_taxonomy(&mut self, t: &Block) {
        const RESERVED: &[&str] = &["none", "unclassified", "lint", "packs", "never"];
        if let Some(ExprKind::List(items)) = t.attr("levels").map(|a| &a.value.kind) {
            for item in items {
                if let ExprKind::Name(n) = &item.kind {
                    if RESERVED.contains(&n.as_str()) {
                        self.err(
                            Diagnostic::new(
                                Code::InvalidValue,
                                item.span,
                                format!("`{n}` cannot name a level"),
                            )
                            .label("reserved")
                            .help(format!(
                                "reports and gates use {} for their own meanings; pick another name",
                                RESERVED.iter().map(|r| format!("`{r}`")).collect::<Vec<_>>().join(", ")
                            )),
                        );
                    }
                }
            }
        }
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for level in t.blocks().filter(|b| b.kind.name == "level") {
            let Some(name) = &level.name else { continue };
            match seen.get(name.name.as_str()) {
                Some(first) => self.err(
                    Diagnostic::new(
                        Code::DuplicateName,
                        name.span,
                        format!("level `{}` is described twice", name.name),
                    )
                    .label("second description")
                    .also(*first, "first description")
                    .help("put its icon, title, annotation and listing in one `level` block"),
                ),
                None => {
                    seen.insert(&name.name, name.span);
                }
            }
        }
    }

    /// A `level` block inside a taxonomy names one of its levels.
    pub(super) fn check_level_name(&mut self, b: &Block) {
        let Some(name) = &b.name else { return };
        let shown = b.name_str();
        if self.levels.iter().any(|l| l == shown) {
            return;
        }
        let mut d = Diagnostic::new(
            Code::InvalidValue,
            name.span,
            format!("`{shown}` is not a level of the taxonomy"),
        )
        .label("unknown level");
        d = match suggest(shown, self.levels.iter().map(|s| s.as_str())) {
            Some(s) => d.help(format!(
                "did you mean `{s}`? levels are: {}",
                self.levels.join(", ")
            )),
            None => d.help(format!("levels are: {}", self.levels.join(", "))),
        };
        self.err(d);
    }

    pub(super) fn check_block(&mut self, b: &Block, parent: &str) {
        let Some(kind) = schema::kind(&b.kind.name) else {
            let mut d = Diagnostic::new(
                Code::UnknownKind,
                b.kind.span,
                format!("unknown block kind `{}`", b.kind.name),
            )
            .label("not a block kind");
            let allowed: Vec<&str> = schema::KINDS
                .iter()
                .filter(|k| k.parents.contains(&parent))
                .map(|k| k.kind)
                .collect();
            d = match suggest(&b.kind.name, allowed.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("blocks here are: {}", allowed.join(", "))),
            };
            self.err(d);
            return;
        };
        if !kind.parents.contains(&parent) {
            let where_ = if parent.is_empty() {
                "at the top level of a pack".to_string()
            } else {
                format!("inside `{parent}`")
            };
            let allowed: Vec<String> = kind
                .parents
                .iter()
                .map(|p| {
                    if p.is_empty() {
                        "the top level".to_string()
                    } else {
                        format!("`{p}`")
                    }
                })
                .collect();
            self.err(
                Diagnostic::new(
                    Code::MisplacedBlock,
                    b.kind.span,
                    format!("a `{}` block cannot appear {where_}", kind.kind),
                )
                .label("misplaced")
                .help(format!(
                    "`{}` blocks belong in {}",
                    kind.kind,
                    allowed.join(" or ")
                )),
            );
        }
        if kind.name_required && b.name.is_none() {
            self.err(
                Diagnostic::new(
                    Code::MissingName,
                    b.kind.span,
                    format!("a `{}` block needs a name", kind.kind),
                )
                .label("no name")
                .help(format!("write `{} NAME {{ ... }}`", kind.kind)),
            );
        }
        if kind.kind == "level" {
            self.check_level_name(b);
        }
        let roots = block_roots(b, kind, self.pack);
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for entry in &b.entries {
            match entry {
                Entry::Block(child) => self.check_block(child, kind.kind),
                Entry::Attr(a) => {
                    if let Some(first) = seen.get(a.key.name.as_str()) {
                        self.err(
                            Diagnostic::new(
                                Code::DuplicateField,
                                a.key.span,
                                format!("field `{}` is set twice in `{}`", a.key.name, b.title()),
                            )
                            .label("second value")
                            .also(*first, "first value")
                            .help("each field takes one value; use a list for several"),
                        );
                        continue;
                    }
                    seen.insert(&a.key.name, a.key.span);
                    match kind.field(&a.key.name) {
                        Some(field) => self.check_value(&field.ty, &a.value, &roots, field.name),
                        None => {
                            let mut d = Diagnostic::new(
                                Code::UnknownField,
                                a.key.span,
                                format!(
                                    "`{}` is not a field of `{}` blocks",
                                    a.key.name, kind.kind
                                ),
                            )
                            .label("unknown field");
                            let is_child = kind.children().any(|c| c.kind == a.key.name);
                            d = if is_child {
                                d.help(format!(
                                    "`{}` is a nested block here: write `{} NAME {{ ... }}`",
                                    a.key.name, a.key.name
                                ))
                            } else {
                                match suggest(&a.key.name, kind.all_fields().map(|f| f.name)) {
                                    Some(s) => d.help(format!("did you mean `{s}`?")),
                                    None => d.help(format!(
                                        "fields of `{}` are: {}",
                                        kind.kind,
                                        kind.all_fields()
                                            .map(|f| f.name)
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )),
                                }
                            };
                            self.err(d);
                        }
                    }
                }
            }
        }
        for field in kind.fields.iter().filter(|f| f.required) {
            if !seen.contains_key(field.name) {
                self.err(
                    Diagnostic::new(
                        Code::MissingField,
                        b.kind.span,
                        format!(
                            "`{}` is missing the required field `{}`",
                            b.title(),
                            field.name
                        ),
                    )
                    .label("in this block")
                    .help(format!(
                        "add `{} <{}>`: {}",
                        field.name,
                        field.ty.describe(),
                        field.doc
                    )),
                );
            }
        }
        self.check_kind_rules(b, kind);
    }

    /// Rules of the language that involve several fields of one kind.
    pub(super) fn check_kind_rules(&mut self, b: &Block, kind: &Kind) {
        let has = |n: &str| b.attr(n).is_some();
        let exactly_one = |names: &[&str]| names.iter().filter(|n| has(n)).count() == 1;
        match kind.condition {
            Condition::Threshold if !exactly_one(&["above", "below"]) => self.err(
                Diagnostic::new(
                    Code::InvalidValue,
                    b.kind.span,
                    format!("`{}` needs exactly one of `above` or `below`", b.title()),
                )
                .label("in this threshold")
                .help("a threshold compares its metric with one bound"),
            ),
            _ => {}
        }
        match kind.kind {
            "setting" if !exactly_one(crate::compare::COMPARATORS) => self.err(
                Diagnostic::new(
                    Code::InvalidValue,
                    b.kind.span,
                    format!(
                        "`{}` needs exactly one comparator: {}",
                        b.title(),
                        crate::compare::COMPARATORS.join(", ")
                    ),
                )
                .label("in this setting")
                .help("a baseline setting states one requirement on the live value"),
            ),
            "setting" => {
                if let Err(e) = self.comparator(b) {
                    self.err(
                        Diagnostic::new(Code::InvalidValue, b.kind.span, format!("`{}` {e}", b.title()))
                            .label("in this setting")
                            .help("see the comparators in docs/autoconfig.md"),
                    );
                }
            }
            "watcher" if !has("cadence") && !has("cron") && !has("calendar") => self.err(
                Diagnostic::new(
                    Code::MissingField,
                    b.kind.span,
                    format!("`{}` needs a `cadence`, a `cron` or a `calendar` schedule", b.title()),
                )
                .label("no schedule")
                .help("write `cadence 1m`, `cron \"*/5 * * * *\"` or `calendar \"Mon..Fri 09:00\"`"),
            ),
            "watcher" if !exactly_one(&["cadence", "cron", "calendar"]) => self.err(
                Diagnostic::new(
                    Code::InvalidValue,
                    b.kind.span,
                    format!(
                        "`{}` has more than one schedule: write one of `cadence`, `cron` and `calendar`",
                        b.title()
                    ),
                )
                .label("in this watcher")
                .help("a watcher expects heartbeats on one schedule"),
            ),
            "action" => self.check_action(b),
            "factor" => self.check_factor(b),
            "window" => {
                let duration = b.attr("duration").and_then(|a| {
                    let v = self.fold(&a.value)?;
                    Some((a, v))
                });
                if let Some((a, Value::Duration(ms))) = duration {
                    if ms <= 0 {
                        self.err(
                            Diagnostic::new(
                                Code::InvalidValue,
                                a.value.span,
                                format!(
                                    "a window's `duration` must be longer than zero, found `{}`",
                                    crate::value::format_duration(ms)
                                ),
                            )
                            .label("never open")
                            .help("write how long the window stays open once its cron fires, such as `4h`"),
                        );
                    }
                }
            }
            "hysteresis" => {
                let num = |n: &str| {
                    b.attr(n)
                        .and_then(|a| self.fold(&a.value))
                        .and_then(|v| match v {
                            Value::Int(i) => Some(i as f64),
                            Value::Float(f) => Some(f),
                            _ => None,
                        })
                };
                if let (Some(enter), Some(exit), Some(a)) =
                    (num("enter"), num("exit"), b.attr("exit"))
                {
                    if exit >= enter {
                        self.err(
                            Diagnostic::new(Code::InvalidValue, a.value.span, format!("`exit` ({exit}) must be below `enter` ({enter})"))
                                .label("not below enter")
                                .help("the gap between enter and exit is what stops a state from flapping"),
                        );
                    }
                }
            }
            "waiver" => {
                if let Some(a) = b.attr("rules") {
                    if let ExprKind::List(items) = &a.value.kind {
                        for item in items {
                            if let Some(n) = bare_or_string(item) {
                                // A top-level block, or a nested one as
                                // `parent/child` (a baseline's setting).
                                let found = self.top_blocks().any(|x| {
                                    x.name_str() == n
                                        && x.kind.name != "test"
                                        && x.kind.name != "waiver"
                                }) || (n.contains('/') && self.block_exists(&n));
                                if !found {
                                    self.unresolved_block(&n, item.span, "block");
                                }
                            }
                        }
                    }
                }
            }
            "test" => {
                for a in [
                    "expect",
                    "expect_not",
                    "expect_inconclusive",
                    "expect_waived",
                ]
                .into_iter()
                .filter_map(|f| b.attr(f))
                {
                    if let ExprKind::List(items) = &a.value.kind {
                        for item in items {
                            if let Some(n) = bare_or_string(item) {
                                if !self.block_exists(&n) {
                                    self.unresolved_block(&n, item.span, "block");
                                }
                            }
                        }
                    }
                }
                self.check_expect_map(b, "expect_effects");
                self.check_expect_map(b, "expect_because");
                if let Some(a) = b.attr("input") {
                    if let Some(v) = self.fold(&a.value) {
                        if !matches!(v, Value::Map(_)) {
                            self.err(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    a.value.span,
                                    format!("test input must be a map, found {}", v.type_name()),
                                )
                                .label("not a map")
                                .help("write the input facts as `{action: {verb: \"delete\"}}`"),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A test's `expect_effects` or `expect_because`: a map whose keys are
    /// blocks of the pack, to maps of effects or to the expected `because`
    /// (a string, or a regex it must match).
    pub(super) fn check_expect_map(&mut self, b: &Block, field: &str) {
        let Some(a) = b.attr(field) else { return };
        let Some(v) = self.fold(&a.value) else { return };
        let (want, help) = if field == "expect_effects" {
            (
                "a map of effect fields",
                "write `{\"block-name\": {field: value}}`",
            )
        } else {
            (
                "a string or a regex",
                "write `{\"block-name\": \"the exact text\"}` or `{\"block-name\": /a pattern/}`",
            )
        };
        let Value::Map(m) = v else {
            self.err(
                Diagnostic::new(
                    Code::TypeMismatch,
                    a.value.span,
                    format!(
                        "`{field}` must be a map from block names to {want}, found {}",
                        v.type_name()
                    ),
                )
                .label("not a map")
                .help(help),
            );
            return;
        };
        // Keys and values written in place point at themselves; a map from a
        // constant points at the field.
        let span_of = |name: &str| match &a.value.kind {
            ExprKind::Map(es) => es
                .iter()
                .find(|(k, _)| k.name == name)
                .map_or((a.value.span, a.value.span), |(k, x)| (k.span, x.span)),
            _ => (a.value.span, a.value.span),
        };
        for (name, value) in m.iter() {
            let (key_span, value_span) = span_of(name);
            if !self.block_exists(name) {
                self.unresolved_block(name, key_span, "block");
            }
            let fits = if field == "expect_effects" {
                matches!(value, Value::Map(_))
            } else {
                matches!(value, Value::Str(_) | Value::Regex(_))
            };
            if !fits {
                self.err(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        value_span,
                        format!(
                            "`{field}` of `{name}` must be {want}, found {}",
                            value.type_name()
                        ),
                    )
                    .label(format!("not {want}"))
                    .help(help),
                );
            }
        }
    }

    /// Whether a block (top-level or nested, as `parent/child`) of this name exists.
    pub(super) fn block_exists(&self, name: &str) -> bool {
        fn walk(b: &Block, prefix: &str, name: &str) -> bool {
            let full = if prefix.is_empty() {
                b.name_str().to_string()
            } else {
                format!("{prefix}/{}", b.name_str())
            };
            if full == name {
                return true;
            }
            b.blocks().any(|c| walk(c, &full, name))
        }
        self.top_blocks()
            .filter(|b| b.kind.name != "test")
            .any(|b| walk(b, "", name))
    }

    pub(super) fn unresolved_block(&mut self, name: &str, span: Span, what: &str) {
        let names: Vec<String> = self
            .top_blocks()
            .filter(|b| b.kind.name != "test")
            .map(|b| b.name_str().to_string())
            .collect();
        let mut d = Diagnostic::new(
            Code::UnresolvedName,
            span,
            format!("no {what} named `{name}` in pack `{}`", self.pack.name.name),
        )
        .label("unknown block");
        d = match suggest(name, names.iter().map(|s| s.as_str())) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help("name a block of this pack; nested blocks are `parent/child`"),
        };
        self.err(d);
    }
}

/// Why `path` cannot name what a masking policy masks in a record, if it
/// cannot: it is `record.` and non-empty dot-separated keys, and does not
/// start at the record's identity (`id`, `kind`, `at`) or its
/// `redactions` (rtx-export's masker applies the same rules).
fn record_path_problem(path: &str) -> Option<&'static str> {
    let Some(rest) = path.strip_prefix("record.") else {
        return Some("does not start with `record.`");
    };
    let mut segs = rest.split('.');
    if rest.split('.').any(str::is_empty) {
        return Some("has an empty segment");
    }
    match segs.next() {
        Some("*" | "id" | "kind" | "at" | "redactions") => {
            Some("would remove the record's identity (`id`, `kind`, `at`) or its redactions")
        }
        _ => None,
    }
}
