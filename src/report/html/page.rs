//! The files: `index.html` (one self-contained page: inline SVG and CSS, no
//! script, no request), `report.md` (the same content for Markdown viewers)
//! and the SVG files beside them. Both pages come from askama templates
//! (checked at compile time); every value from the data is escaped by the
//! template engine — HTML escaping in both, plus Markdown's own specials in
//! the Markdown copy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use askama::Template;

use super::model::{Figure, Report};

#[derive(Template)]
#[template(path = "report.html")]
struct Html<'a> {
    r: &'a Report,
}

#[derive(Template)]
#[template(path = "report.md", escape = "html")]
struct Md<'a> {
    r: &'a Report,
}

/// Markdown specials backslash-escaped and line breaks flattened, so a value
/// stays text inside a table cell or an image caption (HTML specials are
/// escaped by the template).
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A copy of the report with every text field Markdown-escaped (the SVGs
/// are not used by the Markdown page).
fn for_markdown(r: &Report) -> Report {
    let f = |s: &String| md_text(s);
    let fig = |v: &Vec<Figure>| {
        v.iter()
            .map(|g| Figure {
                file: g.file.clone(),
                caption: md_text(&g.caption),
                svg: String::new(),
            })
            .collect()
    };
    let mut m = r.clone();
    m.title = f(&r.title);
    m.warnings = r.warnings.iter().map(f).collect();
    for row in &mut m.matrix.rows {
        row.vantage = md_text(&row.vantage);
    }
    m.matrix.quiet = r.matrix.quiet.iter().map(f).collect();
    for v in &mut m.vantages {
        v.name = md_text(&v.name);
        v.sentence = md_text(&v.sentence);
        for row in v.rows.iter_mut().chain(v.control_rows.iter_mut()) {
            for s in [
                &mut row.scope,
                &mut row.what,
                &mut row.label,
                &mut row.ratio,
                &mut row.reason,
            ] {
                *s = md_text(s);
            }
        }
        if let Some(ab) = &mut v.ab {
            ab.sentence = md_text(&ab.sentence);
            for s in &mut ab.pairs {
                *s = md_text(s);
            }
        }
        v.cdfs = fig(&v.cdfs);
        v.traces = fig(&v.traces);
        v.phases = fig(&v.phases);
        v.rounds = fig(&v.rounds);
        for run in &mut v.runs {
            for kv in run.iter_mut() {
                kv.1 = md_text(&kv.1);
            }
        }
    }
    m
}

/// Render the HTML page.
pub fn html(r: &Report) -> Result<String> {
    Ok(Html { r }.render()?)
}

/// Render the Markdown page.
pub fn markdown(r: &Report) -> Result<String> {
    Ok(Md {
        r: &for_markdown(r),
    }
    .render()?)
}

/// Whether `name` is an SVG this report writes (`v<n>-….svg`), so a
/// re-render removes the figures of an earlier one and nothing else.
fn is_ours(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with('-') && name.ends_with(".svg")
}

/// Write index.html, report.md and the SVGs into `dir`; the path of index.html.
pub fn write(r: &Report, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for e in std::fs::read_dir(dir)?.flatten() {
        if e.file_name().to_str().is_some_and(is_ours) {
            std::fs::remove_file(e.path())?;
        }
    }
    for v in &r.vantages {
        for f in v
            .cdfs
            .iter()
            .chain(&v.traces)
            .chain(&v.phases)
            .chain(&v.rounds)
        {
            let p = dir.join(&f.file);
            std::fs::write(&p, &f.svg).with_context(|| format!("writing {}", p.display()))?;
        }
    }
    let md = dir.join("report.md");
    std::fs::write(&md, markdown(r)?).with_context(|| format!("writing {}", md.display()))?;
    let index = dir.join("index.html");
    std::fs::write(&index, html(r)?).with_context(|| format!("writing {}", index.display()))?;
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_specials_are_escaped() {
        assert_eq!(md_text("a|b*c\nd"), "a\\|b\\*c d");
    }

    #[test]
    fn only_report_figures_are_removed() {
        assert!(is_ours("v12-cdf-image-down.svg"));
        assert!(!is_ours("vantage.svg"));
        assert!(!is_ours("v1-notes.txt"));
    }
}
