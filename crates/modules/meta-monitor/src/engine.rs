//! The meta-monitor's pure functions: heartbeats in, watcher states out,
//! for a given `now`. No I/O, no clock reads.
//!
//! | function | in | out |
//! |---|---|---|
//! | [`apply`] | an instance, its watcher, one event | the instance updated, and what the event did ([`Applied`]) |
//! | [`evaluate`] | every instance, the watchers, `now`, the ingest watermark, the exempt watchers per tenant | a [`Status`] per instance, parents before children |
//! | [`exempt`] | the pack, a tenant's facts | the watchers whose `exempt_when` holds for it |
//! | [`replay`] | a recorded event log, `now` | the state of every watcher at `now`, as the server would have it |
//!
//! Per source the states are Healthchecks.io's (`../shared/research/
//! heartbeats.md`): a success makes it `up`; it is `late` from the next
//! expected time (the period after the last success, or the schedule's
//! first fire time strictly after it) and `down` from that time plus the
//! grace, both inclusive; a failure (or an exit status 1-255) makes it
//! `down` at once; an open run is `down` at its start plus the grace.
//! `new`, `paused` and a failed `down` wait for a heartbeat for ever.
//!
//! The watcher combines its sources: with `quorum k` it is as alive as its
//! `k`-th most alive source (`up`, `late`, `new`, `paused`, `down`, in that
//! order), so one noisy source cannot keep a silent watcher up. Then the
//! pack refines it, in this order: `exempt_when` (`exempt`); `min_events`
//! (too few events in the last whole cadence period: `down`); the
//! watermark (a watcher is not declared `down` before the heartbeats that
//! could have saved it are applied: it stays `late`); `depends_on` (silent
//! while a parent is down, or within its own grace after the parent
//! recovered: `suppressed`); deny windows (it would page and does not:
//! `muted_by`).

use crate::model::{next, Event, Instance, Kind, Ms, SourceState, State, Status, Step, Stored};
use crate::watchers::{Schedule, Watcher, Watchers, ANY_SOURCE};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use tenet_runtime::decision::DecideOptions;
use tenet_runtime::dsl::value::format_duration;
use tenet_runtime::dsl::Value;
use tenet_runtime::pack::PackHandle;

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// It changed the instance's state.
    Changed,
    /// Recorded (a `log`, or a start); nothing a state reads changed.
    Recorded,
    /// Ignored, and why (a heartbeat to a watcher paused with
    /// `manual_resume`, a resume of a watcher that is not paused).
    Ignored(&'static str),
    /// Earlier than the latest event applied to the instance: recorded,
    /// changes no state.
    Late,
}

/// Why an event cannot be applied at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownWatcher {
        watcher: String,
        known: Vec<String>,
    },
    UnknownSource {
        watcher: String,
        source: String,
        declared: Vec<String>,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::UnknownWatcher { watcher, known } => write!(
                f,
                "no watcher `{watcher}` in the meta_monitor pack (watchers: {})",
                known.join(", ")
            ),
            Refusal::UnknownSource {
                watcher,
                source,
                declared,
            } => write!(
                f,
                "watcher `{watcher}` declares its sources ({}), and `{source}` is not one of them",
                declared.join(", ")
            ),
        }
    }
}

/// How many whole cadence periods of event counts a source keeps for
/// `min_events`.
const KEPT_PERIODS: i64 = 8;

/// Applies one event to its instance (Healthchecks' `Check.ping`, per
/// source). Duplicates are the caller's to drop (by [`Event::dedup_key`]),
/// before they reach here.
pub fn apply(inst: &mut Instance, w: &Watcher, e: &Event) -> Result<Applied, Refusal> {
    let stream = w
        .stream_of(&e.source)
        .ok_or_else(|| Refusal::UnknownSource {
            watcher: w.name.clone(),
            source: e.source.clone(),
            declared: w.sources.clone(),
        })?;
    inst.events += 1;
    // Only a success brings a watcher back from down.
    let before = (e.effective_kind() == Kind::Success).then(|| combine(w, inst, e.at).0);
    let kind = e.effective_kind();
    // Late is per source (one source's fast clock must not make the
    // others' heartbeats late); pause and resume are the watcher's, and
    // apply whenever they come.
    if !matches!(kind, Kind::Pause | Kind::Resume) {
        let src = inst.sources.entry(stream.to_string()).or_default();
        if src.last_at.is_some_and(|last| e.at < last) {
            src.last_seen = Some(src.last_seen.map_or(e.at, |s| s.max(e.at)));
            return Ok(Applied::Late);
        }
        src.last_at = Some(e.at);
    }
    inst.last_at = Some(inst.last_at.map_or(e.at, |l| l.max(e.at)));
    let applied = match kind {
        Kind::Pause => {
            for name in w.source_names() {
                let src = inst.sources.entry(name).or_default();
                if let Some(s) = next(src.status, Step::Pause) {
                    src.status = s;
                }
                src.last_start = None;
                // Paused periods are not low activity.
                src.recent.clear();
            }
            Applied::Changed
        }
        Kind::Resume => {
            let mut any = false;
            for src in inst.sources.values_mut() {
                if let Some(s) = next(src.status, Step::Resume) {
                    src.status = s;
                    src.last_ping = None;
                    src.last_start = None;
                    src.failed_at = None;
                    src.recent.clear();
                    any = true;
                }
            }
            if any {
                Applied::Changed
            } else {
                Applied::Ignored("a resume of a watcher that is not paused")
            }
        }
        Kind::Success | Kind::Start | Kind::Fail | Kind::Log => {
            let src = inst.sources.entry(stream.to_string()).or_default();
            src.last_seen = Some(src.last_seen.map_or(e.at, |s| s.max(e.at)));
            if src.status == Stored::Paused && w.manual_resume {
                return Ok(Applied::Ignored(
                    "the watcher is paused and resumes only by hand (`manual_resume`)",
                ));
            }
            match kind {
                Kind::Log => Applied::Recorded,
                Kind::Start => {
                    src.last_start = Some(e.at);
                    src.last_start_rid = e.run_id.clone();
                    Applied::Changed
                }
                _ => {
                    let fail = kind == Kind::Fail;
                    src.last_ping = Some(e.at);
                    src.last_duration = None;
                    if let Some(start) = src.last_start {
                        if src.last_start_rid == e.run_id {
                            src.last_duration = Some(e.at - start);
                            src.last_start = None;
                        } else if fail || e.run_id.is_none() {
                            src.last_start = None;
                        }
                    }
                    let step = if fail { Step::Fail } else { Step::Success };
                    if let Some(s) = next(src.status, step) {
                        src.status = s;
                    }
                    if fail {
                        src.failed_at = Some(e.at);
                    } else {
                        src.failed_at = None;
                        if let (Some(_), Schedule::Cadence(p)) = (w.min_events, &w.schedule) {
                            count_in(&mut src.recent, *p, e.at, e.count.unwrap_or(1));
                        }
                    }
                    Applied::Changed
                }
            }
        }
    };
    if before == Some(State::Down) && combine(w, inst, e.at).0 != State::Down {
        inst.recovered_at = Some(e.at);
    }
    Ok(applied)
}

/// Adds `n` events at `at` to the per-period counts (periods of `p`
/// aligned to the epoch), keeping the last [`KEPT_PERIODS`] + 1.
fn count_in(recent: &mut Vec<(Ms, u64)>, p: Ms, at: Ms, n: u64) {
    let start = at.div_euclid(p) * p;
    match recent.binary_search_by_key(&start, |b| b.0) {
        Ok(i) => recent[i].1 = recent[i].1.saturating_add(n),
        Err(i) => recent.insert(i, (start, n)),
    }
    let newest = recent.last().map_or(start, |b| b.0);
    recent.retain(|b| b.0 >= newest - p * KEPT_PERIODS);
}

/// One source's state at `now` (Healthchecks' `get_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SourceEval {
    /// `new`, `up`, `late`, `down` or `paused`, the open run ignored
    /// unless it has expired (API v3).
    state: State,
    /// An open run that has not expired.
    started: bool,
    /// When it is late (a source with a schedule deadline).
    late_at: Option<Ms>,
    /// When it is down (`late_at` + grace, or the run's start + grace).
    down_by: Option<Ms>,
    /// For a down source: when it went down.
    down_at: Option<Ms>,
}

fn eval_source(w: &Watcher, s: &SourceState, now: Ms) -> SourceEval {
    let grace = w.grace;
    let deadline = match (s.status, s.last_ping) {
        (Stored::Up, Some(p)) => w.schedule.next_expected(p),
        _ => None,
    };
    let run_down = s.last_start.map(|t| t.saturating_add(grace));
    let down_by = match (deadline.map(|d| d.saturating_add(grace)), run_down) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let down_by = if s.status == Stored::Down {
        None
    } else {
        down_by
    };
    let mut ev = SourceEval {
        state: State::Up,
        started: false,
        late_at: deadline,
        down_by,
        down_at: None,
    };
    if let Some(rd) = run_down {
        if now >= rd {
            ev.state = State::Down;
            ev.down_at = Some(match (s.status, s.failed_at) {
                (Stored::Down, Some(f)) => f,
                _ => match deadline {
                    Some(d) => rd.min(d.saturating_add(grace)),
                    None => rd,
                },
            });
            return ev;
        }
        ev.started = true;
    }
    match s.status {
        Stored::New => ev.state = State::New,
        Stored::Paused => ev.state = State::Paused,
        Stored::Down => {
            ev.state = State::Down;
            ev.down_at = s.failed_at;
        }
        Stored::Up => match deadline {
            None => ev.state = State::Up,
            Some(d) if now >= d.saturating_add(grace) => {
                ev.state = State::Down;
                ev.down_at = Some(d.saturating_add(grace));
            }
            Some(d) if now >= d => ev.state = State::Late,
            Some(_) => ev.state = State::Up,
        },
    }
    ev
}

/// The state of a watcher whose sources are in `states`, `k` of which
/// must be alive (`up`, `late`, `started`): with `k` alive, the `k`-th
/// most alive (`started` if one of those `k` is); with fewer, `down` if a
/// source is down, else `paused` if one is paused, else `new`.
fn quorum_state(states: impl Iterator<Item = State>, k: usize) -> State {
    let mut all: Vec<State> = states.collect();
    all.sort_by_key(|s| rank(*s));
    let alive: Vec<State> = all.iter().copied().filter(|s| rank(*s) <= 1).collect();
    if alive.len() >= k {
        let kth = alive[k - 1];
        if rank(kth) == 0 && alive[..k].contains(&State::Started) {
            return State::Started;
        }
        return kth;
    }
    [State::Down, State::Paused]
        .into_iter()
        .find(|s| all.contains(s))
        .unwrap_or(State::New)
}

fn rank(s: State) -> u8 {
    match s {
        State::Up | State::Started => 0,
        State::Late => 1,
        State::New => 2,
        State::Paused => 3,
        _ => 4,
    }
}

/// The `k`-th largest of the values (`None` when fewer than `k`).
fn kth_largest(mut v: Vec<Ms>, k: usize) -> Option<Ms> {
    v.sort_unstable_by(|a, b| b.cmp(a));
    v.get(k.checked_sub(1)?).copied()
}

/// The watcher's schedule state from its sources (the quorum applied):
/// `(base_state, state with the open run, expected_by, down_by, down_at)`.
fn combine(
    w: &Watcher,
    inst: &Instance,
    now: Ms,
) -> (State, State, Option<Ms>, Option<Ms>, Option<Ms>) {
    let default = SourceState::default();
    let evals: Vec<SourceEval> = w
        .source_names()
        .iter()
        .map(|n| eval_source(w, inst.sources.get(n).unwrap_or(&default), now))
        .collect();
    let k = w.quorum.max(1);
    let base_state = quorum_state(evals.iter().map(|e| e.state), k);
    // API v1: a source with an open run reads as alive as `up`.
    let state = quorum_state(
        evals
            .iter()
            .map(|e| if e.started { State::Started } else { e.state }),
        k,
    );
    let expected_by = kth_largest(evals.iter().filter_map(|e| e.late_at).collect(), k);
    let down_by = kth_largest(evals.iter().filter_map(|e| e.down_by).collect(), k);
    // Down once fewer than k sources are not down: at the (n-k+1)-th
    // earliest fall.
    // Down once fewer than k sources are alive: with `a` sources alive
    // now and `m` fallen (sources never alive do not count), at the
    // (a + m - k + 1)-th fall.
    let down_at = if base_state == State::Down || state == State::Down {
        let mut falls: Vec<Ms> = evals.iter().filter_map(|e| e.down_at).collect();
        falls.sort_unstable();
        let alive = evals.iter().filter(|e| rank(e.state) <= 1).count();
        let i = (alive + falls.len()).saturating_sub(k);
        falls.get(i.min(falls.len().saturating_sub(1))).copied()
    } else {
        None
    };
    (base_state, state, expected_by, down_by, down_at)
}

/// The whole cadence periods (aligned to the epoch) with too few events:
/// `Some((events in the last whole period, its end, the end of the first
/// of the run of low periods it closes))`.
fn low_activity(w: &Watcher, inst: &Instance, now: Ms) -> Option<(u64, Ms, Ms)> {
    let (Some(min), Schedule::Cadence(p)) = (w.min_events, &w.schedule) else {
        return None;
    };
    let p = *p;
    // Per source, `(period start, count)`.
    let events: Vec<(Ms, u64)> = inst
        .sources
        .values()
        .flat_map(|s| s.recent.iter().copied())
        .collect();
    // The period of the first heartbeat was only partly watched.
    let first = events.iter().map(|e| e.0).min()?;
    let count = |end: Ms| -> u64 {
        events
            .iter()
            .filter(|(t, _)| *t >= end - p && *t < end)
            .fold(0u64, |a, e| a.saturating_add(e.1))
    };
    let last_end = now.div_euclid(p) * p;
    // Only whole periods the watcher was live for, and the grace to let
    // the last heartbeat of a period arrive.
    let evaluable = |end: Ms| end - p > first && now >= end + w.grace;
    let mut end = last_end;
    if !evaluable(end) {
        end -= p;
    }
    if !evaluable(end) || count(end) >= min {
        return None;
    }
    let last_count = count(end);
    let mut from = end;
    for _ in 0..KEPT_PERIODS {
        let prev = from - p;
        if evaluable(prev) && count(prev) < min {
            from = prev;
        } else {
            break;
        }
    }
    Some((last_count, end, from))
}

/// The watchers whose `exempt_when` holds for a tenant's facts
/// (`{tenant: {...}, stats: {...}}`). Missing facts exempt nothing, and
/// an error in a condition leaves that watcher watched.
pub fn exempt(pack: &PackHandle, facts: &Value, now: Option<String>) -> BTreeSet<String> {
    let d = pack.decide(
        facts,
        &DecideOptions {
            now,
            ..Default::default()
        },
    );
    d.matched
        .into_iter()
        .filter(|m| m.kind == "watcher" && !m.no_data)
        .map(|m| m.block)
        .collect()
}

/// The inputs of one evaluation besides the instances.
pub struct Context<'a> {
    pub now: Ms,
    /// Every heartbeat received before it has been applied; `None`: all
    /// of them (`now`).
    pub watermark: Option<Ms>,
    /// Per tenant, the watchers exempt for it.
    pub exempt: &'a BTreeMap<String, BTreeSet<String>>,
}

/// The state of every instance at `now`: the platform's instance of every
/// watcher (new until it hears from it) and every tenant's, parents
/// before children, each explained.
pub fn evaluate(watchers: &Watchers, instances: &[Instance], cx: &Context) -> Vec<Status> {
    let by_key: BTreeMap<(&str, &str), &Instance> = instances
        .iter()
        .map(|i| ((i.watcher.as_str(), i.tenant.as_str()), i))
        .collect();
    let mut tenants: BTreeSet<&str> = instances.iter().map(|i| i.tenant.as_str()).collect();
    tenants.insert("");
    let empty = Instance::default();
    let mut done: BTreeMap<(String, String), Status> = BTreeMap::new();
    let mut out = Vec::new();
    for w in &watchers.list {
        for &tenant in &tenants {
            let inst = match by_key.get(&(w.name.as_str(), tenant)) {
                Some(i) => *i,
                None if tenant.is_empty() => &empty,
                None => continue,
            };
            let parent = |p: &str| -> Option<(&Status, Option<Ms>)> {
                let key = if by_key.contains_key(&(p, tenant)) {
                    tenant
                } else {
                    ""
                };
                let st = done.get(&(p.to_string(), key.to_string()))?;
                let rec = by_key.get(&(p, key)).and_then(|i| i.recovered_at);
                Some((st, rec))
            };
            let s = status(w, inst, tenant, cx, &parent);
            done.insert((w.name.clone(), tenant.to_string()), s.clone());
            out.push(s);
        }
    }
    out
}

fn at(ms: Ms) -> String {
    tenet_runtime::clock::Timestamp::from_unix(
        ms.div_euclid(1000),
        (ms.rem_euclid(1000) * 1_000_000) as u32,
    )
    .rfc3339()
}

/// A parent's status and when it last recovered, by the parent's name.
type ParentOf<'a> = dyn Fn(&str) -> Option<(&'a Status, Option<Ms>)> + 'a;

fn status<'a>(
    w: &Watcher,
    inst: &Instance,
    tenant: &str,
    cx: &Context,
    parent: &ParentOf<'a>,
) -> Status {
    let now = cx.now;
    let (mut base, mut state, expected_by, down_by, mut down_at) = combine(w, inst, now);
    let last_seen: BTreeMap<String, Ms> = inst
        .sources
        .iter()
        .filter_map(|(n, s)| s.last_seen.map(|t| (n.clone(), t)))
        .collect();
    let mut why = schedule_why(w, inst, now, state, expected_by, down_at);
    let mut suppressed_by = None;
    if cx.exempt.get(tenant).is_some_and(|e| e.contains(&w.name)) {
        let cond = w.exempt_when.clone().unwrap_or_default();
        return Status {
            watcher: w.name.clone(),
            tenant: tenant.to_string(),
            state: State::Exempt,
            base_state: base,
            expected_by,
            down_by,
            down_at: None,
            pages_at: None,
            last_seen,
            suppressed_by: None,
            muted_by: None,
            missed: 0,
            recovered_at: inst.recovered_at,
            why: format!("exempt: the pack's `exempt_when` holds for this tenant ({cond})"),
        };
    }
    if matches!(state, State::Up | State::Late | State::Started) {
        if let Some((count, end, from)) = low_activity(w, inst, now) {
            state = State::Down;
            down_at = Some(from + w.grace);
            let p = match w.schedule {
                Schedule::Cadence(p) => p,
                _ => 0,
            };
            why = format!(
                "down since {}: anomalously low activity, {count} events in the {} to {}, fewer than min_events {}",
                at(from + w.grace),
                format_duration(p),
                at(end),
                w.min_events.unwrap_or(0)
            );
        }
    }
    let watermark = cx.watermark.unwrap_or(now);
    // A failure that was received is complete data: the watermark holds
    // back only silence.
    let failed = inst.sources.values().any(|s| s.status == Stored::Down);
    if let Some(d) = down_at.filter(|d| state == State::Down && !failed && watermark < *d) {
        state = State::Late;
        if base == State::Down {
            base = State::Late;
        }
        down_at = None;
        why = format!(
            "late, not declared down: it would be down from {}, but heartbeats received before {} are still being applied",
            at(d),
            at(watermark)
        );
    }
    if state.is_silent() && w.on_upstream_down == "suppress_and_track" {
        for p in &w.depends_on {
            let Some((ps, recovered)) = parent(p) else {
                continue;
            };
            let root = ps.suppressed_by.clone().unwrap_or_else(|| p.clone());
            if matches!(ps.state, State::Down | State::Suppressed) {
                why = format!(
                    "suppressed: silent ({}) while `{p}` is {} — tracked under `{root}`'s incident, not paged",
                    state.as_str(),
                    ps.state.as_str()
                );
                suppressed_by = Some(root);
                break;
            }
            if let Some(r) = recovered.filter(|r| now < r.saturating_add(w.grace)) {
                why = format!(
                    "suppressed: silent ({}); `{p}` recovered at {}, and this watcher has its grace ({}) to catch up, until {}",
                    state.as_str(),
                    at(r),
                    format_duration(w.grace),
                    at(r.saturating_add(w.grace))
                );
                suppressed_by = Some(p.clone());
                break;
            }
        }
        if suppressed_by.is_some() {
            state = State::Suppressed;
        }
    }
    let pages_at = (state == State::Down)
        .then(|| down_at.map(|d| d.saturating_add(w.silence_budget)))
        .flatten();
    let muted = (state == State::Down).then(|| w.muted_by(now)).flatten();
    if let Some((_, reason)) = &muted {
        why = format!("{why}; {reason}: it would page, and does not");
    }
    let muted_by = muted.map(|(name, _)| name);
    Status {
        watcher: w.name.clone(),
        tenant: tenant.to_string(),
        state,
        base_state: base,
        expected_by,
        down_by,
        down_at,
        pages_at,
        last_seen,
        suppressed_by,
        muted_by,
        missed: missed(w, inst, now),
        recovered_at: inst.recovered_at,
        why,
    }
}

/// Expected heartbeats missed in a row, for hysteresis: per source, the
/// deadlines (expected time + grace) passed since its last success (a
/// failure counts as missing all of them); for the watcher, as its quorum
/// reads them: the `(n - k + 1)`-th most, the count at which fewer than
/// `k` sources are alive.
pub fn missed(w: &Watcher, inst: &Instance, now: Ms) -> u64 {
    let default = SourceState::default();
    let mut per: Vec<u64> = w
        .source_names()
        .iter()
        .map(|n| source_missed(w, inst.sources.get(n).unwrap_or(&default), now))
        .collect();
    per.sort_unstable_by(|a, b| b.cmp(a));
    let k = w.quorum.max(1);
    per.get(per.len().saturating_sub(k)).copied().unwrap_or(0)
}

fn source_missed(w: &Watcher, s: &SourceState, now: Ms) -> u64 {
    match s.status {
        Stored::Down => return u64::MAX,
        Stored::New | Stored::Paused => return 0,
        Stored::Up => {}
    }
    let Some(last) = s.last_ping else { return 0 };
    if let Schedule::Cadence(p) = w.schedule {
        let first = last.saturating_add(p).saturating_add(w.grace);
        return if now < first {
            0
        } else {
            ((now - first) / p + 1) as u64
        };
    }
    let mut n = 0;
    let mut t = last;
    while n < 1_000 {
        match w.schedule.next_expected(t) {
            Some(e) if e.saturating_add(w.grace) <= now => {
                n += 1;
                t = e;
            }
            _ => break,
        }
    }
    n
}

/// The sentence for a state the schedule decided.
fn schedule_why(
    w: &Watcher,
    inst: &Instance,
    now: Ms,
    state: State,
    expected_by: Option<Ms>,
    down_at: Option<Ms>,
) -> String {
    let sched = w.schedule.describe();
    let quorum = if w.sources.is_empty() {
        String::new()
    } else {
        let alive = w
            .source_names()
            .iter()
            .filter(|n| {
                inst.sources
                    .get(*n)
                    .map(|s| rank(eval_source(w, s, now).state) <= 1)
                    .unwrap_or(false)
            })
            .count();
        format!(
            " ({alive} of {} sources alive, quorum {})",
            w.sources.len(),
            w.quorum
        )
    };
    let last = inst
        .sources
        .values()
        .filter_map(|s| s.last_ping)
        .max()
        .map(|t| format!("last heartbeat {}", at(t)))
        .unwrap_or_else(|| "no heartbeat yet".into());
    let failed = inst
        .sources
        .iter()
        .find(|(_, s)| s.status == Stored::Down && s.failed_at.is_some());
    match state {
        State::New => format!("new: waiting for its first heartbeat{quorum}"),
        State::Paused => "paused: heartbeats are not expected until it is resumed".into(),
        State::Started => {
            let start = inst.sources.values().filter_map(|s| s.last_start).max().unwrap_or(now);
            format!(
                "started: a run began at {} and must finish by {} (its grace, {})",
                at(start),
                at(start.saturating_add(w.grace)),
                format_duration(w.grace)
            )
        }
        State::Up => match expected_by {
            Some(e) => format!("up: {last}; the next is expected by {} ({sched}){quorum}", at(e)),
            None => format!("up: {last}; the schedule ({sched}) expects nothing more"),
        },
        State::Late => format!(
            "late: {last}; one was expected by {} ({sched}), down at {} once the grace ({}) is over{quorum}",
            expected_by.map(at).unwrap_or_default(),
            expected_by.map(|e| at(e.saturating_add(w.grace))).unwrap_or_default(),
            format_duration(w.grace)
        ),
        State::Down => match (failed, down_at) {
            (Some((src, s)), Some(d)) if s.failed_at == Some(d) => {
                let who = if src == ANY_SOURCE { String::new() } else { format!(" from `{src}`") };
                format!("down since {}: a failure was reported{who}{quorum}", at(d))
            }
            (_, Some(d)) => format!(
                "down since {}: {last}; one was expected by {} ({sched}, grace {}){quorum}",
                at(d),
                expected_by.map(at).unwrap_or_else(|| "the end of its run".into()),
                format_duration(w.grace)
            ),
            _ => format!("down: {last}{quorum}"),
        },
        _ => String::new(),
    }
}

/// What a replay did with each event, for `--format json` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayCounts {
    pub applied: u64,
    pub duplicates: u64,
    pub late: u64,
    pub ignored: u64,
    /// Events after `now`, not yet happened.
    pub future: u64,
}

/// The state of every watcher at `now` from a recorded event log: events
/// applied in time order (the same `at` in the order given), duplicates
/// dropped, events after `now` left out.
pub fn replay(
    watchers: &Watchers,
    events: &[Event],
    cx: &Context,
) -> Result<(Vec<Status>, ReplayCounts), (usize, Refusal)> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].at);
    let mut instances: BTreeMap<(String, String), Instance> = BTreeMap::new();
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    let mut counts = ReplayCounts::default();
    for i in order {
        let e = &events[i];
        let w = watchers.get(&e.watcher).ok_or_else(|| {
            (
                i,
                Refusal::UnknownWatcher {
                    watcher: e.watcher.clone(),
                    known: watchers.names().iter().map(|s| s.to_string()).collect(),
                },
            )
        })?;
        if e.at > cx.now {
            counts.future += 1;
            continue;
        }
        if let Some(k) = e.dedup_key() {
            if !seen.insert((e.watcher.clone(), e.tenant.clone(), k)) {
                counts.duplicates += 1;
                continue;
            }
        }
        let inst = instances
            .entry((e.watcher.clone(), e.tenant.clone()))
            .or_insert_with(|| Instance {
                watcher: e.watcher.clone(),
                tenant: e.tenant.clone(),
                ..Default::default()
            });
        match apply(inst, w, e).map_err(|r| (i, r))? {
            Applied::Changed | Applied::Recorded => counts.applied += 1,
            Applied::Late => counts.late += 1,
            Applied::Ignored(_) => counts.ignored += 1,
        }
    }
    let list: Vec<Instance> = instances.into_values().collect();
    Ok((evaluate(watchers, &list, cx), counts))
}
