//! Sinks: one producer (Arrow batches or findings), many renderings — terminal table, CSV, JSON lines,
//! JSON, Parquet and a self-contained HTML report ([`html`]).
//!
//! Every byte of a capture is attacker-controlled, so every sink escapes: the terminal table and all
//! stderr messages go through [`sanitize_terminal`] (C0/C1 controls, DEL and bidi overrides become
//! visible escapes); CSV quotes per RFC 4180 and neutralises spreadsheet formulas in text cells
//! (a leading `= + - @` or tab gets a `'`); JSON escapes through serde/arrow-json; HTML through
//! [`html::esc`].

pub mod findings;
pub mod html;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Format {
    Table,
    Csv,
    Jsonl,
    Json,
    Parquet,
    Html,
    /// One `column = value` per line, a blank line between rows (duckdb's `.mode line`).
    Line,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Table,
        Format::Line,
        Format::Csv,
        Format::Jsonl,
        Format::Json,
        Format::Parquet,
        Format::Html,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Parquet => "parquet",
            Format::Html => "html",
            Format::Line => "line",
        }
    }
}

impl Format {
    /// The format an output file's extension names (`.parquet`, `.html`, `.csv`, `.json`,
    /// `.jsonl`/`.ndjson`), if any.
    pub fn from_extension(p: &std::path::Path) -> Option<Format> {
        match p.extension()?.to_str()? {
            "parquet" => Some(Format::Parquet),
            "html" => Some(Format::Html),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            _ => None,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s || (s == "ndjson" && *f == Format::Jsonl))
            .ok_or_else(|| {
                format!("unknown format {s:?} (table, line, csv, jsonl, json, parquet, html)")
            })
    }
}

/// Make a string safe to print on a terminal.
pub fn sanitize_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let u = c as u32;
        if (u < 0x20 && c != '\n' && c != '\t')
            || (0x7f..=0x9f).contains(&u)
            || (0x202a..=0x202e).contains(&u)
            || (0x2066..=0x2069).contains(&u)
        {
            out.push_str(&format!("\\u{{{u:x}}}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Same, but also escapes newlines and tabs (for single-line cells).
pub fn sanitize_cell(s: &str) -> String {
    sanitize_terminal(s)
        .replace('\n', "\\n")
        .replace('\t', "\\t")
}

fn fmt_opts() -> FormatOptions<'static> {
    FormatOptions::default()
        .with_null("")
        .with_timestamp_tz_format(Some("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// Cell text of one value.
pub fn cell(col: &ArrayRef, row: usize) -> String {
    if col.is_null(row) {
        return String::new();
    }
    match ArrayFormatter::try_new(col.as_ref(), &fmt_opts()) {
        Ok(f) => f.value(row).to_string(),
        Err(_) => String::from("?"),
    }
}

fn is_text(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::List(_)
            | DataType::Dictionary(_, _)
    )
}

/// JSON text with bidi overrides and C1 controls written as `\uXXXX` escapes: the same string to any
/// JSON reader, but no raw U+202E reaches a terminal or an editor showing the file.
pub fn json_escape_invisible(buf: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let bidi = |w: &[u8]| matches!(w, [0xe2, 0x80, 0xaa..=0xae] | [0xe2, 0x81, 0xa6..=0xa9]);
    let c1 = |w: &[u8]| matches!(w, [0xc2, 0x80..=0x9f]);
    if !buf.windows(3).any(bidi) && !buf.windows(2).any(c1) {
        return std::borrow::Cow::Borrowed(buf);
    }
    let text = String::from_utf8_lossy(buf);
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        let u = c as u32;
        if (0x80..=0x9f).contains(&u)
            || (0x202a..=0x202e).contains(&u)
            || (0x2066..=0x2069).contains(&u)
        {
            out.push_str(&format!("\\u{u:04x}"));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out.into_bytes())
}

/// CSV field with RFC 4180 quoting; text cells starting with a formula character get a `'` prefix,
/// and control characters, newlines and bidi overrides in text cells become visible escapes.
pub fn csv_field(s: &str, text: bool) -> String {
    let mut v = if text {
        sanitize_cell(s)
    } else {
        s.to_string()
    };
    if text && v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.insert(0, '\'');
    }
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// One sink for query results, fed batch by batch: nothing is collected before it is written, so a
/// result of any size streams in bounded memory. The table format keeps only its first `maxrows`
/// rows (0 = all) and counts the rest; Parquet writes row groups as batches arrive.
pub struct BatchWriter<'a> {
    format: Format,
    out: &'a mut dyn Write,
    maxrows: usize,
    rows: u64,
    table: Option<comfy_table::Table>,
    shown: usize,
    csv_header: bool,
    json_started: bool,
    parquet: Option<parquet::arrow::ArrowWriter<OutputFile>>,
    /// Column names right-aligned for [`Format::Line`].
    names: Vec<String>,
    /// Set when a table too wide for the terminal is shown one column per line instead.
    too_wide: Option<(usize, u16)>,
}

impl<'a> BatchWriter<'a> {
    /// `parquet` is the output file, required for [`Format::Parquet`]; HTML is not a batch format.
    pub fn new(
        format: Format,
        out: &'a mut dyn Write,
        maxrows: usize,
        schema: arrow::datatypes::SchemaRef,
        parquet: Option<&std::path::Path>,
    ) -> crate::Result<Self> {
        let mut w = BatchWriter {
            format,
            out,
            maxrows,
            rows: 0,
            table: None,
            shown: 0,
            csv_header: false,
            json_started: false,
            parquet: None,
            names: Vec::new(),
            too_wide: None,
        };
        let width = schema
            .fields()
            .iter()
            .map(|f| sanitize_cell(f.name()).chars().count())
            .max()
            .unwrap_or(0);
        w.names = schema
            .fields()
            .iter()
            .map(|f| format!("{:>width$}", sanitize_cell(f.name())))
            .collect();
        match format {
            Format::Table => {
                let mut t = comfy_table::Table::new();
                t.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
                t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
                t.set_header(schema.fields().iter().map(|f| sanitize_cell(f.name())));
                fit_width(&mut t);
                let cols = schema.fields().len();
                let term = t.width().unwrap_or(160);
                // under ~10 characters a column, a table squeezes every value to a few letters:
                // such a result reads better one column per line
                if cols > 1 && usize::from(term) / cols < 10 {
                    w.format = Format::Line;
                    w.too_wide = Some((cols, term));
                } else {
                    w.table = Some(t);
                }
            }
            Format::Line => {}
            Format::Parquet => {
                let p = parquet.ok_or_else(|| {
                    crate::Error::Usage("parquet output needs a file (-o FILE)".into())
                })?;
                let f = OutputFile::create(p)?;
                let props = parquet::file::properties::WriterProperties::builder()
                    .set_compression(parquet::basic::Compression::ZSTD(
                        parquet::basic::ZstdLevel::try_new(1)?,
                    ))
                    .build();
                w.parquet = Some(parquet::arrow::ArrowWriter::try_new(
                    f,
                    schema,
                    Some(props),
                )?);
            }
            Format::Html => {
                return Err(crate::Error::Usage(
                    "html is a report, not a query result format (use --html FILE on triage)"
                        .into(),
                ));
            }
            Format::Csv | Format::Jsonl | Format::Json => {}
        }
        Ok(w)
    }

    pub fn write(&mut self, b: &RecordBatch) -> crate::Result<()> {
        self.rows += b.num_rows() as u64;
        match self.format {
            Format::Table => {
                let Some(t) = self.table.as_mut() else {
                    return Ok(());
                };
                for r in 0..b.num_rows() {
                    if self.maxrows > 0 && self.shown >= self.maxrows {
                        break;
                    }
                    t.add_row(b.columns().iter().map(|c| {
                        let s = sanitize_cell(&cell(c, r));
                        if s.chars().count() > 120 {
                            format!("{}…", s.chars().take(119).collect::<String>())
                        } else {
                            s
                        }
                    }));
                    self.shown += 1;
                }
            }
            Format::Csv => {
                if !self.csv_header {
                    let header: Vec<String> = b
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| csv_field(f.name(), true))
                        .collect();
                    writeln!(self.out, "{}", header.join(","))?;
                    self.csv_header = true;
                }
                let text: Vec<bool> = b
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| is_text(f.data_type()))
                    .collect();
                for r in 0..b.num_rows() {
                    let row: Vec<String> = b
                        .columns()
                        .iter()
                        .zip(&text)
                        .map(|(c, t)| csv_field(&cell(c, r), *t))
                        .collect();
                    writeln!(self.out, "{}", row.join(","))?;
                }
            }
            Format::Jsonl | Format::Json => {
                if b.num_rows() == 0 {
                    return Ok(());
                }
                // each batch through arrow's writer into a buffer, then out: bounded by one batch
                let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
                w.write(b)?;
                w.finish()?;
                let raw = w.into_inner();
                let buf = json_escape_invisible(&raw);
                if self.format == Format::Jsonl {
                    self.out.write_all(&buf)?;
                } else {
                    for line in buf.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
                        self.out
                            .write_all(if self.json_started { b",\n" } else { b"[\n" })?;
                        self.out.write_all(line)?;
                        self.json_started = true;
                    }
                }
            }
            Format::Parquet => {
                if let Some(p) = self.parquet.as_mut() {
                    p.write(b)?;
                }
            }
            Format::Line => {
                for r in 0..b.num_rows() {
                    if self.maxrows > 0 && self.shown >= self.maxrows {
                        break;
                    }
                    if self.shown > 0 {
                        writeln!(self.out)?;
                    }
                    for (name, c) in self.names.iter().zip(b.columns()) {
                        writeln!(self.out, "{name} = {}", sanitize_cell(&cell(c, r)))?;
                    }
                    self.shown += 1;
                }
            }
            Format::Html => {}
        }
        Ok(())
    }

    /// "(N rows)", or how many of them the table/line formats showed.
    fn rows_shown(&self) -> String {
        if (self.shown as u64) < self.rows {
            format!(
                "({} rows, first {} shown; --maxrows 0 or --format csv for all)",
                self.rows, self.shown
            )
        } else {
            format!("({} rows)", self.rows)
        }
    }

    /// Close the output; returns the number of rows written (or counted, for the table).
    pub fn finish(mut self) -> crate::Result<u64> {
        match self.format {
            Format::Table => {
                if let Some(t) = self.table.take() {
                    if self.rows == 0 {
                        writeln!(self.out, "(no rows)")?;
                    } else {
                        writeln!(self.out, "{t}")?;
                        writeln!(self.out, "{}", self.rows_shown())?;
                    }
                }
            }
            Format::Json => {
                self.out
                    .write_all(if self.json_started { b"\n]\n" } else { b"[]\n" })?;
            }
            Format::Parquet => {
                if let Some(p) = self.parquet.take() {
                    p.into_inner()?.commit()?;
                }
            }
            Format::Line => {
                if self.rows == 0 {
                    writeln!(self.out, "(no rows)")?;
                } else {
                    writeln!(self.out, "\n{}", self.rows_shown())?;
                }
                if let Some((cols, term)) = self.too_wide {
                    writeln!(
                        self.out,
                        "({cols} columns do not fit {term} characters as a table: one column per line; .format csv or fewer columns for a table)"
                    )?;
                }
            }
            Format::Csv | Format::Jsonl | Format::Html => {}
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

/// Render collected batches (small results such as findings). `maxrows` applies to the table format.
pub fn write_batches(
    batches: &[RecordBatch],
    format: Format,
    out: &mut dyn Write,
    maxrows: usize,
) -> crate::Result<()> {
    let Some(first) = batches.first() else {
        if matches!(format, Format::Table | Format::Line) {
            writeln!(out, "(no rows)")?;
        } else if format == Format::Json {
            writeln!(out, "[]")?;
        }
        return Ok(());
    };
    let mut w = BatchWriter::new(format, out, maxrows, first.schema(), None)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(())
}

/// Write batches as a Parquet file.
pub fn write_parquet(
    batches: &[RecordBatch],
    schema: arrow::datatypes::SchemaRef,
    path: &std::path::Path,
) -> crate::Result<()> {
    let mut sink = std::io::sink();
    let mut w = BatchWriter::new(Format::Parquet, &mut sink, 0, schema, Some(path))?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(())
}

/// `wirehunt schema`.
pub fn print_schema(
    out: &mut dyn Write,
    table: Option<&str>,
    functions: bool,
    markdown: bool,
) -> crate::Result<()> {
    if functions {
        if markdown {
            writeln!(out, "| function | returns | meaning |\n|---|---|---|")?;
            for (f, r, d) in crate::query::udf::FUNCTIONS {
                writeln!(out, "| `{f}` | {r} | {d} |")?;
            }
        } else {
            for (f, r, d) in crate::query::udf::FUNCTIONS {
                writeln!(out, "{f:<34} {r:<8} {d}")?;
            }
        }
        return Ok(());
    }
    if markdown {
        write!(out, "{}", crate::table::markdown_reference())?;
        return Ok(());
    }
    let docs = crate::table::all_docs();
    let mut found = false;
    for t in docs {
        if table.is_some_and(|n| n != t.name) {
            continue;
        }
        found = true;
        writeln!(out, "{} — {}", t.name, t.doc)?;
        for c in &t.columns {
            writeln!(out, "  {:<24} {:<20} {}", c.name, c.sql_type, c.doc)?;
        }
        writeln!(out)?;
    }
    if !found {
        let names: Vec<&str> = crate::table::all_docs().iter().map(|t| t.name).collect();
        return Err(crate::Error::Usage(format!(
            "no table named {:?} (tables: {})",
            table.unwrap_or(""),
            names.join(", ")
        )));
    }
    Ok(())
}

pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{b} B")
    }
}

/// One-screen ingest summary (stderr).
pub fn ingest_summary(rep: &crate::ingest::IngestReport) -> String {
    // this run's inputs, packets, flows and rows; an --append says the dataset's totals after them
    let m = &rep.run;
    let read: u64 = m.inputs.iter().map(|i| i.packets_read).sum();
    let decoded: u64 = m.inputs.iter().map(|i| i.packets_decoded).sum();
    let mut skipped: std::collections::BTreeMap<&str, u64> = Default::default();
    for i in &m.inputs {
        for (k, v) in &i.packets_skipped {
            *skipped.entry(k).or_insert(0) += v;
        }
    }
    let first = m.inputs.iter().filter_map(|i| i.first_ts.clone()).min();
    let last = m.inputs.iter().filter_map(|i| i.last_ts.clone()).max();
    let mut s = String::new();
    s.push_str(&format!(
        "ingested {} file(s), {} in {:.2}s ({:.1} MB/s)\n",
        m.inputs.len(),
        human_bytes(rep.bytes),
        rep.seconds,
        rep.bytes as f64 / 1e6 / rep.seconds.max(1e-9)
    ));
    s.push_str(&format!(
        "  packets: {read} read = {decoded} decoded + {} skipped\n",
        read - decoded.min(read)
    ));
    for (k, v) in skipped.iter().take(8) {
        s.push_str(&format!("    skipped {k}: {v}\n"));
    }
    if let (Some(f), Some(l)) = (first, last) {
        s.push_str(&format!("  time span: {f} .. {l}\n"));
    }
    s.push_str(&format!(
        "  flows: {} (max concurrent {}, expired {}, evicted {})\n",
        m.flow_stats.flows, m.flow_stats.max_concurrent, m.flow_stats.expired, m.flow_stats.evicted
    ));
    // every table, in name order, 0 for a table this run added no row to
    let rows = |tables: &std::collections::BTreeMap<String, u64>| -> String {
        let mut names: Vec<&str> = crate::table::all_schemas()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        names.sort_unstable();
        names
            .iter()
            .map(|n| format!("{n} {}", tables.get(*n).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    s.push_str(&format!("  rows: {}\n", rows(&m.tables)));
    let d = &rep.manifest;
    if d.inputs.len() > m.inputs.len() {
        s.push_str(&format!(
            "  dataset now: {} input(s), rows: {}\n",
            d.inputs.len(),
            rows(&d.tables)
        ));
    }
    for i in &m.inputs {
        if let Some(e) = &i.error {
            s.push_str(&format!("  warning: {}: {}\n", i.path, e));
        }
    }
    sanitize_terminal(&s)
}

/// Compact number: 1234567 → "1.2M".
pub fn human_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Give a table a usable width when the terminal does not report one (pipes into pagers, `script`,
/// CI logs): `$COLUMNS`, else 160.
pub fn fit_width(t: &mut comfy_table::Table) {
    let env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<u16>().ok());
    match (t.width(), env) {
        (Some(w), _) if w >= 60 => {}
        (_, Some(c)) if c >= 40 => {
            t.set_width(c);
        }
        _ => {
            t.set_width(160);
        }
    }
}

/// Colour on a terminal unless `NO_COLOR` is set to anything non-empty (no-color.org).
pub fn use_color(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A result file (query result, findings, report, capture slice) written under a temporary name
/// beside its destination and renamed into place by [`OutputFile::commit`]. Dropped uncommitted (an
/// error, an interrupted run) it removes itself: no half-written file, and a file it would replace
/// stays as it was.
///
/// A destination that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO another
/// program reads) is written straight through: renaming a file over it would replace the device or
/// the pipe itself (as root, `-o /dev/null` replaced `/dev/null` with a regular file; as anyone
/// else it failed, since `/dev` is not writable). A symbolic link is followed: the file it points
/// to is replaced, not the link.
pub struct OutputFile {
    inner: Output,
}

enum Output {
    Staged {
        tmp: tempfile::NamedTempFile,
        dest: std::path::PathBuf,
    },
    Direct(std::fs::File),
}

/// `/dev/stdout` and `/dev/stderr` (and their `/dev/fd/N`, `/proc/self/fd/N` names) as this
/// process's own descriptor: opening the name again would start a new file position at 0, so
/// `-o /dev/stdout >> log` would write over the start of `log` instead of appending.
#[cfg(unix)]
fn standard_stream(dest: &std::path::Path) -> Option<std::fs::File> {
    use std::os::fd::AsFd;
    let owned = match dest.to_str()? {
        "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" => {
            std::io::stdout().as_fd().try_clone_to_owned()
        }
        "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" => {
            std::io::stderr().as_fd().try_clone_to_owned()
        }
        _ => return None,
    };
    owned.ok().map(std::fs::File::from)
}

#[cfg(not(unix))]
fn standard_stream(_: &std::path::Path) -> Option<std::fs::File> {
    None
}

/// The file a chain of symbolic links ends at (the path itself when it is no link; a dangling
/// link's target), and whether a link on the way is in or points into `/dev` or `/proc`: such a
/// link stands for a device or an open descriptor (`/dev/stdout` is `/proc/self/fd/1`, which names
/// whatever the shell redirected), never a file to replace. A plain file name there (`/dev/shm/x`)
/// is staged and renamed as anywhere else.
fn follow_links(dest: &std::path::Path) -> (std::path::PathBuf, bool) {
    let special = |p: &std::path::Path| p.starts_with("/dev") || p.starts_with("/proc");
    let mut p = dest.to_path_buf();
    let mut via_special = false;
    for _ in 0..40 {
        let Ok(next) = std::fs::read_link(&p) else {
            break;
        };
        let from = std::mem::take(&mut p);
        p = match from.parent() {
            Some(dir) if next.is_relative() => dir.join(next),
            _ => next,
        };
        via_special |= special(&from) || special(&p);
    }
    (p, via_special)
}

/// Whether `dest` exists and is something other than a regular file (following links).
pub fn is_special_file(dest: &std::path::Path) -> bool {
    std::fs::metadata(dest).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

impl OutputFile {
    pub fn create(dest: &std::path::Path) -> std::io::Result<OutputFile> {
        let shown = || sanitize_terminal(&dest.display().to_string());
        let with_path = |e: &std::io::Error, what: String| std::io::Error::new(e.kind(), what);
        // a link is followed: to the file it names (replaced atomically, the link kept), or, for
        // /dev/stdout and /proc/self/fd/N, to the descriptor it stands for (written directly)
        let (resolved, names_a_descriptor) = follow_links(dest);
        if let Some(f) = standard_stream(dest) {
            return Ok(OutputFile {
                inner: Output::Direct(f),
            });
        }
        if names_a_descriptor || is_special_file(dest) {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(dest)
                .map_err(|e| with_path(&e, format!("{}: {e}", shown())))?;
            return Ok(OutputFile {
                inner: Output::Direct(f),
            });
        }
        if dest.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                format!("{} is a directory, not a file name", shown()),
            ));
        }
        let dest = resolved;
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".wirehunt-")
            .tempfile_in(&dir)
            .map_err(|e| {
                let why = if dir.is_dir() {
                    format!("cannot create a file in {}: {e}", dir.display())
                } else {
                    format!("the directory {} does not exist", dir.display())
                };
                with_path(&e, sanitize_terminal(&format!("{}: {why}", dest.display())))
            })?;
        Ok(OutputFile {
            inner: Output::Staged { tmp, dest },
        })
    }

    /// Refuse to replace an existing file (the rename fails with `AlreadyExists`), else replace it.
    /// A device or pipe has nothing to replace: what was written has gone to it already.
    pub fn commit_with(self, replace: bool) -> std::io::Result<()> {
        let (tmp, dest) = match self.inner {
            Output::Direct(mut f) => return f.flush(),
            Output::Staged { tmp, dest } => (tmp, dest),
        };
        // a temporary file is owner-only; what it becomes gets the usual rw-r--r--
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        tmp.as_file().sync_all()?;
        let r = if replace {
            tmp.persist(&dest)
        } else {
            tmp.persist_noclobber(&dest)
        };
        r.map(|_| ()).map_err(|e| e.error)
    }

    pub fn commit(self) -> std::io::Result<()> {
        self.commit_with(true)
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.inner {
            Output::Staged { tmp, .. } => tmp.write(buf),
            Output::Direct(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.inner {
            Output::Staged { tmp, .. } => tmp.flush(),
            Output::Direct(f) => f.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes() {
        assert_eq!(sanitize_terminal("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(sanitize_terminal("x\u{9b}y\u{202e}"), "x\\u{9b}y\\u{202e}");
        assert_eq!(sanitize_cell("a\nb"), "a\\nb");
    }

    #[test]
    fn json_keeps_its_meaning_without_raw_bidi_or_c1() {
        let raw = "{\"a\":\"x\u{202e}y\u{9b}z\u{2066}\"}";
        let esc = json_escape_invisible(raw.as_bytes()).into_owned();
        let text = String::from_utf8(esc).unwrap();
        assert_eq!(text, "{\"a\":\"x\\u202ey\\u009bz\\u2066\"}");
        let a: serde_json::Value = serde_json::from_str(raw).unwrap();
        let b: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(a, b);
        assert!(matches!(
            json_escape_invisible(b"{\"plain\":1}"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(csv_field("a\u{202e}b\nc", true), "a\\u{202e}b\\nc");
    }

    #[test]
    fn csv_quoting_and_formulas() {
        assert_eq!(csv_field("a,b", true), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd|' /C calc'!A0", true), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_field("-5", false), "-5");
    }
}
