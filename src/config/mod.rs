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

mod build;
mod controls;
mod error;
mod file;
mod list;
mod options;
mod overrides;
mod parse;
mod reflector;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use error::ConfigError;
pub use list::{load_list, parse_list, ListEntry};
pub use overrides::CliOverrides;
pub use parse::{parse_connect_to, parse_duration, parse_resolve, parse_size, parse_url};
pub use reflector::VARIANTS as AB_VARIANTS;

pub use crate::plan::Schedule;
use crate::probe::spec::FetchSpec;
pub use crate::types::hostname;

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
}

/// Read and validate a campaign file.
pub fn load_campaign(path: &Path) -> Result<Campaign, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_campaign(&text, path)
}

/// Validate campaign TOML `text` as if read from `path` (used for messages and
/// as the base of relative paths; `[[list]]` files are read from disk).
pub fn parse_campaign(text: &str, path: &Path) -> Result<Campaign, ConfigError> {
    let src = error::Source::new(path, text);
    let raw: file::RawCampaign = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    build::build(raw, &src, dir)
}
