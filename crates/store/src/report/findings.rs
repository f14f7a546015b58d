//! Findings out: the terminal table, JSON lines, JSON, CSV, Parquet and the HTML report (the
//! findings sink of `detect`, `triage` and `report`; query results go through [`super::BatchWriter`]).

use crate::detect::{Finding, Severity, html};
use crate::report::{self, Format, sanitize_terminal};
use serde_json::Value;
use std::io::Write;
use std::path::Path;

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
            // the findings of `detect`, or a findings file: not necessarily numbered as triage
            // numbers them, so the pivots name connections
            let page = html::report(dataset, findings, title, None)?;
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
