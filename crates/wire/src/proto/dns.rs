//! DNS over UDP and TCP → the `dns` table: one row per transaction (query paired with its response by
//! flow, transaction id and question); unanswered queries and unsolicited responses still get rows.
//!
//! Crate choice (evidence in `docs/dns-crate-choice.md`, reproduced by `cargo bench --bench stages -- dns`):
//! simple-dns parses the record sections (it borrows labels from the packet: no per-label allocation,
//! and unknown types come back as raw bytes for RFC 3597 rendering). The header, the question and the
//! EDNS OPT record are read here from fixed offsets with a loop-safe name reader, because a tunnel
//! hunter needs the *exact* wire name (escaped, case kept, never truncated) and the best partial name
//! when a packet is damaged, which no crate returns.

use super::{ConnCtx, Dir, PerDir, StreamAnalyzer};
use crate::decode::Packet;
use crate::record::RecordSink;
use crate::record::{DnsRecord, Record};
use simple_dns::rdata::RData;

/// Facts about a wire name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameInfo {
    /// Presentation form: labels joined by '.', bytes outside `!`..`~`, '.' and '\' as `\DDD`.
    pub text: String,
    /// Label bytes plus separating dots.
    pub len: u32,
    pub labels: u32,
    pub max_label: u32,
    /// Offset just after the name at its original position.
    pub end: usize,
    /// Damage found while reading (weird name), with the partial name kept in `text`.
    pub err: Option<&'static str>,
}

const MAX_POINTER_JUMPS: usize = 64;

/// Read a (possibly compressed) name at `start`. Pointers must point strictly backwards from the
/// label that holds them, so loops are impossible; at most [`MAX_POINTER_JUMPS`] jumps.
pub fn read_name(msg: &[u8], start: usize) -> NameInfo {
    let mut n = NameInfo::default();
    let mut pos = start;
    let mut jumped = false;
    let mut jumps = 0;
    let mut lowest = start;
    loop {
        let Some(&len) = msg.get(pos) else {
            n.err = Some("dns_name_truncated");
            if !jumped {
                n.end = msg.len();
            }
            return n;
        };
        match len & 0xc0 {
            0x00 => {
                if len == 0 {
                    if !jumped {
                        n.end = pos + 1;
                    }
                    if n.len > 253 && n.err.is_none() {
                        n.err = Some("dns_name_too_long");
                    }
                    return n;
                }
                let l = len as usize;
                let Some(label) = msg.get(pos + 1..pos + 1 + l) else {
                    n.err = Some("dns_name_truncated");
                    if !jumped {
                        n.end = msg.len();
                    }
                    return n;
                };
                if n.labels > 0 {
                    n.text.push('.');
                    n.len += 1;
                }
                escape_label(label, &mut n.text);
                n.labels += 1;
                n.len += l as u32;
                n.max_label = n.max_label.max(l as u32);
                pos += 1 + l;
            }
            0xc0 => {
                let Some(&lo) = msg.get(pos + 1) else {
                    n.err = Some("dns_name_truncated");
                    if !jumped {
                        n.end = msg.len();
                    }
                    return n;
                };
                let target = (((len & 0x3f) as usize) << 8) | lo as usize;
                if !jumped {
                    n.end = pos + 2;
                }
                jumps += 1;
                if target >= lowest || jumps > MAX_POINTER_JUMPS {
                    n.err = Some("dns_compression_loop");
                    return n;
                }
                lowest = target;
                jumped = true;
                pos = target;
            }
            _ => {
                // 0x40 / 0x80: extended or reserved label types (a "label over 63 bytes")
                n.err = Some("dns_label_too_long");
                if !jumped {
                    n.end = msg.len();
                }
                return n;
            }
        }
    }
}

fn escape_label(label: &[u8], out: &mut String) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x21..=0x7e => out.push(b as char),
            _ => {
                out.push('\\');
                out.push_str(&format!("{b:03}"));
            }
        }
    }
}

pub fn qtype_name(t: u16) -> String {
    let s = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        28 => "AAAA",
        29 => "LOC",
        33 => "SRV",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "*",
        256 => "URI",
        257 => "CAA",
        32768 => "TA",
        32769 => "DLV",
        _ => return format!("TYPE{t}"),
    };
    s.to_string()
}

pub fn qclass_name(c: u16) -> String {
    match c & 0x7fff {
        1 => "C_INTERNET".into(),
        3 => "C_CHAOS".into(),
        4 => "C_HESIOD".into(),
        254 => "C_NONE".into(),
        255 => "C_ANY".into(),
        x => format!("CLASS{x}"),
    }
}

pub fn rcode_name(r: u8) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "RCODE_UNKNOWN",
    }
}

#[derive(Debug, Clone, Default)]
pub struct Edns {
    pub udp_size: u16,
    pub do_bit: bool,
    pub client_subnet: Option<String>,
}

/// A parsed DNS message (header, first question, EDNS and rendered answers).
#[derive(Debug, Clone, Default)]
pub struct Msg {
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: u8,
    pub rcode: u8,
    pub counts: [u16; 4],
    pub qname: Option<NameInfo>,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    pub answers: Vec<String>,
    pub ttls: Vec<u32>,
    pub answer_types: Vec<String>,
    pub size: u32,
    /// Damage: (weird name, details).
    pub weird: Option<(&'static str, String)>,
}

use crate::bytes::{array, be16};

/// Parse a message. `None` only when there is not even a header.
pub fn parse_msg(b: &[u8], with_answers: bool) -> Option<Msg> {
    if b.len() < 12 {
        return None;
    }
    let flags = be16(b, 2)?;
    let mut m = Msg {
        id: be16(b, 0)?,
        qr: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        aa: flags & 0x0400 != 0,
        tc: flags & 0x0200 != 0,
        rd: flags & 0x0100 != 0,
        ra: flags & 0x0080 != 0,
        z: ((flags >> 6) & 1) as u8,
        rcode: (flags & 0xf) as u8,
        counts: [be16(b, 4)?, be16(b, 6)?, be16(b, 8)?, be16(b, 10)?],
        size: b.len() as u32,
        ..Default::default()
    };
    let mut pos = 12;
    if m.counts[0] > 0 {
        let n = read_name(b, pos);
        if let Some(e) = n.err {
            m.weird = Some((e, format!("query name so far: {}", n.text)));
        }
        pos = n.end;
        m.qtype = be16(b, pos).unwrap_or(0);
        m.qclass = be16(b, pos + 2).unwrap_or(0);
        if b.len() < pos + 4 && m.weird.is_none() {
            m.weird = Some(("dns_truncated_question", String::new()));
        }
        m.qname = Some(n);
        pos += 4;
    }
    if m.weird.is_some() {
        return Some(m);
    }
    // skip the other questions, walk the record sections for the OPT record (raw, cheap)
    for _ in 1..m.counts[0] {
        let n = read_name(b, pos);
        if n.err.is_some() {
            return Some(m);
        }
        pos = n.end + 4;
    }
    let rr_total = m.counts[1] as usize + m.counts[2] as usize + m.counts[3] as usize;
    // (type, ttl, rdata offset, rdata length) of each answer, from a raw walk of all records
    let mut raw_answers: Vec<(u16, u32, usize, usize)> = Vec::new();
    let mut walked = 0;
    for i in 0..rr_total {
        let n = read_name(b, pos);
        if n.err.is_some() {
            break;
        }
        let p = n.end;
        let (Some(t), Some(class), Some(ttl_hi), Some(ttl_lo), Some(rdlen)) = (
            be16(b, p),
            be16(b, p + 2),
            be16(b, p + 4),
            be16(b, p + 6),
            be16(b, p + 8),
        ) else {
            break;
        };
        let rd = p + 10;
        if rd + rdlen as usize > b.len() {
            break;
        }
        walked += 1;
        if i < m.counts[1] as usize {
            raw_answers.push((t, (ttl_hi as u32) << 16 | ttl_lo as u32, rd, rdlen as usize));
        }
        if i >= m.counts[1] as usize + m.counts[2] as usize && t == 41 {
            let mut e = Edns {
                udp_size: class,
                do_bit: be16(b, p + 6).unwrap_or(0) & 0x8000 != 0,
                client_subnet: None,
            };
            let _ = ttl_hi;
            let mut o = rd;
            let end = (rd + rdlen as usize).min(b.len());
            while o + 4 <= end {
                let (code, len) = (
                    be16(b, o).unwrap_or(0),
                    be16(b, o + 2).unwrap_or(0) as usize,
                );
                if code == 8
                    && let Some(d) = b.get(o + 4..(o + 4 + len).min(end))
                {
                    e.client_subnet = ecs_text(d);
                }
                o += 4 + len;
            }
            m.edns = Some(e);
        }
        pos = rd + rdlen as usize;
    }
    if walked < rr_total {
        m.weird = Some((
            "dns_malformed_records",
            format!("{walked} of {rr_total} records readable"),
        ));
        return Some(m);
    }
    if pos < b.len() {
        m.weird = Some((
            "dns_trailing_bytes",
            format!("{} bytes after the last record", b.len() - pos),
        ));
    }
    if with_answers && m.counts[1] > 0 {
        match simple_dns::Packet::parse(b) {
            Ok(p) if p.answers.len() == raw_answers.len() => {
                for (rr, &(_, _, off, len)) in p.answers.iter().zip(&raw_answers) {
                    let code: u16 = rr.rdata.type_code().into();
                    m.answer_types.push(qtype_name(code));
                    m.ttls.push(rr.ttl);
                    m.answers.push(render_rdata(
                        &rr.rdata,
                        code,
                        b.get(off..off + len).unwrap_or(&[]),
                    ));
                }
            }
            // simple-dns rejects some valid records (seen: DNSSEC types); the raw walk still
            // renders every answer, common types in presentation form, the rest per RFC 3597
            _ => {
                for &(t, ttl, off, len) in &raw_answers {
                    m.answer_types.push(qtype_name(t));
                    m.ttls.push(ttl);
                    m.answers.push(render_raw(b, t, off, len));
                }
            }
        }
    }
    Some(m)
}

/// HTTPS/SVCB (RFC 9460) presentation form: priority, target and the SvcParams.
fn render_svcb(rd: &[u8]) -> String {
    let Some(prio) = be16(rd, 0) else {
        return rfc3597(64, rd);
    };
    let target = read_name(rd, 2);
    if target.err.is_some() {
        return rfc3597(64, rd);
    }
    let mut out = format!(
        "{prio} {}",
        if target.text.is_empty() {
            "."
        } else {
            &target.text
        }
    );
    let mut i = target.end;
    while i + 4 <= rd.len() {
        let (key, len) = (
            be16(rd, i).unwrap_or(0),
            be16(rd, i + 2).unwrap_or(0) as usize,
        );
        let Some(v) = rd.get(i + 4..i + 4 + len) else {
            break;
        };
        let val = match key {
            0 => format!(
                "mandatory={}",
                v.chunks_exact(2)
                    .filter_map(|c| be16(c, 0))
                    .map(|k| format!("key{k}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            1 => {
                let mut ids = Vec::new();
                let mut j = 0;
                while let Some(&l) = v.get(j) {
                    let l = l as usize;
                    ids.push(crate::proto::escape_bytes(
                        v.get(j + 1..(j + 1 + l).min(v.len())).unwrap_or(&[]),
                    ));
                    j += 1 + l;
                }
                format!("alpn={}", ids.join(","))
            }
            2 => "no-default-alpn".to_string(),
            3 if len == 2 => format!("port={}", be16(v, 0).unwrap_or(0)),
            4 => format!(
                "ipv4hint={}",
                v.chunks_exact(4)
                    .filter_map(|c| array::<4>(c, 0))
                    .map(|a| std::net::Ipv4Addr::from(a).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            5 => {
                use base64::Engine;
                format!(
                    "ech={}",
                    base64::engine::general_purpose::STANDARD.encode(v)
                )
            }
            6 => format!(
                "ipv6hint={}",
                v.chunks_exact(16)
                    .filter_map(|c| array::<16>(c, 0))
                    .map(|a| std::net::Ipv6Addr::from(a).to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            k => format!("key{k}={}", crate::capture::hex(v)),
        };
        out.push(' ');
        out.push_str(&val);
        i += 4 + len;
    }
    out
}

/// Presentation form from raw record data (the fallback when the crate rejects a record).
fn render_raw(msg: &[u8], t: u16, off: usize, len: usize) -> String {
    let rd = msg.get(off..off + len).unwrap_or(&[]);
    match (t, rd.len()) {
        (1, 4) => {
            array::<4>(rd, 0).map_or_else(String::new, |a| std::net::Ipv4Addr::from(a).to_string())
        }
        (28, 16) => {
            array::<16>(rd, 0).map_or_else(String::new, |a| std::net::Ipv6Addr::from(a).to_string())
        }
        (2 | 5 | 12, _) => read_name(msg, off).text,
        (15, 3..) => format!(
            "{} {}",
            be16(rd, 0).unwrap_or(0),
            read_name(msg, off + 2).text
        ),
        (64 | 65, _) => render_svcb(rd),
        (16, _) => {
            let mut parts = Vec::new();
            let mut i = 0;
            while let Some(&l) = rd.get(i) {
                let l = l as usize;
                parts.push(char_string(
                    rd.get(i + 1..(i + 1 + l).min(rd.len())).unwrap_or(&[]),
                ));
                i += 1 + l;
            }
            parts.join(" ")
        }
        _ => rfc3597(t, rd),
    }
}

fn ecs_text(d: &[u8]) -> Option<String> {
    let family = be16(d, 0)?;
    let prefix = *d.get(2)?;
    let addr = d.get(4..).unwrap_or(&[]);
    match family {
        1 => {
            let mut o = [0u8; 4];
            for (o, x) in o.iter_mut().zip(addr) {
                *o = *x;
            }
            Some(format!("{}/{}", std::net::Ipv4Addr::from(o), prefix))
        }
        2 => {
            let mut o = [0u8; 16];
            for (o, x) in o.iter_mut().zip(addr) {
                *o = *x;
            }
            Some(format!("{}/{}", std::net::Ipv6Addr::from(o), prefix))
        }
        _ => None,
    }
}

fn name_text(n: &simple_dns::Name<'_>) -> String {
    let mut s = String::new();
    for (i, l) in n.as_bytes().enumerate() {
        if i > 0 {
            s.push('.');
        }
        escape_label(l, &mut s);
    }
    s
}

fn char_string(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'"' | b'\\' => {
                s.push('\\');
                s.push(c as char);
            }
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\{c:03}")),
        }
    }
    s.push('"');
    s
}

fn rfc3597(code: u16, bytes: &[u8]) -> String {
    let _ = code;
    if bytes.is_empty() {
        return "\\# 0".into();
    }
    format!("\\# {} {}", bytes.len(), crate::capture::hex(bytes))
}

/// Render record data in presentation form; types without a dedicated form use RFC 3597 `\#`.
pub fn render_rdata(r: &RData<'_>, code: u16, raw: &[u8]) -> String {
    match r {
        RData::A(a) => std::net::Ipv4Addr::from(a.address).to_string(),
        RData::AAAA(a) => std::net::Ipv6Addr::from(a.address).to_string(),
        RData::CNAME(n) => name_text(&n.0),
        RData::NS(n) => name_text(&n.0),
        RData::PTR(n) => name_text(&n.0),
        RData::MX(m) => format!("{} {}", m.preference, name_text(&m.exchange)),
        RData::SRV(s) => format!(
            "{} {} {} {}",
            s.priority,
            s.weight,
            s.port,
            name_text(&s.target)
        ),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            name_text(&s.mname),
            name_text(&s.rname),
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        ),
        RData::TXT(t) => t
            .iter_raw()
            .map(|(k, v)| match v {
                Some(v) => char_string(&[k, b"=", v].concat()),
                None => char_string(k),
            })
            .collect::<Vec<_>>()
            .join(" "),
        RData::NULL(_, n) => rfc3597(code, n.get_data()),
        // SvcParams are private in simple-dns: render HTTPS/SVCB from the raw rdata
        RData::HTTPS(_) | RData::SVCB(_) => render_svcb(raw),
        RData::CAA(c) => format!("{} {} {}", c.flag, c.tag, char_string(&c.value)),
        _ => rfc3597(code, raw),
    }
}

/// One transaction in progress.
#[derive(Debug, Clone)]
struct Txn {
    ts: i64,
    q: Option<Msg>,
    r: Option<Msg>,
    r_ts: i64,
}

/// Pending queries kept per flow before the oldest is written unanswered.
const MAX_PENDING: usize = 256;

/// Per-flow DNS state shared by UDP and TCP.
#[derive(Default)]
pub struct DnsState {
    pending: Vec<Txn>,
    pub rows: u64,
}

impl DnsState {
    fn message(
        &mut self,
        ts: i64,
        frame: Option<u64>,
        b: &[u8],
        truncated: bool,
        proto: &'static str,
        ctx: &ConnCtx,
        out: &mut dyn RecordSink,
    ) {
        let Some(mut m) = parse_msg(b, true) else {
            out.weird(
                ts,
                Some(&ctx.uid),
                "dns_message_too_short",
                &format!("{} bytes", b.len()),
                frame,
            );
            return;
        };
        if truncated && m.weird.is_none() {
            m.weird = Some((
                "dns_truncated_message",
                format!("{} bytes captured of a longer datagram", b.len()),
            ));
        }
        if let Some((w, addl)) = &m.weird {
            out.weird(
                ts,
                Some(&ctx.uid),
                w,
                &crate::proto::escape_bytes(addl.as_bytes()),
                frame,
            );
        }
        if !m.qr {
            if self.pending.len() >= MAX_PENDING {
                let t = self.pending.remove(0);
                self.emit(t, proto, ctx, out);
            }
            self.pending.push(Txn {
                ts,
                q: Some(m),
                r: None,
                r_ts: 0,
            });
        } else {
            let qn = m.qname.as_ref().map(|n| n.text.as_str());
            let found = self.pending.iter().position(|t| {
                t.q.as_ref().is_some_and(|q| {
                    q.id == m.id
                        && q.qname.as_ref().map(|n| n.text.as_str()) == qn
                        && q.qtype == m.qtype
                })
            });
            match found {
                Some(i) => {
                    let mut t = self.pending.remove(i);
                    t.r = Some(m);
                    t.r_ts = ts;
                    self.emit(t, proto, ctx, out);
                }
                None => self.emit(
                    Txn {
                        ts,
                        q: None,
                        r: Some(m),
                        r_ts: ts,
                    },
                    proto,
                    ctx,
                    out,
                ),
            }
        }
    }

    fn emit(&mut self, t: Txn, proto: &'static str, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        self.rows += 1;
        let Some(main) = t.q.as_ref().or(t.r.as_ref()) else {
            return;
        };
        let qn = main.qname.as_ref();
        let has_q = qn.is_some();
        let r = t.r.as_ref();
        let edns = t.q.as_ref().and_then(|q| q.edns.as_ref());
        let qclass = has_q.then(|| qclass_name(main.qclass));
        let qtype = has_q.then(|| qtype_name(main.qtype));
        let damage =
            t.q.as_ref()
                .and_then(|q| q.weird.as_ref())
                .or_else(|| r.and_then(|r| r.weird.as_ref()))
                .map(|w| w.0);
        out.record(Record::Dns(DnsRecord {
            ts: t.ts,
            uid: &ctx.uid,
            orig_h: ctx.orig_h,
            orig_p: ctx.orig_p,
            resp_h: ctx.resp_h,
            resp_p: ctx.resp_p,
            proto,
            trans_id: main.id,
            rtt: (t.q.is_some() && t.r.is_some()).then(|| (t.r_ts - t.ts) as f64 / 1e6),
            query: qn.map(|n| n.text.as_str()),
            qclass: has_q.then_some(main.qclass),
            qclass_name: qclass.as_deref(),
            qtype: has_q.then_some(main.qtype),
            qtype_name: qtype.as_deref(),
            rcode: r.map(|r| r.rcode),
            rcode_name: r.map(|r| rcode_name(r.rcode)),
            AA: r.map(|r| r.aa),
            TC: r.map(|r| r.tc),
            RD: main.rd,
            RA: r.map(|r| r.ra),
            Z: main.z,
            answers: r.map(|r| r.answers.as_slice()),
            TTLs: r.map(|r| r.ttls.as_slice()),
            answer_types: r.map(|r| r.answer_types.as_slice()),
            rejected: r.map(|r| r.rcode != 0),
            query_len: qn.map(|n| n.len),
            label_count: qn.map(|n| n.labels),
            max_label_len: qn.map(|n| n.max_label),
            answer_count: r.map(|r| r.counts[1]),
            authority_count: r.map(|r| r.counts[2]),
            additional_count: r.map(|r| r.counts[3]),
            request_bytes: t.q.as_ref().map(|q| q.size),
            response_bytes: r.map(|r| r.size),
            edns_udp_size: edns.map(|e| e.udp_size),
            edns_do: edns.map(|e| e.do_bit),
            edns_client_subnet: edns.and_then(|e| e.client_subnet.as_deref()),
            has_query: t.q.is_some(),
            has_response: t.r.is_some(),
            damage,
            source: &ctx.source,
        }));
    }

    fn finish(&mut self, proto: &'static str, ctx: &ConnCtx, out: &mut dyn RecordSink) {
        for t in std::mem::take(&mut self.pending) {
            self.emit(t, proto, ctx, out);
        }
    }
}

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
        self.state
            .message(p.ts, Some(p.frame), p.payload, p.truncated, "udp", ctx, out);
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
    fn service(&self) -> &'static str {
        "dns"
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
            self.state.message(ts, None, &msg, false, "tcp", ctx, out);
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
    fn not_dns_on_random_port() {
        assert!(!plausible_query(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!plausible_query(&[0u8; 40]));
    }
}
