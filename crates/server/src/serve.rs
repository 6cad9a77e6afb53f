//! The connection loop and the process around it.
//!
//! hyper's HTTP/1 connections are served one task each, with a timer so a
//! client that sends its request head too slowly is cut off
//! (`limits.header_timeout`); the body and the handler are bounded by the
//! request timeout (see [`crate::router`]). With TLS configured
//! ([`crate::tls`]) each task first does the handshake, within the same
//! header timeout, so a client that stalls or fails its handshake holds
//! only its own task, never the accept loop; the verified client
//! certificate, if any, goes on every request of the connection as a
//! [`ClientCert`] extension for the access gate. On shutdown the listener
//! closes and in-flight requests finish (hyper-util's graceful shutdown),
//! for at most [`DRAIN`].

use crate::config::{ClientAuth, Config};
use crate::state::AppState;
use crate::tls::ClientCert;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// The longest a shutdown waits for in-flight requests.
pub const DRAIN: Duration = Duration::from_secs(30);

/// Serves until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = crate::router(Arc::clone(&state));
    let header_timeout = state.config.limits.header_timeout;
    let tls = state.tls.as_ref().map(|t| t.acceptor.clone());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, go on.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let watcher = graceful.watcher();
                let timeout = header_timeout;
                match tls.clone() {
                    None => {
                        let io = TokioIo::new(stream);
                        tokio::spawn(connection(io, app, None, timeout, watcher));
                    }
                    Some(tls) => {
                        tokio::spawn(tls_connection(tls, stream, app, timeout, watcher));
                    }
                }
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: draining in-flight requests");
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}

/// The TLS handshake within `header_timeout`, then the connection with its
/// client certificate. A failed or stalled handshake ends only this task.
async fn tls_connection(
    tls: TlsAcceptor,
    stream: tokio::net::TcpStream,
    app: Router,
    header_timeout: Duration,
    watcher: Watcher,
) {
    let stream = match tokio::time::timeout(header_timeout, tls.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            return;
        }
    };
    let cert = ClientCert::of_connection(stream.get_ref().1);
    connection(TokioIo::new(stream), app, cert, header_timeout, watcher).await;
}

/// Serves one connection (plain or TLS) until it closes; `cert`, the
/// connection's verified client certificate, goes on each of its requests.
async fn connection<I>(
    io: I,
    app: Router,
    cert: Option<ClientCert>,
    header_timeout: Duration,
    watcher: Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let app = app.map_request(move |mut req: hyper::Request<Incoming>| {
        if let Some(cert) = &cert {
            req.extensions_mut().insert(cert.clone());
        }
        req
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .writev(false);
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection closed with an error");
    }
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

/// How callers are authenticated and whether TLS is on, for the start-up
/// line: `2 identities, by bearer token or client certificate; TLS, client
/// certificates required`.
fn describe_security(state: &AppState) -> String {
    let c = &state.config;
    let auth = if state.access.enabled() {
        let tokens = c.identities.iter().any(|i| i.token_sha256.is_some());
        let certs = c.identities.iter().any(|i| i.client_san.is_some());
        let by = match (tokens, certs) {
            (true, true) => "bearer token or client certificate",
            (false, true) => "client certificate",
            _ => "bearer token",
        };
        let n = c.identities.len();
        format!(
            "{n} {}, by {by}",
            if n == 1 { "identity" } else { "identities" }
        )
    } else {
        "no identities configured: no authentication, loopback only".into()
    };
    let transport = match &state.tls {
        None => "plain HTTP, no TLS configured",
        Some(t) => match t.client_auth {
            Some(ClientAuth::Required) => "TLS, client certificates required",
            Some(ClientAuth::Optional) => "TLS, client certificates optional",
            None => "TLS, client certificates off",
        },
    };
    format!("{auth}; {transport}")
}

/// Runs the server until Ctrl-C or SIGTERM (blocking; builds its own
/// runtime). `Err` is a start-up error to print.
pub fn run(config: Config) -> Result<(), String> {
    crate::observe::init_logging(config.log_format);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let addr = config.addr;
        let state = AppState::new(config)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let _watch = crate::watch::start(&state)?;
        let _fleet = crate::fleet::start(&state);
        crate::watch::on_sighup(&state);
        let c = &state.config;
        tracing::info!(
            rules = %c.rules.describe(),
            bundle = %state.fingerprint(),
            store = %c.store,
            replica = %c.replica,
            watch = ?state.watch_state(),
            "listening on {}://{local} ({})",
            if state.tls.is_some() { "https" } else { "http" },
            describe_security(&state)
        );
        if c.plain_http_off_loopback() {
            tracing::warn!(
                "serving plain HTTP on {local}, not a loopback address: bearer tokens travel in clear text; configure `tls` (a certificate and key) or put a TLS-terminating proxy in front"
            );
        }
        serve(listener, state, shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))?;
        tracing::info!("stopped");
        Ok(())
    })
}
