//! The DNS message as it is on the wire: header, question, EDNS OPT, answer sections, and a
//! loop-safe name reader that keeps the exact wire name (escaped, case kept) and the best partial
//! name of a damaged packet.

use super::render::{ecs_text, qtype_name, render_raw, render_rdata};
use crate::bytes::be16;

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
    // one allocation for most names (growing from empty took three or four)
    let mut text = String::with_capacity(64);
    let mut first = true;
    let mut n = walk_name(msg, start, |label| {
        if !first {
            text.push('.');
        }
        first = false;
        escape_label(label, &mut text);
    });
    n.text = text;
    n
}

/// [`read_name`] without the text: where a name ends, and whether it is damaged (walking past
/// the records of a message: no allocation, no escaping).
pub fn skip_name(msg: &[u8], start: usize) -> NameInfo {
    walk_name(msg, start, |_| {})
}

/// The name reader's walk: each label in order to `on_label`; the returned facts have no text.
#[inline]
fn walk_name(msg: &[u8], start: usize, mut on_label: impl FnMut(&[u8])) -> NameInfo {
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
                    n.len += 1;
                }
                on_label(label);
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

pub(super) fn escape_label(label: &[u8], out: &mut String) {
    for &b in label {
        match b {
            b'.' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x21..=0x7e => out.push(b as char),
            _ => {
                out.push('\\');
                for d in [b / 100, b / 10 % 10, b % 10] {
                    out.push(char::from(b'0' + d));
                }
            }
        }
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
    pub answer_types: Vec<std::borrow::Cow<'static, str>>,
    pub size: u32,
    /// Damage: (weird name, details).
    pub weird: Option<(&'static str, String)>,
}

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
        let n = skip_name(b, pos);
        if n.err.is_some() {
            return Some(m);
        }
        pos = n.end + 4;
    }
    let rr_total = m.counts[1] as usize + m.counts[2] as usize + m.counts[3] as usize;
    // (type, ttl, rdata offset, rdata length) of each answer, from a raw walk of all records
    // (the count is the sender's: bounded by what the message can hold, 11 bytes a record at least)
    let mut raw_answers: Vec<(u16, u32, usize, usize)> =
        Vec::with_capacity((m.counts[1] as usize).min(b.len() / 11));
    let mut walked = 0;
    for i in 0..rr_total {
        let n = skip_name(b, pos);
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
        // answers that are all addresses (the commonest response) are rendered from the raw walk:
        // the same text without parsing the message a second time
        let addresses_only = raw_answers
            .iter()
            .all(|&(t, _, _, len)| matches!((t, len), (1, 4) | (28, 16)));
        let parsed = if addresses_only {
            None
        } else {
            simple_dns::Packet::parse(b).ok()
        };
        match parsed {
            Some(p) if p.answers.len() == raw_answers.len() => {
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
