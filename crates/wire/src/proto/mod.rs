//! Protocol analyzers. The seams: a TCP analyzer implements [`StreamAnalyzer`] and receives the
//! reassembled byte stream of each direction; a UDP analyzer implements [`DatagramAnalyzer`] and
//! receives datagrams. [`detect_tcp`] and [`detect_udp`] are the registries: they pick an analyzer
//! from the first payload bytes (content, not ports, except DNS which has no magic bytes), so
//! `flow` names no protocol.
//!
//! Adding a protocol = one file here, one table in `table/`, one line in `detect_tcp` (and
//! `detect_tcp_later` if it can start mid-stream) or `detect_udp` (a UDP service with no table of its own: one line in [`udp_service::REGISTRY`]).
pub mod dns;
pub mod files;
pub mod ftp;
pub mod http;
pub mod lines;
pub mod profile;
pub mod quic;
pub mod smtp;
pub mod tls;
pub mod udp_service;

use crate::record::RecordSink;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Orig,
    Resp,
}

impl Dir {
    /// The other direction.
    pub fn opposite(self) -> Dir {
        match self {
            Dir::Orig => Dir::Resp,
            Dir::Resp => Dir::Orig,
        }
    }

    pub const BOTH: [Dir; 2] = [Dir::Orig, Dir::Resp];
}

/// One value per direction of a connection, indexed by [`Dir`]: the per-direction state of an
/// analyzer or endpoint with no integer index that could be out of range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PerDir<T> {
    pub orig: T,
    pub resp: T,
}

impl<T> PerDir<T> {
    pub fn new(orig: T, resp: T) -> Self {
        PerDir { orig, resp }
    }
}

impl<T> std::ops::Index<Dir> for PerDir<T> {
    type Output = T;
    fn index(&self, d: Dir) -> &T {
        match d {
            Dir::Orig => &self.orig,
            Dir::Resp => &self.resp,
        }
    }
}

impl<T> std::ops::IndexMut<Dir> for PerDir<T> {
    fn index_mut(&mut self, d: Dir) -> &mut T {
        match d {
            Dir::Orig => &mut self.orig,
            Dir::Resp => &mut self.resp,
        }
    }
}

/// What an analyzer knows about its connection.
#[derive(Debug, Clone)]
pub struct ConnCtx {
    pub uid: String,
    pub orig_h: IpAddr,
    pub orig_p: u16,
    pub resp_h: IpAddr,
    pub resp_p: u16,
    pub proto: u8,
    /// The capture file holding the connection's first packet: every row about the connection
    /// (conn, dns, http, tls, files) names it, whichever file is being read when the row is written.
    pub source: std::sync::Arc<str>,
    /// Community ID v1 (seed 0) of the 5-tuple, computed once: every row about the connection
    /// carries it, so each joins Zeek's and Suricata's records of the flow.
    pub community_id: String,
}

#[cfg(test)]
impl ConnCtx {
    /// A TCP connection 10.0.0.5:50000 -> 198.51.100.7:`resp_p`, uid C1, for analyzer unit tests.
    pub(crate) fn for_test(resp_p: u16) -> ConnCtx {
        ConnCtx {
            uid: "C1".into(),
            orig_h: std::net::Ipv4Addr::new(10, 0, 0, 5).into(),
            orig_p: 50000,
            resp_h: std::net::Ipv4Addr::new(198, 51, 100, 7).into(),
            resp_p,
            proto: 6,
            source: "t.pcap".into(),
            community_id: String::new(),
        }
    }
}

pub trait StreamAnalyzer: Send {
    /// Service name for `conn.service` (`None`: the bytes turned out to be no protocol it knows).
    fn service(&self) -> Option<&'static str>;
    /// In-order bytes of one direction.
    fn data(&mut self, dir: Dir, ts: i64, data: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink);
    /// `len` bytes of one direction that will never be seen.
    fn gap(&mut self, dir: Dir, ts: i64, len: u64, ctx: &ConnCtx, out: &mut dyn RecordSink);
    /// The connection ended: emit whatever is pending.
    fn finish(&mut self, ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink);
    /// Does the analyzer still need bytes of this direction? When both say no, the streams stop
    /// buffering and only count.
    fn wants(&self, dir: Dir) -> bool;
    /// Bytes seen per direction (only counted, for analyzers that report them).
    fn count(&mut self, _dir: Dir, _n: u64) {}
}

/// A UDP protocol analyzer: receives each datagram of its flow (both directions).
pub trait DatagramAnalyzer: Send {
    /// One datagram (`p.payload`, as captured).
    fn datagram(
        &mut self,
        dir: Dir,
        p: &crate::decode::Packet<'_>,
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    );
    /// The flow ended: emit whatever is pending. Returns the service for `conn.service` when the
    /// traffic turned out to be the analyzer's protocol (it wrote rows), else `None`.
    fn finish(&mut self, ctx: &ConnCtx, out: &mut dyn RecordSink) -> Option<&'static str>;
}

/// Pick an analyzer for a UDP flow from its ports and first datagram (the registry of datagram
/// protocols: one line per protocol). Flows without one still get `conn.service` from
/// [`udp_service`]'s parsers (NTP, DHCP, SSDP, NetBIOS), which write no table.
pub fn detect_udp(orig_p: u16, resp_p: u16, first: &[u8]) -> Option<Box<dyn DatagramAnalyzer>> {
    if dns::DnsUdp::applies(orig_p, resp_p, first) {
        return Some(Box::<dns::DnsUdp>::default());
    }
    if quic::applies(first) {
        return Some(Box::new(quic::QuicUdp::new()));
    }
    None
}

/// Pick an analyzer for a TCP connection from the first payload of either direction.
pub fn detect_tcp(
    first: &[u8],
    dir: Dir,
    orig_p: u16,
    resp_p: u16,
) -> Option<Box<dyn StreamAnalyzer>> {
    if tls::looks_like_tls(first) {
        return Some(Box::new(tls::TlsAnalyzer::new()));
    }
    if (dir == Dir::Orig && http::looks_like_request(first))
        || (dir == Dir::Resp && first.starts_with(b"HTTP/1."))
    {
        return Some(Box::new(http::HttpAnalyzer::new()));
    }
    if (dir == Dir::Orig && first.starts_with(b"HTTP/1."))
        || (dir == Dir::Resp && http::looks_like_request(first))
    {
        // the first packet seen came from the server (capture started mid-connection)
        return Some(Box::new(http::HttpAnalyzer::swapped()));
    }
    if (resp_p == 53 || orig_p == 53 || resp_p == 5353) && first.len() >= 2 {
        return Some(Box::new(dns::DnsTcp::new()));
    }
    // FTP and SMTP servers greet alike (`220`): the client's first command tells them apart
    if dir == Dir::Resp && lines::is_greeting(first) {
        return Some(Box::new(lines::Greeting::new()));
    }
    if dir == Dir::Orig {
        // the capture began after the greeting
        return lines::client_first(first, resp_p).map(lines::Which::analyzer);
    }
    None
}

/// Pick an analyzer for a TCP connection from a later payload, when the first ones matched none:
/// protocols that start inside another stream (TLS after STARTTLS in SMTP/IMAP/POP/FTP/XMPP, or
/// TLS inside an unparsed tunnel).
pub fn detect_tcp_later(payload: &[u8]) -> Option<Box<dyn StreamAnalyzer>> {
    if tls::looks_like_tls(payload) {
        return Some(Box::new(tls::TlsAnalyzer::new()));
    }
    None
}

/// Escape attacker-controlled bytes for storage as text: printable ASCII is kept, everything else
/// (and backslash) becomes `\xHH`. Valid UTF-8 outside ASCII is kept as is.
pub fn escape_bytes(b: &[u8]) -> String {
    // most header values, names and paths are printable ASCII without a backslash: their own escape
    if b.iter().all(|&x| (0x20..0x7f).contains(&x) && x != b'\\') {
        return std::str::from_utf8(b)
            .map(str::to_owned)
            .unwrap_or_default();
    }
    let s = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(b.len());
    if let std::borrow::Cow::Borrowed(s) = s {
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    out.push_str(&format!("\\x{:02x}", c as u32))
                }
                c => out.push(c),
            }
        }
        return out;
    }
    for &x in b {
        match x {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(x as char),
            _ => out.push_str(&format!("\\x{x:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod escape_tests {
    use super::escape_bytes;

    #[test]
    fn escapes_what_is_not_printable_and_keeps_what_is() {
        assert_eq!(escape_bytes(b"GET /a?b=c d"), "GET /a?b=c d");
        assert_eq!(escape_bytes(b"a\\b"), "a\\\\b");
        assert_eq!(escape_bytes(b"a\r\nb\x7f"), "a\\x0d\\x0ab\\x7f");
        assert_eq!(escape_bytes("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escape_bytes(b"caf\xe9\x00"), "caf\\xe9\\x00");
        assert_eq!(escape_bytes(b""), "");
    }
}
