//! Named values of a campaign file (`class`, `group`, `method`), read by the
//! campaign builder and the reflector expansion alike.

use std::str::FromStr;

use toml::Spanned;

use super::error::{ConfigError, Source};
use crate::types::UnknownName;

/// A named value (`class`, `group`, `method`) through its one `FromStr`.
pub(super) fn parse_name<T>(v: &Spanned<String>, src: &Source, key: &str) -> Result<T, ConfigError>
where
    T: FromStr<Err = UnknownName>,
{
    v.get_ref()
        .parse()
        .map_err(|e: UnknownName| src.err_at(v.span(), key, e.to_string()))
}
