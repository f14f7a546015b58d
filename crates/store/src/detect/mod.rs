//! Detectors are SQL files. Each file in `queries/` starts with a header of `-- key: value` lines:
//!
//! ```text
//! -- id: dns_tunnel
//! -- category: dns_tunnel            (exfiltration | dns_tunnel | beaconing | other)
//! -- title: ...
//! -- description: ...                (may repeat; lines are joined)
//! -- severity: critical >= 85, high >= 65, medium >= 40, low >= 25
//! -- summary: {src_ip} sent {distinct_subdomains} distinct names under {domain} ...
//! -- param: min_distinct int = 10    (int | float | string | bool)
//! ```
//!
//! Parameters are bound as typed DataFusion placeholders (`$min_distinct`), never spliced into the
//! SQL text. A detector returns rows with the contract columns `score` (0–100) and `src_ip`, and
//! optionally `dst_ip`, `dst_port`, `domain`, `first_seen`, `last_seen`; every other column becomes
//! part of the finding's `evidence` object. Rows scoring under the `low` threshold are dropped.
//! The summary template takes `{column}`, `{column:bytes}`, `{column:pct}` and `{column:1}` (one decimal).

pub mod html;
pub mod pivot;

use crate::report::{self, Format, sanitize_terminal};
use datafusion::common::ScalarValue;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?} (low, medium, high, critical)"
            )),
        }
    }
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x:?}"),
            ParamValue::Str(s) => write!(f, "{s}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl ParamValue {
    fn parse(kind: &str, v: &str) -> Result<ParamValue, String> {
        let v = v.trim();
        match kind {
            "int" => v
                .replace('_', "")
                .parse()
                .map(ParamValue::Int)
                .map_err(|e| format!("{v:?} is not an int: {e}")),
            "float" => v
                .parse()
                .map(ParamValue::Float)
                .map_err(|e| format!("{v:?} is not a float: {e}")),
            "bool" => v
                .parse()
                .map(ParamValue::Bool)
                .map_err(|e| format!("{v:?} is not a bool: {e}")),
            "string" => Ok(ParamValue::Str(v.trim_matches('\'').to_string())),
            other => Err(format!(
                "unknown parameter type {other:?} (int, float, string, bool)"
            )),
        }
    }
    fn scalar(&self) -> ScalarValue {
        match self {
            ParamValue::Int(i) => ScalarValue::Int64(Some(*i)),
            ParamValue::Float(f) => ScalarValue::Float64(Some(*f)),
            ParamValue::Str(s) => ScalarValue::Utf8(Some(s.clone())),
            ParamValue::Bool(b) => ScalarValue::Boolean(Some(*b)),
        }
    }
    fn json(&self) -> Value {
        match self {
            ParamValue::Int(i) => Value::from(*i),
            ParamValue::Float(f) => Value::from(*f),
            ParamValue::Str(s) => Value::from(s.clone()),
            ParamValue::Bool(b) => Value::from(*b),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub kind: String,
    pub value: ParamValue,
}

#[derive(Debug, Clone)]
pub struct Detector {
    pub id: String,
    pub category: String,
    pub title: String,
    pub description: String,
    /// (severity, minimum score), highest first.
    pub thresholds: Vec<(Severity, f64)>,
    pub summary: String,
    pub params: Vec<Param>,
    pub sql: String,
    pub path: String,
    /// Line where the SQL body starts (for error messages).
    pub sql_line: usize,
}

/// Built-in detectors, compiled into the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "queries/exfil_volume.sql",
        include_str!("../../../../queries/exfil_volume.sql"),
    ),
    (
        "queries/dns_tunnel.sql",
        include_str!("../../../../queries/dns_tunnel.sql"),
    ),
    (
        "queries/beaconing.sql",
        include_str!("../../../../queries/beaconing.sql"),
    ),
    (
        "queries/dns_encoded_query.sql",
        include_str!("../../../../queries/dns_encoded_query.sql"),
    ),
    (
        "queries/scan.sql",
        include_str!("../../../../queries/scan.sql"),
    ),
    (
        "queries/executable_download.sql",
        include_str!("../../../../queries/executable_download.sql"),
    ),
    (
        "queries/long_connection.sql",
        include_str!("../../../../queries/long_connection.sql"),
    ),
    (
        "queries/suspicious_tls.sql",
        include_str!("../../../../queries/suspicious_tls.sql"),
    ),
    (
        "queries/intel_match.sql",
        include_str!("../../../../queries/intel_match.sql"),
    ),
];

impl Detector {
    /// The severity a score earns under this detector's thresholds (None below the lowest).
    pub fn severity_for(&self, score: f64) -> Option<Severity> {
        self.thresholds
            .iter()
            .find(|(_, t)| score >= *t)
            .map(|t| t.0)
    }
}

pub fn parse_detector(path: &str, text: &str) -> Result<Detector, String> {
    let mut d = Detector {
        id: String::new(),
        category: "other".into(),
        title: String::new(),
        description: String::new(),
        thresholds: vec![
            (Severity::Critical, 85.0),
            (Severity::High, 65.0),
            (Severity::Medium, 40.0),
            (Severity::Low, 20.0),
        ],
        summary: String::new(),
        params: Vec::new(),
        sql: String::new(),
        path: path.to_string(),
        sql_line: 1,
    };
    let mut body = Vec::new();
    let mut in_header = true;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if in_header {
            if let Some(rest) = t.strip_prefix("--") {
                if let Some((k, v)) = rest.trim().split_once(':') {
                    let v = v.trim();
                    match k.trim() {
                        "id" => d.id = v.into(),
                        "category" => d.category = v.into(),
                        "title" => d.title = v.into(),
                        "description" => {
                            if !d.description.is_empty() {
                                d.description.push(' ');
                            }
                            d.description.push_str(v);
                        }
                        "summary" => d.summary = v.into(),
                        "severity" => {
                            let mut th = Vec::new();
                            for part in v.split(',') {
                                let (s, n) = part.split_once(">=").ok_or_else(|| {
                                    format!("{path}:{}: severity wants 'name >= score'", i + 1)
                                })?;
                                let sev = s.trim().parse::<Severity>().map_err(|_| {
                                    format!("{path}:{}: unknown severity {:?}", i + 1, s.trim())
                                })?;
                                let n: f64 = n.trim().parse().map_err(|_| {
                                    format!("{path}:{}: bad score {:?}", i + 1, n.trim())
                                })?;
                                th.push((sev, n));
                            }
                            th.sort_by(|a, b| b.1.total_cmp(&a.1));
                            d.thresholds = th;
                        }
                        "param" => {
                            // name type = default
                            let (lhs, def) = v.split_once('=').ok_or_else(|| {
                                format!("{path}:{}: param wants 'name type = default'", i + 1)
                            })?;
                            let mut it = lhs.split_whitespace();
                            let (name, kind) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                            if name.is_empty()
                                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            {
                                return Err(format!(
                                    "{path}:{}: bad parameter name {name:?}",
                                    i + 1
                                ));
                            }
                            let value = ParamValue::parse(kind, def)
                                .map_err(|e| format!("{path}:{}: {e}", i + 1))?;
                            d.params.push(Param {
                                name: name.into(),
                                kind: kind.into(),
                                value,
                            });
                        }
                        _ => {}
                    }
                }
                continue;
            }
            if t.is_empty() {
                continue;
            }
            in_header = false;
            d.sql_line = i + 1;
        }
        body.push(line);
    }
    d.sql = body.join("\n");
    if d.id.is_empty() {
        d.id = Path::new(path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    if d.sql.trim().is_empty() {
        return Err(format!("{path}: no SQL after the header"));
    }
    Ok(d)
}

/// Load the built-ins, then `./queries` (if present), then `extra`; a later file with the same id wins.
pub fn load_detectors(extra: Option<&Path>) -> Result<Vec<Detector>, String> {
    let mut by_id: BTreeMap<String, Detector> = BTreeMap::new();
    for (p, t) in BUILTIN {
        let d = parse_detector(p, t)?;
        by_id.insert(d.id.clone(), d);
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(e) = extra {
        dirs.push(e.to_path_buf());
    }
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect();
        files.sort();
        for f in files {
            let t = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            let d = parse_detector(&f.display().to_string(), &t)?;
            by_id.insert(d.id.clone(), d);
        }
    }
    Ok(by_id.into_values().collect())
}

/// Apply `ID.NAME=VALUE` overrides (typed by the parameter's declaration).
pub fn apply_overrides(dets: &mut [Detector], overrides: &[String]) -> Result<(), String> {
    for o in overrides {
        let (lhs, v) = o
            .split_once('=')
            .ok_or_else(|| format!("--param {o:?}: want ID.NAME=VALUE"))?;
        let (id, name) = lhs
            .split_once('.')
            .ok_or_else(|| format!("--param {o:?}: want ID.NAME=VALUE"))?;
        let d = dets
            .iter_mut()
            .find(|d| d.id == id)
            .ok_or_else(|| format!("--param {o:?}: no detector {id:?}"))?;
        let p = d
            .params
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| format!("--param {o:?}: detector {id} has no parameter {name:?}"))?;
        p.value = ParamValue::parse(&p.kind, v).map_err(|e| format!("--param {o:?}: {e}"))?;
    }
    Ok(())
}

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

/// Read a suppression file.
pub fn load_suppressions(path: &Path) -> Result<Vec<Suppression>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = t.splitn(4, [',', '\t']).map(str::trim).collect();
        if parts.len() < 3 || parts[0].is_empty() || parts[1].is_empty() || parts[2].is_empty() {
            return Err(format!(
                "{}:{}: want source,peer,reason[,detector]",
                path.display(),
                i + 1
            ));
        }
        if parts[0] != "*" && parse_prefix(parts[0]).is_none() {
            return Err(format!(
                "{}:{}: {:?} is not an address, a CIDR prefix or *",
                path.display(),
                i + 1,
                parts[0]
            ));
        }
        out.push(Suppression {
            source: parts[0].into(),
            peer: parts[1].into(),
            reason: parts[2].into(),
            detector: parts
                .get(3)
                .filter(|d| !d.is_empty() && **d != "*")
                .map(|d| d.to_string()),
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

const CONTRACT: &[&str] = &[
    "score",
    "src_ip",
    "dst_ip",
    "dst_port",
    "domain",
    "first_seen",
    "last_seen",
];

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

fn batches_to_rows(
    batches: &[arrow::record_batch::RecordBatch],
) -> crate::Result<Vec<Map<String, Value>>> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::json::writer::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow::json::writer::JsonArray>(&mut buf);
        for b in batches {
            w.write(b)?;
        }
        w.finish()?;
    }
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    let v: Vec<Map<String, Value>> = serde_json::from_slice(&buf)?;
    Ok(v)
}

/// Timestamps are UTC throughout; a detector that produced a zone-less timestamp gets the `Z`.
fn utc(s: String) -> String {
    let has_zone = s.ends_with('Z')
        || s.get(10..)
            .is_some_and(|t| t.contains('+') || t[1..].contains('-'));
    if has_zone { s } else { format!("{s}Z") }
}

fn as_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Run one detector; returns its findings.
pub async fn run_detector(
    ctx: &datafusion::prelude::SessionContext,
    d: &Detector,
) -> crate::Result<Vec<Finding>> {
    let df = ctx
        .sql_with_options(&d.sql, crate::query::sql_options(false))
        .await?;
    let params: Vec<(String, ScalarValue)> = d
        .params
        .iter()
        .map(|p| (p.name.clone(), p.value.scalar()))
        .collect();
    let df = if params.is_empty() {
        df
    } else {
        df.with_param_values(params)?
    };
    let batches = df.collect().await?;
    let rows = batches_to_rows(&batches)?;
    let low = d.thresholds.last().map_or(0.0, |t| t.1);
    let mut out = Vec::new();
    for row in rows {
        let score = row
            .get("score")
            .and_then(Value::as_f64)
            .unwrap_or(0.0)
            .clamp(0.0, 100.0);
        if score < low {
            continue;
        }
        let severity = d.severity_for(score).unwrap_or(Severity::Low);
        let mut evidence = Map::new();
        for (k, v) in &row {
            if !CONTRACT.contains(&k.as_str()) {
                evidence.insert(k.clone(), v.clone());
            }
        }
        let mut params = Map::new();
        for p in &d.params {
            params.insert(p.name.clone(), p.value.json());
        }
        evidence.insert("parameters".into(), Value::Object(params));
        let summary = if d.summary.is_empty() {
            d.title.clone()
        } else {
            render_summary(&d.summary, &row)
        };
        out.push(Finding {
            category: d.category.clone(),
            detector: d.id.clone(),
            score: (score * 10.0).round() / 10.0,
            severity,
            src_ip: as_string(row.get("src_ip")),
            dst_ip: as_string(row.get("dst_ip")),
            dst_port: row
                .get("dst_port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok()),
            domain: as_string(row.get("domain")),
            first_seen: as_string(row.get("first_seen")).map(utc),
            last_seen: as_string(row.get("last_seen")).map(utc),
            summary,
            evidence,
            suppressed: None,
        });
    }
    Ok(out)
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
    let hits: Vec<(
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    )> = findings
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
            (
                e("kind"),
                e("indicator"),
                e("intel_source"),
                f.src_ip.clone(),
                f.dst_ip.clone(),
                f.domain.clone(),
            )
        })
        .collect();
    if hits.is_empty() {
        return;
    }
    for f in findings.iter_mut().filter(|f| f.category != "intel") {
        let mut raise = 0.0f64;
        let mut names = Vec::new();
        for (kind, value, source, src, dst, dom) in &hits {
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

/// Findings of one detector, one source and one severity below high that are grouped into one.
pub const GROUP_MIN: usize = 3;

/// Group near-identical findings: at medium and low, 3 or more findings of one detector from one
/// source (one host, many peers of one kind: a client whose every certificate looks expired, a
/// browser's many CDN downloads) become one finding, the best-scored member's fields and score with
/// "and N more" in its summary, the members' peers, scores and summaries under `evidence.group` and
/// their uids (up to 20) under `evidence.uids`. High and critical findings each stay on their own:
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
                for u in uids {
                    if all.len() < 20 && !all.contains(&u) {
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

/// Run every detector over a dataset, findings ranked by score.
pub fn detect(
    dataset: &Path,
    detectors: &[Detector],
) -> crate::Result<(Vec<Finding>, Vec<String>)> {
    detect_timed(dataset, detectors, |_, _, _| {})
}

/// [`detect`], reporting (detector id, findings, seconds) as each detector finishes.
pub fn detect_timed(
    dataset: &Path,
    detectors: &[Detector],
    mut on_done: impl FnMut(&str, usize, f64),
) -> crate::Result<(Vec<Finding>, Vec<String>)> {
    let rt = crate::query::runtime()?;
    rt.block_on(async {
        let ctx = crate::query::open_session(dataset).await?;
        let mut all = Vec::new();
        let mut errors = Vec::new();
        for d in detectors {
            let t0 = std::time::Instant::now();
            match run_detector(&ctx, d).await {
                Ok(f) => {
                    on_done(&d.id, f.len(), t0.elapsed().as_secs_f64());
                    all.extend(f)
                }
                Err(e) => errors.push(format!("{} (SQL from line {}): {e:#}", d.path, d.sql_line)),
            }
        }
        apply_intel(&mut all, detectors);
        all.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.detector.cmp(&b.detector))
                .then_with(|| a.src_ip.cmp(&b.src_ip))
                .then_with(|| a.domain.cmp(&b.domain))
                .then_with(|| a.dst_ip.cmp(&b.dst_ip))
        });
        Ok((all, errors))
    })
}

/// Findings as JSON lines.
pub fn write_jsonl(findings: &[Finding], out: &mut dyn Write) -> crate::Result<()> {
    for f in findings {
        let line = serde_json::to_vec(f)?;
        out.write_all(&crate::report::json_escape_invisible(&line))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Findings as an Arrow batch (for CSV and Parquet sinks); evidence as a JSON string column.
pub fn findings_batch(findings: &[Finding]) -> crate::Result<arrow::record_batch::RecordBatch> {
    use arrow::array::*;
    use std::sync::Arc;
    let s = |f: &dyn Fn(&Finding) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(
            findings.iter().map(f).collect::<Vec<_>>(),
        ))
    };
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("category", s(&|f| Some(f.category.clone()))),
        ("detector", s(&|f| Some(f.detector.clone()))),
        (
            "score",
            Arc::new(Float64Array::from(
                findings.iter().map(|f| f.score).collect::<Vec<_>>(),
            )),
        ),
        ("severity", s(&|f| Some(f.severity.as_str().to_string()))),
        ("src_ip", s(&|f| f.src_ip.clone())),
        ("dst_ip", s(&|f| f.dst_ip.clone())),
        (
            "dst_port",
            Arc::new(UInt16Array::from(
                findings.iter().map(|f| f.dst_port).collect::<Vec<_>>(),
            )),
        ),
        ("domain", s(&|f| f.domain.clone())),
        ("first_seen", s(&|f| f.first_seen.clone())),
        ("last_seen", s(&|f| f.last_seen.clone())),
        ("summary", s(&|f| Some(f.summary.clone()))),
        ("suppressed", s(&|f| f.suppressed.clone())),
        (
            "evidence",
            s(&|f| Some(Value::Object(f.evidence.clone()).to_string())),
        ),
    ];
    Ok(arrow::record_batch::RecordBatch::try_from_iter(cols)?)
}

/// Terminal rendering: one block per finding, ranked.
/// The findings as a terminal table; `color` paints the severities (the caller decides: a terminal,
/// and `NO_COLOR` unset, see [`crate::report::use_color`]).
pub fn write_table(findings: &[Finding], out: &mut dyn Write, color: bool) -> crate::Result<()> {
    if findings.is_empty() {
        writeln!(out, "no findings")?;
        return Ok(());
    }
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    t.set_header(vec![
        "#", "score", "severity", "category", "source", "peer", "summary",
    ]);
    crate::report::fit_width(&mut t);
    for (i, f) in findings.iter().enumerate() {
        let peer = match (&f.domain, &f.dst_ip, f.dst_port) {
            (Some(d), _, _) => d.clone(),
            (None, Some(ip), Some(p)) => format!("{ip}:{p}"),
            (None, Some(ip), None) => ip.clone(),
            _ => String::new(),
        };
        let severity = comfy_table::Cell::new(match &f.suppressed {
            Some(_) => format!("{} (suppressed)", f.severity.as_str()),
            None => f.severity.as_str().to_string(),
        });
        let severity = match (color, f.severity) {
            (false, _) => severity,
            (true, Severity::Critical) => severity
                .fg(comfy_table::Color::Red)
                .add_attribute(comfy_table::Attribute::Bold),
            (true, Severity::High) => severity.fg(comfy_table::Color::Red),
            (true, Severity::Medium) => severity.fg(comfy_table::Color::Yellow),
            (true, _) => severity.fg(comfy_table::Color::Blue),
        };
        t.add_row(vec![
            comfy_table::Cell::new((i + 1).to_string()),
            comfy_table::Cell::new(format!("{:.0}", f.score)),
            severity,
            comfy_table::Cell::new(f.category.clone()),
            comfy_table::Cell::new(sanitize_terminal(f.src_ip.as_deref().unwrap_or(""))),
            comfy_table::Cell::new(report::sanitize_cell(&peer)),
            comfy_table::Cell::new(report::sanitize_cell(&match &f.suppressed {
                Some(r) => format!("suppressed: {r} | {}", f.summary),
                None => f.summary.clone(),
            })),
        ]);
    }
    if color {
        t.enforce_styling();
    }
    writeln!(out, "{t}")?;
    Ok(())
}

/// Write findings in a format (to stdout or a file).
pub fn emit(
    findings: &[Finding],
    format: Format,
    output: Option<&Path>,
    title: &str,
    dataset: &Path,
) -> crate::Result<()> {
    // a findings file appears whole or not at all (report::OutputFile)
    let mut file = match output {
        Some(p) if format != Format::Parquet => Some(report::OutputFile::create(p)?),
        _ => None,
    };
    let mut sink: Box<dyn Write + '_> = match file.as_mut() {
        Some(f) => Box::new(std::io::BufWriter::new(f)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match format {
        Format::Table => write_table(
            findings,
            &mut sink,
            output.is_none()
                && report::use_color(std::io::IsTerminal::is_terminal(&std::io::stdout())),
        )?,
        Format::Jsonl => write_jsonl(findings, &mut sink)?,
        Format::Json => {
            let text = serde_json::to_vec_pretty(findings)?;
            sink.write_all(&crate::report::json_escape_invisible(&text))?;
            writeln!(sink)?;
        }
        Format::Csv | Format::Line => {
            let b = findings_batch(findings)?;
            report::write_batches(&[b], format, &mut sink, 0)?;
        }
        Format::Parquet => {
            let p =
                output.ok_or_else(|| crate::Error::Usage("parquet output needs -o FILE".into()))?;
            let b = findings_batch(findings)?;
            report::write_parquet(std::slice::from_ref(&b), b.schema(), p)?;
        }
        Format::Html => {
            let page = html::report(dataset, findings, title)?;
            sink.write_all(page.as_bytes())?;
        }
    }
    sink.flush()?;
    drop(sink);
    if let Some(f) = file {
        f.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing_and_overrides() {
        let text = "-- id: t1\n-- category: beaconing\n-- severity: high >= 70, low >= 10\n-- param: n int = 5\n-- param: name string = x\nSELECT 1 AS score, 'a' AS src_ip WHERE $n > 0";
        let mut d = vec![parse_detector("t.sql", text).unwrap()];
        assert_eq!(d[0].id, "t1");
        assert_eq!(
            d[0].thresholds,
            vec![(Severity::High, 70.0), (Severity::Low, 10.0)]
        );
        assert_eq!(d[0].params[0].value, ParamValue::Int(5));
        assert_eq!(d[0].sql_line, 6);
        apply_overrides(&mut d, &["t1.n=7".into()]).unwrap();
        assert_eq!(d[0].params[0].value, ParamValue::Int(7));
        assert!(apply_overrides(&mut d, &["t1.n=abc".into()]).is_err());
        assert!(apply_overrides(&mut d, &["t1.nope=1".into()]).is_err());
        // a string parameter stays a value: quotes and SQL in it are data, never SQL text
        apply_overrides(&mut d, &["t1.name=x'; DROP TABLE conn; --".into()]).unwrap();
        assert_eq!(
            d[0].params[1].value,
            ParamValue::Str("x'; DROP TABLE conn; --".into())
        );
    }

    #[test]
    fn summary_template() {
        let mut row = Map::new();
        row.insert("a".into(), Value::from(1536000.0));
        row.insert("r".into(), Value::from(0.91));
        row.insert("s".into(), Value::from("h"));
        assert_eq!(
            render_summary("{s} sent {a:bytes} ({r:pct}, {r:1}) {missing}", &row),
            "h sent 1.5 MB (91%, 0.9) ?"
        );
    }

    #[test]
    fn builtins_parse() {
        let d = load_detectors(None).unwrap();
        let ids: Vec<&str> = d.iter().map(|d| d.id.as_str()).collect();
        assert!(
            ids.contains(&"dns_tunnel")
                && ids.contains(&"beaconing")
                && ids.contains(&"exfil_volume")
        );
    }
}
