//! Indicators of compromise (`--intel FILE`): the analyst's IOC lists, loaded as the query-time table
//! `intel` (not part of a dataset: lists change daily, a capture's tables do not).
//!
//! Formats, told apart by content:
//! - CSV with a header naming the columns (`type`/`kind`, `value`/`indicator`/`ioc`, `source`,
//!   `note`/`description`/`comment`; any order, extra columns ignored) or without one (the columns
//!   are then `type,value,source,note`, or a single `value` column). Lines starting with `#` are
//!   comments.
//! - JSON lines, one object per line with the same keys.
//! - A STIX 2.1 bundle: its `indicator` objects whose `pattern` compares `ipv4-addr:value`,
//!   `ipv6-addr:value`, `domain-name:value`, `url:value`, `file:hashes.'SHA-256'` / `SHA-1` / `MD5`,
//!   `x509-certificate:hashes.'SHA-256'` / `SHA-1` with `=` or `IN (...)`, addresses also with
//!   `ISSUBSET 'cidr'`, alone or joined by `OR` inside or between observations (see [`stix_pattern`];
//!   patterns with `AND`, `FOLLOWEDBY` or qualifiers need more than one fact at once and are skipped
//!   with a reason).
//!
//! Types: ip, cidr, domain (matches the name and its subdomains), url (scheme dropped, host
//! lower-cased; matches with or without the query string), ja3, ja3s, ja4, sha256, sha1, md5. An empty
//! type is inferred from the value. Defanged values (`evil[.]com`, `hxxp://`, `1.2.3[.]4`) are refanged.
//! A value that does not parse as its type is skipped and counted, with its file and line.

use super::IntelTable;
use arrow::record_batch::RecordBatch;
use std::net::IpAddr;
use std::path::Path;

/// The largest intel file read (a bigger one is almost certainly not an IOC list).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    pub kind: &'static str,
    pub value: String,
    pub source: String,
    pub note: String,
    /// file:line (or file:#n for the n-th STIX indicator)
    pub origin: String,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub indicators: Vec<Indicator>,
    /// number of entries skipped, and the first few reasons
    pub skipped: usize,
    pub reasons: Vec<String>,
}

impl Loaded {
    fn skip(&mut self, origin: &str, why: String) {
        self.skipped += 1;
        if self.reasons.len() < 10 {
            self.reasons.push(format!("{origin}: {why}"));
        }
    }

    fn add(&mut self, kind: &str, value: &str, source: &str, note: &str, origin: String) {
        match normalize(kind, value) {
            Ok((kind, value)) => self.indicators.push(Indicator {
                kind,
                value,
                source: source.trim().to_string(),
                note: note.trim().to_string(),
                origin,
            }),
            Err(why) => self.skip(&origin, why),
        }
    }

    /// The `intel` table.
    pub fn batch(&self) -> arrow::error::Result<RecordBatch> {
        let mut t = IntelTable::default();
        for i in &self.indicators {
            t.kind.append_value(i.kind);
            t.value.append_value(&i.value);
            t.source.append_value(&i.source);
            t.note.append_value(&i.note);
            t.origin.append_value(&i.origin);
        }
        t.finish()
    }
}

/// Undo the usual defanging of shared IOC lists.
pub fn refang(v: &str) -> String {
    let mut s = v.trim().to_string();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[/]", "/"),
    ] {
        s = s.replace(from, to);
    }
    let lower = s.to_ascii_lowercase();
    for (from, to) in [("hxxps", "https"), ("hxxp", "http"), ("fxp", "ftp")] {
        if lower.starts_with(from) {
            s = format!("{to}{}", &s[from.len()..]);
            break;
        }
    }
    s
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_ja4(s: &str) -> bool {
    // t13d1516h2_8daaf6152771_b0da82dd1658 (q/d/t, version, d/i, counts, alpn; two 12-hex hashes)
    let p: Vec<&str> = s.split('_').collect();
    p.len() == 3
        && p[0].len() == 10
        && p[0].is_ascii()
        && matches!(p[0].as_bytes()[0], b't' | b'q' | b'd')
        && is_hex(p[1], 12)
        && is_hex(p[2], 12)
}

fn domain_ok(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn cidr(v: &str) -> Option<String> {
    let (a, n) = v.split_once('/')?;
    let n: u32 = n.parse().ok()?;
    Some(format!(
        "{}/{n}",
        wirehunt_wire::flow::network(a.parse().ok()?, n)?
    ))
}

/// `host` without a trailing numeric `:port` (`a.example.net:8080` -> `a.example.net`).
pub fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// `host/path?query` with the scheme, userinfo and default port dropped, host lower-cased.
fn url(v: &str) -> Option<String> {
    let rest = match v.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty() && scheme.bytes().all(|b| b.is_ascii_alphabetic()) =>
        {
            rest
        }
        Some(_) => return None,
        None => v,
    };
    let (auth, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let auth = auth.rsplit('@').next().unwrap_or(auth).to_ascii_lowercase();
    let auth = auth
        .strip_suffix(":80")
        .or_else(|| auth.strip_suffix(":443"))
        .unwrap_or(&auth)
        .to_string();
    let host = strip_port(&auth);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if !(domain_ok(host) || host.parse::<IpAddr>().is_ok()) {
        return None;
    }
    let path = path.split('#').next().unwrap_or(path);
    Some(format!("{auth}{path}"))
}

/// The type a bare value most likely has.
pub fn infer_kind(v: &str) -> Option<&'static str> {
    let v = v.trim();
    if v.parse::<IpAddr>().is_ok() {
        Some("ip")
    } else if cidr(v).is_some() {
        Some("cidr")
    } else if is_hex(v, 64) {
        Some("sha256")
    } else if is_hex(v, 40) {
        Some("sha1")
    } else if is_hex(v, 32) {
        // a JA3 is an md5 too: an untyped 32-hex value matches file md5s and JA3/JA3S alike
        Some("md5")
    } else if is_ja4(v) {
        Some("ja4")
    } else if v.contains("://") || (v.contains('/') && domain_ok(v.split('/').next().unwrap_or("")))
    {
        Some("url")
    } else if domain_ok(v.trim_end_matches('.').trim_start_matches("*.")) {
        Some("domain")
    } else {
        None
    }
}

/// Canonical (type, value), or why the pair is not an indicator.
pub fn normalize(kind: &str, value: &str) -> Result<(&'static str, String), String> {
    let v = refang(value);
    if v.is_empty() {
        return Err("empty value".into());
    }
    let k = kind.trim().to_ascii_lowercase().replace(['-', ' '], "");
    let kind: &'static str = match k.as_str() {
        "" => infer_kind(&v).ok_or_else(|| format!("cannot tell what {v:?} is; give its type"))?,
        "ip" | "ipv4" | "ipv6" | "ipaddr" | "ipv4addr" | "ipv6addr" | "address" => {
            if v.contains('/') { "cidr" } else { "ip" }
        }
        "cidr" | "net" | "network" | "subnet" | "prefix" => "cidr",
        "domain" | "hostname" | "host" | "fqdn" | "domainname" => "domain",
        "url" | "uri" => "url",
        "ja3" => "ja3",
        "ja3s" => "ja3s",
        "ja4" => "ja4",
        "sha256" | "filehashsha256" => "sha256",
        "sha1" | "filehashsha1" => "sha1",
        "md5" | "filehashmd5" => "md5",
        other => return Err(format!("unknown indicator type {other:?}")),
    };
    let bad = || format!("{v:?} is not a valid {kind}");
    let out = match kind {
        "ip" => v.parse::<IpAddr>().map_err(|_| bad())?.to_string(),
        "cidr" => cidr(&v).ok_or_else(bad)?,
        "domain" => {
            let d = v
                .trim_end_matches('.')
                .trim_start_matches("*.")
                .to_ascii_lowercase();
            if !domain_ok(&d) {
                return Err(bad());
            }
            d
        }
        "url" => url(&v).ok_or_else(bad)?,
        "ja3" | "ja3s" | "md5" if is_hex(&v, 32) => v.to_ascii_lowercase(),
        "sha1" if is_hex(&v, 40) => v.to_ascii_lowercase(),
        "sha256" if is_hex(&v, 64) => v.to_ascii_lowercase(),
        "ja4" if is_ja4(&v) => v,
        _ => return Err(bad()),
    };
    Ok((kind, out))
}

/// Load one intel file (CSV, JSON lines or a STIX 2.1 bundle).
pub fn load(path: &Path) -> Result<Loaded, String> {
    let name = wirehunt_wire::capture::path_name(path);
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "{name}: {len} bytes is more than an indicator list ({MAX_FILE_BYTES} at most)"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{name}: not UTF-8 text (byte {}); CSV, JSON lines or a STIX 2.1 bundle expected",
            e.utf8_error().valid_up_to()
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let default_source = path
        .file_name()
        .map(|n| wirehunt_wire::capture::path_name(Path::new(n)))
        .unwrap_or_else(|| name.clone());
    let mut out = Loaded::default();
    let first = text.trim_start().chars().next();
    if first == Some('{') {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v) if v["type"] == "bundle" => stix(&v, &name, &mut out)?,
            _ => json_lines(text, &name, &default_source, &mut out),
        }
    } else if first == Some('[') {
        return Err(format!(
            "{name}: a JSON array; give one object per line (JSON lines) or a STIX 2.1 bundle"
        ));
    } else {
        csv_rows(text, &name, &default_source, &mut out)?;
    }
    Ok(out)
}

fn field<'a>(o: &'a serde_json::Map<String, serde_json::Value>, keys: &[&str]) -> &'a str {
    keys.iter()
        .find_map(|k| o.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("")
}

const TYPE_KEYS: &[&str] = &["type", "kind", "indicator_type", "ioc_type"];
const VALUE_KEYS: &[&str] = &["value", "indicator", "ioc"];
const SOURCE_KEYS: &[&str] = &["source", "feed"];
const NOTE_KEYS: &[&str] = &["note", "description", "comment", "tags"];

fn json_lines(text: &str, name: &str, default_source: &str, out: &mut Loaded) {
    for (i, line) in text.lines().enumerate() {
        let origin = format!("{name}:{}", i + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(o)) => {
                let source = match field(&o, SOURCE_KEYS) {
                    "" => default_source,
                    s => s,
                };
                out.add(
                    field(&o, TYPE_KEYS),
                    field(&o, VALUE_KEYS),
                    source,
                    field(&o, NOTE_KEYS),
                    origin,
                )
            }
            Ok(_) => out.skip(&origin, "not a JSON object".into()),
            Err(e) => out.skip(&origin, format!("not JSON ({e})")),
        }
    }
}

fn csv_rows(text: &str, name: &str, default_source: &str, out: &mut Loaded) -> Result<(), String> {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    // column positions: from a header when the first row names them
    let mut cols: Option<[Option<usize>; 4]> = None;
    for rec in rd.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                out.skip(&format!("{name}:{line}"), format!("unreadable CSV ({e})"));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let origin = format!("{name}:{line}");
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let c = match cols {
            Some(c) => c,
            None => {
                let find = |keys: &[&str]| {
                    rec.iter()
                        .position(|h| keys.contains(&h.to_ascii_lowercase().as_str()))
                };
                let header = [
                    find(TYPE_KEYS),
                    find(VALUE_KEYS),
                    find(SOURCE_KEYS),
                    find(NOTE_KEYS),
                ];
                if header[1].is_some() {
                    cols = Some(header);
                    continue;
                }
                let c = if rec.len() == 1 {
                    [None, Some(0), None, None]
                } else {
                    [Some(0), Some(1), Some(2), Some(3)]
                };
                cols = Some(c);
                c
            }
        };
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
        let source = match get(c[2]) {
            "" => default_source,
            s => s,
        };
        out.add(get(c[0]), get(c[1]), source, get(c[3]), origin);
    }
    if cols.is_none() {
        return Err(format!("{name}: no indicators (empty file)"));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    LParen,
    RParen,
    Comma,
    Str(String),
    /// An object path, an operator or keyword, or a number: as written.
    Word(String),
    Op(&'static str),
}

/// STIX 2.1 pattern tokens: brackets, parentheses, commas, quoted strings (`\'` and `\\` escapes),
/// `=`/`!=`/`<`/`>`/`<=`/`>=`, and words (object paths with their quoted hash names, keywords,
/// numbers). Quotes are honoured, so an `OR` inside a value is part of the value.
fn stix_tokens(p: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut it = p.chars().peekable();
    while let Some(&c) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '[' | ']' | '(' | ')' | ',' => {
                it.next();
                out.push(match c {
                    '[' => Tok::Open,
                    ']' => Tok::Close,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    _ => Tok::Comma,
                });
            }
            '\'' => {
                it.next();
                let mut v = String::new();
                loop {
                    match it.next() {
                        Some('\\') => match it.next() {
                            Some(e @ ('\'' | '\\')) => v.push(e),
                            Some(e) => {
                                v.push('\\');
                                v.push(e);
                            }
                            None => return Err("unterminated string".into()),
                        },
                        Some('\'') => break,
                        Some(ch) => v.push(ch),
                        None => return Err("unterminated string".into()),
                    }
                }
                out.push(Tok::Str(v));
            }
            '=' | '!' | '<' | '>' => {
                it.next();
                let eq = it.peek() == Some(&'=');
                if eq {
                    it.next();
                }
                out.push(Tok::Op(match (c, eq) {
                    ('=', _) => "=",
                    ('!', true) => "!=",
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    _ => return Err(format!("unexpected {c:?}")),
                }));
            }
            _ => {
                // a word: an object path may hold a quoted hash name (file:hashes.'SHA-256')
                let mut w = String::new();
                while let Some(&ch) = it.peek() {
                    if ch.is_whitespace() || "[](),=!<>".contains(ch) {
                        break;
                    }
                    it.next();
                    if ch == '\'' {
                        for q in it.by_ref() {
                            if q == '\'' {
                                break;
                            }
                            w.push(q);
                        }
                    } else {
                        w.push(ch);
                    }
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

fn stix_kind(path: &str) -> Result<&'static str, String> {
    Ok(match path.to_ascii_lowercase().as_str() {
        "ipv4-addr:value" | "ipv6-addr:value" => "ip",
        "domain-name:value" => "domain",
        "url:value" => "url",
        "file:hashes.sha-256" | "file:hashes.sha256" | "x509-certificate:hashes.sha-256" => {
            "sha256"
        }
        "file:hashes.sha-1" | "file:hashes.sha1" | "x509-certificate:hashes.sha-1" => "sha1",
        "file:hashes.md5" => "md5",
        other => {
            return Err(format!(
                "object path {other:?} is not matched against traffic"
            ));
        }
    })
}

/// The (type, value) indicators of a STIX 2.1 pattern that says "any of these values": comparisons
/// with `=`, `IN ('a', 'b', ...)` and, for addresses, `ISSUBSET 'cidr'` (a cidr indicator), joined by
/// `OR` inside or between observations (`[a] OR [b]`), with any parentheses. A pattern that needs more
/// than one fact at once (`AND`, `FOLLOWEDBY`, `WITHIN`/`REPEATS`/`START` qualifiers) or a comparison
/// that does not name values (`!=`, `<`, `LIKE`, `MATCHES`, `NOT`) is refused with the reason: taking
/// one side of it would match traffic the pattern does not describe.
pub fn stix_pattern(p: &str) -> Result<Vec<(&'static str, String)>, String> {
    let toks = stix_tokens(p)?;
    let mut out = Vec::new();
    let mut i = 0;
    let word = |t: Option<&Tok>| match t {
        Some(Tok::Word(w)) => Some(w.to_ascii_uppercase()),
        _ => None,
    };
    // expect a comparison at `i`, or an OR / bracket / parenthesis between them
    while let Some(t) = toks.get(i) {
        match t {
            Tok::Open | Tok::Close | Tok::LParen | Tok::RParen => {
                i += 1;
                continue;
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("OR") => {
                i += 1;
                continue;
            }
            Tok::Word(w)
                if [
                    "AND",
                    "FOLLOWEDBY",
                    "WITHIN",
                    "REPEATS",
                    "START",
                    "STOP",
                    "NOT",
                ]
                .contains(&w.to_ascii_uppercase().as_str()) =>
            {
                return Err(format!(
                    "pattern uses {}: more than single values",
                    w.to_ascii_uppercase()
                ));
            }
            Tok::Word(path) => {
                let op = toks.get(i + 1);
                match (op, word(op).as_deref()) {
                    (Some(Tok::Op("=")), _) => {
                        let kind = stix_kind(path)?;
                        let Some(Tok::Str(v)) = toks.get(i + 2) else {
                            return Err(format!("{path} = is not followed by a quoted string"));
                        };
                        out.push((kind, v.clone()));
                        i += 3;
                    }
                    (_, Some("IN")) => {
                        let kind = stix_kind(path)?;
                        if toks.get(i + 2) != Some(&Tok::LParen) {
                            return Err(format!("{path} IN is not followed by a list"));
                        }
                        i += 3;
                        loop {
                            match toks.get(i) {
                                Some(Tok::Str(v)) => out.push((kind, v.clone())),
                                Some(Tok::Comma) => {}
                                Some(Tok::RParen) => break,
                                _ => {
                                    return Err(format!(
                                        "{path} IN: a list of quoted strings expected"
                                    ));
                                }
                            }
                            i += 1;
                        }
                        i += 1;
                    }
                    (_, Some("ISSUBSET")) => {
                        if stix_kind(path)? != "ip" {
                            return Err(format!("{path} ISSUBSET: only addresses are subsets"));
                        }
                        let Some(Tok::Str(v)) = toks.get(i + 2) else {
                            return Err(format!(
                                "{path} ISSUBSET is not followed by a quoted network"
                            ));
                        };
                        out.push(("cidr", v.clone()));
                        i += 3;
                    }
                    (Some(Tok::Op(o)), _) => {
                        return Err(format!("pattern uses {o}: more than single values"));
                    }
                    (_, Some(o)) => {
                        return Err(format!("pattern uses {o}: more than single values"));
                    }
                    _ => return Err(format!("{path:?} is not a comparison")),
                }
            }
            other => return Err(format!("unexpected {other:?}")),
        }
    }
    if out.is_empty() {
        return Err("no comparison".into());
    }
    Ok(out)
}

fn stix(bundle: &serde_json::Value, name: &str, out: &mut Loaded) -> Result<(), String> {
    let objects = bundle["objects"]
        .as_array()
        .ok_or_else(|| format!("{name}: a STIX bundle without objects"))?;
    let identities: std::collections::HashMap<&str, &str> = objects
        .iter()
        .filter(|o| o["type"] == "identity")
        .filter_map(|o| Some((o["id"].as_str()?, o["name"].as_str()?)))
        .collect();
    for (n, o) in objects
        .iter()
        .filter(|o| o["type"] == "indicator")
        .enumerate()
    {
        let origin = format!("{name}:#{}", n + 1);
        if o["pattern_type"].as_str().is_some_and(|t| t != "stix") {
            out.skip(
                &origin,
                format!("pattern_type {} is not stix", o["pattern_type"]),
            );
            continue;
        }
        let Some(pattern) = o["pattern"].as_str() else {
            out.skip(&origin, "no pattern".into());
            continue;
        };
        let source = o["created_by_ref"]
            .as_str()
            .and_then(|r| identities.get(r).copied())
            .unwrap_or("stix");
        let note = o["name"]
            .as_str()
            .or_else(|| o["description"].as_str())
            .unwrap_or("");
        match stix_pattern(pattern) {
            Ok(values) => {
                for (kind, value) in values {
                    // an ipv4-addr:value may be a prefix
                    let kind = if kind == "ip" && value.contains('/') {
                        "cidr"
                    } else {
                        kind
                    };
                    out.add(kind, &value, source, note, origin.clone());
                }
            }
            Err(why) => out.skip(&origin, why),
        }
    }
    Ok(())
}

/// Load every file; the indicators of all of them, duplicates (same type, value, source) once.
pub fn load_all(paths: &[std::path::PathBuf]) -> Result<Loaded, String> {
    let mut all = Loaded::default();
    let mut seen = std::collections::HashSet::new();
    for p in paths {
        let l = load(p)?;
        all.skipped += l.skipped;
        all.reasons
            .extend(l.reasons.into_iter().take(10 - all.reasons.len().min(10)));
        for i in l.indicators {
            if seen.insert((i.kind, i.value.clone(), i.source.clone())) {
                all.indicators.push(i);
            }
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_normalized_and_typed() {
        let n = |k, v| normalize(k, v).unwrap();
        assert_eq!(
            n("", "evil[.]example[.]com."),
            ("domain", "evil.example.com".into())
        );
        assert_eq!(
            n("domain", "*.Example.COM"),
            ("domain", "example.com".into())
        );
        assert_eq!(n("", "203.0.113.7"), ("ip", "203.0.113.7".into()));
        assert_eq!(n("ip", "2001:DB8::0:1"), ("ip", "2001:db8::1".into()));
        assert_eq!(
            n("", "198.51.100.77/24"),
            ("cidr", "198.51.100.0/24".into())
        );
        assert_eq!(n("ipv4-addr", "10.1.2.3/8"), ("cidr", "10.0.0.0/8".into()));
        assert_eq!(
            n("", "hxxp://Bad.Example.com:80/gate.php?id=1#x"),
            ("url", "bad.example.com/gate.php?id=1".into())
        );
        assert_eq!(
            n("url", "https://a.example.net"),
            ("url", "a.example.net/".into())
        );
        assert_eq!(
            n("url", "http://u:p@a.example.net:8080/x"),
            ("url", "a.example.net:8080/x".into())
        );
        assert_eq!(
            n("", "t13d1516h2_8daaf6152771_b0da82dd1658"),
            ("ja4", "t13d1516h2_8daaf6152771_b0da82dd1658".into())
        );
        assert_eq!(
            n(
                "",
                "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
            ),
            (
                "sha256",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()
            )
        );
        assert_eq!(n("", "da39a3ee5e6b4b0d3255bfef95601890afd80709").0, "sha1");
        assert_eq!(n("", "d41d8cd98f00b204e9800998ecf8427e").0, "md5");
        assert_eq!(n("JA3", "D41D8CD98F00B204E9800998ECF8427E").0, "ja3");
        for (k, v) in [
            ("ip", "300.1.1.1"),
            ("cidr", "10.0.0.0/33"),
            ("sha256", "abc"),
            ("domain", "no spaces.com"),
            ("", "just-a-word"),
            ("colour", "red"),
            ("ja4", "t13d_x_y"),
            ("", ""),
        ] {
            assert!(normalize(k, v).is_err(), "{k} {v}");
        }
    }

    #[test]
    fn stix_patterns_give_their_values_or_a_reason() {
        assert_eq!(
            stix_pattern("[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'x.example']")
                .unwrap(),
            vec![
                ("ip", "198.51.100.1".into()),
                ("domain", "x.example".into())
            ]
        );
        assert_eq!(
            stix_pattern("[file:hashes.'SHA-256' = 'aa']").unwrap(),
            vec![("sha256", "aa".into())]
        );
        assert!(
            stix_pattern("[ipv4-addr:value = '1.2.3.4' AND network-traffic:dst_port = 80]")
                .is_err()
        );
        assert!(stix_pattern("[process:name = 'evil.exe']").is_err());
        assert!(stix_pattern("[url:value MATCHES '^x']").is_err());
        // IN lists, ISSUBSET networks, OR between observations, parentheses, quotes honoured
        assert_eq!(
            stix_pattern(
                "([domain-name:value IN ('a.example', 'b OR c.example')] OR [ipv4-addr:value ISSUBSET '203.0.113.0/24']) OR [url:value = 'http://x.example/it\\'s']"
            )
            .unwrap(),
            vec![
                ("domain", "a.example".into()),
                ("domain", "b OR c.example".into()),
                ("cidr", "203.0.113.0/24".into()),
                ("url", "http://x.example/it's".into()),
            ]
        );
        assert_eq!(
            stix_pattern("[x509-certificate:hashes.'SHA-1' = 'ab']").unwrap(),
            vec![("sha1", "ab".into())]
        );
        for refused in [
            "[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'x.example']",
            "[ipv4-addr:value = '1.2.3.4'] WITHIN 300 SECONDS",
            "[ipv4-addr:value != '1.2.3.4']",
            "[domain-name:value LIKE '%.example']",
            "[network-traffic:dst_port > 1024]",
            "[domain-name:value ISSUBSET 'x.example']",
            "[ipv4-addr:value = '1.2.3.4",
            "[]",
        ] {
            assert!(stix_pattern(refused).is_err(), "{refused}");
        }
    }
}
