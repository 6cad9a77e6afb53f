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
use notify::event::{EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the files must be quiet before a reload.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchGuard {
    _watcher: Option<RecommendedWatcher>,
}

/// Whether an event can change what the rules say: a change to the
/// content of a rule file (`.tenet`) or scorer (`.rhai`), or a folder
/// coming or going. Opening and reading a file (as every reload does),
/// metadata changes and other files (a store kept under the rules folder,
/// an editor's swap file) cannot: counting them would make a reload, or an
/// audit write, set off the next reload.
fn changes_rules(event: &notify::Event) -> bool {
    let content = match event.kind {
        EventKind::Access(_) | EventKind::Other => false,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Any | EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
    };
    content
        && event.paths.iter().any(|p| match p.extension() {
            Some(ext) => ext == "tenet" || ext == "rhai",
            // A folder (or a file without an extension, which is not read).
            None => !p.is_file(),
        })
}

/// Starts watching the rules directory (when the rules come from one and
/// watching is on). Must be called inside the tokio runtime.
pub fn start(state: &Arc<AppState>) -> Result<WatchGuard, String> {
    let RulesSource::Dir(dir) = &state.config.rules else {
        return Ok(WatchGuard { _watcher: None });
    };
    if !state.config.watch {
        return Ok(WatchGuard { _watcher: None });
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let msg = match res {
            Ok(event) if !changes_rules(&event) => return,
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        let _ = tx.send(msg);
    })
    .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", dir.display()))?;
    state.set_watch(WatchState::Watching);
    let st = Arc::clone(state);
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if let Err(e) = msg {
                lost(&st, &e);
                continue;
            }
            // The watcher works again after an error: hearing again.
            if st.watch_state() == WatchState::Lost {
                st.set_watch(WatchState::Watching);
            }
            // Debounce: reload once the files have been quiet for DEBOUNCE.
            loop {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(Ok(()))) => continue,
                    Ok(Some(Err(e))) => lost(&st, &e),
                    Ok(None) => return,
                    Err(_quiet) => break,
                }
            }
            let _ = st.reload(Trigger::Watch).await;
        }
    });
    Ok(WatchGuard {
        _watcher: Some(watcher),
    })
}

fn lost(state: &AppState, error: &str) {
    tracing::error!(error = %error, "the rules watcher failed; saved rule files no longer go live");
    state.set_watch(WatchState::Lost);
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
