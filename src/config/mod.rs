//! Campaign configuration: the TOML file of issue 2 and the shared value
//! parsers used by `slowlane fetch` / `slowlane run` flags.
//!
//! Loading is two steps: [`file`] deserialises the TOML as written (rejecting
//! unknown keys), then [`build`] validates it into a [`Campaign`] whose targets
//! are fully resolved [`FetchSpec`]s, so the probe never sees a default or an
//! override chain. Option precedence per URL, lowest first: built-in defaults,
//! `[defaults]`, the `[[list]]` table (for its URLs), the `[[url]]` table, then
//! command-line flags ([`Campaign::apply`]).
//!
//! Relative paths in the file (`out`, `cacert`, `[[list]] path`) resolve
//! against the campaign file's directory; the default `out`,
//! `slowlane-out/<name>`, is relative to the current directory.

pub mod bounds;
mod build;
mod controls;
mod error;
mod file;
mod list;
mod names;
mod options;
mod overrides;
mod parse;
mod paths;
mod reflector;
pub mod trigger;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use error::ConfigError;
pub use list::{load_list, parse_list, ListEntry};
pub use overrides::CliOverrides;
pub use parse::{parse_connect_to, parse_duration, parse_resolve, parse_size, parse_url};
pub use reflector::VARIANTS as AB_VARIANTS;
pub use trigger::TriggerStudy;

pub use crate::plan::Schedule;
pub use crate::types::hostname;
use crate::types::FetchSpec;

/// A validated campaign (also what goes into `campaign.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    pub name: String,
    /// Where the measurement runs from; defaults to the host name.
    pub vantage: String,
    pub schedule: Schedule,
    /// Fetches in flight at once (≥ 1).
    pub concurrency: usize,
    /// Shuffle seed; `None` until the runner picks one with
    /// [`crate::plan::random_seed`] (and records it).
    pub seed: Option<u64>,
    pub out: PathBuf,
    /// The campaign file this came from.
    pub source: PathBuf,
    /// Every URL once, `[[url]]` tables first then `[[list]]` rows, in file
    /// order (the runner shuffles per round).
    pub targets: Vec<FetchSpec>,
    /// `[[trigger]]` studies, run once after the rounds (none: not written,
    /// so older campaigns keep their hash).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<TriggerStudy>,
}

pub use build::ReadList;

/// Read and validate a campaign file.
pub fn load_campaign(path: &Path) -> Result<Campaign, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_campaign_bytes(&bytes, path, &|p| std::fs::read(p))
}

/// Validate campaign TOML `text` as if read from `path` (used for messages and
/// as the base of relative paths; `[[list]]` files are read from disk).
pub fn parse_campaign(text: &str, path: &Path) -> Result<Campaign, ConfigError> {
    parse_campaign_with(text, path, &|p| std::fs::read(p))
}

/// [`parse_campaign`] from raw bytes: a file that is not UTF-8 is refused
/// with the byte offset and line of the first bad byte.
pub fn parse_campaign_bytes(
    bytes: &[u8],
    path: &Path,
    read_list: ReadList,
) -> Result<Campaign, ConfigError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        error::invalid(
            path,
            Some(line),
            None,
            format!("not UTF-8 at byte {at} (campaign files are UTF-8 text)"),
        )
    })?;
    parse_campaign_with(text, path, read_list)
}

/// [`parse_campaign`] with `[[list]]` files read by `read_list` (tests and
/// fuzzing read them from memory).
pub fn parse_campaign_with(
    text: &str,
    path: &Path,
    read_list: ReadList,
) -> Result<Campaign, ConfigError> {
    let src = error::Source::new(path, text);
    let raw: file::RawCampaign = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    build::build(raw, &src, dir, read_list)
}
