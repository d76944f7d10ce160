//! TLS ClientHello parsing: record → handshake → extensions → SNI.
//!
//! A DPI box classifies on the server name in the first client bytes. This is
//! a real parser (bounds-checked at every length field) rather than a search
//! for the name, so that a hello split across records or TCP segments, or a
//! name hidden in a different extension, behaves as it does on a real box.
//! It never panics and never loops on its input: every step consumes bytes.

/// What the first client bytes say about the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The `server_name` extension's host_name, if present and well-formed.
    pub sni: Option<String>,
    /// Protocols offered in the ALPN extension.
    pub alpn: Vec<String>,
    /// `legacy_version` in the hello body (0x0303 for TLS 1.2 and 1.3).
    pub version: u16,
    /// Number of TLS records the handshake message occupied.
    pub records: usize,
}

/// Why no ClientHello could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelloError {
    /// Not a TLS handshake record at all.
    NotTls,
    /// Looks like TLS but more bytes are needed (truncated, or split across
    /// records when reassembly is off).
    Incomplete,
    /// A length or type field is inconsistent.
    Malformed(&'static str),
}

const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
/// RFC 8446 §5.1: a record fragment is at most 2^14 bytes (+256 slack
/// tolerated by some stacks); anything larger is not TLS.
const MAX_RECORD: usize = (1 << 14) + 256;
/// Give up on hellos longer than this even when reassembling.
const MAX_HELLO: usize = 64 * 1024;

/// Parses a ClientHello from the first client bytes.
///
/// With `reassemble = false` the handshake message must sit in the first
/// record, as the 2021 box required: a hello split over two records yields
/// `Incomplete` no matter how many bytes follow. With `reassemble = true`
/// consecutive handshake records are joined first.
pub fn parse_client_hello(buf: &[u8], reassemble: bool) -> Result<ClientHello, HelloError> {
    let mut msg: Vec<u8> = Vec::new();
    let mut rest = buf;
    let mut records = 0;
    loop {
        let Some(hdr) = rest.get(..5) else {
            return Err(if rest.is_empty() && records > 0 {
                HelloError::Incomplete
            } else if rest.first().is_some_and(|&b| b != CONTENT_HANDSHAKE) {
                HelloError::NotTls
            } else {
                HelloError::Incomplete
            });
        };
        if hdr[0] != CONTENT_HANDSHAKE || hdr[1] != 3 || hdr[2] > 4 {
            return Err(if records == 0 {
                HelloError::NotTls
            } else {
                HelloError::Malformed("non-handshake record inside the hello")
            });
        }
        let len = u16::from_be_bytes([hdr[3], hdr[4]]) as usize;
        if len == 0 || len > MAX_RECORD {
            return Err(HelloError::Malformed("record length"));
        }
        let Some(frag) = rest.get(5..5 + len) else {
            return Err(HelloError::Incomplete);
        };
        records += 1;
        msg.extend_from_slice(frag);
        rest = &rest[5 + len..];
        if msg.len() >= 4 {
            if msg[0] != HANDSHAKE_CLIENT_HELLO {
                return Err(HelloError::Malformed(
                    "first handshake message is not a ClientHello",
                ));
            }
            let hlen = u32::from_be_bytes([0, msg[1], msg[2], msg[3]]) as usize;
            if hlen > MAX_HELLO {
                return Err(HelloError::Malformed("handshake length"));
            }
            if msg.len() >= 4 + hlen {
                let mut h = parse_body(&msg[4..4 + hlen])?;
                h.records = records;
                return Ok(h);
            }
        }
        if !reassemble || msg.len() > MAX_HELLO {
            return Err(HelloError::Incomplete);
        }
    }
}

/// The name in the first TLS record of a hello that spans records, read
/// as a box that does not join records reads it: `None` while that record
/// is not all in; `Some(Err(()))` when it is but holds no whole name (or is
/// no hello); `Some(Ok(name))` when the server_name extension lies in it.
pub fn sni_in_first_record(buf: &[u8]) -> Option<Result<String, ()>> {
    let hdr = buf.get(..5)?;
    if hdr[0] != CONTENT_HANDSHAKE {
        return Some(Err(()));
    }
    let len = u16::from_be_bytes([hdr[3], hdr[4]]) as usize;
    let frag = buf.get(5..5 + len)?;
    Some(partial_sni(frag).ok_or(()))
}

/// The SNI of a ClientHello message cut short: walks what is there.
fn partial_sni(msg: &[u8]) -> Option<String> {
    if *msg.first()? != HANDSHAKE_CLIENT_HELLO {
        return None;
    }
    let mut r = Reader(msg.get(4..)?);
    r.take(2 + 32).ok()?;
    r.vec8().ok()?;
    r.vec16().ok()?;
    r.vec8().ok()?;
    r.u16().ok()?; // extensions' total length: the message runs past us
    while let (Ok(ty), Ok(data)) = (r.u16(), r.vec16()) {
        if ty == EXT_SERVER_NAME {
            return parse_sni(data).ok().flatten();
        }
    }
    None
}

/// A cursor that only hands out bytes that exist.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HelloError> {
        if self.0.len() < n {
            return Err(HelloError::Malformed("length field past the end"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, HelloError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, HelloError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    fn vec16(&mut self) -> Result<&'a [u8], HelloError> {
        let n = self.u16()? as usize;
        self.take(n)
    }
}

fn parse_body(body: &[u8]) -> Result<ClientHello, HelloError> {
    let mut r = Reader(body);
    let version = r.u16()?;
    r.take(32)?; // random
    if r.vec8()?.len() > 32 {
        return Err(HelloError::Malformed("session id longer than 32"));
    }
    let suites = r.vec16()?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(HelloError::Malformed("cipher suites"));
    }
    if r.vec8()?.is_empty() {
        return Err(HelloError::Malformed("compression methods"));
    }
    let mut hello = ClientHello {
        sni: None,
        alpn: Vec::new(),
        version,
        records: 0,
    };
    if r.0.is_empty() {
        return Ok(hello); // SSLv3-style hello without extensions
    }
    let mut exts = Reader(r.vec16()?);
    while !exts.0.is_empty() {
        let ty = exts.u16()?;
        let data = exts.vec16()?;
        match ty {
            EXT_SERVER_NAME => hello.sni = parse_sni(data)?,
            EXT_ALPN => hello.alpn = parse_alpn(data)?,
            _ => {}
        }
    }
    Ok(hello)
}

fn parse_sni(data: &[u8]) -> Result<Option<String>, HelloError> {
    let mut r = Reader(data);
    let mut list = Reader(r.vec16()?);
    while !list.0.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?;
        if kind == 0 {
            let ok =
                !name.is_empty() && name.len() <= 255 && name.iter().all(|c| c.is_ascii_graphic());
            if !ok {
                return Err(HelloError::Malformed("server name is not a host name"));
            }
            return Ok(Some(String::from_utf8_lossy(name).into_owned()));
        }
    }
    Ok(None)
}

fn parse_alpn(data: &[u8]) -> Result<Vec<String>, HelloError> {
    let mut r = Reader(data);
    let mut list = Reader(r.vec16()?);
    let mut out = Vec::new();
    while !list.0.is_empty() {
        out.push(String::from_utf8_lossy(list.vec8()?).into_owned());
    }
    Ok(out)
}
