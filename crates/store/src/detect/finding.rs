//! A finding and what happens to findings after their detector ran: the summary template, intel
//! corroboration, grouping of near-identical findings, and analysts' suppressions.

use super::spec::{Detector, Severity};
use crate::report;
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub category: String,
    pub detector: String,
    pub score: f64,
    pub severity: Severity,
    pub src_ip: Option<String>,
    pub dst_ip: Option<String>,
    pub dst_port: Option<u16>,
    pub domain: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub summary: String,
    pub evidence: Map<String, Value>,
    /// Why an analyst silenced this finding (`--suppress FILE`): it keeps its score and severity,
    /// is listed apart, and no longer counts for `--fail-on`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
}

/// One line of a `--suppress` file: `source,peer,reason[,detector]`. `source` is an address, a
/// CIDR prefix or `*`; `peer` a domain (`*.example.com` for its subdomains too), an address,
/// `address:port` or `*`; lines starting with `#` are comments. Values are data, compared as
/// strings and addresses, never turned into SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    pub source: String,
    pub peer: String,
    pub reason: String,
    pub detector: Option<String>,
    pub line: usize,
}

/// Read a suppression file. Fields are CSV (a reason that holds a comma is quoted: `"known, benign"`)
/// or tab-separated; `detectors` are the ids a fourth field may name (a misspelt id would silence
/// nothing without a word).
pub fn load_suppressions(path: &Path, detectors: &[&str]) -> Result<Vec<Suppression>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not UTF-8 text (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |what: String| format!("{}:{}: {what}", path.display(), i + 1);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let parts: Vec<String> = if t.contains('\t') && !t.contains(',') {
            t.split('\t').map(|f| f.trim().to_string()).collect()
        } else {
            csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(t.as_bytes())
                .records()
                .next()
                .and_then(Result::ok)
                .map(|r| r.iter().map(str::to_string).collect())
                .unwrap_or_default()
        };
        if !(3..=4).contains(&parts.len()) || parts[..3].iter().any(String::is_empty) {
            return Err(at(format!(
                "want source,peer,reason[,detector], got {} field(s) (quote a reason that holds a comma)",
                parts.len()
            )));
        }
        if parts[0] != "*" && parse_prefix(&parts[0]).is_none() {
            return Err(at(format!(
                "{:?} is not an address, a CIDR prefix or *",
                parts[0]
            )));
        }
        let detector = parts
            .get(3)
            .filter(|d| !d.is_empty() && d.as_str() != "*")
            .cloned();
        if let Some(d) = &detector
            && !detectors.contains(&d.as_str())
        {
            return Err(at(format!(
                "no detector {d:?} (the ids: {})",
                detectors.join(", ")
            )));
        }
        out.push(Suppression {
            source: parts[0].clone(),
            peer: parts[1].clone(),
            reason: parts[2].clone(),
            detector,
            line: i + 1,
        });
    }
    Ok(out)
}

/// A valid address or CIDR prefix (the matching itself is the `cidr_match` UDF's function).
fn parse_prefix(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (a, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: std::net::IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((ip, bits))
}

impl Suppression {
    pub fn matches(&self, f: &Finding) -> bool {
        if self.detector.as_ref().is_some_and(|d| d != &f.detector) {
            return false;
        }
        let src_ok = self.source == "*"
            || f.src_ip
                .as_deref()
                .is_some_and(|s| crate::query::udf::cidr_match(s, &self.source) == Some(true));
        let p = self.peer.as_str();
        let peer_ok = p == "*"
            || f.domain.as_deref().is_some_and(|d| {
                d.eq_ignore_ascii_case(p)
                    || p.strip_prefix("*.").is_some_and(|suf| {
                        d.len() > suf.len()
                            && d.to_ascii_lowercase()
                                .ends_with(&format!(".{}", suf.to_ascii_lowercase()))
                    })
            })
            || f.dst_ip.as_deref() == Some(p)
            || (f.dst_ip.is_some()
                && f.dst_port.is_some()
                && format!(
                    "{}:{}",
                    f.dst_ip.as_deref().unwrap_or(""),
                    f.dst_port.unwrap_or(0)
                ) == p);
        src_ok && peer_ok
    }
}

/// Mark the findings a rule silences (the first matching rule's reason, with its line).
pub fn apply_suppressions(findings: &mut [Finding], rules: &[Suppression], file: &str) {
    for f in findings.iter_mut() {
        if let Some(r) = rules.iter().find(|r| r.matches(f)) {
            f.suppressed = Some(format!("{} ({file}:{})", r.reason, r.line));
        }
    }
}

fn fmt_num(v: &Value, digits: Option<usize>) -> String {
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(0.0);
            match digits {
                Some(d) => format!("{f:.d$}"),
                None if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
                None => format!("{f:.2}"),
            }
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Null => "?".into(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Fill a summary template from a row.
pub fn render_summary(tpl: &str, row: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(j) = after.find('}') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let key = &after[..j];
        let (name, fmt) = key.split_once(':').unwrap_or((key, ""));
        let v = row.get(name).cloned().unwrap_or(Value::Null);
        let s = match fmt {
            "bytes" => v
                .as_f64()
                .map(|f| report::human_bytes(f.max(0.0) as u64))
                .unwrap_or_else(|| "?".into()),
            "pct" => v
                .as_f64()
                .map(|f| format!("{:.0}%", f * 100.0))
                .unwrap_or_else(|| "?".into()),
            d if d.parse::<usize>().is_ok() => fmt_num(&v, d.parse().ok()),
            _ => fmt_num(&v, None),
        };
        out.push_str(&s);
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    out
}

/// Points an intel hit adds to another finding on the same peer, and on the same host.
pub const INTEL_PEER_RAISE: f64 = 15.0;
pub const INTEL_HOST_RAISE: f64 = 10.0;

/// Does indicator (`kind`, `value`) name this finding's peer?
fn indicator_names_peer(kind: &str, value: &str, f: &Finding) -> bool {
    let dst = f.dst_ip.as_deref();
    let dom = f
        .domain
        .as_deref()
        .map(|d| d.trim_end_matches('.').to_ascii_lowercase());
    let on_domain = |v: &str| {
        dom.as_deref().is_some_and(|d| {
            d == v
                || d.ends_with(&format!(".{v}"))
                // a finding about a registered domain (a DNS tunnel's zone) that the indicator names a host of
                || v.ends_with(&format!(".{d}"))
        })
    };
    match kind {
        "ip" => dst == Some(value),
        "cidr" => dst.is_some_and(|d| crate::query::udf::cidr_match(d, value) == Some(true)),
        "domain" => on_domain(value),
        "url" => {
            let host = value.split('/').next().unwrap_or(value);
            on_domain(crate::table::intel::strip_port(host))
        }
        _ => false,
    }
}

/// Raise findings that an `intel` hit corroborates: the same peer (+15: the indicator names the
/// address, prefix, domain or URL host the finding is about, or the hit and the finding share host
/// and peer) or else the same host (+10: a host that matched an indicator is more likely doing what
/// the finding says). Severity follows the raised score through the detector's thresholds; the
/// evidence lists the indicators under `intel`.
pub fn apply_intel(findings: &mut [Finding], detectors: &[Detector]) {
    /// An intel finding: what matched (kind, indicator, its source) and where (host, peer, domain).
    struct Hit {
        kind: String,
        value: String,
        source: String,
        src: Option<String>,
        dst: Option<String>,
        dom: Option<String>,
    }
    let hits: Vec<Hit> = findings
        .iter()
        .filter(|f| f.category == "intel")
        .map(|f| {
            let e = |k: &str| {
                f.evidence
                    .get(k)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            Hit {
                kind: e("kind"),
                value: e("indicator"),
                source: e("intel_source"),
                src: f.src_ip.clone(),
                dst: f.dst_ip.clone(),
                dom: f.domain.clone(),
            }
        })
        .collect();
    if hits.is_empty() {
        return;
    }
    for f in findings.iter_mut().filter(|f| f.category != "intel") {
        let mut raise = 0.0f64;
        let mut names = Vec::new();
        for Hit {
            kind,
            value,
            source,
            src,
            dst,
            dom,
        } in &hits
        {
            let same_host = src.is_some() && *src == f.src_ip;
            let peer = indicator_names_peer(kind, value, f)
                || (same_host
                    && ((dst.is_some() && *dst == f.dst_ip)
                        || (dom.is_some() && *dom == f.domain)));
            let r = if peer {
                INTEL_PEER_RAISE
            } else if same_host {
                INTEL_HOST_RAISE
            } else {
                continue;
            };
            raise = raise.max(r);
            let n = format!("{kind} {value} ({source})");
            if !names.contains(&n) {
                names.push(n);
            }
        }
        if raise == 0.0 {
            continue;
        }
        f.score = (f.score + raise).min(100.0);
        if let Some(d) = detectors.iter().find(|d| d.id == f.detector) {
            f.severity = d
                .severity_for(f.score)
                .map_or(f.severity, |s| s.max(f.severity));
        }
        f.summary
            .push_str(&format!(" [intel: {}]", names.join("; ")));
        names.truncate(20);
        f.evidence.insert(
            "intel".into(),
            Value::Array(names.into_iter().map(Value::String).collect()),
        );
        f.evidence.insert("intel_raise".into(), Value::from(raise));
    }
}

/// The detectors' parameter capping the connection ids a finding lists under `evidence.uids`.
pub const MAX_UIDS_PARAM: &str = "max_uids";

/// Connection ids a finding lists under `evidence.uids` unless its detector's [`MAX_UIDS_PARAM`]
/// says otherwise (the detectors declare it with this default).
pub const DEFAULT_MAX_UIDS: usize = 20;

/// Findings of one detector, one source and one severity below high that are grouped into one.
pub const GROUP_MIN: usize = 3;

/// Group near-identical findings: at medium and low, 3 or more findings of one detector from one
/// source (one host, many peers of one kind: a client whose every certificate looks expired, a
/// browser's many CDN downloads) become one finding, the best-scored member's fields and score with
/// "and N more" in its summary, the members' peers, scores and summaries under `evidence.group` and
/// their uids (up to the detector's `max_uids`, 20) under `evidence.uids`. High and critical findings each stay on their own:
/// each one is a "look now". Suppressed findings are left as they are. Order is kept (by score).
pub fn group_similar(findings: Vec<Finding>) -> Vec<Finding> {
    use std::collections::HashMap;
    let key = |f: &Finding| (f.detector.clone(), f.src_ip.clone(), f.severity);
    let mut counts: HashMap<(String, Option<String>, Severity), usize> = HashMap::new();
    for f in findings
        .iter()
        .filter(|f| f.severity < Severity::High && f.suppressed.is_none() && f.src_ip.is_some())
    {
        *counts.entry(key(f)).or_insert(0) += 1;
    }
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut head: HashMap<(String, Option<String>, Severity), usize> = HashMap::new();
    for f in findings {
        let k = key(&f);
        let grouped = f.severity < Severity::High
            && f.suppressed.is_none()
            && counts.get(&k).is_some_and(|n| *n >= GROUP_MIN);
        if !grouped {
            out.push(f);
            continue;
        }
        let member = serde_json::json!({
            "peer": f.domain.clone().or_else(|| f.dst_ip.clone()),
            "dst_ip": f.dst_ip,
            "score": f.score,
            "summary": f.summary,
        });
        let uids: Vec<Value> = f
            .evidence
            .get("uids")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match head.get(&k) {
            None => {
                head.insert(k, out.len());
                let mut g = f;
                g.evidence
                    .insert("group".into(), Value::Array(vec![member]));
                out.push(g);
            }
            Some(&i) => {
                let g = &mut out[i];
                if let Some(Value::Array(m)) = g.evidence.get_mut("group")
                    && m.len() < 100
                {
                    m.push(member);
                }
                let mut all: Vec<Value> = g
                    .evidence
                    .get("uids")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                // as many as the detector lists per finding (its max_uids parameter, 20 unless
                // changed; extract --finding lifts it to take every connection)
                let cap = g
                    .evidence
                    .get("parameters")
                    .and_then(|p| p.get(MAX_UIDS_PARAM))
                    .and_then(Value::as_u64)
                    .map_or(DEFAULT_MAX_UIDS, |n| {
                        usize::try_from(n).unwrap_or(usize::MAX)
                    });
                let mut seen: std::collections::HashSet<Value> = all.iter().cloned().collect();
                for u in uids {
                    if all.len() >= cap {
                        break;
                    }
                    if seen.insert(u.clone()) {
                        all.push(u);
                    }
                }
                g.evidence.insert("uids".into(), Value::Array(all));
                g.first_seen = match (g.first_seen.take(), f.first_seen) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                g.last_seen = match (g.last_seen.take(), f.last_seen) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                };
            }
        }
    }
    for &i in head.values() {
        let g = &mut out[i];
        let n = counts.get(&key(g)).copied().unwrap_or(1);
        g.evidence.insert("grouped".into(), Value::from(n));
        let peers: Vec<String> = g
            .evidence
            .get("group")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .skip(1)
                    .take(5)
                    .filter_map(|x| x["peer"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        g.summary = format!(
            "{} [and {} more like it from this source: {}{}]",
            g.summary,
            n - 1,
            peers.join(", "),
            if n - 1 > peers.len() { ", ..." } else { "" }
        );
    }
    out
}
