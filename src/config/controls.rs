//! `control = ["label", …]`: a target naming the controls it is compared with.
//!
//! Checked once the whole campaign is built, because a `[[url]]` may name a
//! control defined further down (or in a `[[list]]`). A label that matches no
//! control would silently fall back to the automatic choice in the analyzer,
//! which is exactly what the user wanted to override, so it is an error
//! pointing at the label's line.

use toml::Spanned;

use super::error::{ConfigError, Source};
use super::file::RawUrl;
use crate::types::{FetchSpec, Group};

/// Validate every `control` key. `specs` starts with the `[[url]]` tables, in
/// the order of `urls`.
pub(super) fn check(
    urls: &[Spanned<RawUrl>],
    specs: &[FetchSpec],
    src: &Source,
) -> Result<(), ConfigError> {
    let mut known: Vec<&str> = specs
        .iter()
        .filter(|s| s.group == Group::Control && !s.label.is_empty())
        .map(|s| s.label.as_str())
        .collect();
    known.sort_unstable();
    known.dedup();
    for (u, spec) in urls.iter().zip(specs) {
        let Some(control) = &u.get_ref().control else {
            continue;
        };
        if spec.group != Group::Target {
            return Err(src.err_at(
                control.span(),
                "control",
                format!(
                    "`control` is only allowed on target URLs; this [[url]] has group = {:?}",
                    spec.group.as_str()
                ),
            ));
        }
        if control.get_ref().is_empty() {
            return Err(src.err_at(
                control.span(),
                "control",
                "`control` is empty: name at least one control label, or remove the key".into(),
            ));
        }
        for label in control.get_ref() {
            let l = label.get_ref();
            if known.binary_search(&l.as_str()).is_ok() {
                continue;
            }
            let have = if known.is_empty() {
                "the campaign has no labelled control URLs".to_string()
            } else {
                format!("control labels: {}", known.join(", "))
            };
            return Err(src.err_at(
                label.span(),
                "control",
                format!(
                    "`control` names {l:?}, but no URL with group = \"control\" has label = {l:?} ({have})"
                ),
            ));
        }
    }
    Ok(())
}
