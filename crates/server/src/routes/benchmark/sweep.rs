//! The `tenant-benchmark.sweep` (under its lease, on one replica): every
//! `benchmark.evaluate_every`, pull the `benchmark.fetch` signals and
//! evaluate every tenant again.

use super::*;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tenet_tenant_benchmark::store::{self as bs, Change, SignalRow};

/// Default time an answer of a fetch source is reused.
const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// Default time a fetch may take.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs a round when `benchmark.evaluate_every` has passed since this
/// replica's last: for each tenant, the pulled signals and one evaluation
/// of every profile, keeping those that moved something (a badge whose
/// dwell passed, a score that decayed). Returns how many evaluations it
/// stored. A fetch that fails leaves that signal as it was (its age
/// grows; `max_age` and the fallbacks take it from there).
///
/// A round with many tenants is spread over several sweeps: each works
/// for at most [`BUDGET`] (well within the sweep's lease, so the fleet's
/// other sweeps and its presence are not held up) and the next goes on
/// from the tenant after the last one done.
pub fn sweep(state: &AppState) -> Result<u64, tenet_store::StoreError> {
    sweep_within(state, BUDGET)
}

/// [`sweep`] with another budget (at least one tenant is done per call).
pub fn sweep_within(state: &AppState, budget: Duration) -> Result<u64, tenet_store::StoreError> {
    let now = now_ms();
    let b = &state.benchmark;
    // The round in progress (when it began, the last tenant done), or a
    // new one once `evaluate_every` has passed since the last began.
    let (round_start, mut cursor) = {
        let round = match b.round.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        match round {
            Some((start, c)) => (start, Some(c)),
            None if now - b.last_round.load(Ordering::Relaxed) < b.every => return Ok(0),
            None => (now, None),
        }
    };
    if tenet_tenant_benchmark::pack(&state.bundle.load_full().rules).is_err() {
        return Ok(0);
    }
    let (bundle, profiles) = super::profiles(state).map_err(|p| {
        tenet_store::StoreError::NotFound(format!("a usable `tenant_benchmark` pack: {}", p.detail))
    })?;
    // Forget answers no source would reuse any more.
    let longest = b
        .fetch
        .iter()
        .map(|f| f.ttl.unwrap_or(DEFAULT_TTL).as_millis() as Ms)
        .max()
        .unwrap_or(0);
    match b.cache.lock() {
        Ok(mut c) => c.retain(|_, (at, _)| now - *at < longest),
        Err(p) => p.into_inner().retain(|_, (at, _)| now - *at < longest),
    }
    let tenants = bs::tenants(&b.store())?;
    let mut stored = 0u64;
    let began = Instant::now();
    let from = cursor.clone();
    let todo = tenants
        .into_iter()
        .filter(|t| from.as_ref().is_none_or(|c| t > c));
    for t in todo {
        if cursor != from && began.elapsed() >= budget {
            // The rest next time, from here.
            set_round(b, cursor.map(|c| (round_start, c)));
            return Ok(stored);
        }
        let signals = pull(state, &t, now);
        let (bundle, profiles) = (Arc::clone(&bundle), Arc::clone(&profiles));
        let ctx = RequestCtx {
            action_id: format!("sweep-{now:x}"),
            identity: None,
            tenant: Some(t.clone()),
        };
        let started = Instant::now();
        let r = bs::update(&mut b.store(), &t, signals, now_ms(), move |record, now| {
            let evals = evaluate_all(&bundle, &profiles, record, now, true)?;
            let audit = transition_events(&ctx, &evals, &bundle.fingerprint, started);
            let n = evals.len() as u64;
            Ok(Change {
                write: !evals.is_empty(),
                dry_run: false,
                evaluations: evals,
                audit,
                out: n,
            })
        });
        match r {
            Ok(u) => {
                stored += u.out;
                cursor = Some(t);
            }
            Err(bs::UpdateError::Store(e)) => return Err(e),
            Err(bs::UpdateError::Refused(why)) => {
                return Err(tenet_store::StoreError::NotFound(format!(
                    "a usable `tenant_benchmark` pack: {why}"
                )))
            }
        }
    }
    set_round(b, None);
    b.last_round.store(round_start, Ordering::Relaxed);
    Ok(stored)
}

/// How long one sweep works on a round before leaving the rest to the next.
pub const BUDGET: Duration = Duration::from_secs(2);

/// Where the round in progress stands (`None`: no round in progress).
fn set_round(b: &Benchmark, cursor: Option<(Ms, String)>) {
    match b.round.lock() {
        Ok(mut g) => *g = cursor,
        Err(p) => *p.into_inner() = cursor,
    }
}

/// The pulled signals of one tenant, from the cache when young enough.
fn pull(state: &AppState, tenant: &str, now: Ms) -> Vec<SignalRow> {
    let b = &state.benchmark;
    let mut out = Vec::new();
    for src in &b.fetch {
        let url = src.url.replace("{tenant}", tenant);
        let ttl = src.ttl.unwrap_or(DEFAULT_TTL).as_millis() as Ms;
        let cached = {
            let cache = match b.cache.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            cache
                .get(&url)
                .filter(|(at, _)| now - at < ttl)
                .map(|(at, r)| (*at, r.clone()))
        };
        let (fetched_at, answer) = match cached {
            Some(c) => c,
            None => {
                let timeout = src.timeout.unwrap_or(DEFAULT_TIMEOUT);
                let r = block_on_fetch(&url, timeout);
                state
                    .metrics
                    .benchmark_fetch(if r.is_ok() { "ok" } else { "failed" });
                if let Err(e) = &r {
                    tracing::warn!(signal = %src.signal, error = %e, "a benchmark fetch failed");
                }
                let mut cache = match b.cache.lock() {
                    Ok(g) => g,
                    Err(p) => p.into_inner(),
                };
                cache.insert(url.clone(), (now, r.clone()));
                (now, r)
            }
        };
        let Ok(answer) = answer else {
            continue;
        };
        let value = if src.pointer.is_empty() {
            Some(&answer)
        } else {
            answer.pointer(&src.pointer)
        };
        let Some(value) = value.filter(|v| v.is_number() || v.is_boolean() || v.is_string()) else {
            tracing::warn!(signal = %src.signal, url = %tenet_notify::config::redact_url(&url), "a benchmark fetch answered no number at its pointer");
            continue;
        };
        let at = src
            .at_pointer
            .as_deref()
            .and_then(|p| answer.pointer(p))
            .and_then(Value::as_str)
            .and_then(|t| tenet_tenant_benchmark::time::parse(t).ok())
            .filter(|at| *at <= now)
            .unwrap_or(fetched_at);
        out.push(SignalRow {
            name: src.signal.clone(),
            value: value.clone(),
            at: Some(at),
            source: Some(link(&url)),
        });
    }
    out
}

/// The sweep may run on a runtime's worker (the first round, at start)
/// or on a blocking thread: the fetch runs on a thread and a small
/// runtime of its own, which is right in both.
fn block_on_fetch(url: &str, timeout: Duration) -> Result<Value, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("no runtime for the fetch: {e}"))?
                .block_on(tenet_notify::fetch::get_json(url, timeout))
        })
        .join()
        .unwrap_or_else(|_| Err(format!("the fetch of {url} panicked")))
    })
}

/// A pulled signal's source link: its URL without credentials or query
/// string (where a token would be).
fn link(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or(url);
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}{path}")
        }
        None => no_query.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_link_keeps_no_credentials_and_no_query() {
        assert_eq!(
            super::link("https://bot:s3cret@evidence.example/mfa/acme?token=x#top"),
            "https://evidence.example/mfa/acme"
        );
        assert_eq!(
            super::link("http://127.0.0.1:9/p/a"),
            "http://127.0.0.1:9/p/a"
        );
    }
}
