//! DNS over UDP and TCP → the `dns` table: one row per transaction (query paired with its response by
//! flow, transaction id and question); unanswered queries and unsolicited responses still get rows.
//!
//! Crate choice (evidence in `docs/dns-crate-choice.md`, reproduced by `cargo bench --bench stages -- dns`):
//! simple-dns parses the record sections (it borrows labels from the packet: no per-label allocation,
//! and unknown types come back as raw bytes for RFC 3597 rendering). The header, the question and the
//! EDNS OPT record are read here from fixed offsets with a loop-safe name reader, because a tunnel
//! hunter needs the *exact* wire name (escaped, case kept, never truncated) and the best partial name
//! when a packet is damaged, which no crate returns.
//!
//! Split by what each part knows: [`wire`] (message parsing), [`render`] (values as text), [`txn`]
//! (pairing queries and responses into records); this file frames DNS over UDP and TCP.

pub mod render;
pub mod txn;
pub mod wire;

pub use render::{qclass_name, qtype_name, rcode_name, render_rdata};
pub use txn::DnsState;
pub use wire::{Edns, Msg, NameInfo, parse_msg, read_name};

use super::{ConnCtx, Dir, PerDir, StreamAnalyzer};
use crate::bytes::be16;
use crate::decode::Packet;
use crate::record::RecordSink;

/// Ports where UDP payload is DNS without further checks.
pub const DNS_PORTS: &[u16] = &[53, 5353, 5355];

/// DNS over UDP for one flow.
#[derive(Default)]
pub struct DnsUdp {
    state: DnsState,
    pub rows: u64,
}

impl DnsUdp {
    /// Is this UDP flow DNS? Known ports, or a payload that parses strictly as a DNS query.
    pub fn applies(orig_p: u16, resp_p: u16, payload: &[u8]) -> bool {
        if DNS_PORTS.contains(&orig_p) || DNS_PORTS.contains(&resp_p) {
            return true;
        }
        plausible_query(payload)
    }
}

impl super::DatagramAnalyzer for DnsUdp {
    fn datagram(&mut self, _dir: Dir, p: &Packet<'_>, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if p.payload.is_empty() {
            return;
        }
        let msg = txn::Wire {
            ts: p.ts,
            frame: Some(p.frame),
            bytes: p.payload,
            truncated: p.truncated,
        };
        self.state.message(msg, "udp", ctx, out);
        self.rows = self.state.rows;
    }

    fn finish(&mut self, ctx: &ConnCtx, out: &mut dyn RecordSink) -> Option<&'static str> {
        self.state.finish("udp", ctx, out);
        self.rows = self.state.rows;
        (self.rows > 0).then_some("dns")
    }
}

/// A strict check for DNS on an unusual port: a standard query with one question whose name reads
/// cleanly to the end of the message (allowing an OPT record).
pub fn plausible_query(b: &[u8]) -> bool {
    let Some(m) = parse_msg(b, false) else {
        return false;
    };
    if m.qr
        || m.opcode != 0
        || m.counts[0] != 1
        || m.counts[1] != 0
        || m.counts[2] != 0
        || m.counts[3] > 1
        || m.z != 0
    {
        return false;
    }
    match &m.qname {
        Some(n) => {
            n.err.is_none()
                && n.labels > 0
                && n.end + 4 <= b.len()
                && (m.counts[3] == 1 || n.end + 4 == b.len())
                && m.qclass == 1
        }
        None => false,
    }
}

/// DNS over TCP: 2-byte length-prefixed messages on the reassembled stream.
pub struct DnsTcp {
    buf: PerDir<Vec<u8>>,
    state: DnsState,
    broken: PerDir<bool>,
}

impl DnsTcp {
    pub fn new() -> Self {
        DnsTcp {
            buf: PerDir::default(),
            state: DnsState::default(),
            broken: PerDir::default(),
        }
    }
}

impl Default for DnsTcp {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamAnalyzer for DnsTcp {
    fn service(&self) -> Option<&'static str> {
        Some("dns")
    }
    fn data(&mut self, dir: Dir, ts: i64, data: &[u8], ctx: &ConnCtx, out: &mut dyn RecordSink) {
        if self.broken[dir] {
            return;
        }
        self.buf[dir].extend_from_slice(data);
        loop {
            let b = &self.buf[dir];
            let Some(len) = be16(b, 0).map(usize::from) else {
                break;
            };
            let Some(msg) = b.get(2..2 + len).map(<[u8]>::to_vec) else {
                break;
            };
            self.buf[dir].drain(..2 + len);
            let wire = txn::Wire {
                ts,
                frame: None,
                bytes: &msg,
                truncated: false,
            };
            self.state.message(wire, "tcp", ctx, out);
        }
    }
    fn gap(&mut self, dir: Dir, ts: i64, len: u64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        self.broken[dir] = true;
        self.buf[dir].clear();
        out.weird(
            ts,
            Some(&ctx.uid),
            "dns_tcp_gap",
            &format!("{len} bytes missing; rest of direction not parsed"),
            None,
        );
    }
    fn finish(&mut self, _ts: i64, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        self.state.finish("tcp", ctx, out);
    }
    fn wants(&self, dir: Dir) -> bool {
        !self.broken[dir]
    }
}

#[cfg(test)]
mod tests {
    use super::render::render_svcb;
    use super::*;

    /// Query for "www.Example.com" A with EDNS (udp 1232, DO) and an ECS option 192.0.2.0/24.
    fn query() -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(b"\x03www\x07Example\x03com\x00");
        q.extend_from_slice(&[0, 1, 0, 1]);
        q.extend_from_slice(&[
            0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2,
        ]);
        q
    }

    #[test]
    fn query_header_question_and_edns() {
        let m = parse_msg(&query(), true).unwrap();
        assert_eq!(m.id, 0x1234);
        assert!(!m.qr && m.rd);
        let n = m.qname.unwrap();
        assert_eq!(n.text, "www.Example.com");
        assert_eq!((n.len, n.labels, n.max_label), (15, 3, 7));
        assert_eq!(m.qtype, 1);
        let e = m.edns.unwrap();
        assert_eq!(e.udp_size, 1232);
        assert!(e.do_bit);
        assert_eq!(e.client_subnet.as_deref(), Some("192.0.2.0/24"));
        assert!(plausible_query(&query()));
    }

    #[test]
    fn response_answers_render_null_txt_cname_and_unknown() {
        let mut r = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0];
        r.extend_from_slice(b"\x01t\x02io\x00\x00\x0a\x00\x01");
        // NULL record, pointer to the question name
        r.extend_from_slice(&[0xc0, 12, 0, 10, 0, 1, 0, 0, 0, 60, 0, 3, 0xde, 0xad, 0x01]);
        // TXT with two strings
        r.extend_from_slice(&[
            0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 61, 0, 6, 2, b'h', b'i', 2, b'y', b'o',
        ]);
        // CNAME -> a.t.io
        r.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 62, 0, 4, 1, b'a', 0xc0, 12]);
        // unknown type 65280
        r.extend_from_slice(&[0xc0, 12, 0xff, 0x00, 0, 1, 0, 0, 0, 63, 0, 2, 0xab, 0xcd]);
        let m = parse_msg(&r, true).unwrap();
        assert!(m.weird.is_none(), "{:?}", m.weird);
        assert_eq!(m.answer_types, vec!["NULL", "TXT", "CNAME", "TYPE65280"]);
        assert_eq!(
            m.answers,
            vec!["\\# 3 dead01", "\"hi\" \"yo\"", "a.t.io", "\\# 2 abcd"]
        );
        assert_eq!(m.ttls, vec![60, 61, 62, 63]);
        assert_eq!(m.qtype, 10);
    }

    #[test]
    fn https_record_renders_its_params() {
        // priority 1, target ".", alpn=h2,h3, port=8443, ipv4hint=192.0.2.1
        let rd = [
            0, 1, 0, 0, 1, 0, 6, 2, b'h', b'2', 2, b'h', b'3', 0, 3, 0, 2, 0x20, 0xfb, 0, 4, 0, 4,
            192, 0, 2, 1,
        ];
        assert_eq!(
            render_svcb(&rd),
            "1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1"
        );
    }

    #[test]
    fn compression_loop_gives_weird_and_partial_name() {
        // question name: label "ab" then a pointer to itself
        let mut r = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        r.extend_from_slice(&[2, b'a', b'b', 0xc0, 12, 0, 1, 0, 1]);
        let m = parse_msg(&r, true).unwrap();
        assert_eq!(m.weird.as_ref().unwrap().0, "dns_compression_loop");
        assert_eq!(m.qname.unwrap().text, "ab");
        // forward pointer
        let n = read_name(&[0xc0, 0x05, 0, 0, 0, 1, b'x', 0], 0);
        assert_eq!(n.err, Some("dns_compression_loop"));
    }

    #[test]
    fn escaping_keeps_case_and_marks_odd_bytes() {
        let n = read_name(b"\x04A.b\xff\x03c\\m\x00", 0);
        assert_eq!(n.text, "A\\.b\\255.c\\\\m");
        assert_eq!(n.err, None);
        let bad = read_name(b"\x41abc", 0);
        assert_eq!(bad.err, Some("dns_label_too_long"));
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
        }
        long.push(0);
        let n = read_name(&long, 0);
        assert_eq!(n.err, Some("dns_name_too_long"));
        assert_eq!(n.len, 5 * 63 + 4);
    }

    #[test]
    fn skipping_a_name_finds_what_reading_it_does_but_the_text() {
        use super::wire::skip_name;
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'x'; 63]);
        }
        long.push(0);
        let names: [&[u8]; 7] = [
            b"\x04A.b\xff\x03c\\m\x00",
            b"\x41abc",
            &[0xc0, 0x05, 0, 0, 0, 1, b'x', 0],
            &[3, b'w', b'w', b'w', 1, b'x', 0, 2, b'a', b'b', 0xc0, 4],
            &[5, b'a', b'b'],
            &[0xc0],
            &long,
        ];
        for (i, b) in names.iter().enumerate() {
            for start in [0, 7] {
                if start >= b.len() {
                    continue;
                }
                let read = read_name(b, start);
                let skipped = skip_name(b, start);
                assert!(skipped.text.is_empty());
                assert_eq!(
                    NameInfo {
                        text: String::new(),
                        ..read
                    },
                    skipped,
                    "name {i} at {start}"
                );
            }
        }
    }

    #[test]
    fn not_dns_on_random_port() {
        assert!(!plausible_query(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!plausible_query(&[0u8; 40]));
    }
}
