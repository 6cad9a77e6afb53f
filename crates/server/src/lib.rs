//! The evaluation server (`tenet serve`): REST under `/v1/`.
//!
//! First slice of issue #5: `POST /v1/evaluate`, `GET /v1/health`,
//! `GET /v1/bundle`, `POST /v1/bundle/reload`, problem+json errors, a
//! request body limit, an audit event per evaluation written before the
//! response, graceful shutdown. Not built yet: auth, a file watcher,
//! `/v1/diff`, `/v1/audit`, `/metrics`, the OpenAPI document.
//!
//! axum and tokio live here, never below.

use arc_swap::ArcSwap;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tenet_runtime::decision::{self, DecideOptions};
use tenet_runtime::diff::classify::fingerprint;
use tenet_runtime::dsl::diag;
use tenet_runtime::load::{self, LoadError, Rules};
use tenet_runtime::store::{AuditEvent, Store};
use tower_http::limit::RequestBodyLimitLayer;

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Where the rules come from: the set compiled into the binary, or a
/// directory read on every (re)load.
#[derive(Debug, Clone)]
pub enum RulesSource {
    Bundled,
    Dir(PathBuf),
}

impl RulesSource {
    fn describe(&self) -> String {
        match self {
            RulesSource::Bundled => "(bundled)".into(),
            RulesSource::Dir(d) => d.display().to_string(),
        }
    }
    fn load(&self) -> Result<Rules, LoadError> {
        match self {
            RulesSource::Bundled => load::load_bundled(),
            RulesSource::Dir(d) => load::load_path(d),
        }
    }
}

/// A loaded bundle: the rules and what identifies them.
pub struct Loaded {
    pub rules: Rules,
    pub fingerprint: String,
    pub loaded_at: String,
}

/// Why the last reload failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadError {
    pub at: String,
    pub message: String,
    pub diagnostics: Vec<String>,
}

/// The shared state of the server.
pub struct AppState {
    source: RulesSource,
    bundle: ArcSwap<Loaded>,
    last_error: Mutex<Option<ReloadError>>,
    store: Arc<Mutex<Store>>,
    reloading: tokio::sync::Mutex<()>,
    body_limit: usize,
}

/// A load error as a message and a list of rendered diagnostics.
fn describe_load_error(e: &LoadError) -> (String, Vec<String>) {
    match e {
        LoadError::Io(msg) => (msg.clone(), Vec::new()),
        LoadError::Rules { diags, sources } => {
            let text = diag::render_plain(diags, sources);
            let n = diags.len();
            (
                format!("{n} problem{} in the rules", if n == 1 { "" } else { "s" }),
                text.lines().map(str::to_string).collect(),
            )
        }
    }
}

fn load_from(source: &RulesSource) -> Result<Loaded, LoadError> {
    let rules = source.load()?;
    Ok(Loaded {
        fingerprint: fingerprint(&rules),
        rules,
        loaded_at: now_rfc3339(),
    })
}

impl AppState {
    /// Loads the rules once; an error here is a start-up error (the
    /// message and its rendered diagnostics).
    pub fn new(source: RulesSource, store: Store) -> Result<Arc<AppState>, String> {
        let loaded = load_from(&source).map_err(|e| {
            let (msg, diags) = describe_load_error(&e);
            if diags.is_empty() {
                msg
            } else {
                format!("{msg}\n{}", diags.join("\n"))
            }
        })?;
        Ok(Arc::new(AppState {
            source,
            bundle: ArcSwap::from_pointee(loaded),
            last_error: Mutex::new(None),
            store: Arc::new(Mutex::new(store)),
            reloading: tokio::sync::Mutex::new(()),
            body_limit: DEFAULT_BODY_LIMIT,
        }))
    }

    /// The current bundle's fingerprint.
    pub fn fingerprint(&self) -> String {
        self.bundle.load().fingerprint.clone()
    }

    fn last_error(&self) -> Option<ReloadError> {
        match self.last_error.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set_last_error(&self, e: Option<ReloadError>) {
        match self.last_error.lock() {
            Ok(mut g) => *g = e,
            Err(p) => *p.into_inner() = e,
        }
    }

    /// Reloads the rules off the request path; on failure the last good
    /// bundle keeps serving and the error is kept for `/v1/bundle`.
    pub async fn reload(self: &Arc<Self>) -> Result<(), ReloadError> {
        let _guard = self.reloading.lock().await;
        let source = self.source.clone();
        let result = tokio::task::spawn_blocking(move || load_from(&source)).await;
        let failure = match result {
            Ok(Ok(loaded)) => {
                self.bundle.store(Arc::new(loaded));
                self.set_last_error(None);
                return Ok(());
            }
            Ok(Err(e)) => {
                let (message, diagnostics) = describe_load_error(&e);
                ReloadError {
                    at: now_rfc3339(),
                    message,
                    diagnostics,
                }
            }
            Err(e) => ReloadError {
                at: now_rfc3339(),
                message: format!("the reload task failed: {e}"),
                diagnostics: Vec::new(),
            },
        };
        self.set_last_error(Some(failure.clone()));
        Err(failure)
    }
}

/// The routes, with the body limit.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.body_limit;
    Router::new()
        .route("/v1/evaluate", post(evaluate))
        .route("/v1/health", get(health))
        .route("/v1/bundle", get(bundle_info))
        .route("/v1/bundle/reload", post(reload))
        .fallback(not_found)
        .layer(RequestBodyLimitLayer::new(limit))
        // Outermost, so it also sees the body limit's own 413.
        .layer(axum::middleware::map_response(problem_for_bare_errors))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// What `tenet serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub rules: RulesSource,
    pub store: PathBuf,
    pub addr: SocketAddr,
}

/// Runs the server until Ctrl-C or SIGTERM (blocking; builds its own
/// runtime). `Err` is a start-up error to print.
pub fn run(config: Config) -> Result<(), String> {
    let store = Store::open(&config.store).map_err(|e| e.to_string())?;
    let state = AppState::new(config.rules.clone(), store)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        eprintln!(
            "tenet serve: listening on http://{addr} (rules: {}, bundle {}, store: {}); no authentication yet",
            config.rules.describe(),
            state.fingerprint(),
            config.store.display()
        );
        serve(listener, state, shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))?;
        eprintln!("tenet serve: stopped");
        Ok(())
    })
}

// ---------------------------------------------------------------- problems

/// An `application/problem+json` error.
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    pub extra: Option<(&'static str, JsonValue)>,
}

impl Problem {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            title,
            detail: detail.into(),
            extra: None,
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let slug: String = self
            .title
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let mut body = json!({
            "type": format!("https://tenet.invalid/problems/{slug}"),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some((k, v)), Some(obj)) = (self.extra, body.as_object_mut()) {
            obj.insert(k.to_string(), v);
        }
        let mut resp = (self.status, Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        resp
    }
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "Not Found",
        "no such route; routes are under /v1/",
    )
}

/// Errors answered below the handlers (the body limit, a wrong method)
/// come without a problem body: give them one.
async fn problem_for_bare_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return resp;
    }
    let (title, detail) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "Payload Too Large",
            "the request body is larger than the limit (1 MiB by default)".to_string(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "Method Not Allowed",
            "this route does not take that method".to_string(),
        ),
        s => (
            "Request Error",
            s.canonical_reason().unwrap_or("error").to_string(),
        ),
    };
    Problem::new(status, title, detail).into_response()
}

// ---------------------------------------------------------------- handlers

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest {
    pack: String,
    input: serde_json::Map<String, JsonValue>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    trace: bool,
}

async fn evaluate(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, Problem> {
    let started = Instant::now();
    let raw: JsonValue = serde_json::from_slice(&body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "Malformed JSON",
            format!(
                "the body is not valid JSON: {e} (at {}:{})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let req: EvaluateRequest = serde_json::from_value(raw).map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid Request",
            format!("expected {{\"pack\": string, \"input\": object}}: {e}"),
        )
    })?;
    if let Some(n) = &req.now {
        if let Err(e) = tenet_runtime::dsl::window::parse_time(n) {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid Request",
                format!("`now`: {e}"),
            ));
        }
    }
    // Held for the whole decision: a reload never changes it under us.
    let bundle = state.bundle.load_full();
    let Some(pack) = bundle.rules.pack(&req.pack) else {
        let names: Vec<&str> = bundle.rules.packs.iter().map(|p| p.name.as_str()).collect();
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Unknown Pack",
            format!(
                "no pack named `{}`; packs are: {}",
                req.pack,
                names.join(", ")
            ),
        ));
    };
    let input = tenet_runtime::dsl::Value::from_json(&JsonValue::Object(req.input));
    let opts = DecideOptions {
        trace: req.trace,
        now: Some(req.now.unwrap_or_else(today)),
        dry_run: req.dry_run,
    };
    let mut d = decision::decide(pack, &input, bundle.rules.scorer_list(), &opts);
    d.bundle = Some(bundle.fingerprint.clone());
    let latency_ms = started.elapsed().as_millis().min(u64::MAX as u128) as u64;

    let outcome = if d.blocking {
        "blocked"
    } else if !d.matched.is_empty() {
        "flagged"
    } else {
        "allowed"
    };
    let reason = d.matched.first().map(|m| match &m.because {
        Some(b) => format!("{}: {b}", m.block),
        None => m.block.clone(),
    });
    let event = AuditEvent {
        id: 0,
        action_id: new_action_id(),
        at: now_rfc3339(),
        source: "server:evaluate".into(),
        subject: d.pack.clone(),
        actor: "anonymous".into(),
        scope: state.source.describe(),
        outcome: outcome.into(),
        reason,
        latency_ms,
        details: json!({
            "bundle": bundle.fingerprint,
            "version": d.version,
            "highest_risk": d.highest_risk,
            "matched": d.matched.iter().map(|m| m.block.as_str()).collect::<Vec<_>>(),
        }),
    };
    let store = Arc::clone(&state.store);
    let written = tokio::task::spawn_blocking(move || {
        let guard = match store.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        guard.record_audit(&event).map(|_| event.action_id)
    })
    .await;
    let action_id = match written {
        Ok(Ok(id)) => id,
        Ok(Err(e)) => return Err(audit_failed(e.to_string())),
        Err(e) => return Err(audit_failed(format!("the audit task failed: {e}"))),
    };
    let mut resp = Json(d).into_response();
    if let Ok(v) = HeaderValue::from_str(&action_id) {
        resp.headers_mut().insert("x-tenet-action-id", v);
    }
    Ok(resp)
}

/// The decision is not returned when its audit event is not written.
fn audit_failed(why: String) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Audit Write Failed",
        format!("the audit event could not be written, so no decision is returned: {why}"),
    )
}

async fn health(State(state): State<Arc<AppState>>) -> Json<JsonValue> {
    let bundle = state.bundle.load();
    let err = state.last_error();
    Json(json!({
        "status": if err.is_some() { "degraded" } else { "ok" },
        "bundle": bundle.fingerprint,
        "packs": bundle.rules.packs.len(),
        "reason": err.map(|e| e.message),
    }))
}

fn bundle_json(state: &AppState) -> JsonValue {
    let bundle = state.bundle.load();
    json!({
        "fingerprint": bundle.fingerprint,
        "source": state.source.describe(),
        "loaded_at": bundle.loaded_at,
        "packs": bundle.rules.packs.iter().map(|p| json!({"name": p.name, "version": p.version})).collect::<Vec<_>>(),
        "last_reload_error": state.last_error(),
    })
}

async fn bundle_info(State(state): State<Arc<AppState>>) -> Json<JsonValue> {
    Json(bundle_json(&state))
}

async fn reload(State(state): State<Arc<AppState>>) -> Result<Json<JsonValue>, Problem> {
    match state.reload().await {
        Ok(()) => Ok(Json(bundle_json(&state))),
        Err(e) => {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Reload Failed",
                format!(
                    "{}; the last good bundle {} keeps serving",
                    e.message,
                    state.fingerprint()
                ),
            );
            p.extra = Some(("diagnostics", json!(e.diagnostics)));
            Err(p)
        }
    }
}

// ---------------------------------------------------------------- time, ids

fn epoch() -> (u64, u32) {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs(), d.subsec_nanos()))
        .unwrap_or((0, 0))
}

/// Days since the epoch → (year, month, day), UTC.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn today() -> String {
    let (secs, _) = epoch();
    let (y, m, d) = civil((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

fn now_rfc3339() -> String {
    let (secs, nanos) = epoch();
    let (y, m, d) = civil((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60,
        nanos / 1_000_000
    )
}

/// Unique per process and start: time, process id and a counter.
fn new_action_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (secs, nanos) = epoch();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("eval-{secs:x}{nanos:08x}-{:x}-{n}", std::process::id())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::civil;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_454), (2026, 1, 1));
    }
}
