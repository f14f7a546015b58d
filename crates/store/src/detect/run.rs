//! Running detectors: bind the typed parameters, execute the SQL in a DataFusion session, turn each
//! row into a [`Finding`] under the detector's thresholds, then corroborate and rank.

use super::finding::{Finding, apply_intel, render_summary};
use super::spec::{Detector, Severity};
use datafusion::common::ScalarValue;
use serde_json::{Map, Value};
use std::path::Path;

const CONTRACT: &[&str] = &[
    "score",
    "src_ip",
    "dst_ip",
    "dst_port",
    "domain",
    "first_seen",
    "last_seen",
];

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
    let params: Vec<(String, ScalarValue)> = d
        .params
        .iter()
        .map(|p| (p.name.clone(), p.value.scalar()))
        .collect();
    // the CTEs it names computed once each (`-- materialize:`); their tables and files go when
    // the rows are read
    let (statement, materialized) = super::materialize::prepare(ctx, d, &params).await?;
    let batches = super::materialize::plan(ctx, statement, &params)
        .await?
        .collect()
        .await?;
    drop(materialized);
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

/// A detector that failed: its file, line and the error, and whether the dataset's data failed to
/// decode ([`crate::query::is_damaged_data`]: then the caller can name the damaged file).
#[derive(Debug, Clone)]
pub struct DetectorError {
    pub message: String,
    pub damaged_data: bool,
}

impl std::fmt::Display for DetectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Run every detector over a dataset, findings ranked by score.
pub fn detect(
    dataset: &Path,
    detectors: &[Detector],
) -> crate::Result<(Vec<Finding>, Vec<DetectorError>)> {
    detect_timed(dataset, detectors, |_, _, _| {})
}

/// [`detect`], reporting (detector id, findings, seconds) as each detector finishes.
pub fn detect_timed(
    dataset: &Path,
    detectors: &[Detector],
    mut on_done: impl FnMut(&str, usize, f64),
) -> crate::Result<(Vec<Finding>, Vec<DetectorError>)> {
    let rt = crate::query::runtime()?;
    rt.block_on(async {
        let ctx = crate::query::session(dataset).await?;
        let mut all = Vec::new();
        let mut errors = Vec::new();
        for d in detectors {
            let t0 = std::time::Instant::now();
            match run_detector(&ctx, d).await {
                Ok(f) => {
                    on_done(&d.id, f.len(), t0.elapsed().as_secs_f64());
                    all.extend(f)
                }
                Err(e) => errors.push(DetectorError {
                    message: format!("{} (SQL from line {}): {e:#}", d.path, d.sql_line),
                    damaged_data: crate::query::is_damaged_data(&e),
                }),
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
