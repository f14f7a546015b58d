//! TLS/SSL on any TCP port (recognised by the record header) → the `tls` table, with JA3, JA3S and
//! JA4 fingerprints and the leaf certificate's facts.
//!
//! Records are read here (5-byte header) and handshake messages are reassembled across records and
//! segments into a bounded buffer, then parsed one by one with tls-parser; extensions are walked as
//! raw TLVs (so one odd extension never loses the fingerprint) and each is decoded by tls-parser.
//! Certificates are parsed with x509-parser; hashes come from md-5 and sha2. Parsing stops at the
//! ChangeCipherSpec / first encrypted record of each side; afterwards only bytes are counted.
//!
//! GREASE values (RFC 8701: 0x?a?a) are ignored in JA3, JA3S and JA4 as their specifications say.

use super::{ConnCtx, Dir, PerDir, StreamAnalyzer, escape_bytes};
use crate::bytes::{array, be16, be32, head, tail};
use crate::capture::{hex, push_hex};
use crate::record::RecordSink;
use crate::record::{Record, TlsRecord};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::borrow::Cow;
use tls_parser::{TlsExtension, TlsMessage, TlsMessageHandshake};

const MAX_HANDSHAKE: usize = 256 * 1024;

pub fn looks_like_tls(b: &[u8]) -> bool {
    if let Some([0x16, 3, minor]) = array::<3>(b, 0)
        && minor <= 4
    {
        return true;
    }
    // SSLv2-compatible ClientHello: 2-byte length with the high bit, message type 1, version 2 or 3.x
    matches!(array::<5>(b, 0), Some([l, _, 1, v0, v1]) if l & 0x80 != 0 && (v0 == 0 && v1 == 2 || v0 == 3))
}

pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// The version's name; a borrowed constant for every known version (no allocation per row).
pub fn version_name(v: u16) -> Cow<'static, str> {
    Cow::Borrowed(match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv10",
        0x0302 => "TLSv11",
        0x0303 => "TLSv12",
        0x0304 => "TLSv13",
        0xfeff => "DTLSv10",
        0xfefd => "DTLSv12",
        v if v >> 8 == 0x7f => return Cow::Owned(format!("TLSv13-draft{}", v & 0xff)),
        v => return Cow::Owned(format!("unknown-0x{v:04x}")),
    })
}

pub fn group_name(g: u16) -> String {
    match g {
        23 => "secp256r1".into(),
        24 => "secp384r1".into(),
        25 => "secp521r1".into(),
        29 => "x25519".into(),
        30 => "x448".into(),
        256 => "ffdhe2048".into(),
        257 => "ffdhe3072".into(),
        0x11ec => "X25519MLKEM768".into(),
        0x6399 => "X25519Kyber768Draft00".into(),
        g => format!("group_0x{g:04x}"),
    }
}

/// A ClientHello's fingerprint inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelloInfo {
    pub version: u16,
    pub ciphers: Vec<u16>,
    /// Extension types in wire order (GREASE included; filtered where the specs say).
    pub extensions: Vec<u16>,
    pub groups: Vec<u16>,
    pub point_formats: Vec<u8>,
    pub sig_algs: Vec<u16>,
    pub supported_versions: Vec<u16>,
    pub alpn: Vec<Vec<u8>>,
    pub sni: Option<Vec<u8>>,
    pub key_share_group: Option<u16>,
    pub session_id_len: usize,
    pub psk: bool,
}

/// Append `x` in decimal. By hand: `write!` per element (formatter set-up, padding checks) was most
/// of JA3's cost, and fingerprints are computed for every ClientHello and ServerHello.
fn push_dec(s: &mut String, x: u16) {
    let mut buf = [0u8; 5];
    let mut i = buf.len();
    let mut n = x;
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &d in buf.get(i..).unwrap_or_default() {
        s.push(char::from(d));
    }
}

/// Append `v` to `s` as decimal numbers separated by `-` (JA3 lists), without GREASE values when
/// `no_grease`. One buffer, no string per element.
fn push_dec_list<T: Copy + Into<u16>>(s: &mut String, v: &[T], no_grease: bool) {
    let mut first = true;
    for x in v.iter().map(|x| (*x).into()) {
        if no_grease && is_grease(x) {
            continue;
        }
        if !first {
            s.push('-');
        }
        first = false;
        push_dec(s, x);
    }
}

/// Append `v` to `s` as 4-digit lower-case hex separated by `,` (JA4 lists).
fn push_hex_list(s: &mut String, v: impl Iterator<Item = u16>) {
    for (i, x) in v.enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_hex(s, &x.to_be_bytes());
    }
}

/// JA3 string and md5.
pub fn ja3(h: &HelloInfo) -> (String, String) {
    let mut s = String::with_capacity(256);
    push_dec(&mut s, h.version);
    s.push(',');
    push_dec_list(&mut s, &h.ciphers, true);
    s.push(',');
    push_dec_list(&mut s, &h.extensions, true);
    s.push(',');
    push_dec_list(&mut s, &h.groups, true);
    s.push(',');
    push_dec_list(&mut s, &h.point_formats, false);
    let d = hex(&Md5::digest(s.as_bytes()));
    (s, d)
}

/// JA3S string and md5 (server version, cipher, extensions).
pub fn ja3s(version: u16, cipher: u16, exts: &[u16]) -> (String, String) {
    let mut s = String::with_capacity(64);
    push_dec(&mut s, version);
    s.push(',');
    push_dec(&mut s, cipher);
    s.push(',');
    push_dec_list(&mut s, exts, true);
    let d = hex(&Md5::digest(s.as_bytes()));
    (s, d)
}

/// Append the first 12 hex digits of the sha256 of `s` (JA4's truncated hashes; twelve zeros for an
/// empty list).
fn push_sha12(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str("000000000000");
        return;
    }
    let d = Sha256::digest(s.as_bytes());
    push_hex(out, d.get(..6).unwrap_or_default());
}

/// JA4 part b input: sorted cipher list as 4-digit hex, comma separated (GREASE removed).
pub fn ja4_ciphers_raw(ciphers: &[u16]) -> String {
    // sized once (a filtered iterator's lower bound is 0: collect grew it four or five times)
    let mut c = Vec::with_capacity(ciphers.len());
    c.extend(ciphers.iter().copied().filter(|c| !is_grease(*c)));
    c.sort_unstable();
    let mut s = String::with_capacity(c.len() * 5);
    push_hex_list(&mut s, c.into_iter());
    s
}

/// JA4 part c input: sorted extensions without SNI (0000) and ALPN (0010), then `_` and the
/// signature algorithms in wire order (the `_` part only when there are signature algorithms).
pub fn ja4_ext_raw(exts: &[u16], sig_algs: &[u16]) -> String {
    let mut e = Vec::with_capacity(exts.len());
    e.extend(
        exts.iter()
            .copied()
            .filter(|x| !is_grease(*x) && *x != 0 && *x != 0x10),
    );
    e.sort_unstable();
    let mut s = String::with_capacity((e.len() + sig_algs.len()) * 5 + 1);
    push_hex_list(&mut s, e.into_iter());
    let mut sa = sig_algs
        .iter()
        .copied()
        .filter(|x| !is_grease(*x))
        .peekable();
    if sa.peek().is_some() {
        s.push('_');
        push_hex_list(&mut s, sa);
    }
    s
}

/// FoxIO JA4 of a ClientHello over TCP.
pub fn ja4(h: &HelloInfo) -> String {
    ja4_over(h, 't')
}

/// FoxIO JA4 with its transport letter: `t` TCP, `q` QUIC.
pub fn ja4_over(h: &HelloInfo, transport: char) -> String {
    let ver = h
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(h.version);
    let v = match ver {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    };
    let sni = if h.sni.is_some() { 'd' } else { 'i' };
    let nc = h.ciphers.iter().filter(|c| !is_grease(**c)).count().min(99);
    let ne = h
        .extensions
        .iter()
        .filter(|c| !is_grease(**c))
        .count()
        .min(99);
    let mut out = String::with_capacity(36);
    out.push(transport);
    out.push_str(v);
    out.push(sni);
    // both counts are at most 99: two digits each
    for n in [nc, ne] {
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    }
    match h.alpn.first() {
        Some(a) if !a.is_empty() => match (a.first().copied(), a.last().copied()) {
            (Some(f), Some(l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
                out.push(char::from(f));
                out.push(char::from(l));
            }
            (Some(f), Some(l)) => {
                // first and last characters of the hex form (JA4's rule for non-alphanumeric ALPN)
                let mut fl = String::with_capacity(4);
                push_hex(&mut fl, &[f, l]);
                out.extend(fl.chars().take(1).chain(fl.chars().skip(3)));
            }
            _ => out.push_str("00"),
        },
        _ => out.push_str("00"),
    }
    out.push('_');
    push_sha12(&mut out, &ja4_ciphers_raw(&h.ciphers));
    out.push('_');
    push_sha12(&mut out, &ja4_ext_raw(&h.extensions, &h.sig_algs));
    out
}

/// Walk an extensions block: (type, body) pairs; stops at the first malformed entry.
fn walk_extensions(ext: &[u8]) -> Vec<(u16, &[u8])> {
    // a ClientHello carries 10-20 extensions (each at least 4 bytes): one allocation, not four
    let mut v = Vec::with_capacity((ext.len() / 4).min(24));
    let mut i = 0;
    while let (Some(t), Some(l)) = (be16(ext, i), be16(ext, i + 2)) {
        let l = usize::from(l);
        let Some(body) = ext.get(i + 4..i + 4 + l) else {
            break;
        };
        v.push((t, body));
        i += 4 + l;
    }
    v
}

fn decode_ext(t: u16, body: &[u8]) -> Option<TlsExtension<'_>> {
    use tls_parser::*;
    let r = match t {
        0 => parse_tls_extension_sni_content(body),
        10 => parse_tls_extension_elliptic_curves_content(body),
        11 => parse_tls_extension_ec_point_formats_content(body),
        13 => parse_tls_extension_signature_algorithms_content(body),
        16 => parse_tls_extension_alpn_content(body),
        _ => return None,
    };
    r.ok().map(|(_, e)| e)
}

pub fn client_hello_info(ch: &tls_parser::TlsClientHelloContents<'_>) -> HelloInfo {
    let mut h = HelloInfo {
        version: ch.version.0,
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        session_id_len: ch.session_id.map_or(0, |s| s.len()),
        ..Default::default()
    };
    let exts = walk_extensions(ch.ext.unwrap_or(&[]));
    h.extensions = exts.iter().map(|&(t, _)| t).collect();
    for (t, body) in exts {
        match t {
            43 => {
                // supported_versions (client): 1-byte length then versions
                if let Some((&n, rest)) = body.split_first() {
                    h.supported_versions = rest
                        .chunks_exact(2)
                        .take(n as usize / 2)
                        .filter_map(|c| be16(c, 0))
                        .collect();
                }
            }
            41 => h.psk = true,
            _ => match decode_ext(t, body) {
                Some(TlsExtension::SNI(v)) => h.sni = v.first().map(|(_, n)| n.to_vec()),
                Some(TlsExtension::EllipticCurves(g)) => h.groups = g.iter().map(|x| x.0).collect(),
                Some(TlsExtension::EcPointFormats(p)) => h.point_formats = p.to_vec(),
                Some(TlsExtension::SignatureAlgorithms(s)) => h.sig_algs = s,
                Some(TlsExtension::ALPN(a)) => h.alpn = a.iter().map(|x| x.to_vec()).collect(),
                _ => {}
            },
        }
    }
    h
}

/// Read the bytes `held` and `new` make together: in place from `new` when nothing is held (most
/// records and handshake messages arrive whole), else after appending `new` to `held`. `read`
/// returns how many bytes it used; the rest stays in `held` for the next call.
#[inline]
fn read_held(held: &mut Vec<u8>, new: &[u8], read: impl FnOnce(&[u8]) -> usize) {
    if held.is_empty() {
        let used = read(new);
        held.extend_from_slice(new.get(used..).unwrap_or_default());
    } else {
        held.extend_from_slice(new);
        let used = read(held).min(held.len());
        held.drain(..used);
    }
}

#[derive(Default)]
struct Side {
    rec: Vec<u8>,
    hs: Vec<u8>,
    done: bool,
    encrypted: bool,
    bytes: u64,
}

#[derive(Default)]
struct Row {
    ts: i64,
    version: Option<Cow<'static, str>>,
    cipher: Option<String>,
    curve: Option<String>,
    server_name: Option<String>,
    resumed: bool,
    alpn_offered: Vec<String>,
    alpn: Option<String>,
    client_versions: Vec<Cow<'static, str>>,
    cipher_count: Option<u32>,
    ext_count: Option<u32>,
    ja3: Option<(String, String)>,
    ja3s: Option<(String, String)>,
    ja4: Option<String>,
    chain: Vec<String>,
    subject: Option<String>,
    issuer: Option<String>,
    not_before: Option<i64>,
    not_after: Option<i64>,
    san: Vec<String>,
    self_signed: Option<bool>,
    expired: Option<bool>,
    session_id: Vec<u8>,
    server_hello: bool,
    tls13: bool,
}

pub struct TlsAnalyzer {
    sides: PerDir<Side>,
    row: Option<Row>,
    started: bool,
    /// The handshake came from QUIC's CRYPTO frames (JA4's transport letter `q`).
    quic: bool,
}

impl Default for TlsAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsAnalyzer {
    pub fn new() -> Self {
        TlsAnalyzer {
            sides: PerDir::default(),
            row: None,
            started: false,
            quic: false,
        }
    }

    /// For a QUIC connection's handshake ([`super::quic`]).
    pub fn quic() -> Self {
        TlsAnalyzer {
            quic: true,
            ..Self::new()
        }
    }

    fn row(&mut self, ts: i64) -> &mut Row {
        self.row.get_or_insert_with(|| Row {
            ts,
            ..Default::default()
        })
    }

    fn handshake_msg(
        &mut self,
        dir: Dir,
        ts: i64,
        msg: &[u8],
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) {
        let parsed = tls_parser::parse_tls_message_handshake(msg);
        let m = match parsed {
            Ok((_, TlsMessage::Handshake(m))) => m,
            _ if msg.first() == Some(&2) && self.server_hello_fallback(ts, tail(msg, 4)) => return,
            _ => {
                out.weird(
                    ts,
                    Some(&ctx.uid),
                    "tls_bad_handshake",
                    &format!(
                        "handshake type {} ({} bytes) did not parse; starts {}",
                        msg.first().copied().unwrap_or(0),
                        msg.len(),
                        hex(head(msg, 24))
                    ),
                    None,
                );
                return;
            }
        };
        match m {
            TlsMessageHandshake::ClientHello(ch) => {
                let h = client_hello_info(&ch);
                let transport = if self.quic { 'q' } else { 't' };
                let r = self.row(ts);
                if r.ja3.is_some() {
                    // second ClientHello after a HelloRetryRequest: keep the first's fingerprints
                    return;
                }
                r.server_name = h.sni.as_deref().map(escape_bytes);
                r.alpn_offered = h.alpn.iter().map(|a| escape_bytes(a)).collect();
                r.client_versions = if h.supported_versions.is_empty() {
                    vec![version_name(h.version)]
                } else {
                    h.supported_versions
                        .iter()
                        .filter(|v| !is_grease(**v))
                        .map(|v| version_name(*v))
                        .collect()
                };
                r.cipher_count = Some(h.ciphers.iter().filter(|c| !is_grease(**c)).count() as u32);
                r.ext_count = Some(h.extensions.iter().filter(|c| !is_grease(**c)).count() as u32);
                r.ja3 = Some(ja3(&h));
                r.ja4 = Some(ja4_over(&h, transport));
                r.session_id = ch.session_id.map(|s| s.to_vec()).unwrap_or_default();
                if r.version.is_none() {
                    r.version = Some(version_name(h.version));
                }
            }
            TlsMessageHandshake::ServerHello(sh) => {
                let mut version = sh.version.0;
                let mut exts = Vec::new();
                let mut alpn = None;
                let mut group = None;
                let mut psk = false;
                for (t, body) in walk_extensions(sh.ext.unwrap_or(&[])) {
                    exts.push(t);
                    match t {
                        43 if body.len() >= 2 => version = be16(body, 0).unwrap_or(version),
                        51 if body.len() >= 2 => group = be16(body, 0),
                        41 => psk = true,
                        16 => {
                            if let Some(TlsExtension::ALPN(a)) = decode_ext(16, body) {
                                alpn = a.first().map(|x| escape_bytes(x));
                            }
                        }
                        _ => {}
                    }
                }
                let r = self.row(ts);
                r.server_hello = true;
                r.version = Some(version_name(version));
                r.tls13 = version == 0x0304 || version >> 8 == 0x7f;
                r.cipher = Some(
                    tls_parser::TlsCipherSuite::from_id(sh.cipher.0)
                        .map_or_else(|| format!("0x{:04x}", sh.cipher.0), |c| c.name.to_string()),
                );
                r.ja3s = Some(ja3s(sh.version.0, sh.cipher.0, &exts));
                r.alpn = alpn;
                if let Some(g) = group {
                    r.curve = Some(group_name(g));
                }
                let sid = sh.session_id.unwrap_or(&[]);
                r.resumed = if r.tls13 {
                    psk
                } else {
                    !sid.is_empty() && sid == r.session_id.as_slice()
                };
                if r.tls13 {
                    // everything after the ServerHello is encrypted
                    self.sides.resp.done = true;
                }
            }
            TlsMessageHandshake::Certificate(c) => {
                let r = self.row(ts);
                if !r.chain.is_empty() {
                    return;
                }
                for cert in &c.cert_chain {
                    r.chain.push(hex(&Sha256::digest(cert.data)));
                }
                if let Some(leaf) = c.cert_chain.first() {
                    match x509_parser::parse_x509_certificate(leaf.data) {
                        Ok((_, x)) => {
                            let subject = x.subject().to_string();
                            let issuer = x.issuer().to_string();
                            r.self_signed = Some(subject == issuer);
                            r.subject = Some(escape_bytes(subject.as_bytes()));
                            r.issuer = Some(escape_bytes(issuer.as_bytes()));
                            let nb = x.validity().not_before.timestamp();
                            let na = x.validity().not_after.timestamp();
                            r.not_before = Some(nb.saturating_mul(1_000_000));
                            r.not_after = Some(na.saturating_mul(1_000_000));
                            let now = ts / 1_000_000;
                            r.expired = Some(now < nb || now > na);
                            if let Ok(Some(san)) = x.subject_alternative_name() {
                                for g in &san.value.general_names {
                                    if let x509_parser::extensions::GeneralName::DNSName(d) = g {
                                        r.san.push(escape_bytes(d.as_bytes()));
                                    }
                                }
                            }
                        }
                        Err(e) => {
                            out.weird(ts, Some(&ctx.uid), "x509_unparseable", &e.to_string(), None)
                        }
                    }
                }
            }
            TlsMessageHandshake::ServerKeyExchange(ske) => {
                let p = ske.parameters;
                // ECParameters: curve_type 3 (named_curve), then the 2-byte group
                if p.first() == Some(&3)
                    && let Some(g) = be16(p, 1)
                {
                    self.row(ts).curve = Some(group_name(g));
                }
            }
            _ => {}
        }
        let _ = dir;
    }

    /// ServerHello layouts tls-parser does not take: TLS 1.3 drafts before 22 have no session id
    /// and no compression field. Returns true when it parsed.
    fn server_hello_fallback(&mut self, ts: i64, b: &[u8]) -> bool {
        let rd16 =
            |o: usize| -> Option<u16> { Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?])) };
        let Some(version) = rd16(0) else { return false };
        let draft = version >> 8 == 0x7f && (version & 0xff) < 22;
        let (cipher_at, ext_at) = if draft {
            (34, 36)
        } else {
            let Some(&sid) = b.get(34) else { return false };
            (35 + sid as usize, 38 + sid as usize)
        };
        let Some(cipher) = rd16(cipher_at) else {
            return false;
        };
        let exts: Vec<u16> = match rd16(ext_at) {
            Some(l) => walk_extensions(b.get(ext_at + 2..ext_at + 2 + l as usize).unwrap_or(&[]))
                .into_iter()
                .map(|(t, _)| t)
                .collect(),
            None => Vec::new(),
        };
        let r = self.row(ts);
        r.server_hello = true;
        r.version = Some(version_name(version));
        r.tls13 = draft || version == 0x0304;
        r.cipher = Some(
            tls_parser::TlsCipherSuite::from_id(cipher)
                .map_or_else(|| format!("0x{cipher:04x}"), |c| c.name.to_string()),
        );
        r.ja3s = Some(ja3s(version, cipher, &exts));
        if r.tls13 {
            self.sides.resp.done = true;
        }
        true
    }

    /// Read the whole records at the start of `b` (the held bytes of a direction, or a segment
    /// when nothing is held: most records arrive whole, and are then read in place, not copied);
    /// returns the bytes read, all of them once the direction is done (nothing more is wanted).
    fn records(
        &mut self,
        dir: Dir,
        ts: i64,
        b: &[u8],
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) -> usize {
        let mut pos = 0;
        loop {
            if self.sides[dir].done {
                return b.len();
            }
            let Some([ct, _, _, l0, l1]) = array::<5>(b, pos) else {
                return pos;
            };
            if ct & 0x80 != 0 && !self.started {
                // SSLv2 record
                self.started = true;
                let r = self.row(ts);
                r.version = Some(Cow::Borrowed("SSLv2"));
                self.sides[dir].done = true;
                return b.len();
            }
            self.started = true;
            let len = usize::from(u16::from_be_bytes([l0, l1]));
            if !(20..=24).contains(&ct) || len > 18432 {
                out.weird(
                    ts,
                    Some(&ctx.uid),
                    "tls_bad_record",
                    &format!("content type {ct}, length {len}"),
                    None,
                );
                self.sides[dir].done = true;
                return b.len();
            }
            let Some(body) = b.get(pos + 5..pos + 5 + len) else {
                return pos;
            };
            pos += 5 + len;
            match ct {
                22 if !self.sides[dir].encrypted => {
                    if self.sides[dir].hs.len() + body.len() > MAX_HANDSHAKE {
                        out.weird(
                            ts,
                            Some(&ctx.uid),
                            "tls_handshake_too_long",
                            &format!("over {MAX_HANDSHAKE} bytes"),
                            None,
                        );
                        self.sides[dir].done = true;
                        return b.len();
                    }
                    // handshake messages span records: those whole in this record's body are read
                    // in place when none is held
                    let mut held = std::mem::take(&mut self.sides[dir].hs);
                    read_held(&mut held, body, |b| {
                        self.handshake_msgs(dir, ts, b, ctx, out)
                    });
                    self.sides[dir].hs = held;
                }
                20 | 23 => {
                    self.sides[dir].encrypted = true;
                    self.sides[dir].done = true;
                }
                _ => {}
            }
        }
    }

    /// Hand each whole handshake message (type, 24-bit length, body) at the start of `b` to
    /// [`Self::handshake_msg`]; returns the bytes read (all of them once the direction is done).
    fn handshake_msgs(
        &mut self,
        dir: Dir,
        ts: i64,
        b: &[u8],
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) -> usize {
        let mut pos = 0;
        while let Some(l) = be32(b, pos).map(|h| (h & 0x00ff_ffff) as usize)
            && let Some(msg) = b.get(pos..pos + 4 + l)
        {
            pos += 4 + l;
            self.handshake_msg(dir, ts, msg, ctx, out);
            if self.sides[dir].done {
                return b.len();
            }
        }
        pos
    }
}

impl StreamAnalyzer for TlsAnalyzer {
    fn service(&self) -> Option<&'static str> {
        Some("ssl")
    }
    fn data(&mut self, dir: Dir, ts: i64, data: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if self.sides[dir].done {
            return;
        }
        // a record split across segments is held until it is whole; records that arrive whole
        // are read straight from the segment
        let mut held = std::mem::take(&mut self.sides[dir].rec);
        read_held(&mut held, data, |b| self.records(dir, ts, b, ctx, out));
        self.sides[dir].rec = held;
    }
    fn gap(&mut self, dir: Dir, ts: i64, len: u64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let side = &mut self.sides[dir];
        if !side.done {
            side.done = true;
            side.rec.clear();
            out.weird(
                ts,
                Some(&ctx.uid),
                "tls_content_gap",
                &format!("{len} bytes missing in the {dir:?} handshake"),
                None,
            );
        }
    }
    fn count(&mut self, dir: Dir, n: u64) {
        self.sides[dir].bytes += n;
    }
    fn finish(&mut self, _ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        let Some(r) = self.row.take() else { return };
        let established = r.server_hello
            && self.sides.orig.encrypted
            && (self.sides.resp.encrypted || r.tls13 && self.sides.resp.bytes > 0);
        out.record(Record::Tls(TlsRecord {
            ts: r.ts,
            uid: &ctx.uid,
            orig_h: ctx.orig_h,
            orig_p: ctx.orig_p,
            resp_h: ctx.resp_h,
            resp_p: ctx.resp_p,
            version: r.version.as_deref(),
            cipher: r.cipher.as_deref(),
            curve: r.curve.as_deref(),
            server_name: r.server_name.as_deref(),
            resumed: r.resumed,
            established,
            alpn_offered: &r.alpn_offered,
            alpn: r.alpn.as_deref(),
            client_versions: &r.client_versions,
            client_cipher_count: r.cipher_count,
            client_extension_count: r.ext_count,
            ja3: r.ja3.as_ref().map(|x| x.1.as_str()),
            ja3_string: r.ja3.as_ref().map(|x| x.0.as_str()),
            ja3s: r.ja3s.as_ref().map(|x| x.1.as_str()),
            ja3s_string: r.ja3s.as_ref().map(|x| x.0.as_str()),
            ja4: r.ja4.as_deref(),
            cert_chain_sha256: &r.chain,
            subject: r.subject.as_deref(),
            issuer: r.issuer.as_deref(),
            not_valid_before: r.not_before,
            not_valid_after: r.not_after,
            san_dns: &r.san,
            self_signed: r.self_signed,
            expired_at_capture_time: r.expired,
            orig_bytes: self.sides.orig.bytes,
            resp_bytes: self.sides.resp.bytes,
            source: &ctx.source,
            community_id: &ctx.community_id,
        }));
    }
    fn wants(&self, dir: Dir) -> bool {
        !self.sides[dir].done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_detection() {
        assert!(is_grease(0x0a0a));
        assert!(is_grease(0xfafa));
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
    }

    /// The worked example of the JA4 technical description (FoxIO, "JA4 TLS Client Fingerprint"):
    /// its raw cipher and extension strings and the resulting hash parts of
    /// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    fn sha12(s: &str) -> String {
        let mut out = String::new();
        push_sha12(&mut out, s);
        out
    }

    #[test]
    fn hand_written_digits_match_the_formatter() {
        for x in 0..=u16::MAX {
            let (mut d, mut h) = (String::new(), String::new());
            push_dec(&mut d, x);
            push_hex(&mut h, &x.to_be_bytes());
            assert_eq!(d, format!("{x}"));
            assert_eq!(h, format!("{x:04x}"));
        }
        for b in 0..=u8::MAX {
            let mut h = String::new();
            push_hex(&mut h, &[b]);
            assert_eq!(h, format!("{b:02x}"));
        }
    }

    #[test]
    fn ja4_alpn_not_alphanumeric_uses_the_hex_form() {
        // JA4: first and last characters of the hex of the first ALPN value
        let h = |alpn: &[u8]| HelloInfo {
            version: 0x0303,
            ciphers: vec![0x1301],
            alpn: vec![alpn.to_vec()],
            ..Default::default()
        };
        assert_eq!(&ja4(&h(b"\xab\x01\xcd"))[..10], "t12i0100ad");
        assert_eq!(&ja4(&h(b"\x7f"))[..10], "t12i01007f");
        assert_eq!(&ja4(&h(b"h2"))[..10], "t12i0100h2");
        assert_eq!(&ja4(&h(b""))[..10], "t12i010000");
    }

    #[test]
    fn ja4_published_example() {
        let ciphers = [
            0x1301u16, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ];
        assert_eq!(
            ja4_ciphers_raw(&ciphers),
            "002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"
        );
        assert_eq!(sha12(&ja4_ciphers_raw(&ciphers)), "8daaf6152771");
        let exts = [
            0x001bu16, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
            0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
        ];
        let sigs = [
            0x0403u16, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ];
        assert_eq!(
            ja4_ext_raw(&exts, &sigs),
            "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(sha12(&ja4_ext_raw(&exts, &sigs)), "e5627efa2ab1");
        let h = HelloInfo {
            version: 0x0303,
            ciphers: [&[0x0a0au16][..], &ciphers[..]].concat(),
            extensions: [&[0x2a2au16][..], &exts[..]].concat(),
            sig_algs: sigs.to_vec(),
            supported_versions: vec![0x1a1a, 0x0304, 0x0303],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            sni: Some(b"example.com".to_vec()),
            ..Default::default()
        };
        assert_eq!(ja4(&h), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn ja3_string_drops_grease() {
        let h = HelloInfo {
            version: 771,
            ciphers: vec![0x0a0a, 4865, 4866],
            extensions: vec![0x1a1a, 0, 10, 11],
            groups: vec![0x2a2a, 29, 23],
            point_formats: vec![0],
            ..Default::default()
        };
        let (s, d) = ja3(&h);
        assert_eq!(s, "771,4865-4866,0-10-11,29-23,0");
        assert_eq!(d.len(), 32);
    }
}
