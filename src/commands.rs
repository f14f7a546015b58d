//! `detect` and `triage`: load detectors, run them, apply suppressions, write the findings in the
//! chosen format, decide the exit code. The binary's code; the library never calls it.

use crate::cli::{DetectArgs, Exit, TriageArgs, code, exit};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use wirehunt_store::detect::{
    Detector, DetectorError, Finding, Severity, Suppression, apply_overrides, apply_suppressions,
    detect, detect_timed, group_similar, load_detectors, load_suppressions,
};
use wirehunt_store::report::findings::{emit, write_table};
use wirehunt_store::report::{Format, sanitize_terminal};

struct LazyOverview(Option<wirehunt_store::detect::html::Overview>);

impl LazyOverview {
    fn get_or_init(
        &mut self,
        dataset: &Path,
    ) -> anyhow::Result<&wirehunt_store::detect::html::Overview> {
        if self.0.is_none() {
            self.0 = Some(wirehunt_store::detect::html::overview(dataset)?);
        }
        self.0
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("overview unavailable"))
    }
}

/// "Open next": for the first findings, the commands that show their rows (the first five) and
/// write the packets of all their connections (`extract --finding N` with the detector options
/// this triage ran with, so it numbers the findings the same way).
fn open_next(findings: &[Finding], dataset: &Path, options: &[String]) -> Vec<String> {
    use wirehunt_store::detect::pivot::{extract_finding_command, ids, sql_command};
    findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .take(3)
        .enumerate()
        .flat_map(|(i, f)| {
            let rows = sql_command(f, dataset).map(|c| format!("  #{}: {c}", i + 1));
            let packets = (!ids(f, "uids", 1).is_empty()).then(|| {
                format!(
                    "  #{} packets: {}",
                    i + 1,
                    extract_finding_command(i + 1, dataset, options)
                )
            });
            rows.into_iter().chain(packets)
        })
        .collect()
}

/// The detector options of a triage as shell words, for the commands it prints.
fn detector_words(o: &crate::cli::DetectorOpts, min: Severity) -> Vec<String> {
    use wirehunt_store::detect::pivot::shell_word;
    let path = |p: &Path| shell_word(&p.display().to_string());
    let mut w = Vec::new();
    if let Some(q) = &o.queries {
        w.push(format!("--queries {}", path(q)));
    }
    for p in &o.params {
        w.push(format!("--param {}", shell_word(p)));
    }
    if let Some(s) = &o.suppress {
        w.push(format!("--suppress {}", path(s)));
    }
    for i in &o.intel {
        w.push(format!("--intel {}", path(i)));
    }
    if min != Severity::Medium {
        w.push(format!("--min-severity {}", min.as_str()));
    }
    w
}

pub fn default_format(output: Option<&Path>) -> Format {
    use std::io::IsTerminal;
    match output.and_then(Format::from_extension) {
        Some(f) => f,
        None if output.is_none() && std::io::stdout().is_terminal() => Format::Table,
        None => Format::Jsonl,
    }
}

/// Load `--intel` files into the `intel` table of the sessions to come; what was read (and skipped)
/// is said on stderr.
pub fn load_intel(files: &[std::path::PathBuf], quiet: bool) -> Result<(), Exit> {
    if files.is_empty() {
        return Ok(());
    }
    let l = wirehunt_store::table::intel::load_all(files)
        .map_err(|e| exit(code::NO_INPUT, anyhow::anyhow!(e)))?;
    if l.indicators.is_empty() {
        return Err(exit(
            code::NO_INPUT,
            anyhow::anyhow!(
                "--intel: no usable indicator in {} file(s) ({} skipped{})",
                files.len(),
                l.skipped,
                l.reasons
                    .first()
                    .map(|r| format!("; first: {r}"))
                    .unwrap_or_default()
            ),
        ));
    }
    if !quiet {
        eprintln!(
            "intel: {} indicator(s) from {} file(s){}",
            l.indicators.len(),
            files.len(),
            if l.skipped > 0 {
                format!(", {} skipped", l.skipped)
            } else {
                String::new()
            }
        );
        for r in &l.reasons {
            eprintln!("intel: skipped {}", sanitize_terminal(r));
        }
    }
    wirehunt_store::query::set_intel(l.batch().map_err(|e| exit(code::DATA, e))?);
    Ok(())
}

/// The detectors with their `--param` overrides, the `--suppress` rules and the `--intel` indicators,
/// all read and checked before any input is ingested or any detector runs: a typo in one of them
/// costs a second, not a whole run.
struct Prepared {
    dets: Vec<Detector>,
    suppress: Option<(Vec<Suppression>, String)>,
}

fn prepared(o: &crate::cli::DetectorOpts, quiet: bool) -> Result<Prepared, Exit> {
    let mut dets =
        load_detectors(o.queries.as_deref()).map_err(|e| exit(code::DATA, anyhow::anyhow!(e)))?;
    apply_overrides(&mut dets, &o.params).map_err(|e| exit(code::USAGE, anyhow::anyhow!(e)))?;
    let suppress = match &o.suppress {
        None => None,
        Some(file) => {
            let ids: Vec<&str> = dets.iter().map(|d| d.id.as_str()).collect();
            let rules =
                load_suppressions(file, &ids).map_err(|e| exit(code::USAGE, anyhow::anyhow!(e)))?;
            Some((rules, file.display().to_string()))
        }
    };
    load_intel(&o.intel, quiet)?;
    Ok(Prepared { dets, suppress })
}

impl Prepared {
    /// Apply `--suppress FILE`: suppressed findings move after the others, marked with their reason.
    fn suppress(&self, mut findings: Vec<Finding>) -> Vec<Finding> {
        if let Some((rules, file)) = &self.suppress {
            apply_suppressions(&mut findings, rules, file);
            findings.sort_by_key(|f| f.suppressed.is_some());
        }
        findings
    }
}

fn finish_code(
    dataset: &Path,
    findings: &[Finding],
    fail_on: Option<Severity>,
    errors: &[DetectorError],
) -> i32 {
    if !errors.is_empty() {
        say_detector_errors(dataset, errors);
        return code::DATA;
    }
    match fail_on {
        Some(s)
            if findings
                .iter()
                .any(|f| f.severity >= s && f.suppressed.is_none()) =>
        {
            code::FINDINGS
        }
        _ => 0,
    }
}

/// Print each failed detector's error, then, when one failed decoding the dataset's data, the
/// damaged file ([`name_damaged_file`]).
fn say_detector_errors(dataset: &Path, errors: &[DetectorError]) {
    for e in errors {
        eprintln!(
            "wirehunt: detector error: {}",
            sanitize_terminal(&e.message)
        );
    }
    if errors.iter().any(|e| e.damaged_data) {
        name_damaged_file(dataset);
    }
}

/// A query that failed decoding the dataset's data (`snappy: corrupt input`, a Parquet error: see
/// [`wirehunt_store::query::is_damaged_data`]) names no file: read the dataset through, find the
/// damaged one and say so, with what to do.
pub(crate) fn name_damaged_file(dataset: &Path) {
    if let Some(bad) = wirehunt_store::table::snapshot::Snapshot::take(dataset)
        .ok()
        .and_then(|s| s.find_damaged())
    {
        eprintln!(
            "wirehunt: the dataset is damaged: {}; ingest its captures again (ingest --force)",
            sanitize_terminal(&bad)
        );
    }
}

/// Look at a dataset once before a command opens it: is it one (false: the caller says so), and
/// which tables does it lack - a dataset written by an older wirehunt lacks the tables added since
/// (they read as empty): say which, and how to fill them. The listing is handed to the session the
/// command opens next, so the dataset is listed once (one LIST request over object storage). A
/// prefix on object storage that cannot be listed counts as a dataset here: the session then says
/// why it cannot be read.
pub fn look_at_dataset(dataset: &std::path::Path, quiet: bool) -> bool {
    use wirehunt_store::table::snapshot::Snapshot;
    match Snapshot::take(dataset) {
        Ok(s) if s.is_dataset() => {
            let missing = wirehunt_store::query::missing_tables(&s);
            if !quiet && !missing.is_empty() {
                eprintln!(
                    "wirehunt: note: {} has no {} table (written by an older wirehunt): read as empty; ingest the captures again to fill it",
                    sanitize_terminal(&dataset.display().to_string()),
                    missing.join(", ")
                );
            }
            wirehunt_store::query::hand_over(dataset, s);
            true
        }
        Ok(_) => false,
        Err(_) => wirehunt_store::table::remote::is_remote(dataset),
    }
}

pub fn run_detect_command(a: DetectArgs, quiet: bool) -> Result<i32, Exit> {
    if !look_at_dataset(&a.dataset, quiet) {
        return Err(exit(
            code::NO_INPUT,
            anyhow::anyhow!(
                "{} is not a wirehunt dataset (no manifest.json); run wirehunt ingest first",
                a.dataset.display()
            ),
        ));
    }
    let format = a
        .format
        .unwrap_or_else(|| default_format(a.output.as_deref()));
    if matches!(format, Format::Parquet | Format::Html) && a.output.is_none() {
        return Err(exit(
            code::USAGE,
            anyhow::anyhow!("--format {} needs -o FILE", format.as_str()),
        ));
    }
    let prep = prepared(&a.detectors, quiet)?;
    let (mut findings, errors) = detect_timed(&a.dataset, &prep.dets, |id, n, secs| {
        if !quiet {
            eprintln!("detector {id}: {n} finding(s) in {secs:.3} s");
        }
    })
    .map_err(crate::cli::query_failed)?;
    findings.retain(|f| f.severity >= a.min_severity);
    let findings = group_similar(prep.suppress(findings));
    emit(
        &findings,
        format,
        a.output.as_deref(),
        "wirehunt findings",
        &a.dataset,
    )?;
    Ok(finish_code(
        &a.dataset,
        &findings,
        a.detectors.fail_on,
        &errors,
    ))
}

pub fn run_triage_command(a: TriageArgs, quiet: bool) -> Result<i32, Exit> {
    let prep = prepared(&a.detectors, quiet)?;
    // `--format parquet|html -o FILE`: that format is the file's; stdout gets its default
    let (format, file_format) = match (a.format, &a.findings) {
        (Some(f @ (Format::Parquet | Format::Html)), Some(_)) => (default_format(None), Some(f)),
        (f, _) => (f.unwrap_or_else(|| default_format(None)), None),
    };
    if matches!(format, Format::Parquet | Format::Html) {
        return Err(exit(
            code::USAGE,
            anyhow::anyhow!(
                "triage writes {} only to a file: -o FILE (or --html FILE for the report)",
                format.as_str()
            ),
        ));
    }
    let dataset = match &a.dataset {
        Some(dir) => {
            let files = crate::cli::expand(&a.inputs, quiet)?;
            let existing = if a.force {
                wirehunt_store::table::dataset::Existing::Replace
            } else {
                wirehunt_store::table::dataset::Existing::Refuse
            };
            let rep = crate::cli::run_ingest(
                &files,
                dir,
                &a.flow,
                Default::default(),
                existing,
                Default::default(),
                quiet,
            )?;
            if rep.failed == files.len() {
                return Err(exit(
                    code::NO_INPUT,
                    anyhow::anyhow!("no input could be read"),
                ));
            }
            (dir.clone(), None)
        }
        None => {
            let r = crate::shell::resolve_dataset(&a.inputs, a.no_cache, &a.flow, quiet)?;
            (r.path.clone(), Some(r))
        }
    };
    let (dataset, _keep) = dataset;
    // a dataset that cannot be read (a corrupt Parquet file, a schema that does not match) is bad
    // data, exit 65, like a failing detector
    let (mut findings, errors) = detect(&dataset, &prep.dets).map_err(crate::cli::query_failed)?;
    let total = findings.len();
    findings.retain(|f| f.severity >= a.min_severity);
    let hidden = total - findings.len();
    let findings = group_similar(prep.suppress(findings));
    // the overview is computed once, for the terminal summary and the HTML page alike
    let mut overview = LazyOverview(None);
    if format == Format::Table {
        let mut out = std::io::stdout().lock();
        let overview = overview.get_or_init(&dataset)?;
        write!(out, "{}", sanitize_terminal(&overview.text()))?;
        writeln!(
            out,
            "Dataset: {}",
            sanitize_terminal(&dataset.display().to_string())
        )?;
        writeln!(out)?;
        let mut by_cat: BTreeMap<&str, usize> = BTreeMap::new();
        for f in findings.iter().filter(|f| f.suppressed.is_none()) {
            *by_cat.entry(f.category.as_str()).or_insert(0) += 1;
        }
        let cats: Vec<String> = by_cat.iter().map(|(k, v)| format!("{v} {k}")).collect();
        writeln!(
            out,
            "Findings: {} at {} or above ({}){}{}",
            findings.iter().filter(|f| f.suppressed.is_none()).count(),
            a.min_severity.as_str(),
            if cats.is_empty() {
                "none".to_string()
            } else {
                cats.join(", ")
            },
            if hidden > 0 {
                format!(
                    "; {hidden} below {} hidden (--min-severity low shows them)",
                    a.min_severity.as_str()
                )
            } else {
                String::new()
            },
            match findings.iter().filter(|f| f.suppressed.is_some()).count() {
                0 => String::new(),
                n => format!("; {n} suppressed by --suppress (listed last, with their reasons)"),
            }
        )?;
        write_table(
            &findings,
            &mut out,
            wirehunt_store::report::use_color(std::io::IsTerminal::is_terminal(&std::io::stdout())),
        )?;
        let next = open_next(
            &findings,
            &dataset,
            &detector_words(&a.detectors, a.min_severity),
        );
        if !next.is_empty() {
            writeln!(out, "Open next (the rows behind the first findings):")?;
            for l in next {
                writeln!(out, "{}", sanitize_terminal(&l))?;
            }
        }
    } else {
        emit(&findings, format, None, "wirehunt triage", &dataset)?;
    }
    if let Some(p) = &a.findings {
        let f = a
            .findings_format
            .or(file_format)
            .or_else(|| Format::from_extension(p))
            .unwrap_or(Format::Jsonl);
        emit(&findings, f, Some(p), "wirehunt triage", &dataset).map_err(|e| {
            let e = anyhow::Error::from(e);
            exit(
                crate::cli::classify(&e),
                e.context(sanitize_terminal(&p.display().to_string())),
            )
        })?;
    }
    if let Some(h) = &a.html {
        let page = wirehunt_store::detect::html::page(
            overview.get_or_init(&dataset)?,
            &dataset,
            &findings,
            "wirehunt triage",
            Some(&detector_words(&a.detectors, a.min_severity)),
        )
        .map_err(|e| exit(code::DATA, e))?;
        write_file_atomic(h, page.as_bytes())?;
        if !quiet {
            eprintln!(
                "HTML report: {}",
                sanitize_terminal(&h.display().to_string())
            );
        }
    }
    Ok(finish_code(
        &dataset,
        &findings,
        a.detectors.fail_on,
        &errors,
    ))
}

/// `extract`: the chosen connections' frames to a pcap/pcapng, written under a temporary name in
/// the output's directory and renamed into place, so no half-written capture is left behind.
pub fn run_extract_command(a: crate::cli::ExtractArgs, quiet: bool) -> Result<i32, Exit> {
    use wirehunt_store::extract::ExtractError;
    use wirehunt_wire::capture::write::CaptureFormat;
    let to_stdout = a.output.as_os_str() == "-";
    let shown = sanitize_terminal(&a.output.display().to_string());
    if !to_stdout
        && !a.force
        && a.output.exists()
        && !wirehunt_store::report::is_special_file(&a.output)
    {
        return Err(exit(
            code::EXISTS,
            anyhow::anyhow!("{shown} exists (use --force to replace it)"),
        ));
    }
    if a.detectors.fail_on.is_some() {
        return Err(exit(
            code::USAGE,
            anyhow::anyhow!(
                "--fail-on has no meaning for extract (it writes packets, not findings)"
            ),
        ));
    }
    if a.uids.is_empty() && a.query.is_none() && a.finding.is_none() {
        return Err(exit(
            code::USAGE,
            anyhow::anyhow!(
                "name the connections: --uid UID (repeatable), --query SQL or --finding N"
            ),
        ));
    }
    let dataset = crate::shell::resolve_dataset(
        &a.source,
        a.no_cache,
        &crate::cli::FlowArgs::default(),
        quiet,
    )?;
    let code = |e: &ExtractError| match e {
        ExtractError::Query(_) | ExtractError::Dataset(_) | ExtractError::UnknownUid(_) => {
            code::DATA
        }
        ExtractError::Input { .. } | ExtractError::Changed { .. } => code::NO_INPUT,
        ExtractError::Write(_) => code::IO,
    };
    let fail = |e: ExtractError| exit(code(&e), anyhow::anyhow!("{e}"));
    let mut from_finding: Vec<String> = Vec::new();
    if let Some(n) = a.finding {
        // numbered exactly as triage numbers them with the same options, but with every connection
        // of the finding: the detectors list 20 uids (max_uids) in a finding's evidence
        let mut prep = prepared(&a.detectors, quiet)?;
        for d in &mut prep.dets {
            for p in d
                .params
                .iter_mut()
                .filter(|p| p.name == wirehunt_store::detect::MAX_UIDS_PARAM)
            {
                p.value = wirehunt_store::detect::ParamValue::Int(i64::from(i32::MAX));
            }
        }
        let (mut findings, errors) =
            detect(&dataset.path, &prep.dets).map_err(crate::cli::query_failed)?;
        if !errors.is_empty() {
            say_detector_errors(&dataset.path, &errors);
            return Err(exit(
                code::DATA,
                anyhow::anyhow!(
                    "{} detector(s) failed (above): findings cannot be numbered as triage numbers them",
                    errors.len()
                ),
            ));
        }
        findings.retain(|f| f.severity >= a.min_severity);
        let findings = group_similar(prep.suppress(findings));
        let Some(f) = n.checked_sub(1).and_then(|i| findings.get(i)) else {
            return Err(exit(
                code::DATA,
                anyhow::anyhow!(
                    "--finding {n}: triage lists {} finding(s) at {} or above",
                    findings.len(),
                    a.min_severity.as_str()
                ),
            ));
        };
        from_finding = f
            .evidence
            .get("uids")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if from_finding.is_empty() {
            return Err(exit(
                code::DATA,
                anyhow::anyhow!(
                    "--finding {n} ({}) names no connection in its evidence",
                    f.detector
                ),
            ));
        }
    }
    let rt = wirehunt_store::query::runtime()?;
    let wanted = rt.block_on(async {
        let ctx = wirehunt_store::query::open_session(&dataset.path)
            .await
            .map_err(|e| fail(e.into()))?;
        let mut uids = a.uids.clone();
        uids.extend(from_finding);
        if let Some(q) = &a.query {
            let batches = wirehunt_store::query::run_sql(&ctx, q, false)
                .await
                .map_err(|e| {
                    exit(
                        code::DATA,
                        anyhow::anyhow!("--query: {}", wirehunt_store::query::explain_error(&e)),
                    )
                })?;
            for b in &batches {
                let Some(c) = b.column_by_name("uid") else {
                    return Err(exit(
                        code::DATA,
                        anyhow::anyhow!("--query: the result has no uid column"),
                    ));
                };
                let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8)
                    .map_err(|e| exit(code::DATA, e))?;
                let c = arrow::array::AsArray::as_string::<i32>(&c);
                uids.extend(c.iter().flatten().map(str::to_string));
            }
            if uids.is_empty() {
                return Err(exit(code::DATA, anyhow::anyhow!("--query returned no uid")));
            }
        }
        wirehunt_store::extract::lookup(&ctx, &uids)
            .await
            .map_err(fail)
    })?;
    let format = if to_stdout {
        CaptureFormat::Pcap
    } else {
        CaptureFormat::for_path(&a.output)
    };
    // nothing found is an error, and no empty capture is left behind
    let none_found = |r: &wirehunt_store::extract::ExtractReport| {
        exit(
            code::DATA,
            anyhow::anyhow!(
                "no frame of {} found in the captures read ({})",
                if wanted.len() == 1 {
                    "that connection".to_string()
                } else {
                    format!("those {} connections", wanted.len())
                },
                sanitize_terminal(&r.inputs_read.join(", "))
            ),
        )
    };
    let report = if to_stdout {
        let out = std::io::BufWriter::new(std::io::stdout().lock());
        let (mut out, r) =
            wirehunt_store::extract::extract(&dataset.path, &wanted, &a.inputs, out, format)
                .map_err(fail)?;
        out.flush()?;
        if r.written == 0 {
            return Err(none_found(&r));
        }
        r
    } else {
        let tmp = wirehunt_store::report::OutputFile::create(&a.output)
            .map_err(|e| exit(code::IO, anyhow::anyhow!("{e}")))?;
        let out = std::io::BufWriter::new(tmp);
        let (out, r) =
            wirehunt_store::extract::extract(&dataset.path, &wanted, &a.inputs, out, format)
                .map_err(fail)?;
        let tmp = out
            .into_inner()
            .map_err(|e| exit(code::IO, anyhow::anyhow!("{shown}: {}", e.error())))?;
        if r.written == 0 {
            return Err(none_found(&r));
        }
        tmp.commit_with(a.force).map_err(|e| {
            let c = if e.kind() == std::io::ErrorKind::AlreadyExists {
                code::EXISTS
            } else {
                code::IO
            };
            exit(c, anyhow::anyhow!("{shown}: {e}"))
        })?;
        r
    };
    if !quiet {
        eprintln!(
            "wrote {} frames of {} connections to {shown} (read {} of {} captures)",
            report.written,
            wanted.len(),
            report.inputs_read.len(),
            report.inputs_read.len() + report.inputs_skipped
        );
        for (uid, n) in &report.packets {
            if *n == 0 {
                eprintln!("  {}: no frame found", sanitize_terminal(uid));
            }
        }
    }
    Ok(0)
}

/// Write `bytes` to `path` whole or not at all (report::OutputFile).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), Exit> {
    let shown = sanitize_terminal(&path.display().to_string());
    let mut f = wirehunt_store::report::OutputFile::create(path)
        .map_err(|e| exit(code::IO, anyhow::anyhow!("{e}")))?;
    f.write_all(bytes)
        .and_then(|_| f.commit())
        .map_err(|e| exit(code::IO, anyhow::anyhow!("{shown}: {e}")))
}

/// `report`: the HTML page of an existing dataset.
pub fn run_report_command(a: crate::cli::ReportArgs, quiet: bool) -> Result<i32, Exit> {
    if !look_at_dataset(&a.dataset, quiet) {
        return Err(exit(
            code::NO_INPUT,
            anyhow::anyhow!(
                "{} is not a wirehunt dataset (no manifest.json); run wirehunt ingest first",
                sanitize_terminal(&a.dataset.display().to_string())
            ),
        ));
    }
    let prep = prepared(&a.detectors, quiet)?;
    let (mut findings, errors) =
        detect(&a.dataset, &prep.dets).map_err(crate::cli::query_failed)?;
    findings.retain(|f| f.severity >= a.min_severity);
    let findings = group_similar(prep.suppress(findings));
    let page = wirehunt_store::detect::html::report(
        &a.dataset,
        &findings,
        "wirehunt report",
        Some(&detector_words(&a.detectors, a.min_severity)),
    )
    .map_err(|e| exit(code::DATA, e))?;
    write_file_atomic(&a.html, page.as_bytes())?;
    if !quiet {
        eprintln!(
            "HTML report: {} ({} findings)",
            sanitize_terminal(&a.html.display().to_string()),
            findings.len()
        );
    }
    Ok(finish_code(
        &a.dataset,
        &findings,
        a.detectors.fail_on,
        &errors,
    ))
}
