//! How a score is written out for people: the factor table of `tenet
//! score`, and the history as an SVG chart a customer success manager can
//! paste into a deck (self-contained, no script, no external font).

use crate::model::Evaluation;
use crate::profiles::{Ms, Profile};
use crate::score::Score;
use crate::time::rfc3339;

/// A score and its factors as a table (one decimal; the data is not
/// rounded).
pub fn table(s: &Score, badge: Option<&str>) -> String {
    let mut out = match s.score {
        Some(v) => format!(
            "{} v{}: {:.1} (coverage {:.0}%){}\n",
            s.profile,
            s.version,
            v,
            s.coverage * 100.0,
            badge.map(|b| format!(", badge {b}")).unwrap_or_default()
        ),
        None => format!(
            "{} v{}: no score ({})\n",
            s.profile,
            s.version,
            s.blocked
                .clone()
                .unwrap_or_else(|| "no factor had data".into())
        ),
    };
    if let Some(n) = &s.cap_note {
        out.push_str(&format!("note: {n}\n"));
    }
    out.push('\n');
    let rows: Vec<[String; 6]> = s
        .factors
        .iter()
        .map(|f| {
            [
                f.factor.clone(),
                f.value
                    .map(|v| format!("{v}"))
                    .unwrap_or_else(|| "-".into()),
                f.normalised
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "-".into()),
                format!("{}", f.weight),
                if f.included {
                    format!("{:.1} ({:.1}%)", f.contribution, f.share)
                } else {
                    "left out".into()
                },
                f.why.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let head = ["FACTOR", "VALUE", "NORMALISED", "WEIGHT", "POINTS", "WHY"];
    let w: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: [&str; 6]| {
        format!(
            "{:w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        )
        .trim_end()
        .to_string()
    };
    out.push_str(&line(head));
    out.push('\n');
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
        out.push('\n');
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 120.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 40.0;

/// A tenant's score over time on one profile, 0 to 100, with the badges'
/// enter thresholds as dashed lines. A time without a score breaks the
/// line. Deterministic: the same history gives the same bytes.
pub fn history_svg(tenant: &str, profile: &Profile, history: &[Evaluation]) -> String {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let (t0, t1) = match (history.first(), history.last()) {
        (Some(a), Some(b)) => (a.at, b.at),
        _ => (0, 0),
    };
    let x = |t: Ms| {
        if t1 > t0 {
            LEFT + pw * (t - t0) as f64 / (t1 - t0) as f64
        } else {
            LEFT + pw / 2.0
        }
    };
    let y = |v: f64| TOP + ph * (1.0 - v.clamp(0.0, 100.0) / 100.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"11\">\n"
    );
    s.push_str(&format!(
        "<title>{} on {} v{}</title>\n<rect width=\"{W}\" height=\"{H}\" fill=\"#ffffff\"/>\n",
        esc(tenant),
        esc(&profile.name),
        profile.version
    ));
    s.push_str(&format!(
        "<text x=\"{LEFT}\" y=\"20\" font-size=\"14\" font-weight=\"bold\" fill=\"#222222\">{} — {} score (v{})</text>\n",
        esc(tenant),
        esc(&profile.name),
        profile.version
    ));
    for g in [0.0, 25.0, 50.0, 75.0, 100.0] {
        s.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666666\">{g}</text>\n",
            LEFT + pw,
            LEFT - 6.0,
            y(g) + 4.0,
            y = y(g)
        ));
    }
    for b in &profile.badges {
        s.push_str(&format!(
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#2b8a3e\" stroke-dasharray=\"4 3\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#2b8a3e\">{} ≥ {}</text>\n",
            LEFT + pw,
            LEFT + pw + 6.0,
            y(b.enter) + 4.0,
            esc(&b.name),
            b.enter,
            y = y(b.enter)
        ));
    }
    // The line, broken where there is no score.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for e in history {
        match e.score.score {
            Some(v) => runs
                .last_mut()
                .into_iter()
                .for_each(|r| r.push((x(e.at), y(v)))),
            None => runs.push(Vec::new()),
        }
    }
    for r in runs.iter().filter(|r| !r.is_empty()) {
        let pts: Vec<String> = r.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        s.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1c64c8\" stroke-width=\"2\"/>\n",
            pts.join(" ")
        ));
        for (a, b) in r {
            s.push_str(&format!(
                "<circle cx=\"{a:.1}\" cy=\"{b:.1}\" r=\"2.5\" fill=\"#1c64c8\"/>\n"
            ));
        }
    }
    // Badges earned or lost, marked where they happened.
    for e in history {
        for t in &e.transitions {
            let colour = if t.change == "earned" {
                "#2b8a3e"
            } else {
                "#c92a2a"
            };
            s.push_str(&format!(
                "<line x1=\"{a:.1}\" y1=\"{TOP}\" x2=\"{a:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" stroke-width=\"1\"><title>{} {} at {}: {}</title></line>\n",
                TOP + ph,
                esc(&t.badge),
                esc(&t.change),
                rfc3339(t.at),
                esc(&t.reason),
                a = x(e.at)
            ));
        }
    }
    if let (Some(a), Some(b)) = (history.first(), history.last()) {
        let day = |t: Ms| rfc3339(t)[..10].to_string();
        s.push_str(&format!(
            "<text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#666666\">{}</text>\n<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666666\">{}</text>\n",
            H - 16.0,
            day(a.at),
            LEFT + pw,
            H - 16.0,
            day(b.at)
        ));
        if let Some(v) = b.score.score {
            s.push_str(&format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#1c64c8\" font-weight=\"bold\">{v:.1}</text>\n",
                x(b.at) + 6.0,
                y(v) - 6.0
            ));
        }
    } else {
        s.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666666\">no evaluations in this range</text>\n",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        ));
    }
    s.push_str("</svg>\n");
    s
}
