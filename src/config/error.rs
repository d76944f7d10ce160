//! Configuration errors and the file/line bookkeeping behind them.
//!
//! Every message a user sees names the file and, when we know it, the line and
//! the key: a researcher editing a 300-line campaign on a remote VPS should not
//! have to guess which `[[url]]` is wrong.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A campaign (or URL list) could not be loaded. Reported with exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file was read but its content is wrong.
    #[error("{}: {message}", Location { file, line: *line })]
    Invalid {
        file: PathBuf,
        /// 1-based line, when the problem can be pinned to one.
        line: Option<usize>,
        /// The offending key, when there is one (for callers and tests).
        key: Option<String>,
        /// Full human-readable message (already names the key).
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line the error points at, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Invalid { line, .. } => *line,
            ConfigError::Read { .. } => None,
        }
    }

    /// The key the error is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => key.as_deref(),
            ConfigError::Read { .. } => None,
        }
    }

    /// The file the error is about.
    pub fn file(&self) -> &Path {
        match self {
            ConfigError::Invalid { file, .. } | ConfigError::Read { path: file, .. } => file,
        }
    }

    /// The message without the `file:line:` prefix.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Invalid { message, .. } => message.clone(),
            ConfigError::Read { source, .. } => format!("cannot read: {source}"),
        }
    }
}

/// Renders `file:line: message` (or `file: message` without a line).
struct Location<'a> {
    file: &'a Path,
    line: Option<usize>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// A source file being parsed: maps byte offsets to lines and builds errors.
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Source { path, text }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The number of the file's last line (where a missing table would go).
    pub fn last_line(&self) -> usize {
        self.line_of(self.text.trim_end().len())
    }

    /// An error at a span (any offset inside the span's first line will do).
    pub fn err_at(&self, span: Range<usize>, key: &str, message: String) -> ConfigError {
        self.err(Some(self.line_of(span.start)), Some(key), message)
    }

    /// An error with an optional line and key.
    pub fn err(&self, line: Option<usize>, key: Option<&str>, message: String) -> ConfigError {
        invalid(self.path, line, key, message)
    }

    /// The table header (`[defaults]`, `[[url]]`, …) governing `line`, if any.
    fn table_at(&self, line: usize) -> Option<String> {
        self.text
            .lines()
            .take(line)
            .filter_map(|l| {
                let t = l.trim();
                t.starts_with('[').then(|| header_of(t).to_string())
            })
            .last()
    }

    /// The key assigned on `line` (`key = …`), if the line is an assignment.
    fn key_on(&self, line: usize) -> Option<String> {
        let l = self.text.lines().nth(line.checked_sub(1)?)?;
        let (k, _) = l.split_once('=')?;
        let k = k.trim().trim_matches('"');
        (!k.is_empty() && !k.starts_with('[') && !k.starts_with('#')).then(|| k.to_string())
    }

    /// Turn a toml/serde error into a located, key-naming message.
    pub fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let msg = e.message().trim().to_string();
        let Some(span) = e.span() else {
            return self.err(None, None, msg);
        };
        let line = self.line_of(span.start);
        let place = match self.table_at(line) {
            Some(t) => format!("in {t}"),
            None => "at top level".to_string(),
        };
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let key = rest.split('`').next().unwrap_or_default();
            let expected = rest
                .split_once(", expected ")
                .map(|(_, e)| format!(" (expected {e})"))
                .unwrap_or_default();
            // The span of an unknown table is its own header line.
            let line_text = self.text.lines().nth(line - 1).unwrap_or_default().trim();
            let what = if line_text.starts_with('[') {
                format!("unknown table `{}`", header_of(line_text))
            } else {
                format!("unknown key `{key}` {place}")
            };
            return self.err(Some(line), Some(key), format!("{what}{expected}"));
        }
        match self.key_on(line) {
            Some(key) if msg.starts_with("invalid ") => self.err(
                Some(line),
                Some(&key),
                format!("bad value for `{key}` {place}: {msg}"),
            ),
            Some(key) => self.err(Some(line), Some(&key), format!("{msg} ({place})")),
            None => self.err(Some(line), None, msg),
        }
    }
}

/// `[name]` or `[[name]]` from a trimmed header line, without any comment.
fn header_of(t: &str) -> &str {
    let close = if t.starts_with("[[") { "]]" } else { "]" };
    t.find(close).map_or(t, |i| &t[..i + close.len()])
}

/// Build a [`ConfigError::Invalid`].
pub(crate) fn invalid(
    file: &Path,
    line: Option<usize>,
    key: Option<&str>,
    message: String,
) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_path_buf(),
        line,
        key: key.map(str::to_string),
        message,
    }
}
