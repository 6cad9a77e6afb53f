//! The block-kind table: every kind of block the language knows, declared
//! once, with a typed schema.
//!
//! The checker validates packs against [`KINDS`]; the compiler reads which
//! field is a kind's condition and which input roots its expressions may
//! read; `docs/language.md` is written from it. Adding a kind means adding
//! one entry here (and its module engine, later, in `tenet-runtime`).

/// The type a field's value must have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ty {
    Bool,
    Int,
    /// Integer or float.
    Number,
    Str,
    /// A string whose `{expr}` parts are evaluated against the input.
    Template,
    Duration,
    Percent,
    Size,
    Semver,
    /// A cron expression of the dialect in [`crate::cron`] (five fields) in a string.
    Cron,
    /// A systemd OnCalendar expression ([`crate::calendar`]) in a string.
    Calendar,
    /// An IANA time zone name in a string, such as `"Europe/Paris"`.
    TimeZone,
    /// An ISO date `"YYYY-MM-DD"` in a string.
    Date,
    /// A point in time in a string: a date `"YYYY-MM-DD"` (midnight UTC) or
    /// an RFC 3339 time.
    Time,
    /// A bare name: a level of the taxonomy in scope.
    Level,
    /// A bare name from a fixed list.
    Enum(&'static [&'static str]),
    /// A bare name declared here (an input root, a taxonomy level).
    Ident,
    /// The name of another block of the given kind (bare or quoted).
    BlockRef(&'static str),
    /// A boolean expression over the input, evaluated at decision time.
    Cond,
    /// Any expression over the input, evaluated at decision time.
    Value,
    /// A constant of any type.
    Any,
    /// An integer count or a percentage of a population.
    IntOrPercent,
    /// A regular expression literal, `/^INC-[0-9]+$/`.
    Regex,
    /// A label selector map: `{labels: {k: v}, in: {k: [..]}, not_in: {k: [..]}, exists: [k], not_exists: [k]}`.
    Selector,
    List(&'static Ty),
}

impl Ty {
    pub fn describe(&self) -> String {
        match self {
            Ty::Bool => "a boolean".into(),
            Ty::Int => "an integer".into(),
            Ty::Number => "a number".into(),
            Ty::Str => "a string".into(),
            Ty::Template => "a string".into(),
            Ty::Duration => "a duration such as `30m`".into(),
            Ty::Percent => "a percentage such as `5%`".into(),
            Ty::Size => "a size such as `10MB`".into(),
            Ty::Semver => "a semantic version such as `1.2.0`".into(),
            Ty::Cron => "a cron expression in a string".into(),
            Ty::Calendar => "an OnCalendar expression in a string".into(),
            Ty::TimeZone => "a time zone name in a string".into(),
            Ty::Date => "a date `\"YYYY-MM-DD\"`".into(),
            Ty::Time => "a date `\"YYYY-MM-DD\"` or an RFC 3339 time".into(),
            Ty::Level => "a risk level of the taxonomy".into(),
            Ty::Enum(vals) => format!("one of `{}`", vals.join("`, `")),
            Ty::Ident => "a bare name".into(),
            Ty::BlockRef(k) => format!("the name of a `{k}` block"),
            Ty::Cond => "a boolean condition".into(),
            Ty::Value => "an expression".into(),
            Ty::Any => "a constant".into(),
            Ty::IntOrPercent => "an integer or a percentage".into(),
            Ty::Selector => "a label selector map".into(),
            Ty::Regex => "a regular expression such as `/^INC-[0-9]+$/`".into(),
            Ty::List(inner) => format!(
                "a list of {}",
                inner
                    .describe()
                    .trim_start_matches("a ")
                    .trim_start_matches("an ")
            ),
        }
    }

    /// True when the value is evaluated against the input at decision time
    /// (and so may read input roots).
    pub fn is_dynamic(&self) -> bool {
        matches!(self, Ty::Cond | Ty::Value | Ty::Template)
    }
}

/// What a change to a field means to someone comparing two versions of a
/// pack (`tenet diff`), beyond its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Compared by value.
    Value,
    /// Text read by people, never by the engine: a change to it changes no
    /// decision.
    Prose,
    /// A list whose order is its meaning (levels highest first, an order of
    /// strength, a `[lower, upper]` pair).
    Ordered,
    /// A list of what may pass: an added element widens the policy.
    AllowList,
    /// A list of what is stopped: an added element widens the denial.
    DenyList,
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// Default, as DSL source text, when the field is absent.
    pub default: Option<&'static str>,
    pub doc: &'static str,
    pub reading: Reading,
}

impl Field {
    /// The field with a [`Reading`] other than [`Reading::Value`].
    const fn reads(self, reading: Reading) -> Field {
        Field { reading, ..self }
    }
}

const fn f(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        default: None,
        doc,
        reading: Reading::Value,
    }
}
const fn req(name: &'static str, ty: Ty, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: true,
        default: None,
        doc,
        reading: Reading::Value,
    }
}
const fn def(name: &'static str, ty: Ty, default: &'static str, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        required: false,
        default: Some(default),
        doc,
        reading: Reading::Value,
    }
}

/// Where the expressions of a block may read input from.
#[derive(Debug, Clone, Copy)]
pub enum Roots {
    /// A fixed list of root names (each reads `input.<root>`).
    Fixed(&'static [&'static str]),
    /// The root is named by this field (`rule x { on change ... }`), default `input`.
    FromField(&'static str),
    /// The roots of the blocks this waiver names.
    OfWaived,
    /// No input (static blocks).
    None,
}

/// How a block's "matched" is decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// Not evaluated per decision (configuration only).
    None,
    /// A boolean field.
    Field(&'static str),
    /// `when` (optional scope) and then `metric` compared with `above` or `below`.
    Threshold,
}

#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub kind: &'static str,
    /// The module whose rule pack uses it (`*` for the shared primitives).
    pub module: &'static str,
    pub doc: &'static str,
    pub name_required: bool,
    /// Kinds this may be nested in; `""` means top level.
    pub parents: &'static [&'static str],
    pub fields: &'static [Field],
    pub roots: Roots,
    pub condition: Condition,
    /// The level field (`risk` or `severity`) reported in decisions.
    pub level_fields: &'static [&'static str],
}

impl Kind {
    /// A field of this kind: its own, else one of the [`COMMON_FIELDS`].
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields
            .iter()
            .chain(COMMON_FIELDS)
            .find(|f| f.name == name)
    }
    /// Every field this kind takes: its own, then the [`COMMON_FIELDS`] it
    /// does not declare itself.
    pub fn all_fields(&self) -> impl Iterator<Item = &'static Field> + '_ {
        self.fields.iter().chain(
            COMMON_FIELDS
                .iter()
                .filter(move |c| !self.fields.iter().any(|f| f.name == c.name)),
        )
    }
    pub fn children(&self) -> impl Iterator<Item = &'static Kind> + '_ {
        KINDS.iter().filter(move |k| k.parents.contains(&self.kind))
    }
    pub fn is_top_level(&self) -> bool {
        self.parents.contains(&"")
    }
}

pub fn kind(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.kind == name)
}

pub const ENFORCEMENT: &[&str] = &["advisory", "soft_mandatory", "hard_mandatory"];
/// What a condition that read missing input and did not hold becomes.
pub const ON_NO_DATA: &[&str] = &["ignore", "match", "inconclusive", "error"];
pub const CONTROLS: &[&str] = &[
    "dual_control",
    "justification",
    "timed_hold",
    "break_glass",
    "ticket",
];

/// Fields every kind takes, declared once. They are metadata: never an
/// effect of a decision. A kind that declares a field of the same name (the
/// `justification` of a `waiver`, required there) uses its own.
pub const COMMON_FIELDS: &[Field] = &[f(
    "justification",
    Ty::Str,
    "why the block is as it is; a change that loosens it (read by `tenet diff --lint`) is justified when this is written or rewritten beside it",
)
.reads(Reading::Prose)];

/// Fields every evaluated kind shares: the gate-outcome and enforcement primitives.
macro_rules! gate_fields {
    ($on_no_data:literal, $enforcement:literal) => {
        [
            def(
                "on_no_data",
                Ty::Enum(ON_NO_DATA),
                $on_no_data,
                "what a condition that read missing input and did not hold becomes",
            ),
            def(
                "enforcement",
                Ty::Enum(ENFORCEMENT),
                $enforcement,
                "advisory, soft_mandatory (overridable with a justification) or hard_mandatory",
            ),
            def(
                "dry_run",
                Ty::Bool,
                "false",
                "evaluate and report, but never block",
            ),
            f(
                "because",
                Ty::Template,
                "why, rendered with `{expr}` parts into the decision",
            )
            .reads(Reading::Prose),
            f("description", Ty::Str, "what the block is for").reads(Reading::Prose),
            f("tags", Ty::List(&Ty::Str), "free labels for filtering"),
        ]
    };
}

const RULE_FIELDS: &[Field] = &{
    let g = gate_fields!("ignore", "advisory");
    [
        def(
            "on",
            Ty::Ident,
            "input",
            "the input root the rule reads (`on change` reads `input.change`)",
        ),
        req("when", Ty::Cond, "the detection condition"),
        f("risk", Ty::Level, "the risk level when it matches"),
        f("severity", Ty::Level, "alias of `risk` for detection rules"),
        f(
            "emit",
            Ty::Value,
            "what the rule emits when it matches (a map)",
        ),
        f("confidence", Ty::Number, "0.0 to 1.0"),
        g[0],
        g[1],
        g[2],
        g[3],
        g[4],
        g[5],
    ]
};

const ACTION_FIELDS: &[Field] = &{
    let g = gate_fields!("match", "hard_mandatory");
    [
        req(
            "match",
            Ty::Cond,
            "which action descriptors this entry covers",
        ),
        req("risk", Ty::Level, "the risk level of a matching action"),
        f(
            "require",
            Ty::List(&Ty::Enum(CONTROLS)),
            "controls that must be fulfilled before execution",
        ),
        f("hold", Ty::Duration, "timed hold before execution"),
        f(
            "approvers",
            Ty::List(&Ty::Str),
            "roles that may review the action (approve or deny); which reviews count is the `quorum` blocks' business",
        ),
        def(
            "approvals",
            Ty::Int,
            "1",
            "shorthand for one quorum: approved at this many approvals from `approvers`, denied at one denial; 0: no approval needed (ignored when the action has `quorum` blocks)",
        ),
        f(
            "approval_ttl",
            Ty::Duration,
            "how long an approval stays valid",
        ),
        def(
            "max_uses",
            Ty::Int,
            "1",
            "how many executions one approval allows",
        ),
        f(
            "justification_min",
            Ty::Int,
            "minimum length of a justification, in characters (10 when not written)",
        ),
        f(
            "score",
            Ty::Value,
            "a risk score expression (may call a scorer)",
        ),
        def(
            "on_dependency_unavailable",
            Ty::Enum(&["deny", "escalate"]),
            "deny",
            "what a preflight answers when a dependency it needs (the approvers' notification channel, a scorer, the store) is down: `deny`, or `escalate` (hold the action for the escalation channel); never allow",
        ),
        f(
            "justification_pattern",
            Ty::Regex,
            "a pattern a justification must match (with the `justification` control)",
        ),
        f(
            "ticket",
            Ty::Regex,
            "the pattern a ticket id must match, with the `ticket` control (`/^[A-Z][A-Z0-9]*-[0-9]+$/` when not written)",
        ),
        f(
            "review_ttl",
            Ty::Duration,
            "how long an action waits for its reviews before it expires (24h when not written)",
        ),
        f(
            "escalate_after",
            Ty::Duration,
            "tell the escalation channel when the action is still pending after this",
        ),
        g[0],
        g[1],
        g[2],
        g[3],
        g[4],
        g[5],
    ]
};

const THRESHOLD_FIELDS: &[Field] = &{
    let g = gate_fields!("match", "hard_mandatory");
    [
        f(
            "when",
            Ty::Cond,
            "scope: the threshold applies only to inputs where this holds",
        ),
        req("metric", Ty::Value, "the measured quantity"),
        f(
            "above",
            Ty::Any,
            "matches when the metric is greater than this",
        ),
        f(
            "below",
            Ty::Any,
            "matches when the metric is less than this",
        ),
        req("risk", Ty::Level, "the risk level when crossed"),
        f(
            "require",
            Ty::List(&Ty::Enum(CONTROLS)),
            "controls required when crossed",
        ),
        f("hold", Ty::Duration, "timed hold when crossed"),
        f("approvers", Ty::List(&Ty::Str), "roles allowed to approve"),
        f(
            "approval_ttl",
            Ty::Duration,
            "how long an approval stays valid",
        ),
        g[0],
        g[1],
        g[2],
        g[3],
        g[4],
        g[5],
    ]
};

const PROFILE_FIELDS: &[Field] = &[
    def(
        "version",
        Ty::Int,
        "1",
        "profile version; scores are kept per version",
    ),
    f("description", Ty::Str, "who the profile is for").reads(Reading::Prose),
    def(
        "cap_share",
        Ty::Percent,
        "40%",
        "no single factor may contribute more than this share of the score",
    ),
    f("narrative", Ty::Template, "summary text for reports").reads(Reading::Prose),
];

const FACTOR_FIELDS: &[Field] = &{
    let g = gate_fields!("ignore", "advisory");
    [
        req("source", Ty::Str, "the signal this factor reads"),
        req("weight", Ty::Number, "relative weight, 0 or more (0 disables)"),
        def(
            "fallback",
            Ty::Enum(&[
                "exclude_renormalize",
                "count_as_zero",
                "carry_forward",
                "block",
            ]),
            "exclude_renormalize",
            "what a missing signal does",
        ),
        f(
            "bounds",
            Ty::List(&Ty::Number),
            "[lower, upper] clamp before normalising",
        )
        .reads(Reading::Ordered),
        def("smaller_is_better", Ty::Bool, "false", "invert the scale"),
        def(
            "distribution",
            Ty::Enum(&["linear", "logarithmic"]),
            "linear",
            "how a bounded value spreads over 0..1 (logarithmic: ln(1+v)/ln(1+range), for long tails)",
        ),
        def(
            "out_of_bounds",
            Ty::Enum(&["clamp", "exclude", "error"]),
            "clamp",
            "what a value outside `bounds` does",
        ),
        f(
            "decay_half_life",
            Ty::Duration,
            "half-life of a carried-forward value",
        ),
        f(
            "max_age",
            Ty::Duration,
            "oldest value that may be carried forward",
        ),
        f("when", Ty::Cond, "include the factor only when this holds"),
        g[0],
        g[1],
        g[2],
    ]
};

const BADGE_FIELDS: &[Field] = &{
    let g = gate_fields!("ignore", "advisory");
    [
        req("rank", Ty::Int, "higher ranks are better badges"),
        f(
            "requires",
            Ty::Cond,
            "the badge is awarded only while this holds",
        ),
        f("narrative", Ty::Template, "text for customer decks").reads(Reading::Prose),
        g[0],
        g[1],
        g[2],
    ]
};

const HYSTERESIS_FIELDS: &[Field] = &[
    req("enter", Ty::Number, "score at which the state is entered"),
    req(
        "exit",
        Ty::Number,
        "score below which it is left (must be below `enter`)",
    ),
    def(
        "dwell",
        Ty::Duration,
        "0s",
        "minimum time in a state before leaving it",
    ),
];

const BASELINE_FIELDS: &[Field] = &[
    f(
        "extends",
        Ty::BlockRef("baseline"),
        "a baseline this one tightens (it may only add or tighten)",
    ),
    def(
        "mode",
        Ty::Enum(&["advise", "enforce"]),
        "advise",
        "advise proposes remediations; enforce applies safe ones",
    ),
    f("description", Ty::Str, "who the baseline is for").reads(Reading::Prose),
    f(
        "applies_to",
        Ty::Selector,
        "which tenants or environments it applies to",
    ),
    def(
        "max_attempts",
        Ty::Int,
        "5",
        "remediation attempts per setting before it is left to a person",
    ),
    def(
        "retry_after",
        Ty::Duration,
        "1m",
        "wait after a failed remediation attempt, doubled after each",
    ),
];

const SETTING_FIELDS: &[Field] = &{
    let g = gate_fields!("ignore", "advisory");
    [
        f(
            "at_least",
            Ty::Any,
            "live value must be at least this (by `order` when given)",
        ),
        f("at_most", Ty::Any, "live value must be at most this"),
        f("equals", Ty::Any, "live value must equal this"),
        f("not_equals", Ty::Any, "live value must differ from this"),
        f(
            "one_of",
            Ty::List(&Ty::Any),
            "live value must be one of these",
        ),
        f(
            "contains",
            Ty::Any,
            "live value must be a list holding this (every item of a list)",
        ),
        f(
            "excludes",
            Ty::Any,
            "live value must be a list without this (none of a list)",
        ),
        f(
            "subset_of",
            Ty::List(&Ty::Any),
            "live value must be a list of these values only",
        ),
        f(
            "matches",
            Ty::Regex,
            "live value must be a string this regex finds a match in",
        ),
        f(
            "bits_at_most",
            Ty::Any,
            "live value must be permission bits within these (octal, \"640\")",
        ),
        f(
            "present",
            Ty::Bool,
            "`present true`: the setting must be set",
        ),
        f(
            "absent",
            Ty::Bool,
            "`absent true`: the setting must not be set",
        ),
        f(
            "order",
            Ty::List(&Ty::Any),
            "the order of values from weakest to strictest",
        )
        .reads(Reading::Ordered),
        def(
            "risk",
            Ty::Level,
            "medium",
            "risk of a delta from this setting",
        ),
        f(
            "after",
            Ty::List(&Ty::Str),
            "settings that must be applied first",
        ),
        f(
            "applies_when",
            Ty::Cond,
            "the setting applies only when this holds",
        ),
        f("reason", Ty::Str, "why the baseline asks for it").reads(Reading::Prose),
        def(
            "remediate",
            Ty::Enum(&["auto", "manual"]),
            "manual",
            "auto: `remediate` may apply the change without a person; manual: it only proposes",
        ),
        g[0],
        g[1],
        g[2],
    ]
};

const WATCHER_FIELDS: &[Field] = &{
    let g = gate_fields!("ignore", "advisory");
    [
        f(
            "cadence",
            Ty::Duration,
            "expected interval between heartbeats",
        ),
        f("cron", Ty::Cron, "expected schedule, instead of a cadence"),
        f(
            "calendar",
            Ty::Calendar,
            "expected schedule as a systemd OnCalendar expression, instead of a cadence",
        ),
        def(
            "tz",
            Ty::TimeZone,
            "\"UTC\"",
            "time zone of `cron` or `calendar`",
        ),
        req(
            "silence_budget",
            Ty::Duration,
            "silence tolerated before a meta-incident",
        ),
        def(
            "grace",
            Ty::Duration,
            "0s",
            "extra time after an expected heartbeat",
        ),
        def(
            "realert",
            Ty::Duration,
            "0s",
            "page again this often while the meta-incident is open (0s: never)",
        ),
        def(
            "quorum",
            Ty::Int,
            "1",
            "independent sources that must agree before declaring alive or silent",
        ),
        f("sources", Ty::List(&Ty::Str), "where heartbeats come from"),
        f(
            "depends_on",
            Ty::List(&Ty::BlockRef("watcher")),
            "upstream watchers; their silence suppresses this one",
        ),
        f(
            "min_events",
            Ty::Int,
            "fewer events than this per cadence is anomalously low",
        ),
        f(
            "exempt_when",
            Ty::Cond,
            "the watcher is exempt (for example small sandboxes)",
        ),
        def(
            "on_upstream_down",
            Ty::Enum(&["suppress_and_track", "alert"]),
            "suppress_and_track",
            "what silence under a silent upstream becomes",
        ),
        def("severity", Ty::Level, "high", "severity of a meta-incident"),
        def(
            "manual_resume",
            Ty::Bool,
            "false",
            "a paused watcher ignores heartbeats until resumed by hand",
        ),
        f("description", Ty::Str, "what the watcher watches").reads(Reading::Prose),
        g[0],
        g[1],
        g[2],
    ]
};

const CORRELATE_FIELDS: &[Field] = &{
    let g = gate_fields!("ignore", "advisory");
    [
        req(
            "source",
            Ty::List(&Ty::Str),
            "discovery sources this rule reads",
        ),
        f(
            "filter",
            Ty::Cond,
            "which discovered resources the rule considers",
        ),
        req(
            "key",
            Ty::Value,
            "correlation key: resources with the same key are one finding",
        ),
        f(
            "aliases",
            Ty::Value,
            "more keys of the same resource (a string or a list): resources and catalog entries that share any key are one",
        ),
        req(
            "catalog",
            Ty::Str,
            "the catalog the key must be registered in",
        ),
        f(
            "governed_when",
            Ty::Cond,
            "a registered resource is governed when this holds on `catalog.entry` (its catalog entry); otherwise it is a finding too",
        ),
        req("severity", Ty::Level, "severity of an unmatched resource"),
        f(
            "sla",
            Ty::Duration,
            "time to remediate; without it, the `lifecycle`'s `sla` for the severity (none: no SLA)",
        ),
        f("remediation", Ty::Template, "what to do about it").reads(Reading::Prose),
        f(
            "task",
            Ty::Str,
            "the remediation task a finding opens, such as `register-dataset`",
        ),
        g[0],
        g[1],
        g[2],
        g[3],
        g[4],
        g[5],
    ]
};

const FLEET_FIELDS: &[Field] = &[
    def(
        "inventory_max_age",
        Ty::Duration,
        "15m",
        "past this since a cluster reported its inventory, what it runs is unknown: it drifts as `stale_inventory`",
    ),
    f("description", Ty::Str, "the fleet's policy").reads(Reading::Prose),
];

const SOURCE_FIELDS: &[Field] = &[
    f(
        "kind",
        Ty::Str,
        "what collects it (`cloud_inventory`, `kubernetes`, `ci`...), for people",
    ),
    f("every", Ty::Duration, "how often the source runs"),
    req(
        "freshness_slo",
        Ty::Duration,
        "past this since its last run the source is stale, and nothing it saw auto-closes",
    ),
    def(
        "max_vanished",
        Ty::Percent,
        "20%",
        "a run in which more than this share of what the source saw last run vanishes is a collector failure, not a clean-up: it closes nothing",
    ),
    f("description", Ty::Str, "what the source reports").reads(Reading::Prose),
];

const LIFECYCLE_FIELDS: &[Field] = &[
    def(
        "close_after_runs",
        Ty::Int,
        "3",
        "a finding closes when every source that saw it has missed it this many runs in a row, and none of them is stale",
    ),
    def(
        "on_reopen",
        Ty::Enum(&["resume", "restart"]),
        "resume",
        "what a reopened finding's SLA clock does",
    ),
    def(
        "pause_while_waived",
        Ty::Bool,
        "true",
        "the SLA clock stops while the finding is waived",
    ),
    def("max_waiver", Ty::Duration, "90d", "the longest a waiver may last"),
    f("description", Ty::Str, "the findings policy").reads(Reading::Prose),
];

const SLA_FIELDS: &[Field] = &[
    req("severity", Ty::Level, "the severity this SLA is for"),
    req("within", Ty::Duration, "time to remediate from first seen"),
];

const ROLLOUT_FIELDS: &[Field] = &[
    f("bundle", Ty::Str, "the bundle being rolled out"),
    req("target", Ty::Selector, "clusters in scope"),
    def(
        "on_fail",
        Ty::Enum(&["pause", "rollback", "freeze"]),
        "pause",
        "what a failed gate does",
    ),
    def(
        "on_inconclusive",
        Ty::Enum(&["pause", "rollback", "freeze"]),
        "pause",
        "what a gate does once its inconclusive measurements pass its `inconclusive_limit`",
    ),
    def(
        "on_error",
        Ty::Enum(&["pause", "rollback", "freeze"]),
        "pause",
        "what a gate does once its consecutive errors pass its `error_limit`",
    ),
    def(
        "unmatched",
        Ty::Enum(&["error", "skip"]),
        "error",
        "what a target cluster no stage selects is",
    ),
    def("dry_run", Ty::Bool, "false", "plan without mutating"),
    def(
        "breaker_failures",
        Ty::Int,
        "3",
        "failed pushes in a row after which a cluster's circuit breaker quarantines it: reported, and no longer waited for",
    ),
    def(
        "retry_backoff",
        Ty::Duration,
        "1s",
        "wait before a failed push is retried; doubles with each failure in a row (at most 5m)",
    ),
    f("description", Ty::Str, "what the rollout ships").reads(Reading::Prose),
];

const STAGE_FIELDS: &[Field] = &[
    req("select", Ty::Selector, "clusters in this stage"),
    def(
        "max_parallel",
        Ty::IntOrPercent,
        "1",
        "clusters updated at once; percentages round down, at least 1",
    ),
    def(
        "bake",
        Ty::Duration,
        "0s",
        "wait after the stage before the next",
    ),
    f(
        "pause_on_error_rate",
        Ty::Percent,
        "pause the rollout when the stage's share of quarantined clusters passes this",
    ),
    f(
        "smoke",
        Ty::Str,
        "a command each cluster of the stage runs after the push (remote exec); a non-zero exit fails the cluster",
    ),
];

const GATE_FIELDS: &[Field] = &[
    req("metric", Ty::Value, "the measured value"),
    req(
        "fail_when",
        Ty::Cond,
        "the measurement fails when this holds",
    ),
    def("interval", Ty::Duration, "1m", "time between measurements"),
    def(
        "failure_limit",
        Ty::Int,
        "0",
        "failed measurements tolerated",
    ),
    def(
        "inconclusive_limit",
        Ty::Int,
        "0",
        "inconclusive measurements tolerated",
    ),
    def("error_limit", Ty::Int, "4", "provider errors tolerated"),
    def(
        "on_no_data",
        Ty::Enum(ON_NO_DATA),
        "inconclusive",
        "a measurement with no data",
    ),
    def(
        "dry_run",
        Ty::Bool,
        "false",
        "measure but never affect the rollout",
    ),
];

const GUARD_FIELDS: &[Field] = &{
    let g = gate_fields!("match", "hard_mandatory");
    [
        req("deny_when", Ty::Cond, "the plan is denied when this holds"),
        f("applies_to", Ty::Selector, "clusters the guard protects"),
        f("max_clusters", Ty::Int, "blast-radius ceiling in clusters"),
        f(
            "max_percent",
            Ty::Percent,
            "blast-radius ceiling as a share of the fleet",
        ),
        f(
            "prod_allowlist",
            Ty::List(&Ty::Str),
            "production clusters that may be targeted at all",
        )
        .reads(Reading::AllowList),
        def("risk", Ty::Level, "high", "risk when the guard denies"),
        g[0],
        g[1],
        g[2],
        g[3],
        g[4],
        g[5],
    ]
};

const MASKING_FIELDS: &[Field] = &[
    req(
        "jurisdictions",
        Ty::List(&Ty::Str),
        "where the policy applies (ISO codes, `EU`, `US-CA`...)",
    ),
    f(
        "redact",
        Ty::List(&Ty::Str),
        "field paths (`record.`...) or data categories (with their sub-categories) replaced by `[REDACTED]`",
    ),
    f(
        "hash",
        Ty::List(&Ty::Str),
        "field paths or data categories replaced by a salted hash commitment",
    ),
    f(
        "drop",
        Ty::List(&Ty::Str),
        "field paths or data categories removed",
    ),
    f(
        "basis",
        Ty::Str,
        "legal basis recorded in the redaction manifest",
    ),
    f("when", Ty::Cond, "the policy applies only when this holds"),
    def(
        "on_no_data",
        Ty::Enum(ON_NO_DATA),
        "match",
        "mask when jurisdiction data is missing",
    ),
    f(
        "because",
        Ty::Template,
        "explanation recorded with each redaction",
    )
    .reads(Reading::Prose),
];

const DATA_CATEGORY_FIELDS: &[Field] = &[
    req(
        "paths",
        Ty::List(&Ty::Str),
        "the record paths (`record.` and dot-separated keys, `*` for every element) that hold data of this category",
    ),
    f("description", Ty::Str, "what the category is, for people").reads(Reading::Prose),
];

const SCORER_FIELDS: &[Field] = &[
    req(
        "script",
        Ty::Str,
        "path of the `.rhai` file, relative to the pack",
    ),
    def(
        "function",
        Ty::Str,
        "\"score\"",
        "the function expressions call",
    ),
    def(
        "max_operations",
        Ty::Int,
        "100_000",
        "operations before the script is stopped",
    ),
    def(
        "max_call_depth",
        Ty::Int,
        "32",
        "nested function calls allowed",
    ),
    def(
        "max_string_size",
        Ty::Size,
        "64KiB",
        "largest string the script may build",
    ),
    def(
        "max_array_size",
        Ty::Int,
        "10_000",
        "largest array or map the script may build",
    ),
    def("timeout", Ty::Duration, "50ms", "wall-clock limit per call"),
];

const WAIVER_FIELDS: &[Field] = &[
    req(
        "rules",
        Ty::List(&Ty::Str),
        "names of the blocks this waiver covers",
    ),
    f(
        "when",
        Ty::Cond,
        "scope: the waiver applies only when this holds",
    ),
    req("owner", Ty::Str, "who owns the exception"),
    f("approver", Ty::Str, "who approved it"),
    req("justification", Ty::Str, "why the exception is acceptable").reads(Reading::Prose),
    req(
        "expires",
        Ty::Date,
        "the day it stops applying; the rule is live again from then",
    ),
];

const WINDOW_FIELDS: &[Field] = &[
    req(
        "mode",
        Ty::Enum(&["allow", "deny"]),
        "allow or deny: an open deny window denies (deny wins); with allow windows, one must be open; with no window (or only closed deny windows), allowed",
    ),
    req("cron", Ty::Cron, "when the window opens"),
    req("duration", Ty::Duration, "how long it stays open"),
    def(
        "tz",
        Ty::TimeZone,
        "\"UTC\"",
        "time zone of the cron expression",
    ),
];

const TAXONOMY_FIELDS: &[Field] = &[
    req(
        "levels",
        Ty::List(&Ty::Ident),
        "levels from highest to lowest",
    )
    .reads(Reading::Ordered),
    f("description", Ty::Str, "what the levels mean").reads(Reading::Prose),
    f(
        "fail_on",
        Ty::Level,
        "the gates' default `--fail-on` (`tenet ci`, the pre-commit hook): a change at or above this level fails; without it they report only",
    ),
    def(
        "fail_on_lint",
        Ty::Bool,
        "false",
        "whether the gates fail on policy-lint findings by default",
    ),
];

/// How each annotation level of `tenet ci` is written (GitHub workflow commands).
pub const ANNOTATIONS: &[&str] = &["error", "warning", "notice", "none"];

const LEVEL_FIELDS: &[Field] = &[
    f("icon", Ty::Str, "shown before the level in reports (`🔴`)").reads(Reading::Prose),
    f(
        "title",
        Ty::Str,
        "the heading of the level's changes in reports and release notes (`Breaking changes`); default: the level's name",
    )
    .reads(Reading::Prose),
    def(
        "annotation",
        Ty::Enum(ANNOTATIONS),
        "none",
        "the annotation `tenet ci` writes for each change of this level",
    ),
    def(
        "listed",
        Ty::Bool,
        "true",
        "whether a pull-request comment lists the level's changes one by one (else it only counts them)",
    ),
];

const TEST_FIELDS: &[Field] = &[
    req("input", Ty::Any, "the input facts (a map)"),
    f(
        "expect",
        Ty::List(&Ty::Str),
        "exactly the blocks that must match (names)",
    ),
    f(
        "expect_not",
        Ty::List(&Ty::Str),
        "blocks that must not match (names): a test that shows a rule quiet",
    ),
    f(
        "expect_risk",
        Ty::Level,
        "the highest risk level of the decision",
    ),
    f(
        "expect_errors",
        Ty::Int,
        "how many evaluation errors the decision must carry",
    ),
    f(
        "expect_inconclusive",
        Ty::List(&Ty::Str),
        "exactly the blocks that must be inconclusive (names): their condition read missing input and their `on_no_data` is `inconclusive`",
    ),
    f(
        "expect_waived",
        Ty::List(&Ty::Str),
        "exactly the blocks that must match and be waived (names)",
    ),
    f(
        "expect_blocking",
        Ty::Bool,
        "whether the decision must block",
    ),
    f(
        "expect_effects",
        Ty::Any,
        "block name → the effects its match must carry, e.g. `{\"mass-delete\": {hold: 30m}}`; fields not named are not compared",
    ),
    f(
        "expect_because",
        Ty::Any,
        "block name → its rendered `because`: a string is the exact text, a regex `/…/` must match in it",
    ),
    f(
        "now",
        Ty::Time,
        "the decision date or time (waiver expiry); without it no waiver applies",
    ),
    f("description", Ty::Str, "what the test shows").reads(Reading::Prose),
];

/// The fields of a review quorum (Teleport's threshold) nested in an `action`.
const QUORUM_FIELDS: &[Field] = &[
    f(
        "filter",
        Ty::Cond,
        "which reviews count toward this quorum: a condition over `reviewer` (`id`, `name`, `roles`, `traits`, `tenant`), `review` (`decision`, `comment`) and the action; without it every allowed review counts",
    ),
    def(
        "approve",
        Ty::Int,
        "1",
        "approvals that count here and meet the quorum; 0: this quorum never approves",
    ),
    def(
        "deny",
        Ty::Int,
        "1",
        "denials that count here and reject the action; 0: this quorum never denies",
    ),
    f("description", Ty::Str, "what the quorum stands for").reads(Reading::Prose),
];

/// A break-glass path nested in an `action`.
const BREAK_GLASS_FIELDS: &[Field] = &[
    req(
        "roles",
        Ty::List(&Ty::Str),
        "roles that may break glass (skip the reviews)",
    ),
    def(
        "ttl",
        Ty::Duration,
        "30m",
        "how long a break-glass grant may be executed",
    ),
    def(
        "review_within",
        Ty::Duration,
        "24h",
        "the deadline of the post-hoc review a break-glass execution opens",
    ),
    def(
        "reason_min",
        Ty::Int,
        "20",
        "minimum length of the mandatory reason, in characters",
    ),
];

/// Roots whose fields the engine fills and the language knows: a member
/// of one that is not listed is a `tenet check` error (a typo in a deny
/// filter would otherwise never deny). The fields listed are open below
/// (`reviewer.traits.team`).
pub const CLOSED_ROOTS: &[(&str, &[&str])] = &[
    ("reviewer", &["id", "name", "roles", "traits", "tenant"]),
    ("review", &["decision", "comment"]),
];

/// Every block kind of the language.
pub static KINDS: &[Kind] = &[
    Kind { kind: "taxonomy", module: "*", doc: "Ordered risk levels, highest first. Without one, a pack uses `critical, high, medium, low, info`.", name_required: true, parents: &[""], fields: TAXONOMY_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "level", module: "*", doc: "How one level of the taxonomy is shown and gated: its icon, title, annotation and whether comments list its changes. The block's name is the level.", name_required: true, parents: &["taxonomy"], fields: LEVEL_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "rule", module: "*", doc: "A detection rule: when its condition holds over the input, it matches with a risk and an explanation.", name_required: true, parents: &[""], fields: RULE_FIELDS, roots: Roots::FromField("on"), condition: Condition::Field("when"), level_fields: &["risk", "severity"] },
    Kind { kind: "action", module: "safety-workflows", doc: "A high-risk action in the safety catalog and the controls it requires.", name_required: true, parents: &[""], fields: ACTION_FIELDS, roots: Roots::Fixed(&["action", "actor", "tenant", "context"]), condition: Condition::Field("match"), level_fields: &["risk"] },
    Kind { kind: "quorum", module: "safety-workflows", doc: "Which reviews of an action count, and how many approve or deny it (Teleport's review threshold). Several quorums: any one that reaches `approve` approves, any one that reaches `deny` rejects, denial first.", name_required: true, parents: &["action"], fields: QUORUM_FIELDS, roots: Roots::Fixed(&["reviewer", "review", "action", "actor", "tenant", "context"]), condition: Condition::None, level_fields: &[] },
    Kind { kind: "break_glass", module: "safety-workflows", doc: "A declared way to execute an action without its reviews: a mandatory reason, a short TTL, every approver told, a post-hoc review with a deadline.", name_required: false, parents: &["action"], fields: BREAK_GLASS_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "threshold", module: "safety-workflows", doc: "A safety threshold on a measured quantity.", name_required: true, parents: &[""], fields: THRESHOLD_FIELDS, roots: Roots::Fixed(&["action", "actor", "tenant", "context"]), condition: Condition::Threshold, level_fields: &["risk"] },
    Kind { kind: "profile", module: "tenant-benchmark", doc: "A scoring profile: weighted factors and badges.", name_required: true, parents: &[""], fields: PROFILE_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "factor", module: "tenant-benchmark", doc: "One weighted signal of a profile.", name_required: true, parents: &["profile"], fields: FACTOR_FIELDS, roots: Roots::Fixed(&["tenant", "signals"]), condition: Condition::Field("when"), level_fields: &[] },
    Kind { kind: "badge", module: "tenant-benchmark", doc: "A badge awarded by score with hysteresis.", name_required: true, parents: &["profile"], fields: BADGE_FIELDS, roots: Roots::Fixed(&["tenant", "signals", "score"]), condition: Condition::Field("requires"), level_fields: &[] },
    Kind { kind: "hysteresis", module: "*", doc: "Enter and exit thresholds plus a minimum dwell time, so a state does not flap.", name_required: false, parents: &["badge", "watcher"], fields: HYSTERESIS_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "baseline", module: "autoconfig", doc: "A configuration baseline: settings a tenant must meet, applied monotonically.", name_required: true, parents: &[""], fields: BASELINE_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "setting", module: "autoconfig", doc: "One setting of a baseline, named by its path.", name_required: true, parents: &["baseline"], fields: SETTING_FIELDS, roots: Roots::Fixed(&["tenant", "live"]), condition: Condition::Field("applies_when"), level_fields: &["risk"] },
    Kind { kind: "watcher", module: "meta-monitor", doc: "A watched pipeline: cadence, silence budget, grace, quorum and dependencies.", name_required: true, parents: &[""], fields: WATCHER_FIELDS, roots: Roots::Fixed(&["watcher", "tenant", "stats"]), condition: Condition::Field("exempt_when"), level_fields: &["severity"] },
    Kind { kind: "correlate", module: "dark-inventory", doc: "A correlation rule: discovered resources that must match a catalog entry.", name_required: true, parents: &[""], fields: CORRELATE_FIELDS, roots: Roots::Fixed(&["resource", "catalog"]), condition: Condition::Field("filter"), level_fields: &["severity"] },
    Kind { kind: "fleet", module: "control-plane", doc: "Fleet-wide policy: how long a cluster's reported inventory is trusted.", name_required: false, parents: &[""], fields: FLEET_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "source", module: "dark-inventory", doc: "A discovery source: how fresh it must be, and how much may vanish in one run before its runs close nothing.", name_required: true, parents: &[""], fields: SOURCE_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "lifecycle", module: "dark-inventory", doc: "How findings live: auto-close, reopen, waivers and the SLA per severity.", name_required: false, parents: &[""], fields: LIFECYCLE_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "sla", module: "dark-inventory", doc: "The time to remediate findings of one severity, from first seen.", name_required: false, parents: &["lifecycle"], fields: SLA_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &["severity"] },
    Kind { kind: "rollout", module: "control-plane", doc: "A staged rollout plan.", name_required: true, parents: &[""], fields: ROLLOUT_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "stage", module: "control-plane", doc: "One stage of a rollout (canary, regional, global).", name_required: true, parents: &["rollout"], fields: STAGE_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "gate", module: "*", doc: "A measured gate: pass, fail, inconclusive or error, each with its own limit.", name_required: true, parents: &["rollout", "stage"], fields: GATE_FIELDS, roots: Roots::Fixed(&["metrics", "cluster"]), condition: Condition::Field("fail_when"), level_fields: &[] },
    Kind { kind: "guard", module: "control-plane", doc: "A blast-radius guard that denies a rollout plan.", name_required: true, parents: &[""], fields: GUARD_FIELDS, roots: Roots::Fixed(&["plan", "cluster", "actor"]), condition: Condition::Field("deny_when"), level_fields: &["risk"] },
    Kind { kind: "masking", module: "rtx-export", doc: "A masking policy for right-to-explanation bundles, per jurisdiction.", name_required: true, parents: &[""], fields: MASKING_FIELDS, roots: Roots::Fixed(&["subject", "request", "record"]), condition: Condition::Field("when"), level_fields: &[] },
    Kind { kind: "data_category", module: "rtx-export", doc: "A data category (Fides-style, dotted: `user.sensitive.health`) and the record paths that hold it; masking policies name categories, and a category covers its sub-categories.", name_required: true, parents: &[""], fields: DATA_CATEGORY_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "scorer", module: "*", doc: "A sandboxed rhai script that expressions call by the scorer's name.", name_required: true, parents: &[""], fields: SCORER_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "waiver", module: "*", doc: "An exception to named blocks, with scope, owner, justification and expiry.", name_required: true, parents: &[""], fields: WAIVER_FIELDS, roots: Roots::OfWaived, condition: Condition::Field("when"), level_fields: &[] },
    Kind { kind: "window", module: "*", doc: "A time window: cron + duration + time zone, allow or deny. Deny wins; with allow windows one must be open; with none, allowed.", name_required: false, parents: &["baseline", "watcher", "rollout", "stage"], fields: WINDOW_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
    Kind { kind: "test", module: "*", doc: "A rule test: input facts and the decision expected from this pack.", name_required: true, parents: &[""], fields: TEST_FIELDS, roots: Roots::None, condition: Condition::None, level_fields: &[] },
];

/// The taxonomy a pack uses when it declares none and imports none.
pub const DEFAULT_LEVELS: &[&str] = &["critical", "high", "medium", "low", "info"];
