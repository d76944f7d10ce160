//! `slowlane trigger`: rule discovery against a reflector (`crate::trigger`).

use super::{output, usage, Outcome};
use crate::cli::TriggerArgs;
use crate::config::{self, TriggerStudy};
use crate::trigger::{budget, discover, TriggerConfig};
use crate::types::FetchOptions;

pub(super) async fn trigger_cmd(a: TriggerArgs) -> Outcome {
    let uri = config::parse_url(&a.reflector).map_err(usage)?;
    let bare = uri.path() == "/" && uri.query().is_none();
    let Some(authority) = uri
        .authority()
        .filter(|_| bare && uri.scheme_str() == Some("https"))
    else {
        return Err(usage("--reflector is https://HOST[:PORT] with no path"));
    };
    let name = a.name.trim().trim_end_matches('.').to_ascii_lowercase();
    if crate::probe::tls::server_name(&name).is_err() {
        return Err(usage(format!("{:?} is not a DNS name", a.name)));
    }
    let controls = if a.controls.is_empty() {
        config::trigger::DEFAULT_CONTROLS.map(String::from).to_vec()
    } else {
        a.controls
    };
    let mut options = FetchOptions::default();
    if let Some(t) = &a.token {
        options.headers.set_bearer(t).map_err(usage)?;
    }
    let study = TriggerStudy {
        id: name.clone(),
        name,
        reflector: authority.as_str().to_string(),
        pin: a.pin,
        controls,
        size: a.size,
        max_time: a.max_time,
        max_rounds: a.max_rounds,
        gap: a.gap,
        options,
    };
    let cfg = TriggerConfig::from(&study);
    let (trials, bytes) = budget(&cfg);
    let head = format!(
        "slowlane trigger {}: at most {trials} trials, {} downloaded ({} rounds each of 1 + {} names)\n",
        cfg.name,
        bytesize::ByteSize(bytes),
        cfg.max_rounds,
        cfg.controls.len()
    );
    super::print(&head)?;
    if a.dry_run {
        return Ok(0);
    }
    let f = discover(&cfg).await.map_err(usage)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    for t in &f.trials {
        w.serialize(t).map_err(|e| output(e.to_string()))?;
    }
    let csv = String::from_utf8(w.into_inner().map_err(|e| output(e.to_string()))?)
        .map_err(|e| output(e.to_string()))?;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join("trials.csv"), &csv))
            .map_err(|e| output(format!("cannot write {}: {e}", dir.display())))?;
    }
    super::print(&format!("{csv}\n{}\n", f.sentence))?;
    Ok(0)
}
