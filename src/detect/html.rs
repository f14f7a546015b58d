//! The capture overview (terminal summary of `triage`) and the self-contained HTML report.

use super::Finding;
use crate::report::html::{bars, columns, esc};
use crate::table::manifest::Manifest;
use arrow::array::Array;
use std::path::Path;

/// Facts about a dataset for the summary.
pub struct Overview {
    pub manifest: Manifest,
    pub top_talkers: Vec<(String, f64)>,
    /// Destinations by packets (a flood of small packets is invisible by bytes).
    pub top_destinations: Vec<(String, f64)>,
    /// proto/port by connections (scans and fan-outs).
    pub top_ports: Vec<(String, f64)>,
    pub services: Vec<(String, f64)>,
    pub timeline: Vec<f64>,
    pub span: (String, String),
    pub tables: Vec<(String, u64)>,
}

impl Overview {
    pub fn text(&self) -> String {
        let m = &self.manifest;
        let read: u64 = m.inputs.iter().map(|i| i.packets_read).sum();
        let decoded: u64 = m.inputs.iter().map(|i| i.packets_decoded).sum();
        let bytes: u64 = m.inputs.iter().map(|i| i.size).sum();
        let mut s = String::new();
        s.push_str(&format!(
            "Capture: {} file(s), {}, {} packets ({} decoded)\n",
            m.inputs.len(),
            crate::report::human_bytes(bytes),
            read,
            decoded
        ));
        s.push_str(&format!("Time span: {} .. {}\n", self.span.0, self.span.1));
        let t: Vec<String> = self
            .tables
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        s.push_str(&format!("Rows: {}\n", t.join(", ")));
        let sv: Vec<String> = self
            .services
            .iter()
            .take(6)
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        s.push_str(&format!("Connections by service: {}\n", sv.join(", ")));
        let tt: Vec<String> = self
            .top_talkers
            .iter()
            .take(5)
            .map(|(k, v)| format!("{k} ({})", crate::report::human_bytes(*v as u64)))
            .collect();
        s.push_str(&format!("Top talkers: {}\n", tt.join(", ")));
        let td: Vec<String> = self
            .top_destinations
            .iter()
            .take(5)
            .map(|(k, v)| format!("{k} ({} pkts)", crate::report::human_number(*v)))
            .collect();
        s.push_str(&format!("Top destinations by packets: {}\n", td.join(", ")));
        let tp: Vec<String> = self
            .top_ports
            .iter()
            .take(5)
            .map(|(k, v)| format!("{k} ({} conns)", crate::report::human_number(*v)))
            .collect();
        s.push_str(&format!("Top ports by connections: {}\n", tp.join(", ")));
        if m.inputs.len() > 1 {
            for i in m.inputs.iter().take(20) {
                s.push_str(&format!(
                    "  input {}: {} packets, {} .. {}\n",
                    i.path,
                    i.packets_read,
                    i.first_ts.as_deref().unwrap_or("?"),
                    i.last_ts.as_deref().unwrap_or("?")
                ));
            }
            if m.inputs.len() > 20 {
                s.push_str(&format!("  ... and {} more inputs\n", m.inputs.len() - 20));
            }
        }
        for i in &m.inputs {
            if let Some(e) = &i.error {
                s.push_str(&format!("Warning: {}: {}\n", i.path, e));
            }
        }
        s
    }
}

fn rows2(b: &[arrow::record_batch::RecordBatch]) -> Vec<(String, f64)> {
    let mut v = Vec::new();
    for batch in b {
        for r in 0..batch.num_rows() {
            let k = crate::report::cell(batch.column(0), r);
            let val = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Float64)
                .ok()
                .and_then(|a| {
                    let f = a
                        .as_any()
                        .downcast_ref::<arrow::array::Float64Array>()?
                        .clone();
                    (!f.is_null(r)).then(|| f.value(r))
                });
            v.push((k, val.unwrap_or(0.0)));
        }
    }
    v
}

pub fn overview(dataset: &Path) -> anyhow::Result<Overview> {
    let manifest = Manifest::load(dataset)?;
    let rt = crate::query::runtime()?;
    rt.block_on(async {
        let ctx = crate::query::open_session(dataset).await?;
        let q = |sql: &'static str| {
            let ctx = ctx.clone();
            async move { crate::query::run_sql(&ctx, sql, false).await }
        };
        let top = rows2(&q("SELECT orig_h, CAST(sum(orig_bytes + resp_bytes) AS DOUBLE) b FROM conn GROUP BY orig_h ORDER BY b DESC, orig_h LIMIT 8").await?);
        let services = rows2(&q("SELECT coalesce(service, proto || '/other') s, CAST(count(*) AS DOUBLE) n FROM conn GROUP BY 1 ORDER BY n DESC, s LIMIT 8").await?);
        let top_destinations = rows2(&q("SELECT resp_h, CAST(sum(orig_pkts + resp_pkts) AS DOUBLE) p FROM conn GROUP BY resp_h ORDER BY p DESC, resp_h LIMIT 8").await?);
        let top_ports = rows2(&q("SELECT proto || '/' || CAST(resp_p AS VARCHAR) k, CAST(count(*) AS DOUBLE) n FROM conn GROUP BY 1 ORDER BY n DESC, k LIMIT 8").await?);
        // the span runs from the first to the last packet (the manifest's), not to the last
        // connection's start
        let a = manifest.inputs.iter().filter_map(|i| i.first_ts.clone()).min().unwrap_or_default();
        let b = manifest.inputs.iter().filter_map(|i| i.last_ts.clone()).max().unwrap_or_default();
        let tl = rows2(&q("WITH b AS (SELECT min(ts) lo, max(ts) hi FROM conn) SELECT CAST(least(59, floor((to_unixtime(c.ts) - to_unixtime(b.lo)) * 60.0 / greatest(1.0, to_unixtime(b.hi) - to_unixtime(b.lo)))) AS BIGINT) k, CAST(count(*) AS DOUBLE) FROM conn c, b GROUP BY 1 ORDER BY 1").await?);
        let mut timeline = vec![0.0; 60];
        for (k, v) in tl {
            if let Ok(i) = k.parse::<usize>()
                && i < 60 {
                    timeline[i] = v;
                }
        }
        let tables = manifest.tables.iter().map(|(k, v)| (k.clone(), *v)).collect();
        Ok(Overview { manifest, top_talkers: top, top_destinations, top_ports, services, timeline, span: (a, b), tables })
    })
}

/// Self-contained HTML report (inline CSS and SVG; no scripts, nothing fetched).
pub fn report(dataset: &Path, findings: &[Finding], title: &str) -> anyhow::Result<String> {
    Ok(render(&overview(dataset)?, findings, title))
}

/// The page from an overview already computed (triage computes it once for the terminal and the page).
pub fn render(ov: &Overview, findings: &[Finding], title: &str) -> String {
    let mut h = String::new();
    h.push_str(&format!(
        "<!doctype html><html><head><meta charset=utf-8><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>{}</title><style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}}.sev-critical{{color:#fff;background:#8b0000}}.sev-high{{background:#f4a6a6}}.sev-medium{{background:#f6deb0}}.sev-low{{background:#e8eef5}}.muted{{color:#777}}pre{{white-space:pre-wrap;font-size:12px;background:#f6f6f6;padding:6px}}details{{margin:2px 0}}</style></head><body>",
        esc(title)
    ));
    h.push_str(&format!(
        "<h1>{}</h1><pre>{}</pre>",
        esc(title),
        esc(&ov.text())
    ));
    h.push_str(&format!("<h2>Findings ({})</h2>", findings.len()));
    if findings.is_empty() {
        h.push_str("<p>No detector fired.</p>");
    } else {
        h.push_str("<table><tr><th>#</th><th>score</th><th>severity</th><th>category</th><th>source</th><th>peer</th><th>seen</th><th>summary and evidence</th></tr>");
        for (i, f) in findings.iter().enumerate() {
            let peer = f
                .domain
                .clone()
                .or_else(|| {
                    f.dst_ip.as_ref().map(|d| {
                        format!(
                            "{d}{}",
                            f.dst_port.map(|p| format!(":{p}")).unwrap_or_default()
                        )
                    })
                })
                .unwrap_or_default();
            let ev = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
            let hist = f
                .evidence
                .get("interval_histogram")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect::<Vec<_>>());
            let chart = hist
                .filter(|v| !v.is_empty())
                .map(|v| columns(&v, ("0", "2× period"), "inter-arrival gaps / median period"))
                .unwrap_or_default();
            h.push_str(&format!(
                "<tr><td>{}</td><td>{:.0}</td><td class=\"sev-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br>{}</td><td>{}<details><summary>evidence</summary>{}<pre>{}</pre></details></td></tr>",
                i + 1,
                f.score,
                f.severity.as_str(),
                f.severity.as_str(),
                esc(&f.category),
                esc(f.src_ip.as_deref().unwrap_or("")),
                esc(&peer),
                esc(f.first_seen.as_deref().unwrap_or("")),
                esc(f.last_seen.as_deref().unwrap_or("")),
                match &f.suppressed {
                    Some(r) => format!("<b>suppressed</b>: {}<br><span class=muted>{}</span>", esc(r), esc(&f.summary)),
                    None => esc(&f.summary),
                },
                chart,
                esc(&ev)
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Connections over time</h2>");
    h.push_str(&columns(
        &ov.timeline,
        (&ov.span.0, &ov.span.1),
        "connections per 1/60 of the capture",
    ));
    h.push_str("<h2>Top talkers (bytes)</h2>");
    h.push_str(&bars(&ov.top_talkers, "B"));
    h.push_str("<h2>Connections by service</h2>");
    h.push_str(&bars(&ov.services, "conns"));
    h.push_str("<h2>Inputs</h2><table><tr><th>file</th><th>sha256</th><th>packets read</th><th>decoded</th><th>skipped</th><th>end</th></tr>");
    for i in &ov.manifest.inputs {
        let sk: Vec<String> = i
            .packets_skipped
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.path),
            esc(&i.sha256.as_deref().unwrap_or("not computed").chars().take(16).collect::<String>()),
            i.packets_read,
            i.packets_decoded,
            esc(&sk.join(", ")),
            esc(&i.end)
        ));
    }
    h.push_str(&format!(
        "</table><p class=muted>wirehunt {} — schema v{}</p></body></html>\n",
        esc(&ov.manifest.wirehunt_version),
        ov.manifest.schema_version
    ));
    h
}
