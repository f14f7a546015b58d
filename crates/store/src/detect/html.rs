//! The capture overview (terminal summary of `triage`) and the self-contained HTML report.

use super::Finding;
use crate::report::html::{bars, columns, esc, scatter, strip, time_columns};
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
    /// First and last connection start, UTC microseconds (the time axis of the series).
    pub conn_span: (i64, i64),
    /// Per time bucket (60 of the span, by connection start): IP bytes and packets.
    pub bytes_series: Vec<f64>,
    pub packets_series: Vec<f64>,
    /// Connections per bucket for the top services (the rest as "other").
    pub service_series: Vec<(String, Vec<f64>)>,
    /// DNS registered domains, TLS SNI and HTTP User-Agents by count.
    pub top_domains: Vec<(String, f64)>,
    pub top_sni: Vec<(String, f64)>,
    pub top_user_agents: Vec<(String, f64)>,
    /// DNS queries as (length, entropy in bits per byte, count): tunnels sit long and high.
    pub dns_shape: Vec<(f64, f64, f64)>,
    /// Per source host: (bytes sent + received, connections).
    pub hosts: std::collections::BTreeMap<String, (f64, f64)>,
    /// With `--geoip`: responder countries and ASNs of connections to public peers.
    pub top_countries: Vec<(String, f64)>,
    pub top_asns: Vec<(String, f64)>,
    /// Per input (conn.source): connections, IP bytes, the top talker by bytes and its bytes.
    pub per_input: std::collections::BTreeMap<String, (f64, f64, String, f64)>,
}

/// Buckets of the time series.
const BUCKETS: usize = 60;

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
            // unrelated captures triaged together: each one's own span, size and top talker
            s.push_str("Per input:\n");
            for i in m.inputs.iter().take(20) {
                let (conns, bytes, top, top_b) =
                    self.per_input
                        .get(&i.path)
                        .cloned()
                        .unwrap_or((0.0, 0.0, String::new(), 0.0));
                s.push_str(&format!(
                    "  {}: {} packets, {} connections, {}, {} .. {}{}\n",
                    i.path,
                    i.packets_read,
                    crate::report::human_number(conns),
                    crate::report::human_bytes(bytes as u64),
                    i.first_ts.as_deref().unwrap_or("?"),
                    i.last_ts.as_deref().unwrap_or("?"),
                    if top.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; top talker {top} ({})",
                            crate::report::human_bytes(top_b as u64)
                        )
                    }
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

/// (label, value) rows from a two-column result; the value column is cast to f64 once per batch.
fn rows2(b: &[arrow::record_batch::RecordBatch]) -> Vec<(String, f64)> {
    let mut v = Vec::new();
    for batch in b {
        let vals = arrow::compute::cast(batch.column(1), &arrow::datatypes::DataType::Float64).ok();
        let vals = vals
            .as_ref()
            .and_then(|a| a.as_any().downcast_ref::<arrow::array::Float64Array>());
        for r in 0..batch.num_rows() {
            let k = crate::report::cell(batch.column(0), r);
            let val = vals.filter(|f| !f.is_null(r)).map(|f| f.value(r));
            v.push((k, val.unwrap_or(0.0)));
        }
    }
    v
}

fn rows_n(b: &[arrow::record_batch::RecordBatch]) -> Vec<Vec<String>> {
    let mut v = Vec::new();
    for batch in b {
        for r in 0..batch.num_rows() {
            v.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| crate::report::cell(c, r))
                    .collect(),
            );
        }
    }
    v
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or(0.0)
}

pub fn overview(dataset: &Path) -> crate::Result<Overview> {
    let manifest = Manifest::load(dataset)?;
    let rt = crate::query::runtime()?;
    rt.block_on(async {
        let ctx = crate::query::session(dataset).await?;
        let q = |sql: String| {
            let ctx = ctx.clone();
            async move { crate::query::run_sql(&ctx, &sql, false).await }
        };
        let top = rows2(&q("SELECT orig_h, CAST(sum(orig_bytes + resp_bytes) AS DOUBLE) b FROM conn GROUP BY orig_h ORDER BY b DESC, orig_h LIMIT 8".into()).await?);
        let services = rows2(&q("SELECT coalesce(service, proto || '/other') s, CAST(count(*) AS DOUBLE) n FROM conn GROUP BY 1 ORDER BY n DESC, s LIMIT 8".into()).await?);
        let top_destinations = rows2(&q("SELECT resp_h, CAST(sum(orig_pkts + resp_pkts) AS DOUBLE) p FROM conn GROUP BY resp_h ORDER BY p DESC, resp_h LIMIT 8".into()).await?);
        let top_ports = rows2(&q("SELECT proto || '/' || CAST(resp_p AS VARCHAR) k, CAST(count(*) AS DOUBLE) n FROM conn GROUP BY 1 ORDER BY n DESC, k LIMIT 8".into()).await?);
        let top_domains = rows2(&q("SELECT registered_domain(query) d, CAST(count(*) AS DOUBLE) n FROM dns WHERE registered_domain(query) IS NOT NULL GROUP BY 1 ORDER BY n DESC, d LIMIT 10".into()).await?);
        let top_sni = rows2(&q("SELECT server_name, CAST(count(*) AS DOUBLE) n FROM tls WHERE server_name IS NOT NULL GROUP BY 1 ORDER BY n DESC, server_name LIMIT 10".into()).await?);
        let top_user_agents = rows2(&q("SELECT user_agent, CAST(count(*) AS DOUBLE) n FROM http WHERE user_agent IS NOT NULL GROUP BY 1 ORDER BY n DESC, user_agent LIMIT 10".into()).await?);
        let dns_shape = rows_n(&q("SELECT CAST(length(query) AS DOUBLE) l, round(shannon_entropy(query), 2) e, CAST(count(*) AS DOUBLE) n FROM dns WHERE query IS NOT NULL GROUP BY 1, 2 ORDER BY n DESC, l, e LIMIT 4000".into()).await?)
            .iter()
            .map(|r| (num(&r[0]), num(&r[1]), num(&r[2])))
            .collect();
        let hosts = rows_n(&q("SELECT orig_h, CAST(sum(orig_bytes + resp_bytes) AS DOUBLE), CAST(count(*) AS DOUBLE) FROM conn GROUP BY orig_h".into()).await?)
            .into_iter()
            .map(|r| (r[0].clone(), (num(&r[1]), num(&r[2]))))
            .collect();
        let (mut top_countries, mut top_asns) = (Vec::new(), Vec::new());
        if crate::query::geo::loaded() {
            top_countries = rows2(&q("SELECT geo_country(resp_h) c, CAST(count(*) AS DOUBLE) n FROM conn WHERE geo_country(resp_h) IS NOT NULL GROUP BY 1 ORDER BY n DESC, c LIMIT 10".into()).await?);
            top_asns = rows2(&q("SELECT 'AS' || CAST(geo_asn(resp_h) AS VARCHAR) || coalesce(' ' || geo_as_org(resp_h), '') a, CAST(count(*) AS DOUBLE) n FROM conn WHERE geo_asn(resp_h) IS NOT NULL GROUP BY 1 ORDER BY n DESC, a LIMIT 10".into()).await?);
        }
        let mut per_input: std::collections::BTreeMap<String, (f64, f64, String, f64)> = Default::default();
        if manifest.inputs.len() > 1 {
            for r in rows_n(&q("SELECT source, CAST(count(*) AS DOUBLE), CAST(sum(orig_ip_bytes + resp_ip_bytes) AS DOUBLE) FROM conn GROUP BY source".into()).await?) {
                per_input.insert(r[0].clone(), (num(&r[1]), num(&r[2]), String::new(), 0.0));
            }
            for r in rows_n(&q("SELECT source, orig_h, b FROM (SELECT source, orig_h, b, row_number() OVER (PARTITION BY source ORDER BY b DESC, orig_h) k FROM (SELECT source, orig_h, CAST(sum(orig_bytes + resp_bytes) AS DOUBLE) b FROM conn GROUP BY source, orig_h)) WHERE k = 1".into()).await?) {
                if let Some(e) = per_input.get_mut(&r[0]) {
                    e.2 = r[1].clone();
                    e.3 = num(&r[2]);
                }
            }
        }
        // the span runs from the first to the last packet (the manifest's), not to the last
        // connection's start
        let a = manifest.inputs.iter().filter_map(|i| i.first_ts.clone()).min().unwrap_or_default();
        let b = manifest.inputs.iter().filter_map(|i| i.last_ts.clone()).max().unwrap_or_default();
        let span = rows_n(&q("SELECT CAST(min(ts) AS BIGINT), CAST(max(ts) AS BIGINT) FROM conn".into()).await?);
        let (lo, hi) = span
            .first()
            .map(|r| (r[0].parse::<i64>().unwrap_or(0), r[1].parse::<i64>().unwrap_or(0)))
            .unwrap_or((0, 0));
        let bucket = format!("CAST(least({}, floor((CAST(ts AS BIGINT) - {lo}) * {BUCKETS}.0 / {})) AS BIGINT)", BUCKETS - 1, (hi - lo).max(1));
        let mut timeline = vec![0.0; BUCKETS];
        let mut bytes_series = vec![0.0; BUCKETS];
        let mut packets_series = vec![0.0; BUCKETS];
        for r in rows_n(&q(format!("SELECT {bucket} k, CAST(count(*) AS DOUBLE), CAST(sum(orig_ip_bytes + resp_ip_bytes) AS DOUBLE), CAST(sum(orig_pkts + resp_pkts) AS DOUBLE) FROM conn GROUP BY 1 ORDER BY 1")).await?) {
            if let Ok(i) = r[0].parse::<usize>()
                && i < BUCKETS {
                    timeline[i] = num(&r[1]);
                    bytes_series[i] = num(&r[2]);
                    packets_series[i] = num(&r[3]);
                }
        }
        let named: Vec<String> = services.iter().take(5).map(|s| s.0.clone()).collect();
        let mut service_series: Vec<(String, Vec<f64>)> = named.iter().map(|n| (n.clone(), vec![0.0; BUCKETS])).collect();
        let mut other = vec![0.0; BUCKETS];
        for r in rows_n(&q(format!("SELECT {bucket} k, coalesce(service, proto || '/other') s, CAST(count(*) AS DOUBLE) FROM conn GROUP BY 1, 2")).await?) {
            let Ok(i) = r[0].parse::<usize>() else { continue };
            let slot = match named.iter().position(|n| *n == r[1]) {
                Some(k) => service_series.get_mut(k).map(|s| &mut s.1),
                None => Some(&mut other),
            };
            if let Some(v) = slot.and_then(|s| s.get_mut(i)) {
                *v += num(&r[2]);
            }
        }
        if other.iter().any(|v| *v > 0.0) {
            service_series.push(("other".into(), other));
        }
        let tables = manifest.tables.iter().map(|(k, v)| (k.clone(), *v)).collect();
        Ok(Overview {
            manifest, top_talkers: top, top_destinations, top_ports, services, timeline, span: (a, b), tables,
            conn_span: (lo, hi), bytes_series, packets_series, service_series, top_domains, top_sni,
            top_user_agents, dns_shape, hosts, per_input, top_countries, top_asns,
        })
    })
}

/// Each finding's event times for its timeline strip: the connection starts of its uids (a beacon's
/// check-ins), or the originator's data bursts when the series is bursts inside one session.
pub fn finding_times(dataset: &Path, findings: &[Finding]) -> crate::Result<Vec<Vec<i64>>> {
    let rt = crate::query::runtime()?;
    rt.block_on(async {
        let ctx = crate::query::session(dataset).await?;
        let mut out = Vec::with_capacity(findings.len());
        for f in findings {
            let uids = super::pivot::ids(f, "uids", 1000);
            if f.category != "beaconing" || uids.is_empty() {
                out.push(Vec::new());
                continue;
            }
            let list = uids.iter().map(|u| format!("'{u}'")).collect::<Vec<_>>().join(", ");
            let bursts = f.evidence.get("series").and_then(|v| v.as_str()) == Some("bursts");
            let sql = if bursts {
                format!("SELECT b FROM (SELECT unnest(orig_bursts) b FROM conn WHERE uid IN ({list})) ORDER BY b")
            } else {
                format!("SELECT CAST(ts AS BIGINT) FROM conn WHERE uid IN ({list}) ORDER BY 1")
            };
            let times = rows_n(&crate::query::run_sql(&ctx, &sql, false).await?)
                .iter()
                .filter_map(|r| r.first().and_then(|v| v.parse::<i64>().ok()))
                .collect();
            out.push(times);
        }
        Ok(out)
    })
}

/// Self-contained HTML report (inline CSS and SVG; no scripts, nothing fetched). `extract_options`:
/// the detector options (shell words) the findings were made with, when they are numbered as triage
/// numbers them - each finding's packets pivot is then `extract --finding N` with them (all its
/// connections); without, it names the finding's first five connections.
pub fn report(
    dataset: &Path,
    findings: &[Finding],
    title: &str,
    extract_options: Option<&[String]>,
) -> crate::Result<String> {
    page(
        &overview(dataset)?,
        dataset,
        findings,
        title,
        extract_options,
    )
}

/// The page from an overview already computed (triage computes it once for the terminal and the
/// page); the findings' timelines are read here.
pub fn page(
    ov: &Overview,
    dataset: &Path,
    findings: &[Finding],
    title: &str,
    extract_options: Option<&[String]>,
) -> crate::Result<String> {
    let times = finding_times(dataset, findings)?;
    Ok(render(
        ov,
        dataset,
        findings,
        title,
        &times,
        extract_options,
    ))
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:0 auto;padding:1em 2em;max-width:1180px;color:#222}\
h1{font-size:22px;margin:.3em 0}h2{font-size:18px;border-bottom:2px solid #3b6ea8;padding-bottom:2px;margin-top:1.6em}h3{font-size:15px;margin:1em 0 .3em}\
nav a{margin-right:1em}table{border-collapse:collapse;width:100%;table-layout:auto}table.findings{table-layout:fixed}\
td,th{border-bottom:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}\
th{background:#f3f5f8}.sev{white-space:nowrap;padding:1px 6px;border-radius:3px}.sev-critical{color:#fff;background:#8b0000}.sev-high{background:#f4a6a6}.sev-medium{background:#f6deb0}.sev-low{background:#e8eef5}\
.muted{color:#777}pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;background:#f6f6f6;padding:6px;margin:4px 0}\
code{overflow-wrap:anywhere;word-break:break-all}details{margin:4px 0}summary{cursor:pointer;color:#3b6ea8}\
.chart{width:100%;height:auto;display:block}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:0 24px}\
.panel{min-width:0}table.kv{table-layout:auto}table.kv td:first-child{width:12em;color:#555;word-break:normal;overflow-wrap:normal}.host{margin:.6em 0 1em}";

/// A finding's evidence as a readable table: one row per fact; lists joined; the detector's
/// parameters on one line; ids listed separately.
fn evidence_table(map: &serde_json::Map<String, serde_json::Value>) -> String {
    let show = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "-".into(),
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| match x {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".into(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
            serde_json::Value::Object(o) => o
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        }
    };
    let mut t = String::from("<table class=kv>");
    for (k, v) in map {
        if matches!(
            k.as_str(),
            "uids" | "fuids" | "parameters" | "interval_histogram"
        ) {
            continue;
        }
        t.push_str(&format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(k),
            esc(&show(v))
        ));
    }
    if let Some(p) = map.get("parameters") {
        t.push_str(&format!(
            "<tr><td>parameters</td><td class=muted>{}</td></tr>",
            esc(&show(p))
        ));
    }
    t.push_str("</table>");
    t
}

/// The page: findings (with evidence, ids, timelines and pivot commands), findings per host,
/// traffic over time, top lists, DNS shape, inputs.
pub fn render(
    ov: &Overview,
    dataset: &Path,
    findings: &[Finding],
    title: &str,
    times: &[Vec<i64>],
    extract_options: Option<&[String]>,
) -> String {
    let inputs: Vec<&str> = ov.manifest.inputs.iter().map(|i| i.path.as_str()).collect();
    let named = match inputs.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    };
    let full_title = if named.is_empty() {
        title.to_string()
    } else {
        format!("{title}: {named}")
    };
    let mut h = String::new();
    h.push_str(&format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&full_title)
    ));
    h.push_str(&format!("<h1>{}</h1>", esc(&full_title)));
    h.push_str("<nav><a href=\"#findings\">Findings</a><a href=\"#hosts\">Hosts</a><a href=\"#traffic\">Traffic over time</a><a href=\"#top\">Top lists</a><a href=\"#dns\">DNS</a><a href=\"#inputs\">Inputs</a></nav>");
    h.push_str(&format!(
        "<section id=summary class=panel><pre>{}</pre></section>",
        esc(&ov.text())
    ));

    // findings
    h.push_str(&format!(
        "<section id=findings class=panel><h2>Findings ({})</h2>",
        findings.len()
    ));
    if findings.is_empty() {
        h.push_str("<p>No detector fired.</p>");
    } else {
        h.push_str("<table class=findings><colgroup><col style=\"width:3em\"><col style=\"width:4em\"><col style=\"width:6em\"><col style=\"width:9em\"><col style=\"width:9em\"><col style=\"width:11em\"><col style=\"width:12em\"><col></colgroup><tr><th>#</th><th>score</th><th>severity</th><th>category</th><th>source</th><th>peer</th><th>seen</th><th>summary and evidence</th></tr>");
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
            let hist = f
                .evidence
                .get("interval_histogram")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect::<Vec<_>>())
                .filter(|v| !v.is_empty())
                .map(|v| columns(&v, ("0", "2× period"), "inter-arrival gaps / median period"))
                .unwrap_or_default();
            let timeline = times
                .get(i)
                .filter(|t| !t.is_empty())
                .map(|t| {
                    strip(
                        t,
                        ov.conn_span.0.min(t[0]),
                        ov.conn_span.1.max(t[t.len() - 1]),
                        "check-ins over the capture",
                    )
                })
                .unwrap_or_default();
            let uids = super::pivot::ids(f, "uids", 1000);
            let fuids = super::pivot::ids(f, "fuids", 1000);
            let mut ids = String::new();
            if !uids.is_empty() {
                ids.push_str(&format!(
                    "<p>connections ({}): <code>{}</code></p>",
                    uids.len(),
                    esc(&uids.join(" "))
                ));
            }
            if !fuids.is_empty() {
                ids.push_str(&format!(
                    "<p>files ({}): <code>{}</code></p>",
                    fuids.len(),
                    esc(&fuids.join(" "))
                ));
            }
            let pivots: Vec<String> = [
                super::pivot::sql_command(f, dataset),
                match extract_options {
                    Some(o) if !uids.is_empty() => {
                        Some(super::pivot::extract_finding_command(i + 1, dataset, o))
                    }
                    _ => super::pivot::extract_command(f, i + 1, dataset),
                },
            ]
            .into_iter()
            .flatten()
            .map(|c| format!("<pre class=cmd>{}</pre>", esc(&c)))
            .collect();
            h.push_str(&format!(
                "<tr id=\"finding-{}\"><td>{}</td><td>{:.0}</td><td><span class=\"sev sev-{}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}<br>{}</td><td>{}<details><summary>evidence</summary>{}{}{}{}{}</details></td></tr>",
                i + 1,
                i + 1,
                f.score,
                f.severity.as_str(),
                f.severity.as_str(),
                esc(&f.category),
                esc(f.src_ip.as_deref().unwrap_or("")),
                esc(&peer),
                esc(&f.first_seen.as_deref().unwrap_or("").replacen('T', " ", 1)),
                esc(&f.last_seen.as_deref().unwrap_or("").replacen('T', " ", 1)),
                match &f.suppressed {
                    Some(r) => format!("<b>suppressed</b>: {}<br><span class=muted>{}</span>", esc(r), esc(&f.summary)),
                    None => esc(&f.summary),
                },
                evidence_table(&f.evidence),
                hist,
                timeline,
                ids,
                pivots.join("")
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // per host
    h.push_str("<section id=hosts class=panel><h2>Findings per host</h2>");
    let mut by_host: std::collections::BTreeMap<&str, Vec<(usize, &Finding)>> = Default::default();
    for (i, f) in findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.suppressed.is_none())
    {
        by_host
            .entry(f.src_ip.as_deref().unwrap_or("(no source)"))
            .or_default()
            .push((i, f));
    }
    let mut hosts: Vec<_> = by_host.into_iter().collect();
    hosts.sort_by(|a, b| {
        let top = |v: &Vec<(usize, &Finding)>| v.iter().map(|x| x.1.score).fold(0.0f64, f64::max);
        top(&b.1).total_cmp(&top(&a.1)).then(a.0.cmp(b.0))
    });
    if hosts.is_empty() {
        h.push_str("<p class=muted>no findings</p>");
    }
    for (host, fs) in hosts {
        let (bytes, conns) = ov.hosts.get(host).copied().unwrap_or((0.0, 0.0));
        h.push_str(&format!(
            "<div class=host><h3>{} <span class=muted>({} finding(s); as originator {} in {} connections)</span></h3><table class=findings><colgroup><col style=\"width:3em\"><col style=\"width:6em\"><col style=\"width:9em\"><col></colgroup>",
            esc(host),
            fs.len(),
            esc(&crate::report::human_bytes(bytes as u64)),
            esc(&crate::report::human_number(conns))
        ));
        for (i, f) in fs {
            h.push_str(&format!(
                "<tr><td><a href=\"#finding-{}\">#{}</a></td><td><span class=\"sev sev-{}\">{}</span></td><td>{}</td><td>{}</td></tr>",
                i + 1,
                i + 1,
                f.severity.as_str(),
                f.severity.as_str(),
                esc(&f.category),
                esc(&f.summary)
            ));
        }
        h.push_str("</table></div>");
    }
    h.push_str("</section>");

    // traffic over time
    let (lo, hi) = ov.conn_span;
    h.push_str("<section id=traffic class=panel><h2>Traffic over time</h2><p class=muted>by connection start, 60 equal slices of the capture (UTC)</p>");
    h.push_str("<h3>IP bytes</h3>");
    h.push_str(&time_columns(
        lo,
        hi,
        &[("bytes".into(), ov.bytes_series.clone())],
        "B",
        "IP bytes over time",
    ));
    h.push_str("<h3>Packets</h3>");
    h.push_str(&time_columns(
        lo,
        hi,
        &[("packets".into(), ov.packets_series.clone())],
        "pkts",
        "packets over time",
    ));
    h.push_str("<h3>Connections by service</h3>");
    h.push_str(&time_columns(
        lo,
        hi,
        &ov.service_series,
        "conns",
        "connections by service over time",
    ));
    h.push_str("</section>");

    // top lists
    h.push_str("<section id=top class=panel><h2>Top lists</h2><div class=grid>");
    for (name, rows, unit) in [
        ("Talkers (bytes as originator)", &ov.top_talkers, "B"),
        ("Destinations (packets)", &ov.top_destinations, "pkts"),
        ("Ports (connections)", &ov.top_ports, "conns"),
        ("Services (connections)", &ov.services, "conns"),
        (
            "DNS registered domains (queries)",
            &ov.top_domains,
            "queries",
        ),
        ("TLS server names (handshakes)", &ov.top_sni, "handshakes"),
        (
            "HTTP User-Agents (requests)",
            &ov.top_user_agents,
            "requests",
        ),
    ]
    .into_iter()
    .chain(
        crate::query::geo::loaded()
            .then_some([
                (
                    "Responder countries (connections, --geoip)",
                    &ov.top_countries,
                    "conns",
                ),
                (
                    "Responder ASNs (connections, --geoip)",
                    &ov.top_asns,
                    "conns",
                ),
            ])
            .into_iter()
            .flatten(),
    ) {
        h.push_str(&format!(
            "<div class=panel><h3>{}</h3>{}</div>",
            esc(name),
            bars(rows, unit)
        ));
    }
    h.push_str("</div></section>");

    // DNS shape
    let x_max = ov
        .dns_shape
        .iter()
        .map(|p| p.0)
        .fold(64.0f64, f64::max)
        .min(255.0);
    h.push_str("<section id=dns class=panel><h2>DNS query length and entropy</h2><p class=muted>each point a (length, entropy) of query names, darker = more queries; tunnels and DGAs sit long and high, everyday names low and short</p>");
    h.push_str(&scatter(
        &ov.dns_shape,
        ("query length (characters)", x_max),
        ("entropy (bits per character)", 6.0),
        "DNS query length against entropy",
    ));
    h.push_str("</section>");

    // inputs, full hashes
    h.push_str("<section id=inputs class=panel><h2>Inputs</h2><table><tr><th>file</th><th>sha256</th><th>packets read</th><th>decoded</th><th>skipped</th><th>first .. last</th><th>end</th></tr>");
    for i in &ov.manifest.inputs {
        let sk: Vec<String> = i
            .packets_skipped
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        h.push_str(&format!(
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{} .. {}</td><td>{}</td></tr>",
            esc(&i.path),
            esc(i.sha256.as_deref().unwrap_or("not computed")),
            i.packets_read,
            i.packets_decoded,
            esc(&sk.join(", ")),
            esc(i.first_ts.as_deref().unwrap_or("?")),
            esc(i.last_ts.as_deref().unwrap_or("?")),
            esc(&i.end)
        ));
    }
    h.push_str(&format!(
        "</table></section><p class=muted>wirehunt {} — schema v{} — dataset <code>{}</code></p></body></html>\n",
        esc(&ov.manifest.wirehunt_version),
        ov.manifest.schema_version,
        esc(&wirehunt_wire::capture::path_name(dataset))
    ));
    h
}
