//! Security UDFs, all null-safe (NULL in → NULL out). Every function takes any string-like input
//! (Utf8, Utf8View, LargeUtf8, dictionaries) by casting to Utf8 first.
//!
//! | function | returns | meaning |
//! |---|---|---|
//! | `registered_domain(name)` | string | registrable domain (eTLD+1) from the public suffix list compiled into the `psl` crate (no network at run time); lower-cased, trailing dot ignored; an unknown suffix counts as one label (`a.b.local` → `b.local`); NULL for single labels |
//! | `subdomain(name)` | string | the name minus its registered domain ('' when none), case kept |
//! | `shannon_entropy(text)` | float64 | bits per byte |
//! | `normalized_entropy(text)` | float64 | entropy / log2(min(len, alphabet)), alphabet from `charset_class` (hex 16, base32 32, alnum 36, base64 64, other 95); 0..1, length-fair |
//! | `charset_class(text)` | string | 'hex', 'base32', 'base64', 'alnum' or 'other' (dots ignored; see [`charset_class`]) |
//! | `encoded_rdata(rdata, domain)` | bool | one answer record carries an encoded blob: RFC 3597 generic data (`\\# N hex`, NULL and unnamed types) of 8+ bytes, a TXT string of 10+ hex/base32/base64 characters, or a name (CNAME, MX, NS, SRV target) under `domain` whose subdomain is 10+ such characters |
//! | `decoded_file_type(name)` | string | the file format whose header (3+ bytes: gzip, zip, PE, ELF, PDF, 7z, RAR, xz, zstd, PNG, JPEG, OLE, Mach-O, SQLite, PEM) a label of 16+ characters decodes to as hex, base32 or base64 (see [`decoded_file_type`]) |
//! | `label_count(name)` / `max_label_len(name)` | uint32 | labels / longest label (escaped dots `\.` stay inside a label) |
//! | `is_private_ip(ip)` | bool | RFC 1918, CGNAT, loopback, link-local, ULA |
//! | `cidr_match(ip, cidr)` | bool | address inside the prefix (v4 or v6) |
//! | `ip_prefixes(ip)` | list<string> | every prefix holding the address, `/32` (`/128`) down to `/0`, network address first: equi-join with CIDR lists |
//! | `domain_suffixes(name)` | list<string> | the name and its parents of two labels or more, lower-cased: equi-join with domain lists that cover subdomains |
//! | `geo_country(ip)`, `geo_asn(ip)`, `geo_as_org(ip)` | string, uint32, string | from `--geoip` MaxMind DBs ([`super::geo`]) |
//! | `host_address(host)` | string | the address a Host header names literally (`1.2.3.4:8080`, `[::1]:80`); NULL for a name |
//! | `ip_version(ip)` | uint8 | 4 or 6, NULL when not an address |
//! | `info_content(text)` (aggregate) | int64 | zlib-compressed length of the sorted distinct values joined by newlines (Elastic's high_info_content semantics) |

use arrow::array::*;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    Accumulator, ColumnarValue, ScalarUDF, Volatility, create_udaf, create_udf,
};
use datafusion::prelude::SessionContext;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

pub const PSL_CRATE_VERSION: &str = "psl 2.1.247";

/// Function documentation for `wirehunt schema --functions` and the README.
pub const FUNCTIONS: &[(&str, &str, &str)] = &[
    (
        "registered_domain(name)",
        "string",
        "registrable domain (eTLD+1) from the embedded public suffix list; lower-cased, trailing dot ignored; unknown suffixes count as one label; NULL for a single label",
    ),
    (
        "subdomain(name)",
        "string",
        "the name minus its registered domain ('' when none), case kept",
    ),
    (
        "shannon_entropy(text)",
        "float64",
        "Shannon entropy in bits per byte",
    ),
    (
        "normalized_entropy(text)",
        "float64",
        "entropy / log2(min(length, alphabet size of its charset_class)), in 0..1; fair across lengths",
    ),
    (
        "charset_class(text)",
        "string",
        "'hex' | 'base32' | 'base64' | 'alnum' | 'other' (dots ignored)",
    ),
    (
        "encoded_rdata(rdata, domain)",
        "bool",
        "the answer record (a dns.answers element) carries an encoded blob: generic RFC 3597 data (NULL and unnamed types) of 8+ bytes, a TXT string of 10+ hex/base32/base64 characters, or a CNAME/MX/NS/SRV target under `domain` whose subdomain is 10+ such characters: data coming back, as in a two-way tunnel",
    ),
    (
        "decoded_file_type(name)",
        "string",
        "the file format (gzip, zip, pe, elf, pdf, 7z, rar, xz, zstd, png, jpeg, ole, mach-o, sqlite, pem) whose header a label of 16+ characters decodes to as hex, base32 or base64: a file carried in a DNS name; NULL otherwise",
    ),
    ("label_count(name)", "uint32", "number of labels"),
    (
        "max_label_len(name)",
        "uint32",
        "length of the longest label",
    ),
    (
        "is_private_ip(ip)",
        "bool",
        "RFC 1918, CGNAT 100.64/10, loopback, link-local, IPv6 ULA",
    ),
    ("cidr_match(ip, cidr)", "bool", "address inside the prefix"),
    (
        "ip_prefixes(ip)",
        "list<string>",
        "every prefix holding the address, /32 (/128) down to /0, as network/length: `unnest` it to equi-join addresses with a CIDR list",
    ),
    (
        "domain_suffixes(name)",
        "list<string>",
        "the name and each parent of two labels or more, lower-cased, trailing dot dropped: `unnest` it to equi-join names with a domain list that covers subdomains",
    ),
    (
        "community_id(orig_h, orig_p, resp_h, resp_p, proto)",
        "string",
        "Community ID v1, seed 0 (proto: tcp, udp, icmp, icmp6, sctp or the IP protocol number; for ICMP the ports are type and code): joins rows with Zeek and Suricata records",
    ),
    (
        "host_address(host)",
        "string",
        "the IP address an HTTP Host header (host, host:port, [v6]:port) names literally; NULL for a name",
    ),
    (
        "ip_version(ip)",
        "uint8",
        "4 or 6; NULL when not an address",
    ),
    (
        "geo_country(ip)",
        "string",
        "ISO country code of a public address from the --geoip database(s); NULL for private addresses, unknown ones, or without --geoip",
    ),
    (
        "geo_asn(ip)",
        "uint32",
        "autonomous system number of a public address from the --geoip database(s) (an ASN database); NULL otherwise",
    ),
    (
        "geo_as_org(ip)",
        "string",
        "autonomous system organisation of a public address (an ASN database); NULL otherwise",
    ),
    (
        "info_content(text) [aggregate]",
        "int64",
        "zlib-compressed length of the sorted distinct values joined by newlines (Elastic high_info_content)",
    ),
];

fn strings(v: &ColumnarValue, n: usize) -> Result<StringArray> {
    let arr = v.to_array(n)?;
    let arr = arrow::compute::cast(&arr, &DataType::Utf8)?;
    Ok(arr
        .as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .unwrap_or_else(|| StringArray::new_null(n)))
}

fn num_rows(args: &[ColumnarValue]) -> usize {
    args.iter()
        .find_map(|a| match a {
            ColumnarValue::Array(a) => Some(a.len()),
            _ => None,
        })
        .unwrap_or(1)
}

fn finish(arr: ArrayRef, args: &[ColumnarValue]) -> Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&arr, 0)?))
    } else {
        Ok(ColumnarValue::Array(arr))
    }
}

macro_rules! str_udf {
    ($name:literal, $ret:expr, $builder:ty, $f:expr) => {
        create_udf(
            $name,
            vec![DataType::Utf8],
            $ret,
            Volatility::Immutable,
            Arc::new(move |args: &[ColumnarValue]| {
                let n = num_rows(args);
                let s = strings(&args[0], n)?;
                let mut b = <$builder>::new();
                for v in s.iter() {
                    b.append_option(v.and_then($f));
                }
                finish(Arc::new(b.finish()), args)
            }),
        )
    };
}

/// Split a presentation-form name into labels, honouring `\.` escapes.
pub fn labels(name: &str) -> Vec<&str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Vec::new();
    }
    let b = name.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'.' {
            out.push(&name[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&name[start.min(name.len())..]);
    out
}

pub fn registered_domain(name: &str) -> Option<String> {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if lower.is_empty() || !lower.contains('.') {
        return None;
    }
    let d = psl::domain(lower.as_bytes())?;
    std::str::from_utf8(d.as_bytes()).ok().map(String::from)
}

pub fn subdomain(name: &str) -> Option<String> {
    let trimmed = name.trim_end_matches('.');
    let rd = registered_domain(trimmed)?;
    if trimmed.len() <= rd.len() {
        return Some(String::new());
    }
    let cut = trimmed.len() - rd.len();
    Some(trimmed[..cut].trim_end_matches('.').to_string())
}

pub fn shannon_entropy(s: &str) -> f64 {
    let b = s.as_bytes();
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &c in b {
        counts[c as usize] += 1;
    }
    let n = b.len() as f64;
    let h: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    if h > 0.0 { h } else { 0.0 }
}

/// Character-set class of a string (dots ignored):
/// - `hex`: only 0-9a-f (one case), with at least one digit and one letter;
/// - `base32`: only a-z2-7 (one case, `=` padding allowed), with at least one of 2-7, not hex;
/// - `alnum`: letters, digits and '-' of one case (words, host names, numbers);
/// - `base64`: A-Za-z0-9 plus + / _ - =, with both cases and at least one digit or symbol;
/// - `other`: anything else (including empty).
pub fn charset_class(s: &str) -> &'static str {
    let b: Vec<u8> = s.bytes().filter(|c| *c != b'.').collect();
    if b.is_empty() {
        return "other";
    }
    let has_digit = b.iter().any(u8::is_ascii_digit);
    let has_lower = b.iter().any(u8::is_ascii_lowercase);
    let has_upper = b.iter().any(u8::is_ascii_uppercase);
    let one_case = !(has_lower && has_upper);
    if one_case
        && has_digit
        && b.iter().all(u8::is_ascii_hexdigit)
        && b.iter().any(u8::is_ascii_alphabetic)
    {
        return "hex";
    }
    if one_case
        && b.iter()
            .all(|c| c.is_ascii_alphabetic() || (b'2'..=b'7').contains(c) || *c == b'=')
        && b.iter().any(|c| (b'2'..=b'7').contains(c))
    {
        return "base32";
    }
    if one_case && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return "alnum";
    }
    if b.iter()
        .all(|c| c.is_ascii_alphanumeric() || b"+/_-=".contains(c))
        && has_lower
        && has_upper
        && (has_digit || b.iter().any(|c| b"+/_-=".contains(c)))
    {
        return "base64";
    }
    "other"
}

/// File headers a decoded DNS label is compared with: formats worth carrying out of a network (or
/// into it), each 3 bytes or more so that a random label matches by chance at most once in 16 million
/// (the `infer` crate's table also holds 2-byte magics such as `MZ`, too short for random labels).
const FILE_HEADERS: &[(&[u8], &str)] = &[
    (&[0x1f, 0x8b, 0x08], "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"MZ\x90\x00", "pe"),
    (b"MZP\x00", "pe"),
    (b"\x7fELF", "elf"),
    (b"%PDF-", "pdf"),
    (&[0x37, 0x7a, 0xbc, 0xaf, 0x27], "7z"),
    (b"Rar!\x1a", "rar"),
    (&[0xfd, 0x37, 0x7a, 0x58, 0x5a], "xz"),
    (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
    (&[0x89, b'P', b'N', b'G'], "png"),
    (&[0xff, 0xd8, 0xff], "jpeg"),
    (&[0xd0, 0xcf, 0x11, 0xe0], "ole"),
    (&[0xcf, 0xfa, 0xed, 0xfe], "mach-o"),
    (&[0xce, 0xfa, 0xed, 0xfe], "mach-o"),
    (&[0xca, 0xfe, 0xba, 0xbe], "mach-o"),
    (b"SQLite", "sqlite"),
    (b"-----BEGIN", "pem"),
];

/// The encodings a DNS label is decoded from.
#[derive(Clone, Copy)]
enum Alphabet {
    Hex,
    /// RFC 4648, either case
    Base32,
    /// either alphabet, and the `*` some tools put for `/`
    Base64,
}

/// Decode the start of `s` in `alphabet`: up to 16 characters, stopping at the first one not of
/// that alphabet (empty when the first is not).
fn decode_prefix(s: &[u8], alphabet: Alphabet) -> Vec<u8> {
    let (bits, val): (u32, fn(u8) -> Option<u32>) = match alphabet {
        Alphabet::Hex => (4, |c| (c as char).to_digit(16)),
        Alphabet::Base32 => (5, |c| match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32),
            b'2'..=b'7' => Some((c - b'2') as u32 + 26),
            _ => None,
        }),
        Alphabet::Base64 => (6, |c| match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' | b'*' => Some(63),
            _ => None,
        }),
    };
    let (mut acc, mut n, mut out) = (0u32, 0u32, Vec::with_capacity(12));
    for &c in s.iter().take(16) {
        let Some(v) = val(c) else { break };
        acc = (acc << bits) | v;
        n += bits;
        if n >= 8 {
            n -= 8;
            out.push((acc >> n) as u8);
            acc &= (1 << n) - 1;
        }
    }
    out
}

/// The file format whose header a label of a DNS name decodes to (hex, base32 or base64): data
/// carried in the name is a file - a gzip of a document, an archive, an executable, a PEM key - not
/// an identifier or a hash. Only labels of 16+ characters are decoded (words and host names are
/// shorter). `None` when no label decodes to a known header.
pub fn decoded_file_type(name: &str) -> Option<&'static str> {
    for l in labels(name) {
        let b = l.as_bytes();
        if b.len() < 16 {
            continue;
        }
        for alphabet in [Alphabet::Hex, Alphabet::Base32, Alphabet::Base64] {
            let d = decode_prefix(b, alphabet);
            if let Some((_, t)) = FILE_HEADERS
                .iter()
                .find(|(m, _)| d.len() >= m.len() && d.starts_with(m))
            {
                return Some(t);
            }
        }
    }
    None
}

fn is_encoded(s: &str) -> bool {
    s.len() >= 10 && matches!(charset_class(s), "hex" | "base32" | "base64")
}

/// Whether one answer record, in the `dns.answers` presentation form, carries an encoded blob: the
/// data a two-way DNS tunnel sends back. Generic RFC 3597 data (`\# 48 00ff...`: NULL records and
/// types without a text form) of 8 bytes or more; a TXT record whose strings, joined, are 10+
/// hex/base32/base64 characters (an `OK`, an SPF or DKIM policy with its spaces and `;` is not); a
/// name (CNAME, NS, PTR, the last field of MX and SRV) under `domain` whose subdomain is 10+ such
/// characters. Addresses never count: an A record cannot be told from a real answer.
pub fn encoded_rdata(rdata: &str, domain: Option<&str>) -> bool {
    let r = rdata.trim();
    if let Some(rest) = r.strip_prefix("\\# ") {
        let len = rest.split(' ').next().and_then(|n| n.parse::<usize>().ok());
        return len.is_some_and(|n| n >= 8);
    }
    if r.starts_with('"') {
        let content: String = r.split('"').skip(1).step_by(2).collect();
        return is_encoded(&content);
    }
    let name = r.rsplit(' ').next().unwrap_or(r);
    if parse_ip(name).is_some() {
        return false;
    }
    match (domain, registered_domain(name), subdomain(name)) {
        (Some(d), Some(rd), Some(sub)) => rd.eq_ignore_ascii_case(d) && is_encoded(&sub),
        _ => false,
    }
}

pub fn normalized_entropy(s: &str) -> f64 {
    let n = s.bytes().filter(|c| *c != b'.').count();
    if n < 2 {
        return 0.0;
    }
    let alphabet = match charset_class(s) {
        "hex" => 16.0,
        "base32" => 32.0,
        "alnum" => 36.0,
        "base64" => 64.0,
        _ => 95.0,
    };
    let stripped: String = s.chars().filter(|c| *c != '.').collect();
    let max = (n as f64).min(alphabet).log2();
    if max <= 0.0 {
        0.0
    } else {
        (shannon_entropy(&stripped) / max).min(1.0)
    }
}

pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// The address an HTTP Host header (or any `host[:port]`) names literally: `10.1.2.3`, `10.1.2.3:8080`,
/// `[2001:db8::1]:80`, a bare IPv6 address; None for a name. Malware and exploit kits often skip DNS.
pub fn host_address(host: &str) -> Option<IpAddr> {
    let h = host.trim();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    if let Ok(ip) = h.parse() {
        return Some(ip);
    }
    let (a, port) = h.rsplit_once(':')?;
    if port.bytes().all(|b| b.is_ascii_digit()) {
        a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        None
    }
}

pub fn cidr_match(ip: &str, cidr: &str) -> Option<bool> {
    let ip = parse_ip(ip)?;
    let (net, bits) = cidr
        .split_once('/')
        .map_or((cidr, None), |(a, b)| (a, b.trim().parse::<u32>().ok()));
    let net = parse_ip(net)?;
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            Some(u32::from(a) & mask == u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            Some(u128::from(a) & mask == u128::from(n) & mask)
        }
        _ => Some(false),
    }
}

pub fn scalar_udfs() -> Vec<ScalarUDF> {
    vec![
        str_udf!(
            "registered_domain",
            DataType::Utf8,
            StringBuilder,
            |s: &str| registered_domain(s)
        ),
        str_udf!("subdomain", DataType::Utf8, StringBuilder, |s: &str| {
            subdomain(s)
        }),
        str_udf!(
            "shannon_entropy",
            DataType::Float64,
            Float64Builder,
            |s: &str| Some(shannon_entropy(s))
        ),
        str_udf!(
            "normalized_entropy",
            DataType::Float64,
            Float64Builder,
            |s: &str| Some(normalized_entropy(s))
        ),
        str_udf!("charset_class", DataType::Utf8, StringBuilder, |s: &str| {
            Some(charset_class(s))
        }),
        str_udf!(
            "decoded_file_type",
            DataType::Utf8,
            StringBuilder,
            |s: &str| decoded_file_type(s)
        ),
        str_udf!("label_count", DataType::UInt32, UInt32Builder, |s: &str| {
            Some(labels(s).len() as u32)
        }),
        str_udf!(
            "max_label_len",
            DataType::UInt32,
            UInt32Builder,
            |s: &str| Some(labels(s).iter().map(|l| l.len()).max().unwrap_or(0) as u32)
        ),
        str_udf!(
            "is_private_ip",
            DataType::Boolean,
            BooleanBuilder,
            |s: &str| parse_ip(s).map(|ip| wirehunt_wire::flow::is_local(&ip))
        ),
        str_udf!("host_address", DataType::Utf8, StringBuilder, |s: &str| {
            host_address(s).map(|ip| ip.to_string())
        }),
        str_udf!("geo_country", DataType::Utf8, StringBuilder, |s: &str| {
            parse_ip(s).and_then(super::geo::country)
        }),
        str_udf!("geo_asn", DataType::UInt32, UInt32Builder, |s: &str| {
            parse_ip(s).and_then(super::geo::asn)
        }),
        str_udf!("geo_as_org", DataType::Utf8, StringBuilder, |s: &str| {
            parse_ip(s).and_then(super::geo::as_org)
        }),
        str_udf!("ip_version", DataType::UInt8, UInt8Builder, |s: &str| {
            parse_ip(s).map(|ip| if ip.is_ipv4() { 4u8 } else { 6u8 })
        }),
        create_udf(
            "community_id",
            vec![
                DataType::Utf8,
                DataType::Int64,
                DataType::Utf8,
                DataType::Int64,
                DataType::Utf8,
            ],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(|args: &[ColumnarValue]| {
                let n = num_rows(args);
                let (sa, sp, da, dp, pr) = (
                    strings(&args[0], n)?,
                    strings(&args[1], n)?,
                    strings(&args[2], n)?,
                    strings(&args[3], n)?,
                    strings(&args[4], n)?,
                );
                let mut b = StringBuilder::with_capacity(n, n * 32);
                for i in 0..n {
                    let get = |a: &StringArray| (!a.is_null(i)).then(|| a.value(i).to_string());
                    let v = (|| {
                        let s: std::net::IpAddr = get(&sa)?.parse().ok()?;
                        let d: std::net::IpAddr = get(&da)?.parse().ok()?;
                        use wirehunt_wire::decode::ipproto;
                        use wirehunt_wire::flow::community_id::{community_id, has_ports};
                        let proto: u8 = match get(&pr)?.to_ascii_lowercase().as_str() {
                            "tcp" => ipproto::TCP,
                            "udp" => ipproto::UDP,
                            "icmp" if s.is_ipv6() => ipproto::ICMPV6,
                            "icmp" => ipproto::ICMP,
                            "icmp6" | "ipv6-icmp" => ipproto::ICMPV6,
                            "sctp" => ipproto::SCTP,
                            other => other.parse().ok()?,
                        };
                        let ports = match (
                            get(&sp).and_then(|p| p.parse::<u16>().ok()),
                            get(&dp).and_then(|p| p.parse::<u16>().ok()),
                        ) {
                            (Some(a), Some(b)) if has_ports(proto) => Some((a, b)),
                            _ => None,
                        };
                        Some(community_id(0, s, d, proto, ports))
                    })();
                    b.append_option(v);
                }
                finish(Arc::new(b.finish()), args)
            }),
        ),
        create_udf(
            "encoded_rdata",
            vec![DataType::Utf8, DataType::Utf8],
            DataType::Boolean,
            Volatility::Immutable,
            Arc::new(|args: &[ColumnarValue]| {
                let n = num_rows(args);
                let (r, d) = (strings(&args[0], n)?, strings(&args[1], n)?);
                let mut b = BooleanBuilder::with_capacity(n);
                for (r, d) in r.iter().zip(d.iter()) {
                    b.append_option(r.map(|r| encoded_rdata(r, d)));
                }
                finish(Arc::new(b.finish()), args)
            }),
        ),
        list_udf("ip_prefixes", ip_prefixes),
        list_udf("domain_suffixes", domain_suffixes),
        create_udf(
            "cidr_match",
            vec![DataType::Utf8, DataType::Utf8],
            DataType::Boolean,
            Volatility::Immutable,
            Arc::new(|args: &[ColumnarValue]| {
                let n = num_rows(args);
                let (a, c) = (strings(&args[0], n)?, strings(&args[1], n)?);
                let mut b = BooleanBuilder::with_capacity(n);
                for (x, y) in a.iter().zip(c.iter()) {
                    b.append_option(match (x, y) {
                        (Some(x), Some(y)) => cidr_match(x, y),
                        _ => None,
                    });
                }
                finish(Arc::new(b.finish()), args)
            }),
        ),
    ]
}

/// A string -> list<string> function (NULL in, NULL out).
fn list_udf(name: &str, f: fn(&str) -> Option<Vec<String>>) -> ScalarUDF {
    let item = Arc::new(arrow::datatypes::Field::new("item", DataType::Utf8, true));
    create_udf(
        name,
        vec![DataType::Utf8],
        DataType::List(item.clone()),
        Volatility::Immutable,
        Arc::new(move |args: &[ColumnarValue]| {
            let n = num_rows(args);
            let s = strings(&args[0], n)?;
            let mut b = ListBuilder::new(StringBuilder::new()).with_field(item.clone());
            for v in s.iter() {
                match v.and_then(f) {
                    Some(list) => {
                        for x in list {
                            b.values().append_value(x);
                        }
                        b.append(true);
                    }
                    None => b.append(false),
                }
            }
            finish(Arc::new(b.finish()), args)
        }),
    )
}

/// Every prefix holding an address, longest first, in the form indicator lists use
/// (`198.51.100.7/32`, `198.51.100.6/31`, ... `0.0.0.0/0`): `unnest(ip_prefixes(a))` equi-joins
/// addresses with a CIDR list where a range join would compare every pair.
pub fn ip_prefixes(s: &str) -> Option<Vec<String>> {
    let ip = parse_ip(s)?;
    let bits = if ip.is_ipv4() { 32 } else { 128 };
    Some(
        (0..=bits)
            .rev()
            .filter_map(|n| wirehunt_wire::flow::network(ip, n).map(|net| format!("{net}/{n}")))
            .collect(),
    )
}

/// The name and each parent with two labels or more, lower-cased, trailing dot dropped
/// (`a.b.example.com` → `a.b.example.com`, `b.example.com`, `example.com`): a domain indicator
/// matches its subdomains through an equi-join on `unnest(domain_suffixes(name))`.
pub fn domain_suffixes(s: &str) -> Option<Vec<String>> {
    let lower = s.trim_end_matches('.').to_ascii_lowercase();
    if lower.is_empty() {
        return None;
    }
    let mut out = vec![lower.clone()];
    let mut rest = lower.as_str();
    while let Some((_, tail)) = rest.split_once('.') {
        if !tail.contains('.') {
            break;
        }
        out.push(tail.to_string());
        rest = tail;
    }
    Some(out)
}

/// Distinct values kept per group by `info_content` (beyond this, values are counted but ignored).
pub const INFO_CONTENT_MAX_VALUES: usize = 1 << 20;

#[derive(Debug, Default)]
struct InfoContent {
    values: BTreeSet<String>,
}

thread_local! {
    /// One deflate state per query thread, reset for each group: a new compressor allocates its
    /// window and hash tables (hundreds of KB) and DNS tunnelling evaluates one per (source, domain)
    /// and one per 5-minute window of each.
    static ZLIB: std::cell::RefCell<(flate2::Compress, Vec<u8>, Vec<u8>)> = std::cell::RefCell::new((
        flate2::Compress::new(flate2::Compression::default(), true),
        Vec::new(),
        Vec::new(),
    ));
}

/// zlib-compressed length of the sorted distinct values joined by '\n' (0 for no value).
pub fn info_content<'a>(values: impl IntoIterator<Item = &'a String>) -> i64 {
    ZLIB.with(|z| {
        let (c, input, out) = &mut *z.borrow_mut();
        input.clear();
        let mut n = 0usize;
        for v in values {
            if n > 0 {
                input.push(b'\n');
            }
            n += 1;
            input.extend_from_slice(v.as_bytes());
        }
        if n == 0 {
            return 0;
        }
        c.reset();
        out.clear();
        // a zlib stream of n bytes is at most n + 5 per 16 KB block + 6 of header and checksum
        out.reserve(input.len() + input.len() / 1000 + 64);
        loop {
            let consumed = c.total_in() as usize;
            match c.compress_vec(&input[consumed..], out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return c.total_out() as i64,
                Ok(_) => out.reserve(out.capacity().max(64)),
                Err(_) => return 0,
            }
        }
    })
}

impl InfoContent {
    fn add(&mut self, arr: &ArrayRef) -> Result<()> {
        // a group's slice of the batch, once per group and batch: cast only what is not text already
        let cast;
        let arr = if arr.data_type() == &DataType::Utf8 {
            arr
        } else {
            cast = arrow::compute::cast(arr, &DataType::Utf8)?;
            &cast
        };
        if let Some(s) = arr.as_any().downcast_ref::<StringArray>() {
            for v in s.iter().flatten() {
                if self.values.len() < INFO_CONTENT_MAX_VALUES && !self.values.contains(v) {
                    self.values.insert(v.to_string());
                }
            }
        }
        Ok(())
    }
}

impl Accumulator for InfoContent {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.values.is_empty() {
            return Ok(ScalarValue::Int64(None));
        }
        Ok(ScalarValue::Int64(Some(info_content(&self.values))))
    }
    fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.values.iter().map(|v| v.len() + 32).sum::<usize>()
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let vals: Vec<ScalarValue> = self
            .values
            .iter()
            .map(|v| ScalarValue::Utf8(Some(v.clone())))
            .collect();
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &vals,
            &DataType::Utf8,
        ))])
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if let Some(l) = states[0].as_any().downcast_ref::<ListArray>() {
            for i in 0..l.len() {
                if l.is_valid(i) {
                    self.add(&l.value(i))?;
                }
            }
        }
        Ok(())
    }
}

/// The aggregate functions.
pub fn aggregate_udfs() -> Vec<datafusion::logical_expr::AggregateUDF> {
    let state = Arc::new(vec![DataType::List(Arc::new(
        arrow::datatypes::Field::new("item", DataType::Utf8, true),
    ))]);
    vec![create_udaf(
        "info_content",
        vec![DataType::Utf8],
        Arc::new(DataType::Int64),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(InfoContent::default()))),
        state,
    )]
}

/// Register every function on a session.
pub fn register(ctx: &SessionContext) {
    for f in scalar_udfs() {
        ctx.register_udf(f);
    }
    for f in aggregate_udfs() {
        ctx.register_udaf(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The reused deflate state gives the bytes a fresh `ZlibEncoder` gives (what `info_content`
    /// computed before), for no value, one empty value, short names and inputs larger than the window
    /// and than one output reservation, evaluated one after another on the same thread.
    #[test]
    fn info_content_is_a_fresh_zlib_streams_length() {
        fn fresh(values: &[String]) -> i64 {
            if values.is_empty() {
                return 0;
            }
            let mut enc =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(values.join("\n").as_bytes()).unwrap();
            enc.finish().unwrap().len() as i64
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut cases: Vec<Vec<String>> = vec![vec![], vec![String::new()], vec!["a".into()]];
        for n in [2usize, 10, 300, 5_000, 40_000] {
            let alphabet = if n % 2 == 0 { 16 } else { 36 };
            let mut v: Vec<String> = (0..n)
                .map(|_| {
                    let len = 1 + (rnd() % 60) as usize;
                    (0..len)
                        .map(|_| char::from_digit((rnd() % alphabet) as u32, 36).unwrap())
                        .collect()
                })
                .collect();
            v.sort();
            v.dedup();
            cases.push(v);
        }
        // incompressible bytes: the output outgrows the input
        cases.push(vec![
            (0..200_000)
                .map(|_| char::from(32 + (rnd() % 95) as u8))
                .collect(),
        ]);
        for _ in 0..2 {
            for c in &cases {
                assert_eq!(info_content(c), fresh(c), "{} values", c.len());
            }
        }
        assert_eq!(info_content(&[]), 0);
        assert!(info_content(&["a".to_string()]) > 0);
    }

    #[test]
    fn domains() {
        assert_eq!(
            registered_domain("www.Example.CO.UK.").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(subdomain("a.b.Example.co.uk").as_deref(), Some("a.b"));
        assert_eq!(subdomain("example.com").as_deref(), Some(""));
        assert_eq!(registered_domain("localhost"), None);
        assert_eq!(registered_domain("x.y.local").as_deref(), Some("y.local"));
    }

    #[test]
    fn encoded_answer_records() {
        let d = Some("biillpi.com");
        // iodine's NULL answers, RFC 3597 generic form
        assert!(encoded_rdata(
            "\\# 48 00000000ffffffff55555555aaaaaaaa8163c8d2",
            d
        ));
        assert!(!encoded_rdata("\\# 4 0a000001", d));
        // dnscat2: TXT and MX answers carry hex
        assert!(encoded_rdata("\"9b3601b8d3b0b202266352ffffd59e7416\"", d));
        assert!(encoded_rdata(
            "10 611801b8d3ce2318e351d8ffffd59e7416.biillpi.com",
            d
        ));
        assert!(encoded_rdata(
            "611801b8d3ce2318e351d8ffffd59e7416.BIILLPI.com.",
            d
        ));
        // the same target under another domain, acknowledgements, policies, addresses: no
        assert!(!encoded_rdata(
            "10 611801b8d3ce2318e351d8ffffd59e7416.example.org",
            d
        ));
        assert!(!encoded_rdata("\"OK\"", d));
        assert!(!encoded_rdata("\"v=spf1 include:_spf.google.com ~all\"", d));
        assert!(!encoded_rdata(
            "\"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\"",
            d
        ));
        assert!(!encoded_rdata("127.0.0.2", d));
        assert!(!encoded_rdata("2001:db8::1", d));
        assert!(!encoded_rdata("10 mx1.biillpi.com", d));
        assert!(!encoded_rdata(
            "e6858.dscx.akamaiedge.net",
            Some("akamaiedge.net")
        ));
        // TXT split into several strings
        assert!(encoded_rdata(
            "\"AoncAAAABGFNTSC0y\" \"LjAtT3BlblNTSF84LjANCg\"",
            None
        ));
    }

    #[test]
    fn charsets_and_entropy() {
        assert_eq!(charset_class("deadbeef01"), "hex");
        assert_eq!(charset_class("mfrggzdfmztwq2lk"), "base32");
        assert_eq!(charset_class("google"), "alnum");
        assert_eq!(charset_class("aGVsbG8gd29ybGQ"), "base64");
        assert_eq!(charset_class("héllo"), "other");
        assert_eq!(shannon_entropy("aaaa"), 0.0);
        assert!((shannon_entropy("ab") - 1.0).abs() < 1e-9);
        assert!((normalized_entropy("0123456789abcdef") - 1.0).abs() < 1e-9);
        assert_eq!(normalized_entropy(""), 0.0);
    }

    /// Labels made with Python's base64/gzip modules (`base64.b32encode(b'PK\\x03\\x04...')`,
    /// `base64.b64encode(gzip.compress(b'secret')[:12])`, ...) and the one query of nDPI's
    /// `dns-exf.pcap` (a gzip of `test.txt`, `*` for `/`); the negatives are a DNSExfiltrator label
    /// (RC4 output), an md5 as hex (a reputation look-up) and words.
    #[test]
    fn file_headers_decoded_from_labels() {
        for (name, want) in [
            ("H4sIAHd+FmsC/ytO.x.example.com", "gzip"),
            (
                "H4sICN03*2QAA3Rlc3QudHh0AAvJyCxWAKJEheLU5KLUEoW0zJxULgAge-.4S2FgAAAA==-",
                "gzip",
            ),
            ("0.kbfqgbauaaaaacaa.exfil.example", "zip"),
            ("KBFQGBAUAAAAACAA.exfil.example", "zip"),
            ("7f454c4602010100000000.x.example", "elf"),
            (
                "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ==.k.example",
                "pem",
            ),
            ("TVqQAAMAAAAEAAAA__8=.p.example", "pe"),
        ] {
            assert_eq!(decoded_file_type(name), Some(want), "{name}");
        }
        for name in [
            "0.goqBVy2Yy6g6ViIUHFsfI00hrQF6P26AGM-f2561uaGuFAdGjsHdz6kAH4KIbHc.CapTechUtest.org",
            "d41d8cd98f00b204e9800998ecf8427e.hash.example",
            "www.captechutest.org",
            "H4sIAHd.short.example",
            "connectivity-check.ubuntu.com",
            "",
        ] {
            assert_eq!(decoded_file_type(name), None, "{name}");
        }
    }

    #[test]
    fn ips() {
        assert_eq!(cidr_match("10.1.2.3", "10.0.0.0/8"), Some(true));
        let p = ip_prefixes("198.51.100.7").unwrap();
        assert_eq!(p.len(), 33);
        assert_eq!(p[0], "198.51.100.7/32");
        assert_eq!(p[8], "198.51.100.0/24");
        assert_eq!(p[32], "0.0.0.0/0");
        assert_eq!(ip_prefixes("2001:db8::1").unwrap()[96], "2001:db8::/32");
        assert_eq!(ip_prefixes("nope"), None);
        assert_eq!(
            domain_suffixes("A.b.Example.com.").unwrap(),
            vec!["a.b.example.com", "b.example.com", "example.com"]
        );
        assert_eq!(domain_suffixes("localhost").unwrap(), vec!["localhost"]);
        assert_eq!(cidr_match("11.1.2.3", "10.0.0.0/8"), Some(false));
        assert_eq!(cidr_match("2001:db8::1", "2001:db8::/32"), Some(true));
        assert_eq!(cidr_match("nope", "10.0.0.0/8"), None);
        for (h, want) in [
            ("82.118.225.196:7080", Some("82.118.225.196")),
            ("5.2.136.90", Some("5.2.136.90")),
            ("[2001:db8::1]:80", Some("2001:db8::1")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("example.com:8080", None),
            ("1.2.3.4.example.com", None),
            ("1.2.3.4:http", None),
        ] {
            assert_eq!(
                host_address(h).map(|i| i.to_string()).as_deref(),
                want,
                "{h}"
            );
        }
        assert_eq!(labels("a\\.b.c."), vec!["a\\.b", "c"]);
    }
}
