//! Rules of the safety catalog that span an `action` and its nested
//! `quorum` and `break_glass` blocks: reviews that nobody may give, a
//! quorum that counts toward nothing, an action that can never be
//! approved, and the `approvals` shorthand written beside quorums.

use super::*;

impl Cx<'_> {
    pub(super) fn check_action(&mut self, b: &Block) {
        let quorums: Vec<&Block> = b.blocks().filter(|c| c.kind.name == "quorum").collect();
        let int = |cx: &Self, blk: &Block, field: &str, default: i64| -> Option<(i64, Span)> {
            match blk.attr(field) {
                Some(a) => match cx.fold(&a.value) {
                    Some(Value::Int(i)) => Some((i, a.value.span)),
                    _ => None, // a type error, reported already
                },
                None => Some((default, blk.kind.span)),
            }
        };
        for (field, blk) in std::iter::once(b)
            .flat_map(|a| {
                ["approvals", "max_uses", "justification_min"]
                    .into_iter()
                    .map(move |f| (f, a))
            })
            .chain(
                quorums
                    .iter()
                    .flat_map(|q| ["approve", "deny"].into_iter().map(move |f| (f, *q))),
            )
            .chain(
                b.blocks()
                    .filter(|c| c.kind.name == "break_glass")
                    .map(|g| ("reason_min", g)),
            )
        {
            if let Some(a) = blk.attr(field) {
                if let Some(Value::Int(i)) = self.fold(&a.value) {
                    let floor = if field == "max_uses" { 1 } else { 0 };
                    if i < floor {
                        self.err(
                            Diagnostic::new(
                                Code::InvalidValue,
                                a.value.span,
                                format!("`{field}` of `{}` is {i}, below {floor}", blk.title()),
                            )
                            .label("too small")
                            .help(if field == "max_uses" {
                                "an approved action executes at least once: write `max_uses 1` or more"
                            } else {
                                "write a count of zero or more"
                            }),
                        );
                    }
                }
            }
        }
        if let (Some(a), false) = (b.attr("approvals"), quorums.is_empty()) {
            self.err(
                Diagnostic::new(
                    Code::InvalidValue,
                    a.key.span,
                    format!(
                        "`{}` has `quorum` blocks and the `approvals` shorthand",
                        b.title()
                    ),
                )
                .label("shorthand beside quorums")
                .also(quorums[0].kind.span, "a quorum")
                .help("`approvals N` is one quorum; with quorum blocks, write the counts in them (`approve N`, `deny M`)"),
            );
        }
        let mut approving = false;
        for q in &quorums {
            let approve = int(self, q, "approve", 1);
            let deny = int(self, q, "deny", 1);
            if let (Some((0, _)), Some((0, _))) = (approve, deny) {
                self.err(
                    Diagnostic::new(
                        Code::InvalidValue,
                        q.kind.span,
                        format!("`{}` neither approves nor denies", q.title()),
                    )
                    .label("counts toward nothing")
                    .help("give it `approve N` or `deny M` above zero, or remove it"),
                );
            }
            approving |= matches!(approve, Some((n, _)) if n > 0);
        }
        if !quorums.is_empty() && !approving {
            self.err(
                Diagnostic::new(
                    Code::InvalidValue,
                    b.kind.span,
                    format!("`{}` can never be approved", b.title()),
                )
                .label("every quorum has `approve 0`")
                .help("give one quorum `approve N` above zero, or drop the quorums and write `approvals 0` if no approval is needed"),
            );
        }
        let shorthand = int(self, b, "approvals", 1).map(|(n, _)| n).unwrap_or(1);
        let dual_control = b.attr("require").is_some_and(|a| {
            matches!(&a.value.kind, ExprKind::List(items)
                if items.iter().any(|i| bare_or_string(i).as_deref() == Some("dual_control")))
        });
        // Quorums without reviewers are a mistake on their face; the
        // shorthand without `approvers` is refused by the engine at
        // preflight (catalog-only packs use it).
        if !quorums.is_empty() && b.attr("approvers").is_none() {
            self.err(
                Diagnostic::new(
                    Code::MissingField,
                    b.kind.span,
                    format!("`{}` needs reviews but names no `approvers`", b.title()),
                )
                .label("nobody may review")
                .help("add `approvers [\"ROLE\", ...]`: the roles that may review it"),
            );
        }
        if dual_control && quorums.is_empty() && shorthand == 0 {
            if let Some(a) = b.attr("approvals") {
                self.err(
                    Diagnostic::new(
                        Code::InvalidValue,
                        a.value.span,
                        format!("`{}` requires dual_control with `approvals 0`", b.title()),
                    )
                    .label("no second person")
                    .help("dual control needs at least one approval by someone other than the requester"),
                );
            }
        }
        let glass: Vec<&Block> = b
            .blocks()
            .filter(|c| c.kind.name == "break_glass")
            .collect();
        if let [first, second, ..] = glass.as_slice() {
            self.err(
                Diagnostic::new(
                    Code::DuplicateName,
                    second.kind.span,
                    format!("`{}` has two `break_glass` blocks", b.title()),
                )
                .label("second")
                .also(first.kind.span, "first")
                .help("an action has at most one break-glass path"),
            );
        }
    }

    /// `reviewer.rolez`: a member of a root the engine fills
    /// ([`schema::CLOSED_ROOTS`]) that it never fills.
    pub(super) fn check_closed_member(&mut self, root: &str, field: &Ident) {
        let Some((_, fields)) = schema::CLOSED_ROOTS.iter().find(|(r, _)| *r == root) else {
            return;
        };
        if fields.contains(&field.name.as_str()) {
            return;
        }
        let known = fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut d = Diagnostic::new(
            Code::UnresolvedName,
            field.span,
            format!("`{root}` has no field `{}`", field.name),
        )
        .label("never set");
        d = match suggest(&field.name, fields.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{root}.{s}`? `{root}` has {known}")),
            None => d.help(format!("`{root}` has {known}")),
        };
        self.err(d);
    }
}
