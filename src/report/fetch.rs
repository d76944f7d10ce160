//! The readable block `slowlane fetch` prints (like `curl -w`, but complete).

use std::fmt::Write;

use super::fmt_bps;
use crate::types::{Direction, FetchRecord, Ms};

fn ms(v: Option<Ms>) -> String {
    v.map_or("-".into(), |m| format!("{:.3} ms", m.0))
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".into(), |x| x.to_string())
}

pub fn render(r: &FetchRecord, with_timeline: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "url         {}", r.url);
    let _ = writeln!(s, "started     {}", r.started_at);
    let via = r
        .dns_override
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    // A failed fetch may have no address at all: no empty `[all: ]`.
    let all = if r.addrs.is_empty() || Some(&r.addrs) == r.addr.as_ref() {
        String::new()
    } else {
        format!("   [all: {}]", r.addrs)
    };
    let _ = writeln!(s, "address     {}{via}{all}", opt(&r.addr));
    let sni = if r.sni.is_empty() { "(none)" } else { &r.sni };
    let _ = writeln!(s, "sni / host  {sni} / {}", r.host);
    let _ = writeln!(
        s,
        "negotiated  {} {} alpn={}",
        opt(&r.tls_version),
        opt(&r.cipher),
        opt(&r.alpn)
    );
    let _ = writeln!(
        s,
        "http        {} {} {}",
        r.http_version
            .as_deref()
            .map_or("-".into(), |v| format!("HTTP/{v}")),
        opt(&r.status),
        r.location
            .as_deref()
            .map(|l| format!("-> {l}"))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "dns         {}", ms(r.dns_ms));
    if r.transport == crate::types::Transport::Quic {
        let _ = writeln!(
            s,
            "quic        {}  (hello {} bytes in {} Initial packets)",
            ms(r.quic_ms),
            opt(&r.hello_bytes),
            opt(&r.initial_packets)
        );
    } else {
        let _ = writeln!(s, "tcp         {}", ms(r.tcp_ms));
        // What the hello was and which key exchange it got (`hello = "pq"`).
        let hello = r.hello_bytes.map_or(String::new(), |b| {
            format!(
                "  (hello {b} bytes in {} segments, kx {})",
                opt(&r.hello_segments),
                opt(&r.kx_group)
            )
        });
        let _ = writeln!(s, "tls         {}{hello}", ms(r.tls_ms));
    }
    let _ = writeln!(s, "ttfb        {}", ms(r.ttfb_ms));
    let _ = writeln!(s, "transfer    {}", ms(r.transfer_ms));
    let _ = writeln!(s, "total       {}", ms(r.total_ms));
    let _ = writeln!(s, "body        {} bytes{}", r.body_bytes, capped(r));
    if r.direction == Direction::Up {
        let up = r.upload_bps.map_or("-".into(), |b| fmt_bps(b as f64));
        let of = r.object_bytes.map_or(String::new(), |n| format!(" of {n}"));
        let _ = writeln!(
            s,
            "upload      {}{of} bytes acknowledged, {up}",
            r.upload_bytes
        );
    }
    // A `slowlane serve` reflector's own view (docs/reflector.md).
    if let Some(n) = r.server_upload_bytes {
        let bps = r
            .server_upload_bps
            .map_or("-".into(), |b| fmt_bps(b as f64));
        let _ = writeln!(s, "server      {n} bytes received, {bps}");
    }
    if let Some(sni) = &r.server_sni {
        let _ = writeln!(s, "server sni  {sni}");
    }
    let _ = writeln!(s, "rate        {}", rates(r));
    if r.transport == crate::types::Transport::Quic {
        let _ = writeln!(
            s,
            "quic stats  rtt {}, min_rtt {}, lost {}, cwnd {}",
            ms(r.quic_rtt_ms),
            ms(r.quic_min_rtt_ms),
            opt(&r.quic_lost_packets),
            opt(&r.quic_cwnd)
        );
    } else {
        let _ = writeln!(
            s,
            "tcp_info    rtt {}, min_rtt {}, retrans {}, ooo {}",
            ms(r.tcp_rtt_ms),
            ms(r.tcp_min_rtt_ms),
            opt(&r.tcp_retrans),
            opt(&r.tcp_ooo)
        );
    }
    if let Some(e) = &r.error {
        let phase = r
            .error_phase
            .map(|p| format!("{p:?}").to_lowercase())
            .unwrap_or_default();
        let _ = writeln!(s, "error       {e} (in {phase})");
    }
    if with_timeline {
        let _ = writeln!(
            s,
            "\n  dir      t_ms     bytes  cum_bytes   rtt_ms  retrans"
        );
        for w in &r.timeline {
            let _ = writeln!(
                s,
                "  {:<4} {:>9.1} {:>9} {:>10} {:>8} {:>8}",
                format!("{:?}", w.direction).to_lowercase(),
                w.t_ms.0,
                w.bytes,
                w.cum_bytes,
                w.tcp_rtt_ms.map_or("-".into(), |m| format!("{:.2}", m.0)),
                opt(&w.tcp_retrans)
            );
        }
    }
    // No trailing spaces (empty fields at the end of a line).
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `goodput 131 kbit/s, steady …, peak window …`; an empty rate says why
/// (docs/csv.md's "empty when" column), so `goodput -` after a small fetch
/// is not read as a failure.
fn rates(r: &FetchRecord) -> String {
    let body = r.body_bytes > 0;
    let why = |v: Option<u64>, empty: &str| match v {
        Some(b) => fmt_bps(b as f64),
        None if body => format!("- ({empty})"),
        None => "-".into(),
    };
    let goodput = why(r.goodput_bps, "body within 1 ms: no interval to divide by");
    let steady = why(r.steady_bps, "too short for a plateau");
    let peak = why(r.peak_window_bps, "under two full windows");
    if !body && r.direction == Direction::Down {
        return "goodput -, steady -, peak window - (no body bytes)".to_string();
    }
    format!("goodput {goodput}, steady {steady}, peak window {peak}")
}

fn capped(r: &FetchRecord) -> String {
    match r.capped {
        Some(c) => format!(" (capped by {})", format!("{c:?}").to_lowercase()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Phase;

    #[test]
    fn failed_fetch_block_has_no_empty_fields() {
        let r = FetchRecord {
            url: "https://nx.example/".into(),
            error: Some("dns_nxdomain_error".into()),
            error_phase: Some(Phase::Dns),
            ..FetchRecord::default()
        };
        let out = render(&r, false);
        assert!(out.contains("address     -\n"), "{out}");
        assert!(!out.contains("[all: ]"), "{out}");
        assert!(out.lines().all(|l| l == l.trim_end()), "{out:?}");
        let ok = FetchRecord {
            addr: Some("198.18.0.1:443".into()),
            addrs: "198.18.0.1:443,198.18.0.2:443".into(),
            ..FetchRecord::default()
        };
        assert!(render(&ok, false).contains("[all: 198.18.0.1:443,198.18.0.2:443]"));
    }

    /// Issue 23.8: one line per label (`tls` was both the negotiated
    /// parameters and the handshake time), and an empty rate says why.
    #[test]
    fn labels_are_unique_and_empty_rates_explained() {
        let small = FetchRecord {
            url: "https://example.org/".into(),
            tls_version: Some("TLSv1_3".into()),
            tls_ms: Some(Ms(3.0)),
            body_bytes: 30_000,
            ..FetchRecord::default()
        };
        let out = render(&small, false);
        let mut labels: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        let n = labels.len();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), n, "a label twice:\n{out}");
        assert!(out.contains("negotiated  TLSv1_3"), "{out}");
        assert!(out.contains("tls         3.000 ms\n"), "{out}");
        let pq = FetchRecord {
            hello_bytes: Some(1471),
            hello_segments: Some(2),
            kx_group: Some("X25519MLKEM768".into()),
            ..small.clone()
        };
        assert!(
            render(&pq, false).contains(
                "tls         3.000 ms  (hello 1471 bytes in 2 segments, kx X25519MLKEM768)\n"
            ),
            "{}",
            render(&pq, false)
        );
        let rate = out.lines().find(|l| l.starts_with("rate ")).unwrap();
        assert!(
            rate.contains("goodput - (body within 1 ms"),
            "goodput - without a reason: {rate}"
        );
        // A failed fetch has no body: one reason, not three.
        let failed = render(&FetchRecord::default(), false);
        let rate = failed.lines().find(|l| l.starts_with("rate ")).unwrap();
        assert_eq!(
            rate,
            "rate        goodput -, steady -, peak window - (no body bytes)"
        );
    }
}
