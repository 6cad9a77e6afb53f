//! Sandboxed rhai scorers: the one extension point of the language.
//!
//! A `scorer NAME { script "x.rhai" ... }` block names a script; expressions
//! call it as `NAME(args...)`, which runs the script's `function` (default
//! `score`). Scripts are compiled once when the rules load. Each call runs
//! with limits on operations, call depth, string, array and map sizes and
//! wall-clock time; the engine has no file, network or `eval` access. A
//! script error or a limit hit is an [`EvalError::Scorer`] in that one
//! decision — never a crash, never a hang.

use rhai::{Dynamic, Engine, Scope, AST};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenet_dsl::value::{EvalError, Value};

thread_local! {
    /// When the scorer call running on this thread started (for the time limit).
    static CALL_START: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Limits of one scorer, from its block.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_depth: usize,
    pub max_string_size: usize,
    pub max_array_size: usize,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 100_000,
            max_call_depth: 32,
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            timeout: Duration::from_millis(50),
        }
    }
}

pub struct Scorer {
    pub name: String,
    pub pack: String,
    pub function: String,
    pub limits: Limits,
    engine: Engine,
    ast: AST,
}

impl std::fmt::Debug for Scorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scorer")
            .field("name", &self.name)
            .field("function", &self.function)
            .finish()
    }
}

/// An engine with the sandbox applied.
pub fn sandboxed_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_depth);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_array_size);
    engine.set_max_expr_depths(64, 32);
    engine.disable_symbol("eval");
    // Scripts cannot load modules from disk: no resolver is installed.
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    let timeout = limits.timeout;
    engine.on_progress(move |ops| {
        // Check the clock every 256 operations.
        if ops % 256 != 0 {
            return None;
        }
        let t0 = CALL_START.with(|c| c.get())?;
        if t0.elapsed() > timeout {
            return Some(Dynamic::from("timeout"));
        }
        None
    });
    engine
}

impl Scorer {
    /// Compile a script. The error is a one-line message with the script position.
    pub fn compile(
        name: &str,
        pack: &str,
        function: &str,
        source: &str,
        limits: Limits,
    ) -> Result<Scorer, String> {
        let engine = sandboxed_engine(&limits);
        let ast = engine.compile(source).map_err(|e| e.to_string())?;
        if !ast.iter_functions().any(|f| f.name == function) {
            return Err(format!("the script defines no function `{function}`"));
        }
        Ok(Scorer {
            name: name.to_string(),
            pack: pack.to_string(),
            function: function.to_string(),
            limits,
            engine,
            ast,
        })
    }

    pub fn call(&self, args: &[Value]) -> Result<Value, EvalError> {
        let fail = |message: String| EvalError::Scorer {
            name: self.name.clone(),
            message,
        };
        let mut dyn_args = Vec::with_capacity(args.len());
        for a in args {
            dyn_args.push(rhai::serde::to_dynamic(a.to_json()).map_err(|e| fail(e.to_string()))?);
        }
        let started = Instant::now();
        let previous = CALL_START.with(|c| c.replace(Some(started)));
        let mut scope = Scope::new();
        let result =
            self.engine
                .call_fn::<Dynamic>(&mut scope, &self.ast, &self.function, dyn_args);
        CALL_START.with(|c| c.set(previous));
        let result = result.map_err(|e| {
            let msg = match *e {
                rhai::EvalAltResult::ErrorTerminated(..) => {
                    format!(
                        "stopped after {:?} (time limit {:?})",
                        started.elapsed(),
                        self.limits.timeout
                    )
                }
                rhai::EvalAltResult::ErrorTooManyOperations(..) => {
                    format!("more than {} operations", self.limits.max_operations)
                }
                other => other.to_string(),
            };
            fail(msg)
        })?;
        let json: serde_json::Value =
            rhai::serde::from_dynamic(&result).map_err(|e| fail(e.to_string()))?;
        Ok(Value::from_json(&json))
    }
}

/// Every scorer of a set of rules; packs refer to them by index.
#[derive(Debug, Default, Clone)]
pub struct Scorers {
    pub list: Vec<Arc<Scorer>>,
}

impl Scorers {
    /// Name → index of the scorers declared in one pack.
    pub fn of_pack(&self, pack: &str) -> BTreeMap<String, usize> {
        self.list
            .iter()
            .enumerate()
            .filter(|(_, s)| s.pack == pack)
            .map(|(i, s)| (s.name.clone(), i))
            .collect()
    }
}
