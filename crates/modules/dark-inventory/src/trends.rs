//! Burn-down: how many findings were outstanding at the end of each step
//! (`every`) of a span, grouped by severity or by age, with how many were
//! waived, how many of the outstanding had breached their SLA, and how
//! many opened and closed during the step. As JSON, and as an SVG chart.
//!
//! Each point is computed from the findings *as they stood* at its time
//! (the caller gives them: the store from its history, offline commands
//! from the findings themselves), with [`Finding::status_at`] and
//! [`crate::engine::sla_at`], so a figure can be recounted by hand.

use crate::engine::sla_at;
use crate::model::{Finding, Status};
use crate::policy::Lifecycle;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use tenet_runtime::clock::Timestamp;

/// What points are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Severity,
    Age,
}

impl By {
    pub fn parse(s: &str) -> Option<By> {
        match s {
            "severity" => Some(By::Severity),
            "age" => Some(By::Age),
            _ => None,
        }
    }
}

/// The age groups, youngest first: under 7 days, 7 to 30, 30 to 90, 90 and over.
pub const AGE_GROUPS: &[(&str, i64)] = &[
    ("<7d", 7),
    ("7-30d", 30),
    ("30-90d", 90),
    (">=90d", i64::MAX),
];

fn age_group(age_ms: i64) -> &'static str {
    let days = age_ms / 86_400_000;
    AGE_GROUPS
        .iter()
        .find(|(_, under)| days < *under)
        .map_or(">=90d", |(g, _)| g)
}

/// One step of the burn-down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub at: String,
    /// Open or acknowledged (not waived, not closed), by group.
    pub outstanding: BTreeMap<String, u64>,
    /// All outstanding.
    pub total: u64,
    pub waived: u64,
    /// Outstanding and past their SLA.
    pub breached: u64,
    /// First seen during the step.
    pub opened: u64,
    /// Closed during the step.
    pub closed: u64,
}

/// The burn-down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trends {
    pub by: By,
    pub every: String,
    pub from: String,
    pub to: String,
    /// The groups, in order (severities highest first; ages youngest first).
    pub groups: Vec<String>,
    pub points: Vec<Point>,
}

/// Most points one request may ask for.
pub const MAX_POINTS: i64 = 1000;

/// The burn-down from `from` to `to` every `every` ms (points at
/// `from + every`, `from + 2 every`... up to `to`); `at(t)` gives the
/// findings as they stood at `t`. A span of more than [`MAX_POINTS`] steps
/// starts that many steps before `to`; `from` at or after `to` has no
/// points (as the score history's empty range).
pub fn trends(
    mut at: impl FnMut(i64) -> Vec<Finding>,
    from: i64,
    to: i64,
    every: i64,
    by: By,
    levels: &[String],
    lc: &Lifecycle,
) -> Result<Trends, String> {
    if every <= 0 {
        return Err("`every` must be positive".into());
    }
    let from = from.max(to.saturating_sub(every.saturating_mul(MAX_POINTS)));
    let steps = if to <= from {
        0
    } else {
        (to - from + every - 1) / every
    };
    let groups: Vec<String> = match by {
        By::Severity => levels.to_vec(),
        By::Age => AGE_GROUPS.iter().map(|(g, _)| g.to_string()).collect(),
    };
    let mut points = Vec::new();
    let mut prev = from;
    for i in 1..=steps {
        let t = (from + i * every).min(to);
        let mut p = Point {
            at: Timestamp::from_millis(t).rfc3339(),
            outstanding: groups.iter().map(|g| (g.clone(), 0)).collect(),
            total: 0,
            waived: 0,
            breached: 0,
            opened: 0,
            closed: 0,
        };
        for f in at(t) {
            if f.merged_into.is_some() || f.first_seen > t {
                continue;
            }
            if f.first_seen > prev {
                p.opened += 1;
            }
            if f.closures.iter().any(|c| c.at > prev && c.at <= t) {
                p.closed += 1;
            }
            match f.status_at(t) {
                Status::Closed => {}
                Status::Waived => p.waived += 1,
                Status::Open | Status::Acknowledged => {
                    let g = match by {
                        By::Severity => f.severity.clone(),
                        By::Age => age_group(t - f.first_seen).to_string(),
                    };
                    *p.outstanding.entry(g).or_insert(0) += 1;
                    p.total += 1;
                    if sla_at(&f, t, lc).is_some_and(|c| c.margin_ms < 0) {
                        p.breached += 1;
                    }
                }
            }
        }
        points.push(p);
        prev = t;
    }
    Ok(Trends {
        by,
        every: tenet_runtime::dsl::value::format_duration(every),
        from: Timestamp::from_millis(from).rfc3339(),
        to: Timestamp::from_millis(to).rfc3339(),
        groups,
        points,
    })
}

const PALETTE: &[&str] = &[
    "#b71c1c", "#e65100", "#f9a825", "#1565c0", "#607d8b", "#6a1b9a",
];

/// The burn-down as an SVG chart: one line of outstanding findings per
/// group, and the total dashed.
pub fn svg(t: &Trends) -> String {
    let (w, h, left, top, bottom) = (640.0_f64, 300.0_f64, 48.0_f64, 24.0_f64, 40.0_f64);
    let plot_w = w - left - 130.0;
    let plot_h = h - top - bottom;
    let max = t.points.iter().map(|p| p.total).max().unwrap_or(0).max(1) as f64;
    let n = t.points.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + plot_w * i as f64 / n;
    let y = |v: u64| top + plot_h - plot_h * v as f64 / max;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">\n<title>Outstanding findings by {}, every {}</title>\n",
        match t.by {
            By::Severity => "severity",
            By::Age => "age",
        },
        t.every
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>",
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#999\"/>",
        top + plot_h
    );
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\">0</text>",
        left - 6.0,
        top + 4.0,
        max as u64,
        left - 6.0,
        top + plot_h + 4.0
    );
    if let (Some(first), Some(last)) = (t.points.first(), t.points.last()) {
        let _ = writeln!(
            s,
            "<text x=\"{left}\" y=\"{}\">{}</text>\n<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            h - 20.0,
            &first.at[..10.min(first.at.len())],
            left + plot_w,
            h - 20.0,
            &last.at[..10.min(last.at.len())]
        );
    }
    let mut line = |name: &str, color: &str, dash: bool, values: Vec<u64>, row: usize| {
        let pts: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{} points=\"{}\"><title>{name}</title></polyline>",
            if dash { " stroke-dasharray=\"4 3\"" } else { "" },
            pts.join(" ")
        );
        let ly = top + 14.0 * row as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{name} ({})</text>",
            left + plot_w + 16.0,
            ly - 9.0,
            left + plot_w + 30.0,
            ly,
            values.last().copied().unwrap_or(0)
        );
    };
    for (i, g) in t.groups.iter().enumerate() {
        let values = t
            .points
            .iter()
            .map(|p| p.outstanding.get(g).copied().unwrap_or(0))
            .collect();
        line(g, PALETTE[i % PALETTE.len()], false, values, i + 1);
    }
    let totals = t.points.iter().map(|p| p.total).collect();
    line("total", "#212121", true, totals, t.groups.len() + 1);
    s.push_str("</svg>\n");
    s
}
