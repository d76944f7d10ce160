//! Named throttling scenarios: the rules a middlebox enforces plus the
//! campaign that exercises them, loaded from `data/scenarios/*.toml`.
//!
//! The built-in files are compiled in (`include_str!`) so `slowlane demo`
//! works from any directory; a path loads a user's own file.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use super::inspect::Inspect;
use super::rules::{Rule, RuleSet, RuleToml};
use super::units::Size;
use crate::types::{Class, Group};

/// The scenarios shipped with slowlane, by name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "twitter-2021",
        include_str!("../../data/scenarios/twitter-2021.toml"),
    ),
    ("clean", include_str!("../../data/scenarios/clean.toml")),
    ("shaper", include_str!("../../data/scenarios/shaper.toml")),
    ("freeze", include_str!("../../data/scenarios/freeze.toml")),
    ("reset", include_str!("../../data/scenarios/reset.toml")),
    (
        "clean-fast",
        include_str!("../../data/scenarios/clean-fast.toml"),
    ),
    (
        "congested",
        include_str!("../../data/scenarios/congested.toml"),
    ),
    ("partial", include_str!("../../data/scenarios/partial.toml")),
    (
        "deep-queue",
        include_str!("../../data/scenarios/deep-queue.toml"),
    ),
    (
        "youtube-2024",
        include_str!("../../data/scenarios/youtube-2024.toml"),
    ),
    (
        "quic-block",
        include_str!("../../data/scenarios/quic-block.toml"),
    ),
    (
        "tspu-2025",
        include_str!("../../data/scenarios/tspu-2025.toml"),
    ),
];

/// A throttling preset and the campaign that shows it.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Whether the middlebox reassembles split ClientHellos.
    pub reassemble: bool,
    /// What else the middlebox inspects (`[inspect]`; see `inspect`).
    pub inspect: Inspect,
    pub rules: RuleSet,
    pub campaign: CampaignPreset,
}

/// The campaign a scenario suggests; turned into a campaign file by
/// [`super::demo_campaign`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignPreset {
    pub rounds: u32,
    pub concurrency: u32,
    /// Per-fetch cap: enough for the rate plateau to show, short enough
    /// that the demo finishes in under a minute.
    #[serde(with = "humantime_de")]
    pub max_time: Duration,
    /// The fetch cap of the adaptive demo (`until = "decided"`), when it
    /// differs: a capped slow fetch is a censored observation, and a short
    /// cap is what lets a throttle be decided in seconds.
    #[serde(default, with = "humantime_opt")]
    pub decided_max_time: Option<Duration>,
    /// … and its concurrency, when it differs.
    #[serde(default)]
    pub decided_concurrency: Option<u32>,
    /// … and its `max_bytes` (written to `[defaults]`), when set: a byte
    /// cap keeps a large control from costing more than its rate needs.
    #[serde(default)]
    pub decided_max_bytes: Option<String>,
    /// Client timeouts written to the campaign's `[defaults]` when set;
    /// unset keeps the engine's 10 s. A scenario whose queue makes
    /// handshakes slow lowers them so some fetches time out.
    #[serde(default, with = "humantime_opt")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub tls_timeout: Option<Duration>,
    #[serde(default, with = "humantime_opt")]
    pub ttfb_timeout: Option<Duration>,
    #[serde(rename = "url")]
    pub urls: Vec<PresetUrl>,
}

/// One URL of a scenario campaign (a subset of a campaign `[[url]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetUrl {
    pub url: String,
    pub class: Class,
    pub group: Group,
    pub label: String,
    /// POST size, for upload URLs.
    pub upload: Option<Size>,
    /// `http = "tcp" | "h3" | "both"` of the campaign URL.
    pub http: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioToml {
    name: String,
    description: String,
    #[serde(default)]
    reassemble: bool,
    #[serde(default)]
    inspect: Inspect,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleToml>,
    campaign: CampaignPreset,
}

mod humantime_de {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

mod humantime_opt {
    use std::time::Duration;

    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::humantime_de::deserialize(d).map(Some)
    }
}

impl Scenario {
    /// Names of the built-in scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in scenario by name.
    pub fn builtin(name: &str) -> Result<Scenario> {
        let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) else {
            bail!(
                "unknown scenario {name:?}; built-in: {}",
                Self::builtin_names().join(", ")
            );
        };
        Self::parse(text).with_context(|| format!("built-in scenario {name}"))
    }

    /// A built-in name, or else a path to a scenario TOML file.
    pub fn load(name_or_path: &str) -> Result<Scenario> {
        if BUILTIN.iter().any(|(n, _)| *n == name_or_path) {
            return Self::builtin(name_or_path);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            bail!(
                "no scenario {name_or_path:?}: not a file and not one of {}",
                Self::builtin_names().join(", ")
            );
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Scenario> {
        let t: ScenarioToml = toml::from_str(text)?;
        if t.campaign.urls.is_empty() {
            bail!("campaign has no [[campaign.url]]");
        }
        for u in &t.campaign.urls {
            url_host(&u.url).with_context(|| format!("campaign url {:?}", u.url))?;
        }
        let mut rules = Vec::with_capacity(t.rules.len());
        for (i, r) in t.rules.into_iter().enumerate() {
            rules.push(Rule::try_from(r).map_err(|e| anyhow::anyhow!("rule {}: {e}", i + 1))?);
        }
        Ok(Scenario {
            name: t.name,
            description: t.description.trim().to_string(),
            reassemble: t.reassemble,
            inspect: t.inspect,
            rules: RuleSet::new(rules),
            campaign: t.campaign,
        })
    }

    /// Every name the lab certificate must cover: each campaign host, and a
    /// wildcard for its parent domain so other subdomains can be tried.
    pub fn cert_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for u in &self.campaign.urls {
            let Ok(host) = url_host(&u.url) else { continue };
            let labels: Vec<&str> = host.split('.').collect();
            if labels.len() >= 2 {
                names.push(format!("*.{}", labels[labels.len() - 2..].join(".")));
            }
            names.push(host);
        }
        names.sort();
        names.dedup();
        names
    }
}

/// The lower-cased host of an absolute http(s) URL.
pub fn url_host(url: &str) -> Result<String> {
    let uri: http::Uri = url.parse().context("not a URL")?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => bail!("scheme must be http or https"),
    }
    Ok(uri.host().context("URL has no host")?.to_ascii_lowercase())
}
