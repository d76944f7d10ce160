//! The fetch engine and the runner in-process: one spec, one fetch; a
//! whole campaign, quietly.

use slowlane::config::Campaign;
use slowlane::probe::{fetch, Prepared};
use slowlane::run::{run_campaign, RunOptions, RunOutcome};
use slowlane::types::FetchRecord;
use slowlane::types::{FetchOptions, FetchSpec, Group, Method};

/// A target's GET of `url` with `options`, or a POST of `upload` bytes when
/// `upload > 0`. Tests change the other fields after.
pub fn spec(url: &str, upload: u64, options: FetchOptions) -> FetchSpec {
    FetchSpec {
        url: url.parse().unwrap(),
        class: None,
        group: Group::Target,
        sni: None,
        host: None,
        method: if upload > 0 {
            Method::Post
        } else {
            Method::Get
        },
        upload,
        label: String::new(),
        controls: Vec::new(),
        options,
        ab: String::new(),
        variant: String::new(),
        size: None,
    }
}

/// One fetch of `spec`.
pub async fn fetch_one(spec: FetchSpec) -> FetchRecord {
    fetch(&Prepared::new(spec).unwrap()).await
}

/// `c` run to its end without progress output.
pub async fn run_quiet(c: Campaign) -> RunOutcome {
    let opts = RunOptions {
        quiet: true,
        ..RunOptions::default()
    };
    run_campaign(c, opts).await.unwrap()
}
