//! What the server runs with: flags over a YAML config file over defaults.
//!
//! In: the `--config` file (optional) and the command-line overrides.
//! Out: a checked [`Config`]: where the rules and the store are, where to
//! listen, TLS, the limits, and the service identities with their hashed
//! tokens and client certificate names. Every problem in the file is an
//! error naming the file and its line and column; nothing starts on a
//! half-read config. (The TLS files themselves are read by [`crate::tls`]
//! at start.)
//!
//! ```yaml
//! addr: 127.0.0.1:8080
//! rules: rules/            # default: the rules bundled into the binary
//! store: .tenet/tenet.db
//! watch: true              # reload when a rule file is saved
//! log_format: text         # or json
//! limits:
//!   body_bytes: 1048576
//!   diff_body_bytes: 16777216
//!   request_timeout: 10s
//!   header_timeout: 5s
//!   rate_per_second: 200   # per identity; 0 turns the limit off
//!   burst: 400
//! tls:                     # default: none, plain HTTP
//!   cert: tls/server.pem   # the certificate chain, PEM
//!   key: tls/server.key    # its key, PEM (PKCS#8, PKCS#1 or SEC1)
//!   client_ca: tls/ca.pem  # optional: verify client certificates against it
//!   client_auth: required  # or optional; only with client_ca
//! access:
//!   rules: ops/access/     # default: the bundled `server` pack
//! identities:
//!   - name: ci-bot
//!     token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!     client_san: ci-bot.acme.internal   # a client certificate's DNS, URI or email SAN
//!     roles: [evaluator]
//!     tenant: acme
//!     rate_per_second: 50
//! ```

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tenet_store::Location;

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default body limit of `POST /v1/diff`: 16 MiB (two artifacts).
pub const DEFAULT_DIFF_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The default address: loopback only.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format `{other}` (text or json)")),
        }
    }
}

/// Where the rules come from: the set compiled into the binary, or a
/// directory read on every (re)load.
#[derive(Debug, Clone, PartialEq)]
pub enum RulesSource {
    Bundled,
    Dir(PathBuf),
}

impl RulesSource {
    pub fn describe(&self) -> String {
        match self {
            RulesSource::Bundled => "(bundled)".into(),
            RulesSource::Dir(d) => d.display().to_string(),
        }
    }
}

/// Limits on what one request may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub body_bytes: usize,
    pub diff_body_bytes: usize,
    /// From the first byte of the request until its answer is ready.
    pub request_timeout: Duration,
    /// How long a client may take to send the request head (slow clients).
    pub header_timeout: Duration,
    /// Requests per second per identity; 0 is no limit.
    pub rate_per_second: u32,
    pub burst: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: DEFAULT_BODY_LIMIT,
            diff_body_bytes: DEFAULT_DIFF_BODY_LIMIT,
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(5),
            rate_per_second: 200,
            burst: 400,
        }
    }
}

/// Whether a client certificate is required of every connection or only
/// accepted when offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    Required,
    Optional,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "required" => Ok(ClientAuth::Required),
            "optional" => Ok(ClientAuth::Optional),
            other => Err(format!(
                "unknown client auth `{other}` (required or optional)"
            )),
        }
    }
}

/// The CA bundle client certificates are verified against.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientCerts {
    pub ca: PathBuf,
    pub auth: ClientAuth,
}

/// HTTPS: the server's certificate chain and key (PEM files), and
/// optionally client certificates.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `None`: no client certificates are asked for.
    pub client: Option<ClientCerts>,
}

/// A service that may call the server, known by the hash of its token,
/// by a subject alternative name of its client certificate, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub name: String,
    /// Lowercase hex SHA-256 of the bearer token; the token itself is
    /// never kept.
    pub token_sha256: Option<String>,
    /// A subject alternative name (DNS name, URI or email) of the
    /// client certificate, as [`crate::tls::san_key`] normalises it.
    pub client_san: Option<String>,
    pub roles: Vec<String>,
    pub tenant: Option<String>,
    /// Overrides `limits.rate_per_second` for this identity.
    pub rate_per_second: Option<u32>,
    /// `{team: [payments]}`: what the safety pack's quorum filters read as
    /// `reviewer.traits`.
    pub traits: BTreeMap<String, Vec<String>>,
}

/// Everything `tenet serve` runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub rules: RulesSource,
    /// A SQLite file, or a PostgreSQL database shared by several replicas.
    pub store: Location,
    /// This replica's name, in `/v1/health`, `/metrics` and lease
    /// holders (default: host name and process id).
    pub replica: String,
    pub addr: SocketAddr,
    /// Reload when a file under a rules directory changes.
    pub watch: bool,
    pub log_format: LogFormat,
    /// `None`: plain HTTP.
    pub tls: Option<TlsConfig>,
    pub limits: Limits,
    /// The access pack's directory; `None` is the bundled `server` pack.
    pub access_rules: Option<PathBuf>,
    pub identities: Vec<Identity>,
    pub sweeps: Sweeps,
    pub safety: SafetyChannels,
    pub monitor: MonitorChannels,
    pub benchmark: Benchmark,
    /// Where autoconfig reads and writes tenants' live configuration: a
    /// folder of one JSON document per tenant (the local config center).
    pub autoconfig_dir: PathBuf,
    /// Or an HTTP JSON config center (`GET`/`PUT {url}/{tenant}` with
    /// ETags), which wins over the folder when set.
    pub autoconfig_url: Option<String>,
    /// The HTTP config center's timeout per call.
    pub autoconfig_timeout: Duration,
    /// How often the control plane pulls every cluster's inventory from
    /// its `admin` endpoint (`GET {admin}/inventory`), and each pull's timeout.
    pub control_plane: ControlPlaneConfig,
    /// rtx-export: the key that signs bundles, and the server's public URL
    /// for the revocation pointer in each bundle.
    pub rtx: RtxConfig,
}

/// rtx-export's signing key and public URL.
#[derive(Clone, Default, PartialEq)]
pub struct RtxConfig {
    /// The ed25519 signing key as written in the config (PKCS#8 PEM or a
    /// 64-hex seed), or read from `signing_key_file`. Never printed.
    pub signing_key: Option<String>,
    /// `https://tenet.example.com`: where a verifier reads an export's status.
    pub public_url: Option<String>,
}

impl std::fmt::Debug for RtxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtxConfig")
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("public_url", &self.public_url)
            .finish()
    }
}

/// The control plane's inventory pulls.
#[derive(Debug, Clone, PartialEq)]
pub struct ControlPlaneConfig {
    pub pull_every: Duration,
    /// Every call to a cluster (pull, push, metrics, exec) times out after this.
    pub timeout: Duration,
    /// Calls to clusters at once (pulls, and a wave's pushes and measurements).
    pub parallel: usize,
    /// Remote execs (smoke tests) at once, across every rollout.
    pub exec_parallel: usize,
    /// Failed pulls in a row after which a cluster's pull breaker opens:
    /// it is pulled again only after a backoff that doubles from
    /// `pull_every` (at most an hour), and the opening is audited.
    pub pull_breaker: usize,
    /// Where new drifts, paused or failed rollouts and quarantined clusters
    /// are sent.
    pub notify: Option<tenet_notify::config::WebhookConfig>,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        ControlPlaneConfig {
            pull_every: Duration::from_secs(60),
            timeout: Duration::from_secs(2),
            parallel: 16,
            exec_parallel: 4,
            pull_breaker: 3,
            notify: None,
        }
    }
}

/// The tenant benchmark: how often every tenant is evaluated again
/// (badge dwell times pass and carried signals decay without new
/// signals), and the signals pulled from HTTP JSON sources.
#[derive(Debug, Clone, PartialEq)]
pub struct Benchmark {
    pub evaluate_every: Duration,
    pub fetch: Vec<FetchSource>,
}

impl Default for Benchmark {
    fn default() -> Self {
        Benchmark {
            evaluate_every: Duration::from_secs(3600),
            fetch: Vec::new(),
        }
    }
}

/// A signal pulled (read-only) from an HTTP JSON endpoint for each tenant.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchSource {
    /// The signal's name (`iam.mfa_coverage_pct`).
    pub signal: String,
    /// `http(s)://...`; `{tenant}` is replaced by the tenant's id.
    pub url: String,
    /// A JSON pointer to the value in the answer (default: the whole
    /// answer).
    #[serde(default)]
    pub pointer: String,
    /// A JSON pointer to when it was measured (RFC 3339); default: when
    /// it was fetched.
    #[serde(default)]
    pub at_pointer: Option<String>,
    /// How long an answer is reused (default 5m).
    #[serde(default, with = "opt_duration")]
    pub ttl: Option<Duration>,
    /// How long a fetch may take (default 5s).
    #[serde(default, with = "opt_duration")]
    pub timeout: Option<Duration>,
}

mod opt_duration {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(t) => match tenet_runtime::dsl::syntax::parse_duration(&t) {
                Some(ms) if ms > 0 => Ok(Some(Duration::from_millis(ms as u64))),
                _ => Err(serde::de::Error::custom(format!(
                    "`{t}` is not a positive duration (such as 500ms, 10s, 5m)"
                ))),
            },
        }
    }
}

/// The meta-monitor's channels. `notify` receives meta-incident pages
/// (silence, re-alert, recovery); `proof_of_life` is an external
/// receiver (a Healthchecks.io ping URL, a Dead Man's Snitch) the monitor
/// sends its own heartbeat to every `proof_of_life_every`, so that its
/// own silence pages someone.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorChannels {
    pub notify: Option<tenet_notify::config::WebhookConfig>,
    pub proof_of_life: Option<tenet_notify::config::WebhookConfig>,
    pub proof_of_life_every: Duration,
    /// After a restart, how long senders' backlogs may take to arrive
    /// before silence that began meanwhile is declared.
    pub catch_up: Duration,
}

impl Default for MonitorChannels {
    fn default() -> Self {
        MonitorChannels {
            notify: None,
            proof_of_life: None,
            proof_of_life_every: Duration::from_secs(60),
            catch_up: Duration::from_secs(120),
        }
    }
}

/// Where the safety workflows send what their engine returns. Without
/// `notify`, approvers find pending actions by listing them
/// (`GET /v1/safety/actions?state=pending`) and nothing is sent; with it,
/// a preflight that needs reviews is kept only once the approvers were
/// told, and a failed delivery is the pack's `on_dependency_unavailable`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SafetyChannels {
    pub notify: Option<tenet_notify::config::WebhookConfig>,
    pub escalation: Option<tenet_notify::config::WebhookConfig>,
    /// The environment variable holding the key execution grants are
    /// signed with (HMAC-SHA256), so a downstream service can verify one
    /// (default `TENET_SAFETY_GRANT_KEY`; unset: grants are unsigned).
    pub grant_key_env: String,
}

/// Where the grant-signing key is read from by default.
pub const GRANT_KEY_ENV: &str = "TENET_SAFETY_GRANT_KEY";

/// How often replicas record themselves and run their sweeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweeps {
    /// Between two rounds; a sweep's lease lasts three of them.
    pub interval: Duration,
}

impl Default for Sweeps {
    fn default() -> Self {
        Sweeps {
            interval: Duration::from_secs(5),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            rules: RulesSource::Bundled,
            store: Location::default(),
            replica: default_replica(),
            addr: DEFAULT_ADDR
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            watch: true,
            log_format: LogFormat::Text,
            tls: None,
            limits: Limits::default(),
            access_rules: None,
            identities: Vec::new(),
            sweeps: Sweeps::default(),
            safety: SafetyChannels {
                grant_key_env: GRANT_KEY_ENV.into(),
                ..SafetyChannels::default()
            },
            monitor: MonitorChannels::default(),
            benchmark: Benchmark::default(),
            autoconfig_dir: PathBuf::from(".tenet/config-center"),
            autoconfig_url: None,
            autoconfig_timeout: Duration::from_secs(5),
            control_plane: ControlPlaneConfig::default(),
            rtx: RtxConfig::default(),
        }
    }
}

/// Command-line values that win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub rules: Option<PathBuf>,
    pub store: Option<Location>,
    /// Read after the file and the flags are merged, so it can give the
    /// password of a store the file names.
    pub store_password_file: Option<PathBuf>,
    pub replica: Option<String>,
    pub addr: Option<SocketAddr>,
    pub log_format: Option<LogFormat>,
    pub no_watch: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    pub client_auth: Option<ClientAuth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    addr: Option<String>,
    rules: Option<PathBuf>,
    store: Option<String>,
    /// A file holding the PostgreSQL store's password.
    store_password_file: Option<PathBuf>,
    /// The environment variable holding it (default `TENET_STORE_PASSWORD`).
    store_password_env: Option<String>,
    replica: Option<String>,
    watch: Option<bool>,
    log_format: Option<LogFormat>,
    tls: Option<FileTls>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    access: FileAccess,
    #[serde(default)]
    identities: Vec<FileIdentity>,
    #[serde(default)]
    sweeps: FileSweeps,
    #[serde(default)]
    safety: FileSafety,
    #[serde(default)]
    monitor: FileMonitor,
    #[serde(default)]
    benchmark: FileBenchmark,
    #[serde(default)]
    autoconfig: FileAutoconfig,
    #[serde(default)]
    control_plane: FileControlPlane,
    #[serde(default)]
    rtx: FileRtx,
}

/// The `rtx` section.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileRtx {
    /// The signing key itself (PKCS#8 PEM or a 64-hex seed).
    signing_key: Option<String>,
    /// A file holding it (read at start-up).
    signing_key_file: Option<PathBuf>,
    public_url: Option<String>,
}

/// The `control_plane` section.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileControlPlane {
    /// How often every cluster's inventory is pulled (default 1m).
    pull_every: Option<String>,
    /// Each call's timeout (default 2s).
    timeout: Option<String>,
    /// Calls to clusters at once (default 16).
    parallel: Option<usize>,
    /// Smoke tests at once (default 4).
    exec_parallel: Option<usize>,
    /// Failed pulls in a row that open a cluster's pull breaker (default 3).
    pull_breaker: Option<usize>,
    /// New drifts, paused or failed rollouts, quarantined clusters.
    notify: Option<tenet_notify::config::WebhookConfig>,
}

/// The `autoconfig` section.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileAutoconfig {
    /// The local config center's folder (relative to the config file).
    config_dir: Option<PathBuf>,
    /// An HTTP JSON config center instead.
    config_url: Option<String>,
    /// Its timeout per call (default 5s).
    timeout: Option<String>,
}

/// The `benchmark` section: the tenant benchmark's evaluation round and
/// its pulled signals.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileBenchmark {
    evaluate_every: Option<String>,
    #[serde(default)]
    fetch: Vec<FetchSource>,
}

/// The `monitor` section: the meta-monitor's pages and proof of life.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileMonitor {
    notify: Option<tenet_notify::config::WebhookConfig>,
    proof_of_life: Option<tenet_notify::config::WebhookConfig>,
    proof_of_life_every: Option<String>,
    catch_up: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileSweeps {
    interval: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    body_bytes: Option<usize>,
    diff_body_bytes: Option<usize>,
    request_timeout: Option<String>,
    header_timeout: Option<String>,
    rate_per_second: Option<u32>,
    burst: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileAccess {
    rules: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
    client_auth: Option<ClientAuth>,
}

/// The `tls` keys as given, before the flags and the checks; `at` is
/// where each one is, for errors.
#[derive(Default)]
struct TlsParts {
    cert: Option<(PathBuf, String)>,
    key: Option<(PathBuf, String)>,
    client_ca: Option<(PathBuf, String)>,
    client_auth: Option<(ClientAuth, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIdentity {
    name: String,
    token_sha256: Option<String>,
    client_san: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    tenant: Option<String>,
    rate_per_second: Option<u32>,
    #[serde(default)]
    traits: BTreeMap<String, Vec<String>>,
}

/// The `safety` section: where the safety workflows tell approvers and
/// escalate (webhooks of `tenet-notify`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileSafety {
    notify: Option<tenet_notify::config::WebhookConfig>,
    escalation: Option<tenet_notify::config::WebhookConfig>,
    grant_key_env: Option<String>,
}

/// `host-pid`: unique among the replicas of one fleet unless two hosts
/// share a name.
fn default_replica() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "tenet".into());
    format!("{host}-{}", std::process::id())
}

fn check_replica(name: &str) -> Result<String, String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`replica`: `{name}` must be 1 to 100 letters, digits, `-`, `_`, `.` or `:`"
        ))
    }
}

/// The SHA-256 of a token, as the config file wants it.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

impl Config {
    /// Defaults, then the file (when given), then the overrides. Relative
    /// paths in the file are relative to the file's folder.
    pub fn resolve(file: Option<&Path>, o: &Overrides) -> Result<Config, String> {
        let mut c = Config::default();
        let mut tls = TlsParts::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read the config file: {e}", path.display()))?;
            tls = c.apply_file(path, &text)?;
        }
        if let Some(r) = &o.rules {
            c.rules = RulesSource::Dir(r.clone());
        }
        if let Some(s) = &o.store {
            c.store = s.clone();
        }
        if let Some(f) = &o.store_password_file {
            c.store = c
                .store
                .clone()
                .with_password_file(f)
                .map_err(|e| format!("--store-password-file: {e}"))?;
        }
        if let Some(r) = &o.replica {
            c.replica = check_replica(r)?;
        }
        if let Some(a) = o.addr {
            c.addr = a;
        }
        if let Some(f) = o.log_format {
            c.log_format = f;
        }
        if o.no_watch {
            c.watch = false;
        }
        let flag = |v: &Option<PathBuf>, name: &str| v.clone().map(|p| (p, format!("`{name}`")));
        tls.cert = flag(&o.tls_cert, "--tls-cert").or(tls.cert);
        tls.key = flag(&o.tls_key, "--tls-key").or(tls.key);
        tls.client_ca = flag(&o.client_ca, "--client-ca").or(tls.client_ca);
        tls.client_auth = o
            .client_auth
            .map(|a| (a, "`--client-auth`".to_string()))
            .or(tls.client_auth);
        c.apply_tls(tls)?;
        c.check_exposure()?;
        Ok(c)
    }

    /// The `tls` section and its flags, checked: a certificate needs its
    /// key and the other way round, `client_auth` needs `client_ca`.
    /// Without `client_auth`, client certificates are required.
    fn apply_tls(&mut self, t: TlsParts) -> Result<(), String> {
        let client = match (t.client_ca, t.client_auth) {
            (Some((ca, at)), auth) => Some((
                ClientCerts {
                    ca,
                    auth: auth.map_or(ClientAuth::Required, |(a, _)| a),
                },
                at,
            )),
            (None, Some((_, at))) => {
                return Err(format!(
                    "{at} is set without a client CA bundle (`tls.client_ca` or `--client-ca`) to verify client certificates against"
                ))
            }
            (None, None) => None,
        };
        self.tls = match (t.cert, t.key) {
            (Some((cert, _)), Some((key, _))) => Some(TlsConfig {
                cert,
                key,
                client: client.map(|(c, _)| c),
            }),
            (Some((_, at)), None) => {
                return Err(format!(
                    "{at} is set without its key (`tls.key` or `--tls-key`)"
                ))
            }
            (None, Some((_, at))) => {
                return Err(format!(
                    "{at} is set without its certificate (`tls.cert` or `--tls-cert`)"
                ))
            }
            (None, None) => match client {
                Some((_, at)) => {
                    return Err(format!(
                        "{at} is set without TLS: client certificates need `tls.cert` and `tls.key` (or `--tls-cert` and `--tls-key`)"
                    ))
                }
                None => None,
            },
        };
        Ok(())
    }

    /// Reads the file into `self`; the `tls` keys come back unchecked, for
    /// the flags to override ([`Config::apply_tls`]).
    fn apply_file(&mut self, path: &Path, text: &str) -> Result<TlsParts, String> {
        let at =
            |line: usize, col: usize, msg: &str| format!("{}:{line}:{col}: {msg}", path.display());
        let f: FileConfig = serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
            Some(l) => at(l.line(), l.column(), &e.to_string()),
            None => format!("{}: {e}", path.display()),
        })?;
        // Where a line is, for errors found after parsing: the first line
        // whose content (after any list dash) starts with `prefix`.
        let find = |prefix: &str| -> String {
            for (i, line) in text.lines().enumerate() {
                let body = line.trim_start().trim_start_matches("- ");
                let rest = body.strip_prefix(prefix);
                // A key (`addr:`) is a prefix; a value (`name: ci`) must be whole.
                let whole = prefix.ends_with(':')
                    || rest.is_some_and(|r| r.trim().is_empty() || r.trim_start().starts_with('#'));
                if rest.is_some() && whole {
                    let col = line.len() - body.len() + 1;
                    return format!("{}:{}:{col}", path.display(), i + 1);
                }
            }
            path.display().to_string()
        };
        let locate = |key: &str| find(&format!("{key}:"));
        let base = path.parent().unwrap_or(Path::new(""));
        let rel = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        if let Some(a) = f.addr {
            self.addr = a.parse().map_err(|_| {
                format!(
                    "{}: `addr`: `{a}` is not HOST:PORT (such as 127.0.0.1:8080)",
                    locate("addr")
                )
            })?;
        }
        if let Some(r) = f.rules {
            self.rules = RulesSource::Dir(rel(r));
        }
        if let Some(s) = f.store {
            let mut loc = Location::parse(&s)
                .map_err(|e| format!("{}: `store`: {e}", locate("store")))?
                .relative_to(base);
            if let Some(var) = &f.store_password_env {
                let password = std::env::var(var).map_err(|_| {
                    format!(
                        "{}: `store_password_env`: the environment variable {var} is not set",
                        locate("store_password_env")
                    )
                })?;
                loc = loc.with_password(&password).map_err(|e| {
                    format!(
                        "{}: `store_password_env`: {e}",
                        locate("store_password_env")
                    )
                })?;
            }
            if let Some(file) = f.store_password_file {
                loc = loc.with_password_file(&rel(file)).map_err(|e| {
                    format!(
                        "{}: `store_password_file`: {e}",
                        locate("store_password_file")
                    )
                })?;
            }
            self.store = loc;
        } else if f.store_password_file.is_some() || f.store_password_env.is_some() {
            return Err(format!(
                "{}: a store password is given but no `store` (a postgres:// URL)",
                path.display()
            ));
        }
        if let Some(r) = f.replica {
            self.replica = check_replica(&r).map_err(|e| format!("{}: {e}", locate("replica")))?;
        }
        if let Some(w) = f.watch {
            self.watch = w;
        }
        if let Some(l) = f.log_format {
            self.log_format = l;
        }
        for (key, hook) in [
            ("notify", &f.safety.notify),
            ("escalation", &f.safety.escalation),
        ] {
            if let Some(h) = hook {
                h.check()
                    .map_err(|e| format!("{}: `safety.{key}`: {e}", locate(key)))?;
            }
        }
        for (key, hook) in [
            ("notify", &f.monitor.notify),
            ("proof_of_life", &f.monitor.proof_of_life),
        ] {
            if let Some(h) = hook {
                h.check()
                    .map_err(|e| format!("{}: `monitor.{key}`: {e}", locate(key)))?;
            }
        }
        let duration =
            |key: &str, v: &Option<String>, default: Duration| -> Result<Duration, String> {
                match v {
                    None => Ok(default),
                    Some(t) => match tenet_runtime::dsl::syntax::parse_duration(t) {
                        Some(ms) if ms >= 1000 => Ok(Duration::from_millis(ms as u64)),
                        _ => Err(format!(
                        "{}: `monitor.{key}`: `{t}` is not a duration of at least 1s (such as 1m)",
                        locate(key)
                    )),
                    },
                }
            };
        self.monitor = MonitorChannels {
            notify: f.monitor.notify.clone(),
            proof_of_life: f.monitor.proof_of_life.clone(),
            proof_of_life_every: duration(
                "proof_of_life_every",
                &f.monitor.proof_of_life_every,
                MonitorChannels::default().proof_of_life_every,
            )?,
            catch_up: duration(
                "catch_up",
                &f.monitor.catch_up,
                MonitorChannels::default().catch_up,
            )?,
        };
        if let Some(d) = &f.autoconfig.config_dir {
            self.autoconfig_dir = rel(d.clone());
        }
        if let Some(u) = &f.autoconfig.config_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "autoconfig.config_url `{}` is not an http:// or https:// URL",
                    tenet_notify::config::redact_url(u)
                ));
            }
            self.autoconfig_url = Some(u.clone());
        }
        for (key, v, slot) in [
            (
                "control_plane.pull_every",
                &f.control_plane.pull_every,
                &mut self.control_plane.pull_every,
            ),
            (
                "control_plane.timeout",
                &f.control_plane.timeout,
                &mut self.control_plane.timeout,
            ),
        ] {
            if let Some(t) = v {
                *slot = match tenet_runtime::dsl::syntax::parse_duration(t) {
                    Some(ms) if ms >= 100 => Duration::from_millis(ms as u64),
                    _ => {
                        return Err(format!(
                            "`{key}`: `{t}` is not a duration of at least 100ms (such as 1m)"
                        ))
                    }
                };
            }
        }
        for (key, v, slot) in [
            (
                "control_plane.parallel",
                f.control_plane.parallel,
                &mut self.control_plane.parallel,
            ),
            (
                "control_plane.exec_parallel",
                f.control_plane.exec_parallel,
                &mut self.control_plane.exec_parallel,
            ),
            (
                "control_plane.pull_breaker",
                f.control_plane.pull_breaker,
                &mut self.control_plane.pull_breaker,
            ),
        ] {
            match v {
                Some(n) if (1..=1024).contains(&n) => *slot = n,
                Some(n) => {
                    return Err(format!(
                        "{}: `{key}`: {n} is not between 1 and 1024",
                        locate(key.rsplit('.').next().unwrap_or(key))
                    ))
                }
                None => {}
            }
        }
        if let Some(h) = &f.control_plane.notify {
            h.check()
                .map_err(|e| format!("{}: `control_plane.notify`: {e}", locate("notify")))?;
            self.control_plane.notify = Some(h.clone());
        }
        let key = match (&f.rtx.signing_key, &f.rtx.signing_key_file) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{}: `rtx.signing_key` and `rtx.signing_key_file` are exclusive: give one",
                    locate("signing_key")
                ))
            }
            (Some(k), None) => Some(k.clone()),
            (None, Some(p)) => Some(std::fs::read_to_string(p).map_err(|e| {
                format!(
                    "{}: `rtx.signing_key_file`: cannot read {}: {e}",
                    locate("signing_key_file"),
                    p.display()
                )
            })?),
            (None, None) => None,
        };
        if let Some(k) = &key {
            // Checked now, so a bad key stops the start, not the first export
            // (the key's text is never in the message).
            tenet_rtx_export::sign::Signer::from_config(k)
                .map_err(|e| format!("{}: `rtx.signing_key`: {e}", locate("signing_key")))?;
            self.rtx.signing_key = key;
        }
        if let Some(u) = &f.rtx.public_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(format!(
                    "{}: `rtx.public_url` `{u}` is not an http:// or https:// URL",
                    locate("public_url")
                ));
            }
            self.rtx.public_url = Some(u.trim_end_matches('/').to_string());
        }
        if let Some(t) = &f.autoconfig.timeout {
            self.autoconfig_timeout = match tenet_runtime::dsl::syntax::parse_duration(t) {
                Some(ms) if ms >= 100 => Duration::from_millis(ms as u64),
                _ => {
                    return Err(format!(
                    "`autoconfig.timeout`: `{t}` is not a duration of at least 100ms (such as 5s)"
                ))
                }
            };
        }
        self.benchmark = Benchmark {
            evaluate_every: match &f.benchmark.evaluate_every {
                None => Benchmark::default().evaluate_every,
                Some(t) => match tenet_runtime::dsl::syntax::parse_duration(t) {
                    Some(ms) if ms >= 1000 => Duration::from_millis(ms as u64),
                    _ => {
                        return Err(format!(
                            "{}: `benchmark.evaluate_every`: `{t}` is not a duration of at least 1s (such as 1h)",
                            locate("evaluate_every")
                        ))
                    }
                },
            },
            fetch: f.benchmark.fetch.clone(),
        };
        for (i, src) in self.benchmark.fetch.iter().enumerate() {
            let ok_url = src.url.starts_with("http://") || src.url.starts_with("https://");
            let ok_name = !src.signal.is_empty()
                && src
                    .signal
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            let ok_pointer = |p: &str| p.is_empty() || p.starts_with('/');
            let what = if !ok_name {
                "`signal` must be a name of letters, digits, `_`, `.` and `-`"
            } else if !ok_url {
                "`url` must start with http:// or https://"
            } else if !ok_pointer(&src.pointer) || !src.at_pointer.as_deref().is_none_or(ok_pointer)
            {
                "a pointer must be empty or a JSON pointer starting with `/`"
            } else {
                continue;
            };
            return Err(format!(
                "{}: `benchmark.fetch[{i}]`: {what}",
                locate("fetch")
            ));
        }
        self.safety = SafetyChannels {
            notify: f.safety.notify.clone(),
            escalation: f.safety.escalation.clone(),
            grant_key_env: f
                .safety
                .grant_key_env
                .clone()
                .unwrap_or_else(|| GRANT_KEY_ENV.into()),
        };
        if let Some(i) = f.sweeps.interval {
            self.sweeps.interval = match tenet_runtime::dsl::syntax::parse_duration(&i) {
                Some(ms) if ms >= 10 => Duration::from_millis(ms as u64),
                _ => {
                    return Err(format!(
                    "{}: `sweeps.interval`: `{i}` is not a duration of at least 10ms (such as 5s)",
                    locate("interval")
                ))
                }
            };
        }
        let l = f.limits;
        let dur = |key: &str, v: Option<String>, d: Duration| -> Result<Duration, String> {
            match v {
                None => Ok(d),
                Some(s) => match tenet_runtime::dsl::syntax::parse_duration(&s) {
                    Some(ms) if ms > 0 => Ok(Duration::from_millis(ms as u64)),
                    _ => Err(format!(
                        "{}: `limits.{key}`: `{s}` is not a positive duration (such as 500ms, 10s, 1m)",
                        locate(key)
                    )),
                },
            }
        };
        self.limits.request_timeout = dur(
            "request_timeout",
            l.request_timeout,
            self.limits.request_timeout,
        )?;
        self.limits.header_timeout = dur(
            "header_timeout",
            l.header_timeout,
            self.limits.header_timeout,
        )?;
        for (key, v, slot) in [
            ("body_bytes", l.body_bytes, &mut self.limits.body_bytes),
            (
                "diff_body_bytes",
                l.diff_body_bytes,
                &mut self.limits.diff_body_bytes,
            ),
        ] {
            if let Some(n) = v {
                if n == 0 {
                    return Err(format!(
                        "{}: `limits.{key}` must be more than 0",
                        locate(key)
                    ));
                }
                *slot = n;
            }
        }
        if let Some(r) = l.rate_per_second {
            self.limits.rate_per_second = r;
        }
        if let Some(b) = l.burst {
            self.limits.burst = b;
        }
        if self.limits.rate_per_second > 0 && self.limits.burst == 0 {
            return Err(format!(
                "{}: `limits.burst` must be more than 0 when there is a rate limit",
                locate("burst")
            ));
        }
        if let Some(r) = f.access.rules {
            self.access_rules = Some(rel(r));
        }
        let mut tls = TlsParts::default();
        if let Some(t) = f.tls {
            let at = |key: &str| format!("{}: `tls.{key}`", locate(key));
            tls.cert = t.cert.map(|p| (rel(p), at("cert")));
            tls.key = t.key.map(|p| (rel(p), at("key")));
            tls.client_ca = t.client_ca.map(|p| (rel(p), at("client_ca")));
            tls.client_auth = t.client_auth.map(|a| (a, at("client_auth")));
        }
        let mut names = BTreeSet::new();
        let mut hashes = BTreeSet::new();
        let mut sans = BTreeSet::new();
        for id in f.identities {
            let here = find(&format!("name: {}", id.name));
            let hash = match id.token_sha256 {
                None => None,
                Some(h) => {
                    let hash = h.trim().to_ascii_lowercase();
                    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(format!(
                            "{here}: identity `{}`: `token_sha256` must be 64 hex digits, the SHA-256 of the token (make one with `tenet serve hash-token`); never put the token itself in the file",
                            id.name
                        ));
                    }
                    Some(hash)
                }
            };
            let san = id.client_san.as_deref().map(crate::tls::san_key);
            if hash.is_none() && san.is_none() {
                return Err(format!(
                    "{here}: identity `{}` needs a `token_sha256`, a `client_san` or both, or nothing could ever be it",
                    id.name
                ));
            }
            if san.as_deref() == Some("") {
                return Err(format!(
                    "{here}: identity `{}`: `client_san` is empty",
                    id.name
                ));
            }
            if id.name.trim().is_empty() {
                return Err(format!("{here}: an identity needs a `name`"));
            }
            if !names.insert(id.name.clone()) {
                return Err(format!("{here}: identity `{}` is listed twice", id.name));
            }
            if let Some(hash) = &hash {
                if !hashes.insert(hash.clone()) {
                    return Err(format!(
                        "{here}: identity `{}` has the same token as another identity",
                        id.name
                    ));
                }
            }
            if let Some(san) = &san {
                if !sans.insert(san.clone()) {
                    return Err(format!(
                        "{here}: identity `{}` has the same `client_san` (`{san}`) as another identity",
                        id.name
                    ));
                }
            }
            self.identities.push(Identity {
                name: id.name,
                token_sha256: hash,
                client_san: san,
                roles: id.roles,
                tenant: id.tenant,
                rate_per_second: id.rate_per_second,
                traits: id.traits,
            });
        }
        Ok(tls)
    }

    /// Without identities anyone who can reach the port could call it:
    /// listen on loopback only. Client certificates that no identity
    /// could match are a mistake, not a policy: refuse them too.
    fn check_exposure(&self) -> Result<(), String> {
        if self.identities.is_empty() && !self.addr.ip().is_loopback() {
            return Err(format!(
                "refusing to listen on {} without authentication: configure `identities` with tokens or client certificate names in the config file, or listen on a loopback address such as 127.0.0.1",
                self.addr
            ));
        }
        let client_certs = self.tls.as_ref().is_some_and(|t| t.client.is_some());
        if client_certs && !self.identities.iter().any(|i| i.client_san.is_some()) {
            return Err(
                "client certificates are verified (`client_ca`) but no identity has a `client_san`, so none could name a caller: give identities a `client_san`, or drop `client_ca`".into(),
            );
        }
        Ok(())
    }

    /// Whether a non-loopback address is served in plain HTTP, where
    /// bearer tokens travel in clear text.
    pub fn plain_http_off_loopback(&self) -> bool {
        self.tls.is_none() && !self.addr.ip().is_loopback()
    }

    /// Whether callers must present a token.
    pub fn auth_required(&self) -> bool {
        !self.identities.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn from_text(text: &str) -> Result<Config, String> {
        let mut c = Config::default();
        let tls = c.apply_file(Path::new("/etc/tenet/server.yaml"), text)?;
        c.apply_tls(tls)?;
        c.check_exposure()?;
        Ok(c)
    }

    #[test]
    fn a_full_file_is_read_and_paths_are_relative_to_it() {
        let c = from_text(&format!(
            "addr: 0.0.0.0:9000\nrules: rules\nstore: db/t.db\nwatch: false\nlog_format: json\nlimits:\n  request_timeout: 2s\n  rate_per_second: 5\n  burst: 10\nidentities:\n  - name: ci\n    token_sha256: {}\n    roles: [evaluator]\n    tenant: acme\n",
            hash_token("s3cret")
        ))
        .unwrap();
        assert_eq!(c.addr.port(), 9000);
        assert_eq!(c.rules, RulesSource::Dir("/etc/tenet/rules".into()));
        assert_eq!(
            c.store,
            Location::Sqlite(PathBuf::from("/etc/tenet/db/t.db"))
        );
        assert!(!c.watch);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.limits.request_timeout, Duration::from_secs(2));
        assert_eq!(c.limits.rate_per_second, 5);
        assert_eq!(c.identities[0].roles, vec!["evaluator"]);
        assert_eq!(c.identities[0].token_sha256, Some(hash_token("s3cret")));
    }

    #[test]
    fn mistakes_name_the_file_line_and_column() {
        let e = from_text("limits:\n  request_timeout: soon\n").unwrap_err();
        assert_eq!(
            e,
            "/etc/tenet/server.yaml:2:3: `limits.request_timeout`: `soon` is not a positive duration (such as 500ms, 10s, 1m)"
        );
        let e = from_text("adr: 127.0.0.1:1\n").unwrap_err();
        assert!(
            e.starts_with("/etc/tenet/server.yaml:1:1: unknown field `adr`"),
            "{e}"
        );
        let e = from_text("identities:\n  - name: ci\n    token_sha256: hunter2\n").unwrap_err();
        assert!(
            e.starts_with(
                "/etc/tenet/server.yaml:2:5: identity `ci`: `token_sha256` must be 64 hex digits"
            ),
            "{e}"
        );
    }

    #[test]
    fn the_safety_section_and_traits_are_read_and_bad_ones_named() {
        let h = hash_token("t");
        let c = from_text(&format!(
            "identities:\n  - name: a\n    token_sha256: {h}\n    traits: {{team: [payments, risk]}}\nsafety:\n  notify: {{url: http://127.0.0.1:9/hook, retries: 1}}\n  grant_key_env: MY_KEY\n"
        ))
        .unwrap();
        assert_eq!(c.identities[0].traits["team"], vec!["payments", "risk"]);
        assert_eq!(
            c.safety.notify.as_ref().map(|n| n.url.as_str()),
            Some("http://127.0.0.1:9/hook")
        );
        assert_eq!(c.safety.escalation, None);
        assert_eq!(c.safety.grant_key_env, "MY_KEY");
        assert_eq!(Config::default().safety.grant_key_env, GRANT_KEY_ENV);
        let e = from_text("safety:\n  notify: {url: http://hooks.example.com/x}\n").unwrap_err();
        assert!(
            e.contains("`safety.notify`") && e.contains("/etc/tenet/server.yaml:"),
            "{e}"
        );
        let e = from_text("safety:\n  notfy: {url: http://127.0.0.1:9/x}\n").unwrap_err();
        assert!(e.contains("notfy"), "{e}");
        let e = from_text("identities:\n  - name: a\n    token_sha256: 0000000000000000000000000000000000000000000000000000000000000000\n    traits: [payments]\n").unwrap_err();
        assert!(e.contains("traits"), "{e}");
    }

    #[test]
    fn the_control_plane_section_is_read_and_bad_values_named() {
        let c = from_text(
            "control_plane:\n  pull_every: 30s\n  timeout: 500ms\n  parallel: 8\n  exec_parallel: 2\n  pull_breaker: 5\n",
        )
        .unwrap();
        let cp = &c.control_plane;
        assert_eq!(
            (
                cp.pull_every,
                cp.timeout,
                cp.parallel,
                cp.exec_parallel,
                cp.pull_breaker
            ),
            (Duration::from_secs(30), Duration::from_millis(500), 8, 2, 5)
        );
        assert_eq!(Config::default().control_plane.pull_breaker, 3);
        for (text, want) in [
            (
                "control_plane:\n  pull_breaker: 0\n",
                "`control_plane.pull_breaker`: 0 is not between 1 and 1024",
            ),
            (
                "control_plane:\n  parallel: 5000\n",
                "`control_plane.parallel`: 5000 is not between 1 and 1024",
            ),
            (
                "control_plane:\n  timeout: 5ms\n",
                "`control_plane.timeout`: `5ms` is not a duration of at least 100ms",
            ),
        ] {
            let e = from_text(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn duplicate_identities_and_shared_tokens_are_refused() {
        let h = hash_token("t");
        let e = from_text(&format!(
            "identities:\n  - name: a\n    token_sha256: {h}\n  - name: b\n    token_sha256: {h}\n"
        ))
        .unwrap_err();
        assert!(
            e.contains("identity `b` has the same token as another identity"),
            "{e}"
        );
    }

    #[test]
    fn without_tokens_only_loopback_is_allowed() {
        let e = from_text("addr: 0.0.0.0:8080\n").unwrap_err();
        assert!(
            e.starts_with("refusing to listen on 0.0.0.0:8080 without authentication"),
            "{e}"
        );
        assert!(from_text("addr: '[::1]:8080'\n").is_ok());
    }

    const TLS: &str = "tls:\n  cert: tls/server.pem\n  key: /keys/server.key\n";

    fn cert_identity(san: &str) -> String {
        format!("identities:\n  - name: bot\n    client_san: {san}\n")
    }

    #[test]
    fn tls_paths_are_relative_to_the_file_and_client_auth_defaults_to_required() {
        let c = from_text(&format!(
            "{TLS}  client_ca: ca.pem\n{}",
            cert_identity("Bot.Acme.Internal")
        ))
        .unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("/etc/tenet/tls/server.pem"));
        assert_eq!(tls.key, PathBuf::from("/keys/server.key"));
        let client = tls.client.unwrap();
        assert_eq!(client.ca, PathBuf::from("/etc/tenet/ca.pem"));
        assert_eq!(client.auth, ClientAuth::Required);
        assert_eq!(
            c.identities[0].client_san.as_deref(),
            Some("bot.acme.internal")
        );
        assert_eq!(c.identities[0].token_sha256, None);
        let c = from_text(&format!(
            "{TLS}  client_ca: ca.pem\n  client_auth: optional\n{}",
            cert_identity("spiffe://acme/bot")
        ))
        .unwrap();
        assert_eq!(c.tls.unwrap().client.unwrap().auth, ClientAuth::Optional);
        assert!(from_text("addr: 127.0.0.1:1\n").unwrap().tls.is_none());
    }

    #[test]
    fn tls_mistakes_name_the_key_and_where_it_is() {
        let e = from_text("tls:\n  cert: a.pem\n").unwrap_err();
        assert_eq!(
            e,
            "/etc/tenet/server.yaml:2:3: `tls.cert` is set without its key (`tls.key` or `--tls-key`)"
        );
        let e = from_text("tls:\n  key: a.key\n").unwrap_err();
        assert_eq!(
            e,
            "/etc/tenet/server.yaml:2:3: `tls.key` is set without its certificate (`tls.cert` or `--tls-cert`)"
        );
        let e = from_text(&format!("{TLS}  client_auth: optional\n")).unwrap_err();
        assert_eq!(
            e,
            "/etc/tenet/server.yaml:4:3: `tls.client_auth` is set without a client CA bundle (`tls.client_ca` or `--client-ca`) to verify client certificates against"
        );
        let e = from_text("tls:\n  client_ca: ca.pem\n").unwrap_err();
        assert!(
            e.starts_with("/etc/tenet/server.yaml:2:3: `tls.client_ca` is set without TLS"),
            "{e}"
        );
        let e = from_text(&format!("{TLS}  client_auth: sometimes\n")).unwrap_err();
        assert!(
            e.starts_with(
                "/etc/tenet/server.yaml:4:16: tls.client_auth: unknown variant `sometimes`"
            ),
            "{e}"
        );
        let e = from_text(&format!("{TLS}  crl: x.pem\n")).unwrap_err();
        assert!(e.contains("unknown field `crl`"), "{e}");
    }

    #[test]
    fn client_certificates_need_an_identity_to_name() {
        let token_only = format!(
            "identities:\n  - name: ci\n    token_sha256: {}\n",
            hash_token("t")
        );
        let e = from_text(&format!("{TLS}  client_ca: ca.pem\n{token_only}")).unwrap_err();
        assert!(
            e.starts_with(
                "client certificates are verified (`client_ca`) but no identity has a `client_san`"
            ),
            "{e}"
        );
        let e = from_text(&format!("{TLS}  client_ca: ca.pem\n")).unwrap_err();
        assert!(e.contains("no identity has a `client_san`"), "{e}");
    }

    #[test]
    fn an_identity_needs_a_token_or_a_client_san_and_sans_are_unique() {
        let e = from_text("identities:\n  - name: ci\n    roles: [admin]\n").unwrap_err();
        assert_eq!(
            e,
            "/etc/tenet/server.yaml:2:5: identity `ci` needs a `token_sha256`, a `client_san` or both, or nothing could ever be it"
        );
        let e = from_text(
            "identities:\n  - name: a\n    client_san: bot.acme\n  - name: b\n    client_san: BOT.acme\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "/etc/tenet/server.yaml:4:5: identity `b` has the same `client_san` (`bot.acme`) as another identity"
        );
        // Both on one identity is fine; so is a certificate name off loopback.
        let c = from_text(&format!(
            "addr: 0.0.0.0:8443\nidentities:\n  - name: a\n    client_san: a.acme\n    token_sha256: {}\n",
            hash_token("t")
        ))
        .unwrap();
        assert!(c.identities[0].client_san.is_some() && c.identities[0].token_sha256.is_some());
        assert!(c.plain_http_off_loopback());
    }

    #[test]
    fn tls_flags_win_over_the_file_and_are_checked_alike() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.yaml");
        std::fs::write(
            &file,
            format!("{TLS}  client_ca: ca.pem\n{}", cert_identity("bot")),
        )
        .unwrap();
        let o = Overrides {
            tls_cert: Some("flag.pem".into()),
            client_auth: Some(ClientAuth::Optional),
            ..Overrides::default()
        };
        let tls = Config::resolve(Some(&file), &o).unwrap().tls.unwrap();
        assert_eq!(tls.cert, PathBuf::from("flag.pem"));
        assert_eq!(tls.key, PathBuf::from("/keys/server.key"));
        assert_eq!(tls.client.unwrap().auth, ClientAuth::Optional);
        let e = Config::resolve(None, &o).unwrap_err();
        assert_eq!(
            e,
            "`--client-auth` is set without a client CA bundle (`tls.client_ca` or `--client-ca`) to verify client certificates against"
        );
        let e = Config::resolve(
            None,
            &Overrides {
                tls_key: Some("k.pem".into()),
                ..Overrides::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            e,
            "`--tls-key` is set without its certificate (`tls.cert` or `--tls-cert`)"
        );
        assert_eq!(
            "sometimes".parse::<ClientAuth>().unwrap_err(),
            "unknown client auth `sometimes` (required or optional)"
        );
    }

    #[test]
    fn token_hashes_ignore_surrounding_whitespace() {
        assert_eq!(hash_token("abc\n"), hash_token("abc"));
        assert_eq!(
            hash_token("test"),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
    }
}
