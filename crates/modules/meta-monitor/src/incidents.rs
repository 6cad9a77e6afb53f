//! Meta-incidents: opened and resolved by the sweep from the watchers'
//! states, for a given `now`. Pure: statuses and open incidents in,
//! changes and pages out.
//!
//! - A watcher that is `down` opens its incident once its silence budget
//!   is spent (`pages_at` = `down_at` + `silence_budget`) and, with
//!   `hysteresis`, once `enter` expected heartbeats in a row were missed;
//!   the incident is dated then, not when the sweep ran (as Healthchecks
//!   dates a flip at its deadline).
//! - One open incident per watcher and tenant. A `suppressed` watcher has
//!   none of its own: it is listed on its root parent's incident.
//! - Under an open deny window the incident opens muted: recorded ("would
//!   have paged"), nobody paged. The page goes out when the window closes,
//!   if the watcher is still down.
//! - Every `realert` (if the watcher sets one) an open incident pages
//!   again; when the watcher is no longer down (and, with hysteresis, has
//!   stayed so for `dwell`), the incident resolves and a recovery notice
//!   goes out to whoever was paged.

use crate::model::{Ms, State, Status};
use crate::render::rfc3339;
use crate::watchers::Watchers;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One meta-incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub watcher: String,
    #[serde(default)]
    pub tenant: String,
    pub severity: String,
    /// `open` or `resolved`.
    pub state: String,
    pub opened_at: Ms,
    /// When the watcher went down.
    pub down_at: Ms,
    /// The first page (`None` while muted).
    pub paged_at: Option<Ms>,
    pub last_paged_at: Option<Ms>,
    pub pages: u32,
    /// The deny window that kept it quiet, while one did.
    pub muted_by: Option<String>,
    /// Children suppressed under it (watcher or `watcher/tenant`).
    pub suppressed: Vec<String>,
    pub resolved_at: Option<Ms>,
    /// How it ended: `recovered`, `paused`, `exempt`, or a person's note.
    pub resolution: Option<String>,
    /// Why it opened, in one sentence.
    pub why: String,
    pub version: i64,
}

/// What the sweep must tell people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `silence` (first page), `realert`, `recovered`.
    pub kind: &'static str,
    pub incident: Incident,
}

/// The sweep's changes: incidents to insert (new) or update (version
/// already bumped), and pages to send once they are written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub opened: Vec<Incident>,
    pub updated: Vec<Incident>,
    pub pages: Vec<Page>,
}

fn key(watcher: &str, tenant: &str) -> String {
    if tenant.is_empty() {
        watcher.to_string()
    } else {
        format!("{watcher}/{tenant}")
    }
}

/// The sweep's step: `statuses` at `now` (from [`crate::engine::evaluate`])
/// and the incidents open now. `new_id` names a new incident.
pub fn step(
    watchers: &Watchers,
    statuses: &[Status],
    open: &[Incident],
    now: Ms,
    new_id: &mut dyn FnMut() -> String,
) -> Changes {
    let mut out = Changes::default();
    let by_key: BTreeMap<(String, String), &Incident> = open
        .iter()
        .map(|i| ((i.watcher.clone(), i.tenant.clone()), i))
        .collect();
    // Children suppressed under each root.
    let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in statuses {
        if let Some(root) = &s.suppressed_by {
            let parent_tenant = if statuses
                .iter()
                .any(|p| &p.watcher == root && p.tenant == s.tenant)
            {
                s.tenant.clone()
            } else {
                String::new()
            };
            children
                .entry(key(root, &parent_tenant))
                .or_default()
                .push(key(&s.watcher, &s.tenant));
        }
    }
    for s in statuses {
        let Some(w) = watchers.get(&s.watcher) else {
            continue;
        };
        let current = by_key.get(&(s.watcher.clone(), s.tenant.clone())).copied();
        let kids = children
            .get(&key(&s.watcher, &s.tenant))
            .cloned()
            .unwrap_or_default();
        match current {
            None => {
                if s.state != State::Down {
                    continue;
                }
                let (Some(down_at), Some(pages_at)) = (s.down_at, s.pages_at) else {
                    continue;
                };
                let misses = s.missed;
                let enter = w.hysteresis.map_or(0, |h| h.enter);
                if pages_at > now || misses < enter {
                    continue;
                }
                let muted = s.muted_by.clone();
                let i = Incident {
                    id: new_id(),
                    watcher: s.watcher.clone(),
                    tenant: s.tenant.clone(),
                    severity: w.severity.clone(),
                    state: "open".into(),
                    opened_at: pages_at,
                    down_at,
                    paged_at: muted.is_none().then_some(now),
                    last_paged_at: muted.is_none().then_some(now),
                    pages: u32::from(muted.is_none()),
                    muted_by: muted.clone(),
                    suppressed: kids,
                    resolved_at: None,
                    resolution: None,
                    why: s.why.clone(),
                    version: 1,
                };
                if muted.is_none() {
                    out.pages.push(Page {
                        kind: "silence",
                        incident: i.clone(),
                    });
                }
                out.opened.push(i);
            }
            Some(i) => {
                let mut next = i.clone();
                let still_down = s.state == State::Down;
                // By the schedule alone: a run that starts on a down
                // watcher has not brought it back yet.
                let recovered = !matches!(s.state, State::Down | State::Suppressed | State::Late)
                    && !matches!(s.base_state, State::Down | State::Late);
                // With hysteresis, back up for `dwell` (paused and exempt
                // watchers resolve at once).
                let dwell_over = match (w.hysteresis, s.state) {
                    (Some(h), State::Up | State::Started | State::New) => {
                        s.recovered_at.is_some_and(|r| now - r >= h.dwell)
                    }
                    _ => true,
                };
                if recovered && dwell_over {
                    next.state = "resolved".into();
                    next.resolved_at = Some(now);
                    next.resolution = Some(match s.state {
                        State::Paused => "paused".into(),
                        State::Exempt => "exempt".into(),
                        _ => format!("recovered: {}", s.why),
                    });
                    next.version += 1;
                    if next.paged_at.is_some() {
                        out.pages.push(Page {
                            kind: "recovered",
                            incident: next.clone(),
                        });
                    }
                    out.updated.push(next);
                    continue;
                }
                let mut changed = false;
                if next.suppressed != kids {
                    next.suppressed = kids;
                    changed = true;
                }
                if still_down {
                    match (&next.paged_at, &s.muted_by) {
                        // Muted until now, and the window closed: page.
                        (None, None) => {
                            next.paged_at = Some(now);
                            next.last_paged_at = Some(now);
                            next.pages += 1;
                            next.muted_by = None;
                            changed = true;
                            out.pages.push(Page {
                                kind: "silence",
                                incident: next.clone(),
                            });
                        }
                        (Some(_), None) if w.realert > 0 => {
                            let last = next.last_paged_at.unwrap_or(next.opened_at);
                            if now >= last + w.realert {
                                next.last_paged_at = Some(now);
                                next.pages += 1;
                                changed = true;
                                out.pages.push(Page {
                                    kind: "realert",
                                    incident: next.clone(),
                                });
                            }
                        }
                        _ => {}
                    }
                }
                if changed {
                    next.version += 1;
                    out.updated.push(next);
                }
            }
        }
    }
    out
}

/// An open incident whose `silence` or `realert` page was not delivered,
/// made due again: the next sweep's [`step`] pages it anew (a first page
/// as if the incident had been muted until now; a re-alert at once).
/// `None` for a resolved incident or another kind of page (a recovery
/// notice is not repeated: the incident is over).
pub fn undelivered(i: &Incident, kind: &str) -> Option<Incident> {
    if i.state != "open" {
        return None;
    }
    let mut n = i.clone();
    match kind {
        "silence" => {
            n.paged_at = None;
            n.last_paged_at = None;
        }
        "realert" => n.last_paged_at = None,
        _ => return None,
    }
    n.pages = n.pages.saturating_sub(1);
    n.version += 1;
    Some(n)
}

/// One sentence for a page.
pub fn describe(p: &Page) -> String {
    let i = &p.incident;
    let who = key(&i.watcher, &i.tenant);
    match p.kind {
        "recovered" => format!(
            "{who} recovered at {}, down since {}",
            i.resolved_at.map(rfc3339).unwrap_or_default(),
            rfc3339(i.down_at)
        ),
        "realert" => format!(
            "{who} is still down (since {}): {}",
            rfc3339(i.down_at),
            i.why
        ),
        _ => format!("{who} is down since {}: {}", rfc3339(i.down_at), i.why),
    }
}
