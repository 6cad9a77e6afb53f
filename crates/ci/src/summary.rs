//! The job summary: Markdown appended to the file `GITHUB_STEP_SUMMARY`
//! names, as GitHub expects (other steps' summaries are in their own files;
//! earlier writes of this step are kept).
//!
//! GitHub refuses a step summary over 1 MiB, so what tenet appends is cut
//! to fit what the file has left, on a line boundary, with a note that says
//! so and how to see the whole report.

use std::io::Write as _;
use std::path::Path;

/// GitHub's limit for one step's summary.
pub const LIMIT: usize = 1024 * 1024;

/// Room kept for the truncation note.
const NOTE_ROOM: usize = 512;

/// `text` cut to at most `max` bytes (on a line boundary, with a note) when
/// it is longer.
pub fn cap(text: &str, max: usize, note: &str) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let budget = max.saturating_sub(NOTE_ROOM.max(note.len() + 64));
    let mut end = budget.min(text.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = match text[..end].rfind('\n') {
        Some(i) => &text[..=i],
        None => &text[..end],
    };
    let mut out = cut.to_string();
    // A cut inside <details> would hide the note.
    let open = out.matches("<details>").count();
    let closed = out.matches("</details>").count();
    for _ in closed..open {
        out.push_str("\n</details>\n");
    }
    out.push_str(&format!(
        "\n> ✂️ cut at {} of {} bytes: {note}\n",
        cut.len(),
        text.len()
    ));
    out
}

/// Appends `markdown` to the summary file at `path`, within [`LIMIT`] for
/// the whole file. `full` says where the whole report is.
pub fn append(path: &Path, markdown: &str, full: &str) -> Result<(), String> {
    let used = std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let room = LIMIT.saturating_sub(used);
    let note = format!("GitHub keeps at most 1 MiB of a step's summary; the whole report: {full}");
    let text = cap(markdown, room, &note);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open the step summary {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .map_err(|e| format!("cannot write the step summary {}: {e}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_and_long_text_is_cut_on_a_line_with_a_note() {
        assert_eq!(cap("abc\n", 100, "n"), "abc\n");
        let long: String = (0..5000).map(|i| format!("- line {i} é\n")).collect();
        let out = cap(&long, 4096, "see elsewhere");
        assert!(out.len() <= 4096, "{}", out.len());
        assert!(out.contains("✂️ cut at"), "{out}");
        assert!(out.contains("see elsewhere"));
        let body = out.split("\n> ✂️").next().unwrap();
        assert!(body.ends_with('\n'));
        let open = format!("<details><summary>x</summary>\n{long}");
        let out = cap(&open, 4096, "n");
        assert!(out.contains("</details>"), "an open <details> is closed");
    }

    #[test]
    fn appends_within_the_limit_of_the_whole_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("summary.md");
        std::fs::write(&p, "earlier step output\n").unwrap();
        append(&p, "## report\n", "tenet diff").unwrap();
        let s = std::fs::read_to_string(&p).unwrap();
        assert_eq!(s, "earlier step output\n## report\n\n");
        std::fs::write(&p, "x".repeat(LIMIT - 2000)).unwrap();
        let big: String = (0..1000).map(|i| format!("line {i}\n")).collect();
        append(&p, &big, "tenet diff --base A --head B --format md").unwrap();
        let len = std::fs::metadata(&p).unwrap().len() as usize;
        assert!(len <= LIMIT, "{len}");
        assert!(std::fs::read_to_string(&p).unwrap().contains("--format md"));
    }
}
