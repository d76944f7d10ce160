//! Citizen Lab test lists (`github.com/citizenlab/test-lists`): CSV with the
//! header `url,category_code,category_description,date_added,source,notes`.
//!
//! Only the `url` column is required; `category_code` becomes the fetch label
//! so rows stay attributable in `fetches.csv`. Other columns are ignored. A bad
//! row is an error naming the list file and line: silently skipping URLs would
//! change what a campaign measures without anyone noticing.

use std::path::Path;

use http::Uri;

use super::error::{invalid, ConfigError};
use super::parse::parse_url;

/// One usable row of a test list.
#[derive(Debug, Clone)]
pub struct ListEntry {
    pub url: Uri,
    /// `category_code` (e.g. `NEWS`), empty when the column is absent.
    pub category: String,
    /// 1-based line in the CSV file.
    pub line: usize,
}

/// Read a Citizen Lab CSV list. Blank lines and lines starting with `#` are
/// skipped.
pub fn load_list(path: &Path) -> Result<Vec<ListEntry>, ConfigError> {
    let text = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_list(path, &text)
}

/// Parse list content; `path` is only used in messages.
pub fn parse_list(path: &Path, text: &[u8]) -> Result<Vec<ListEntry>, ConfigError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text);
    let headers = rdr.headers().map_err(|e| csv_err(path, text, &e))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(url_col) = col("url") else {
        return Err(invalid(
            path,
            Some(1),
            Some("url"),
            "no `url` column in the header (expected url,category_code,category_description,date_added,source,notes)"
                .to_string(),
        ));
    };
    let cat_col = col("category_code");

    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| csv_err(path, text, &e))?;
        let line = line_of(text, rec.position());
        let raw = rec.get(url_col).unwrap_or_default();
        if raw.is_empty() {
            return Err(invalid(path, Some(line), Some("url"), "empty url".into()));
        }
        let url = parse_url(raw).map_err(|e| invalid(path, Some(line), Some("url"), e))?;
        let category = cat_col
            .and_then(|c| rec.get(c))
            .unwrap_or_default()
            .to_string();
        out.push(ListEntry {
            url,
            category,
            line,
        });
    }
    Ok(out)
}

/// 1-based line of a record. The csv crate's own line counter and byte offset
/// both include blank and comment lines skipped before the record, so step
/// over those first.
fn line_of(text: &[u8], pos: Option<&csv::Position>) -> usize {
    let mut end = pos.map_or(0, |p| p.byte() as usize).min(text.len());
    while end < text.len() {
        match text[end] {
            b'\r' | b'\n' => end += 1,
            b'#' => {
                end += text[end..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(text.len() - end)
            }
            _ => break,
        }
    }
    text[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

fn csv_err(path: &Path, text: &[u8], e: &csv::Error) -> ConfigError {
    let line = e.position().map(|p| line_of(text, Some(p)));
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("row has {len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    };
    invalid(path, line, None, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "url,category_code,category_description,date_added,source,notes\n";

    #[test]
    fn reads_rows_with_lines() {
        let text = format!(
            "{HEADER}https://a.example/,NEWS,News Media,2017-04-12,citizenlab,\n\n\
             http://b.example/x,POLR,Political Criticism,2014-04-15,,\"a, note\"\n"
        );
        let v = parse_list(Path::new("ru.csv"), text.as_bytes()).unwrap();
        assert_eq!(v.len(), 2);
        let text = format!("# comment\n{text}\n\n");
        let w = parse_list(Path::new("ru.csv"), text.as_bytes()).unwrap();
        assert_eq!((w[0].line, w[1].line), (3, 5));
        assert_eq!(v[0].category, "NEWS");
        assert_eq!(v[0].line, 2);
        assert_eq!(v[1].url.host(), Some("b.example"));
        assert_eq!(v[1].line, 4);
    }

    #[test]
    fn bad_row_names_line() {
        let text =
            format!("{HEADER}https://a.example/,NEWS,x,y,z,\nftp://b.example/,NEWS,x,y,z,\n");
        let e = parse_list(Path::new("ru.csv"), text.as_bytes()).unwrap_err();
        assert_eq!(e.line(), Some(3));
        assert!(e.to_string().starts_with("ru.csv:3: "), "{e}");

        let text = format!("{HEADER}\nhttps://a.example/,NEWS\n");
        let e = parse_list(Path::new("ru.csv"), text.as_bytes()).unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
    }

    #[test]
    fn missing_url_column() {
        let e =
            parse_list(Path::new("x.csv"), b"link,category_code\nhttps://a/,NEWS\n").unwrap_err();
        assert_eq!(e.line(), Some(1));
    }
}
