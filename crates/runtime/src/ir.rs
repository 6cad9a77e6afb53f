//! The compiled form of a pack: names resolved, constants folded.
//!
//! Input roots become indexes into a per-pack root table, bound variables
//! become stack slots, constants (local and imported) are inlined and every
//! closed sub-expression is folded. Member chains on a root are fused into
//! one [`CExpr::Path`] so a lookup walks borrowed values without cloning,
//! and each distinct chain on an input root becomes a [`CExpr::InputPath`]
//! with a slot of its own: a decision walks `action.verb` once, however
//! many rules read it. Chains of `and` (or of `or`) become one
//! [`CExpr::All`] ([`CExpr::Any`]), evaluated in a loop.
//! Each [`CBlock`] keeps the checked AST of its expressions too, for the
//! reference interpreter that the fast path must agree with.

use std::collections::BTreeMap;
use std::sync::Arc;
use tenet_dsl::ast::{BinOp, Expr, Quant};
use tenet_dsl::Value;

#[derive(Debug, Clone)]
pub enum CExpr {
    Const(Value),
    /// A name bound to a null constant: evaluates to null and counts as missing data.
    NullConst,
    Root(u16),
    Var(u16),
    /// `base.a.b.c` (member chain), each step may miss.
    Path(Box<CExpr>, Box<[Arc<str>]>),
    /// `root.a.b.c`: a member chain on an input root, remembered per
    /// decision in slot `.2` (numbered per pack by `compile`).
    InputPath(u16, Box<[Arc<str>]>, u32),
    Index(Box<CExpr>, Box<CExpr>),
    Template(Vec<CPart>),
    List(Vec<CExpr>),
    Map(Vec<(Arc<str>, CExpr)>),
    Builtin(&'static str, Vec<CExpr>),
    Scorer(usize, Vec<CExpr>),
    Not(Box<CExpr>),
    Neg(Box<CExpr>),
    And(Box<CExpr>, Box<CExpr>),
    Or(Box<CExpr>, Box<CExpr>),
    /// `a and b and c ...`, flattened (left to right, short-circuit).
    All(Box<[CExpr]>),
    /// `a or b or c ...`, flattened.
    Any(Box<[CExpr]>),
    Cmp(BinOp, Box<CExpr>, Box<CExpr>),
    Arith(BinOp, Box<CExpr>, Box<CExpr>),
    Matches(Box<CExpr>, Box<CExpr>),
    If(Box<CExpr>, Box<CExpr>, Box<CExpr>),
    Quant(Quant, Box<CExpr>, Box<CExpr>),
}

#[derive(Debug, Clone)]
pub enum CPart {
    Text(Arc<str>),
    Expr(CExpr),
}

/// One leaf of a condition's top-level `and`/`or` tree, kept for the trace.
#[derive(Debug, Clone)]
pub struct Leaf {
    pub text: String,
    pub at: String,
    pub expr: CExpr,
    /// Input paths this leaf reads: text and compiled path.
    pub reads: Vec<(String, CExpr)>,
}

/// How a block decides whether it matches.
#[derive(Debug, Clone)]
pub struct CCond {
    pub expr: CExpr,
    /// The AST the reference interpreter evaluates (for thresholds: the metric).
    pub ast: Expr,
    /// For thresholds: the scope evaluated before the metric.
    pub scope: Option<Expr>,
    /// For thresholds: compare the metric with this bound.
    pub threshold: Option<(BinOp, Value)>,
    pub text: String,
    pub leaves: Vec<Leaf>,
}

/// A field of a block, compiled and as written.
#[derive(Debug, Clone)]
pub struct CAttr {
    pub name: String,
    pub expr: CExpr,
    pub ast: Option<Expr>,
}

#[derive(Debug, Clone)]
pub struct CBlock {
    pub kind: &'static str,
    /// `name`, or `parent/child` for nested blocks.
    pub name: String,
    pub at: String,
    pub roots: Vec<String>,
    pub condition: Option<CCond>,
    /// Effects: every field that is not metadata, defaults included.
    pub effects: Vec<CAttr>,
    pub because: Option<CAttr>,
    pub level: Option<String>,
    pub enforcement: Option<String>,
    pub on_no_data: String,
    pub dry_run: bool,
    /// A gate of a rollout stage applies only to the clusters the stage
    /// selects: decided only when the input's `cluster` is one of them
    /// (or when there is no `cluster`).
    pub scope: Option<StageScope>,
}

/// The stage a gate belongs to: its `select`, and where `cluster` is
/// among the pack's input roots.
#[derive(Debug, Clone)]
pub struct StageScope {
    pub stage: String,
    pub selector: tenet_dsl::Value,
    pub cluster_root: u16,
}

#[derive(Debug, Clone)]
pub struct CWaiver {
    pub name: String,
    /// Where the waiver is written (`file:line:col`).
    pub at: String,
    pub rules: Vec<String>,
    /// The input roots `when` may read: those of the blocks it waives.
    pub roots: Vec<String>,
    pub when: Option<(CExpr, Expr)>,
    pub owner: String,
    pub justification: String,
    pub expires: String,
}

#[derive(Debug, Clone)]
pub struct CTest {
    pub name: String,
    pub at: String,
    pub input: Value,
    pub expect: Option<Vec<String>>,
    /// Blocks that must not match.
    pub expect_not: Vec<String>,
    pub expect_risk: Option<String>,
    pub expect_errors: Option<i64>,
    /// Exactly the blocks that must be inconclusive.
    pub expect_inconclusive: Option<Vec<String>>,
    /// Exactly the blocks that must match and be waived.
    pub expect_waived: Option<Vec<String>>,
    pub expect_blocking: Option<bool>,
    /// Block → the effects its match must carry (the fields named only).
    pub expect_effects: BTreeMap<String, BTreeMap<String, Value>>,
    /// Block → its `because`: a string is the exact text, a regex must match in it.
    pub expect_because: BTreeMap<String, Value>,
    pub now: Option<String>,
}

/// A compiled pack, ready to decide.
#[derive(Debug, Clone)]
pub struct CompiledPack {
    pub name: String,
    pub version: String,
    pub file: String,
    pub levels: Vec<String>,
    /// How the levels are shown and gated (the taxonomy's `level` blocks
    /// and gate defaults), from the pack whose taxonomy is in scope.
    pub taxonomy: Taxonomy,
    /// Root names; `CExpr::Root(i)` reads `input[root_names[i]]` (`input` is the whole input).
    pub root_names: Vec<String>,
    pub blocks: Vec<CBlock>,
    pub waivers: Vec<CWaiver>,
    pub tests: Vec<CTest>,
    /// Indexes into the rules' scorer table, by name.
    pub scorers: BTreeMap<String, usize>,
    /// Folded constants, local and imported (`alias.name`), for the reference interpreter.
    pub consts: BTreeMap<String, Value>,
    pub imports: BTreeMap<String, BTreeMap<String, Value>>,
}

impl CompiledPack {
    pub fn block(&self, name: &str) -> Option<&CBlock> {
        self.blocks.iter().find(|b| b.name == name)
    }
    /// The `window` blocks nested directly in a block (change windows,
    /// quiet hours), for `tenet_dsl::window::allows`.
    pub fn windows_of(&self, block: &str) -> Result<Vec<tenet_dsl::window::Window>, String> {
        let prefix = format!("{block}/");
        self.blocks
            .iter()
            .filter(|b| {
                b.kind == "window"
                    && b.name
                        .strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('/'))
            })
            .map(|b| {
                let map: BTreeMap<Arc<str>, Value> = b
                    .effects
                    .iter()
                    .filter_map(|a| match &a.expr {
                        CExpr::Const(v) => Some((Arc::from(a.name.as_str()), v.clone())),
                        _ => None,
                    })
                    .collect();
                tenet_dsl::window::from_value(&Value::Map(Arc::new(map)))
            })
            .collect()
    }

    /// Rank of a level (0 is the highest).
    pub fn level_rank(&self, level: &str) -> Option<usize> {
        self.levels.iter().position(|l| l == level)
    }
}

/// A taxonomy as its users see it: each level's presentation, and the
/// gates' defaults. Front ends (reports, PR comments, annotations, the
/// gates) read these instead of knowing level names.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Taxonomy {
    /// One entry per level, highest first.
    pub levels: Vec<LevelInfo>,
    /// The gates' default `--fail-on` level; `None`: report only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_on: Option<String>,
    /// Whether the gates fail on policy-lint findings by default.
    #[serde(default)]
    pub fail_on_lint: bool,
}

/// One level of a taxonomy and how it is shown.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LevelInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// The heading of its changes (default: the name).
    pub title: String,
    /// `error`, `warning`, `notice` or `none`: the CI annotation of its changes.
    pub annotation: String,
    /// Whether a PR comment lists its changes one by one.
    pub listed: bool,
}

impl LevelInfo {
    /// A level with no metadata: its name as title, no annotation, listed.
    pub fn plain(name: &str) -> Self {
        LevelInfo {
            name: name.to_string(),
            icon: None,
            title: name.to_string(),
            annotation: "none".into(),
            listed: true,
        }
    }
}

impl Taxonomy {
    /// Levels without metadata (as in a report written before it existed).
    pub fn plain(levels: &[String]) -> Self {
        Taxonomy {
            levels: levels.iter().map(|l| LevelInfo::plain(l)).collect(),
            fail_on: None,
            fail_on_lint: false,
        }
    }

    pub fn level(&self, name: &str) -> Option<&LevelInfo> {
        self.levels.iter().find(|l| l.name == name)
    }

    /// The rank of a level (0 is the highest); `None` for a name that is
    /// not a level (an unclassified change).
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.name == name)
    }

    pub fn names(&self) -> Vec<String> {
        self.levels.iter().map(|l| l.name.clone()).collect()
    }
}
