//! A detector's specification: the `-- key: value` header grammar of a `queries/*.sql` file, its
//! typed parameters and `--param` overrides, severity thresholds, and the built-in set.

use datafusion::common::ScalarValue;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
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
            "float" => match v.parse::<f64>() {
                // NaN compares false with everything and would silently drop every finding
                Ok(x) if x.is_finite() => Ok(ParamValue::Float(x)),
                Ok(_) => Err(format!("{v:?} is not a finite number")),
                Err(e) => Err(format!("{v:?} is not a float: {e}")),
            },
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
    pub(crate) fn scalar(&self) -> ScalarValue {
        match self {
            ParamValue::Int(i) => ScalarValue::Int64(Some(*i)),
            ParamValue::Float(f) => ScalarValue::Float64(Some(*f)),
            ParamValue::Str(s) => ScalarValue::Utf8(Some(s.clone())),
            ParamValue::Bool(b) => ScalarValue::Boolean(Some(*b)),
        }
    }
    pub(crate) fn json(&self) -> Value {
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
    /// `-- materialize: a, b`: common table expressions of the query computed once each, before
    /// the query, into a temporary Arrow file read back as a table (DataFusion plans a CTE inline at
    /// every reference: a series read by ten later CTEs is recomputed ten times, scans and joins
    /// included). Results are the same either way; see [`crate::detect::run`].
    pub materialize: Vec<String>,
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
        "queries/ftp_smtp_exfil.sql",
        include_str!("../../../../queries/ftp_smtp_exfil.sql"),
    ),
    (
        "queries/public_ip_lookup.sql",
        include_str!("../../../../queries/public_ip_lookup.sql"),
    ),
    (
        "queries/remote_control_in_clear.sql",
        include_str!("../../../../queries/remote_control_in_clear.sql"),
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

/// A parameter's or a CTE's name in a header: letters, digits and `_`, at least one.
fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
        materialize: Vec::new(),
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
                        "materialize" => {
                            for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                                if !is_identifier(name) {
                                    return Err(format!(
                                        "{path}:{}: bad CTE name {name:?} to materialize",
                                        i + 1
                                    ));
                                }
                                d.materialize.push(name.to_ascii_lowercase());
                            }
                        }
                        "severity" => {
                            let mut th = Vec::new();
                            for part in v.split(',') {
                                let (s, n) = part.split_once(">=").ok_or_else(|| {
                                    format!("{path}:{}: severity wants 'name >= score'", i + 1)
                                })?;
                                let sev = s.trim().parse::<Severity>().map_err(|_| {
                                    format!("{path}:{}: unknown severity {:?}", i + 1, s.trim())
                                })?;
                                // a score is read as a float parameter is: finite, or refused
                                let Ok(ParamValue::Float(n)) = ParamValue::parse("float", n) else {
                                    return Err(format!(
                                        "{path}:{}: bad score {:?}",
                                        i + 1,
                                        n.trim()
                                    ));
                                };
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
                            if !is_identifier(name) {
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
