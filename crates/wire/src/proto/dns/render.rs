//! DNS values as text: type, class and rcode names, record data in presentation format (RFC 3597
//! `\\#` for unknown types), SVCB/HTTPS parameters, EDNS client subnet.
use std::borrow::Cow;

use super::wire::{escape_label, read_name};
use crate::bytes::{array, be16};
use simple_dns::rdata::RData;

/// The type's mnemonic; a borrowed constant for every known type (no allocation per row).
pub fn qtype_name(t: u16) -> Cow<'static, str> {
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
        _ => return Cow::Owned(format!("TYPE{t}")),
    };
    Cow::Borrowed(s)
}

pub fn qclass_name(c: u16) -> Cow<'static, str> {
    Cow::Borrowed(match c & 0x7fff {
        1 => "C_INTERNET",
        3 => "C_CHAOS",
        4 => "C_HESIOD",
        254 => "C_NONE",
        255 => "C_ANY",
        x => return Cow::Owned(format!("CLASS{x}")),
    })
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

/// HTTPS/SVCB (RFC 9460) presentation form: priority, target and the SvcParams.
pub(super) fn render_svcb(rd: &[u8]) -> String {
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
pub(super) fn render_raw(msg: &[u8], t: u16, off: usize, len: usize) -> String {
    let rd = msg.get(off..off + len).unwrap_or(&[]);
    match (t, rd.len()) {
        (1, 4) => array::<4>(rd, 0).map_or_else(String::new, |a| {
            crate::record::Ipv4Text::new(a.into()).as_str().to_string()
        }),
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

pub(super) fn ecs_text(d: &[u8]) -> Option<String> {
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
    let mut s = String::with_capacity(64);
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
        RData::A(a) => crate::record::Ipv4Text::new(a.address.into())
            .as_str()
            .to_string(),
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
