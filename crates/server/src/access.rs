//! Who may call what: bearer tokens, client certificates, the `server`
//! access pack, rate limits.
//!
//! In: a request's `Authorization` header, the client certificate of its
//! connection ([`ClientCert`], put on the request by the connection loop
//! when TLS verified one), its method and matched route.
//! Out: the request goes on with a [`RequestCtx`] (its action id, the
//! caller's identity and tenant), or is answered with a problem:
//!
//! - 401: a token that matches no identity, a client certificate whose
//!   subject alternative names match no identity (or several), a token
//!   and a certificate of two different identities, or no identity where
//!   the access pack needs one (`WWW-Authenticate: Bearer`);
//! - 429: the identity is over its rate (`Retry-After`);
//! - 403: the access pack denies the identity this route.
//!
//! Tokens are compared by their SHA-256 (the config file holds only
//! hashes) and never logged; a certificate names its identity by a SAN
//! equal to the identity's `client_san`. Either way the identity is the
//! same thing afterwards: one rate limit, one access decision, one actor
//! in the audit log. Which identity may call which route is not
//! decided here but by the `server` pack (`rules/server/server.tenet`,
//! or `access.rules` in the config file): the server gives it
//! `{"identity": {...} | null, "request": {"method", "route"}}` and denies
//! when its decision is blocking. With no identities configured there is
//! no authentication at all, and the server listens on loopback only (see
//! `config`).

use crate::clock::new_action_id;
use crate::config::{Config, Identity};
use crate::problem::Problem;
use crate::state::AppState;
use crate::table::Route;
use crate::tls::ClientCert;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::json;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use tenet_runtime::decision::{self, DecideOptions};
use tenet_runtime::load::{self, LoadError, Rules};

/// The name of the access pack.
pub const ACCESS_PACK: &str = "server";

/// What the handlers know about the request.
#[derive(Clone, Debug)]
pub struct RequestCtx {
    /// The id of this request's audit event (and `x-tenet-action-id`).
    pub action_id: String,
    /// `None` when the server has no identities configured.
    pub identity: Option<Arc<Identity>>,
    /// The identity's tenant, else the `x-tenant-id` header.
    pub tenant: Option<String>,
}

impl RequestCtx {
    /// Who, for the audit log.
    pub fn actor(&self) -> String {
        match &self.identity {
            Some(i) => i.name.clone(),
            None => "anonymous".into(),
        }
    }
}

/// Tokens, client certificate names, the access pack and the rate
/// limiters.
pub struct Access {
    by_hash: HashMap<String, Arc<Identity>>,
    by_san: HashMap<String, Arc<Identity>>,
    limiters: HashMap<String, DefaultDirectRateLimiter>,
    rules: Rules,
}

impl Access {
    /// Loads the access pack (bundled, or `access.rules`) and indexes the
    /// identities. The pack must be named `server`.
    pub fn load(config: &Config) -> Result<Access, LoadError> {
        let rules = match &config.access_rules {
            None => load::load_bundled()?,
            Some(dir) => load::load_path(dir)?,
        };
        if rules.pack(ACCESS_PACK).is_none() {
            return Err(LoadError::Io(format!(
                "no pack named `{ACCESS_PACK}` among the access rules ({})",
                config
                    .access_rules
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|| "(bundled)".into())
            )));
        }
        let mut by_hash = HashMap::new();
        let mut by_san = HashMap::new();
        let mut limiters = HashMap::new();
        for id in &config.identities {
            let rate = id.rate_per_second.unwrap_or(config.limits.rate_per_second);
            if let (Some(rate), Some(burst)) = (
                NonZeroU32::new(rate),
                NonZeroU32::new(config.limits.burst.max(1)),
            ) {
                limiters.insert(
                    id.name.clone(),
                    RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
                );
            }
            let shared = Arc::new(id.clone());
            if let Some(hash) = &id.token_sha256 {
                by_hash.insert(hash.clone(), Arc::clone(&shared));
            }
            if let Some(san) = &id.client_san {
                by_san.insert(san.clone(), shared);
            }
        }
        Ok(Access {
            by_hash,
            by_san,
            limiters,
            rules,
        })
    }

    /// Whether callers are identified at all (identities are configured).
    pub fn enabled(&self) -> bool {
        !self.by_hash.is_empty() || !self.by_san.is_empty()
    }

    /// The caller, by its bearer token, its client certificate, or both
    /// when they name the same identity. A credential that names nobody
    /// is a 401 even when the other one is good, and so are two that name
    /// different identities: the server never picks one for the caller.
    fn identify(
        &self,
        header: Option<&HeaderValue>,
        cert: Option<&ClientCert>,
    ) -> Result<Option<Arc<Identity>>, Problem> {
        let by_token = self.identify_token(header)?;
        let by_cert = cert.map(|c| self.identify_cert(c)).transpose()?;
        match (by_token, by_cert) {
            (Some(t), Some(c)) if t.name != c.name => Err(unauthorized(format!(
                "the bearer token is identity `{}` and the client certificate is identity `{}`: a request may carry only one identity; send the token of the certificate's identity, or no token",
                t.name, c.name
            ))),
            (t, c) => Ok(t.or(c)),
        }
    }

    /// The identity whose `client_san` is one of the certificate's SANs.
    fn identify_cert(&self, cert: &ClientCert) -> Result<Arc<Identity>, Problem> {
        let mut found: Vec<&Arc<Identity>> = Vec::new();
        for san in cert.sans.iter() {
            if let Some(id) = self.by_san.get(san) {
                if !found.iter().any(|f| f.name == id.name) {
                    found.push(id);
                }
            }
        }
        match found.as_slice() {
            [one] => Ok(Arc::clone(one)),
            [] if cert.sans.is_empty() => Err(unauthorized(
                "the client certificate has no subject alternative name (DNS name, URI or email) to match an identity's `client_san`".into(),
            )),
            [] => Err(unauthorized(format!(
                "the client certificate's subject alternative names ({}) match no identity of this server",
                cert.sans.join(", ")
            ))),
            many => Err(unauthorized(format!(
                "the client certificate's subject alternative names match more than one identity ({}); a certificate must name one",
                many.iter().map(|i| format!("`{}`", i.name)).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    fn identify_token(
        &self,
        header: Option<&HeaderValue>,
    ) -> Result<Option<Arc<Identity>>, Problem> {
        let Some(value) = header else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                // The scheme is case-insensitive (RFC 9110).
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        match self.by_hash.get(&crate::config::hash_token(token)) {
            Some(id) => Ok(Some(Arc::clone(id))),
            None => Err(unauthorized(
                "the bearer token matches no identity of this server".into(),
            )),
        }
    }

    /// The access pack's verdict: `Err` with the problem when denied.
    pub fn decide(
        &self,
        identity: Option<&Identity>,
        method: &str,
        route: &str,
    ) -> Result<(), Problem> {
        let Some(pack) = self.rules.pack(ACCESS_PACK) else {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "no access pack is loaded, so nothing is allowed",
            ));
        };
        let input = json!({
            "identity": identity.map(|i| json!({"name": i.name, "roles": i.roles, "tenant": i.tenant})),
            "request": {"method": method, "route": route},
        });
        let d = decision::decide(
            pack,
            &tenet_runtime::dsl::Value::from_json(&input),
            self.rules.scorer_list(),
            &DecideOptions::default(),
        );
        if !d.blocking {
            return Ok(());
        }
        let why = d
            .matched
            .iter()
            .find_map(|m| m.because.clone())
            .unwrap_or_else(|| format!("denied by the `{ACCESS_PACK}` pack"));
        Err(if identity.is_none() {
            unauthorized(why)
        } else {
            Problem::new(StatusCode::FORBIDDEN, "Forbidden", why)
        })
    }

    /// The roles the access pack grants routes to: the values of its
    /// `route_roles` table, sorted (none when it has no such table).
    pub fn pack_roles(&self) -> Vec<String> {
        let Some(pack) = self.rules.pack(ACCESS_PACK) else {
            return Vec::new();
        };
        let table = pack
            .consts
            .get("route_roles")
            .map(|v| v.to_json())
            .unwrap_or_default();
        let mut roles: Vec<String> = table
            .as_object()
            .into_iter()
            .flat_map(|t| t.values())
            .filter_map(|r| r.as_array())
            .flatten()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// Who may call `route`, asked of the access pack as the gate asks
    /// it: first without an identity, then as an identity holding each one
    /// of `roles`.
    pub fn callers(&self, route: &Route, roles: &[String]) -> Callers {
        if self.decide(None, &route.method, &route.path).is_ok() {
            return Callers::Public;
        }
        Callers::Roles(
            roles
                .iter()
                .filter(|role| {
                    let probe = Identity {
                        name: format!("probe-{role}"),
                        token_sha256: None,
                        client_san: None,
                        roles: vec![(*role).clone()],
                        tenant: None,
                        rate_per_second: None,
                        traits: Default::default(),
                    };
                    self.decide(Some(&probe), &route.method, &route.path)
                        .is_ok()
                })
                .cloned()
                .collect(),
        )
    }

    /// The routes of `routes` that are not public and that no role of the
    /// pack ([`Access::pack_roles`]) may call: each would answer 401 or
    /// 403 to every caller, most likely because it is missing from the
    /// pack's `route_roles`.
    pub fn ungranted(&self, routes: &[Route]) -> Vec<Route> {
        let roles = self.pack_roles();
        routes
            .iter()
            .filter(|r| self.callers(r, &roles) == Callers::Roles(Vec::new()))
            .cloned()
            .collect()
    }

    /// `Err` with a 429 when `identity` is over its rate.
    fn check_rate(&self, identity: &Identity) -> Result<(), Problem> {
        let Some(limiter) = self.limiters.get(&identity.name) else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                format!("{} is over its rate limit; retry in {secs}s", identity.name),
            )
            .header(
                header::RETRY_AFTER,
                HeaderValue::from_str(&secs.max(1).to_string())
                    .unwrap_or(HeaderValue::from_static("1")),
            )
        })
    }
}

/// Who may call a route, as the access pack decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callers {
    /// Anyone, with or without a token.
    Public,
    /// An identity with one of these roles; none: nobody may.
    Roles(Vec<String>),
}

fn unauthorized(detail: String) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, "Unauthorized", detail).header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"tenet\""),
    )
}

/// The route as the access pack and the metrics name it.
pub fn route_of(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string())
}

/// The middleware in front of every route: identify (token, client
/// certificate), rate-limit, ask the access pack, then hand the handler a
/// [`RequestCtx`].
pub async fn gate(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let access = &state.access;
    let route = route_of(&req);
    let method = req.method().as_str().to_string();
    let identity = if access.enabled() {
        let identity = match access.identify(
            req.headers().get(header::AUTHORIZATION),
            req.extensions().get::<ClientCert>(),
        ) {
            Ok(i) => i,
            Err(p) => return p.into_response(),
        };
        if let Some(id) = &identity {
            if let Err(p) = access.check_rate(id) {
                return p.into_response();
            }
        }
        if let Err(p) = access.decide(identity.as_deref(), &method, &route) {
            return p.into_response();
        }
        identity
    } else {
        None
    };
    let tenant = identity
        .as_ref()
        .and_then(|i| i.tenant.clone())
        .or_else(|| {
            req.headers()
                .get("x-tenant-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        });
    let span = tracing::Span::current();
    if let Some(i) = &identity {
        span.record("identity", i.name.as_str());
    }
    if let Some(t) = &tenant {
        span.record("tenant_id", t.as_str());
    }
    let action_id = req
        .extensions()
        .get::<crate::observe::ActionId>()
        .map(|a| a.0.clone())
        .unwrap_or_else(|| new_action_id("req"));
    req.extensions_mut().insert(RequestCtx {
        action_id,
        identity,
        tenant,
    });
    next.run(req).await
}
