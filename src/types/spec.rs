//! What one fetch should do: the fully resolved per-URL options.
//!
//! `config` builds these from a campaign file or `fetch` flags; `probe` only
//! reads them. Keeping it one plain struct means the engine never needs to know
//! where an option came from; keeping it here, in the bottom layer, means
//! neither `config` nor `probe` owns it and `record` needs neither.

use std::path::PathBuf;
use std::time::Duration;

use http::Uri;
use serde::Serialize;

use super::{Class, Group, Headers, Hello, Method, Pin, Transport, Wire};

/// Which IP family a fetch connects over (`fetch -4`/`-6`, campaign
/// `ip_family`). `Any` takes the first address the lookup returned, as
/// before; the family used is recorded in `ip_family` either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    #[default]
    Any,
    Ipv4,
    Ipv6,
}

impl IpFamily {
    pub const NAMES: &'static [&'static str] = &["any", "ipv4", "ipv6"];

    /// Whether `addr` may be used.
    pub fn allows(self, addr: &std::net::IpAddr) -> bool {
        match self {
            IpFamily::Any => true,
            IpFamily::Ipv4 => addr.is_ipv4(),
            IpFamily::Ipv6 => addr.is_ipv6(),
        }
    }
}

impl std::str::FromStr for IpFamily {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(IpFamily::Any),
            "ipv4" | "4" => Ok(IpFamily::Ipv4),
            "ipv6" | "6" => Ok(IpFamily::Ipv6),
            _ => Err(format!(
                "unknown IP family {s:?} (valid: {})",
                IpFamily::NAMES.join(", ")
            )),
        }
    }
}

/// `--resolve HOST:PORT:ADDR`: connect to ADDR instead of resolving HOST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addr: std::net::IpAddr,
}

/// `--connect-to H1:P1:H2:P2`: for requests to H1:P1 open the TCP connection to
/// H2:P2 instead (an empty H1/P1 matches any host/port, as in curl).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectTo {
    pub from_host: String,
    pub from_port: Option<u16>,
    pub to_host: String,
    pub to_port: u16,
}

/// The per-URL knobs that may be set in `[defaults]`, per `[[url]]`, or as flags.
#[derive(Debug, Clone, Serialize)]
pub struct FetchOptions {
    #[serde(with = "humantime_serde_compat")]
    pub max_time: Duration,
    pub max_bytes: u64,
    #[serde(with = "humantime_serde_compat")]
    pub connect_timeout: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub tls_timeout: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub ttfb_timeout: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub window: Duration,
    pub alpn: Vec<String>,
    pub cacert: Vec<PathBuf>,
    pub insecure: bool,
    pub resolve: Vec<Resolve>,
    pub connect_to: Vec<ConnectTo>,
    /// Verify the server by this certificate pin instead of CAs and names
    /// (a `slowlane serve` reflector).
    pub pin: Option<Pin>,
    /// Send the ClientHello in two TCP segments split inside the SNI
    /// (`probe::split`): a DPI box that does not reassemble misses the name.
    pub split_hello: bool,
    /// How else the ClientHello goes on the wire (`probe::split`): the A/B
    /// variants beyond `split-hello`. Not written when plain, so older
    /// campaign files keep their form.
    #[serde(skip_serializing_if = "Wire::is_plain")]
    pub wire: Wire,
    /// Which key shares the hello offers (`hello = "pq"`). Not written
    /// when classic, as `wire`.
    #[serde(skip_serializing_if = "Hello::is_classic")]
    pub hello: Hello,
    /// Extra request headers (values never serialised: see [`Headers`]).
    pub headers: Headers,
    /// Only addresses of this family are used.
    pub ip_family: IpFamily,
    /// TCP (+TLS) or QUIC (HTTP/3). Never both in one fetch: a QUIC
    /// failure is a QUIC row, not a silent fall back to TCP.
    pub transport: Transport,
    /// `http = "both"`: the campaign expands this URL into a second fetch
    /// spec over QUIC (then clears the flag); never set on a spec fetched.
    #[serde(skip)]
    pub also_quic: bool,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_time: Duration::from_secs(20),
            max_bytes: 16 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            tls_timeout: Duration::from_secs(10),
            ttfb_timeout: Duration::from_secs(10),
            window: Duration::from_millis(100),
            alpn: vec!["h2".into(), "http/1.1".into()],
            cacert: Vec::new(),
            insecure: false,
            resolve: Vec::new(),
            connect_to: Vec::new(),
            pin: None,
            split_hello: false,
            wire: Wire::Plain,
            hello: Hello::Classic,
            headers: Headers::default(),
            ip_family: IpFamily::Any,
            transport: Transport::Tcp,
            also_quic: false,
        }
    }
}

impl FetchOptions {
    /// The hello sent: `hello`, or `pq` for the `pq` variant.
    pub fn hello(&self) -> Hello {
        if self.wire == Wire::Pq {
            Hello::Pq
        } else {
            self.hello
        }
    }
}

/// One URL to fetch, with everything needed to fetch it.
#[derive(Debug, Clone, Serialize)]
pub struct FetchSpec {
    #[serde(serialize_with = "ser_uri")]
    pub url: Uri,
    /// `None`: decide from the response Content-Type, else the URL extension.
    pub class: Option<Class>,
    pub group: Group,
    /// `None`: the URL host. `Some("")`: send no SNI at all.
    pub sni: Option<String>,
    /// Host header / `:authority` override.
    pub host: Option<String>,
    pub method: Method,
    /// POST body size in bytes (random, incompressible data).
    pub upload: u64,
    pub label: String,
    /// Labels of the control URLs this target is to be compared with
    /// (campaign `control = [...]`); empty: the analyzer chooses.
    pub controls: Vec<String>,
    pub options: FetchOptions,
    /// The `[[reflector]]` A/B test this fetch belongs to (its id); empty
    /// for ordinary URLs.
    pub ab: String,
    /// Its variant: `plain`, `split-hello`, `trailing-dot`, `upper-case`,
    /// `no-sni`; empty for ordinary URLs.
    pub variant: String,
    /// The download's size when the campaign itself states it (a
    /// reflector's `download`, served as `/bytes/N`); `None` for a URL
    /// whose size only the server knows. `plan` counts it as exact.
    pub size: Option<u64>,
}

fn ser_uri<S: serde::Serializer>(u: &Uri, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&u.to_string())
}

/// Durations serialise as humantime strings ("20s") in campaign.json.
mod humantime_serde_compat {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}
