//! What sets a reload off besides `POST /v1/bundle/reload`: a saved rule
//! file (a debounced notify watcher on the rules directory) and SIGHUP.
//!
//! The watcher thread only sends a wake-up; the reload itself runs on the
//! server's runtime through [`AppState::reload`], so a burst of saves
//! (an editor writing a temp file and renaming it) becomes one reload,
//! and reloads never overlap. A watcher that fails turns health to
//! `silent` (see `routes::health`).

use crate::config::RulesSource;
use crate::state::{AppState, Trigger, WatchState};
use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the files must be quiet before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchGuard {
    _debouncer: Option<Debouncer<notify_debouncer_mini::notify::RecommendedWatcher>>,
}

/// Starts watching the rules directory (when the rules come from one and
/// watching is on). Must be called inside the tokio runtime.
pub fn start(state: &Arc<AppState>) -> Result<WatchGuard, String> {
    let RulesSource::Dir(dir) = &state.config.rules else {
        return Ok(WatchGuard { _debouncer: None });
    };
    if !state.config.watch {
        return Ok(WatchGuard { _debouncer: None });
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let mut debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| {
        let msg = match res {
            Ok(events) if events.is_empty() => return,
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        let _ = tx.send(msg);
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    debouncer
        .watcher()
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    state.set_watch(WatchState::Watching);
    let st = Arc::clone(state);
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            match msg {
                Ok(()) => {
                    // Coalesce wake-ups that queued while reloading.
                    while rx.try_recv().is_ok() {}
                    let _ = st.reload(Trigger::Watch).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "the rules watcher failed; saved rule files no longer go live");
                    st.set_watch(WatchState::Lost);
                }
            }
        }
    });
    Ok(WatchGuard {
        _debouncer: Some(debouncer),
    })
}

/// Reloads on every SIGHUP, for the life of the process.
pub fn on_sighup(state: &Arc<AppState>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let st = Arc::clone(state);
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        let _ = st.reload(Trigger::Sighup).await;
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP"),
        }
    }
    #[cfg(not(unix))]
    let _ = state;
}
