//! docs/benchmarks.md: the newest run's section goes at the top, under the intro; the
//! older sections stay below it as the file's history.

use std::path::Path;

use anyhow::Context;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/benchmarks.md");

/// Writes `section` (which starts with its `## ` heading line) into the file; returns
/// the file's path.
pub fn write(section: &str) -> anyhow::Result<&'static Path> {
    let text = std::fs::read_to_string(PATH).with_context(|| format!("cannot read {PATH}"))?;
    std::fs::write(PATH, splice(&text, section)).with_context(|| format!("cannot write {PATH}"))?;
    Ok(Path::new(PATH))
}

/// Before the first `## ` section, or in place of one with the same heading: a second run
/// on the same day replaces that day's section.
fn splice(text: &str, section: &str) -> String {
    let heading = section.lines().next().unwrap_or_default();
    let starts = section_starts(text);
    let same = starts
        .iter()
        .position(|&start| text[start..].lines().next() == Some(heading));
    let (cut_from, cut_to) = match same {
        Some(i) => (starts[i], starts.get(i + 1).copied().unwrap_or(text.len())),
        None => {
            let at = starts.first().copied().unwrap_or(text.len());
            (at, at)
        }
    };
    let mut out = text[..cut_from].to_owned();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
    out.push_str(section.trim_end());
    out.push('\n');
    if cut_to < text.len() {
        out.push('\n');
        out.push_str(&text[cut_to..]);
    }
    out
}

/// Byte offsets of the `## ` heading lines, outside fenced code blocks.
fn section_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut offset = 0;
    let mut fenced = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with("## ") {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts
}
