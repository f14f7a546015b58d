//! The ingest pipeline: inputs → frames → packets → flows → analyzers → tables → Parquet + manifest.
//!
//! Inputs are read in order with one flow table across them (a sensor's rotated files continue each
//! other's connections). Accounting per input: `packets_read = packets_decoded + Σ packets_skipped`.
//! With `threads` > 1 the flow table is sharded over worker threads by flow ([`shard`]); the
//! tables hold the same rows either way.

mod shard;

use crate::table::dataset::{Committed, DatasetError, Existing, Staging};
use crate::table::manifest::{InputRecord, Manifest, rfc3339};
use crate::table::partition::Partition;
use crate::table::writer::{DatasetWriter, Tables, WriteError};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use wirehunt_wire::capture::{self, ReadEnd};
use wirehunt_wire::decode::{DecodeEvent, Decoder, Outcome};
use wirehunt_wire::flow::{FlowConfig, FlowTable};

#[derive(Debug, Clone, Default)]
pub struct IngestOptions {
    pub flow: FlowConfig,
    /// Raw bytes read from the inputs so far (as stored: compressed bytes for .gz/.zst), added to as
    /// ingest reads, for a progress display with rate and ETA on another thread.
    pub progress: Option<Arc<std::sync::atomic::AtomicU64>>,
    /// How the manifest's sha256 of each input is obtained.
    pub hashes: InputHashes,
    /// What to do when the output directory already holds a dataset.
    pub existing: Existing,
    /// `--extract-files`: write HTTP bodies there.
    pub extract: Option<wirehunt_wire::proto::files::Extract>,
    /// Flow worker threads (`--threads`): 0 = the cores this process may use, 1 = flows are
    /// tracked on the reading thread.
    pub threads: usize,
    /// `--partition`: time partitions of the table directories; None = unpartitioned, or on
    /// `--append` the existing dataset's.
    pub partition: Option<Partition>,
    /// `--run NAME`: write this run into a shared dataset (`table::runs`) beside other runs.
    pub run: Option<String>,
}

/// The worker threads `threads` asks for (0: one per core this process may run on).
pub fn worker_threads(threads: usize) -> usize {
    match threads {
        0 => crate::cores(),
        n => n,
    }
}

/// Where decoded packets go: the reading thread's own flow table, or the shards'.
enum Flows {
    Inline(FlowTable),
    Sharded(shard::Shards),
}

impl Flows {
    fn next_input(&mut self, ordinal: u64, source: &Arc<str>) {
        match self {
            Flows::Inline(f) => f.next_input(ordinal),
            Flows::Sharded(s) => s.next_input(ordinal, source),
        }
    }

    fn packet(
        &mut self,
        p: &wirehunt_wire::decode::Packet<'_>,
        source: &Arc<str>,
        tables: &mut Tables,
    ) {
        match self {
            Flows::Inline(f) => f.packet(p, source, tables),
            Flows::Sharded(s) => s.packet(p),
        }
    }

    /// The input ended: every weird of it is in `tables`.
    fn end_input(&mut self, tables: &mut Tables) {
        if let Flows::Sharded(s) = self {
            s.end_input(tables);
        }
    }

    /// The last input ended: every flow ends. Returns the rows written elsewhere than `tables`
    /// (by the shards) and the flow counters.
    fn finish(
        self,
        tables: &mut Tables,
    ) -> Result<
        (
            std::collections::HashMap<&'static str, u64>,
            wirehunt_wire::flow::FlowCounters,
        ),
        WriteError,
    > {
        match self {
            Flows::Inline(mut f) => {
                f.finish(tables);
                Ok((Default::default(), f.counters))
            }
            Flows::Sharded(s) => s.finish(tables),
        }
    }
}

/// How the manifest's sha256 of each input is obtained.
#[derive(Debug, Clone, Default)]
pub enum InputHashes {
    /// Hashed while ingesting (on a second thread for a regular file when there is a second core).
    #[default]
    Compute,
    /// Not at all (`--no-hash`; the manifest records null).
    Skip,
    /// Already computed (path → hex; the cache key's): those inputs are not hashed again.
    Known(std::collections::HashMap<String, String>),
}

#[derive(Debug)]
pub struct IngestReport {
    /// The dataset's manifest (with `--append`, the earlier runs' inputs, rows and flows included).
    pub manifest: Manifest,
    /// This run's own part: its inputs, rows and flow counts (the same as `manifest` unless an
    /// `--append` added to an earlier dataset).
    pub run: Manifest,
    /// Inputs that could not be read at all.
    pub failed: usize,
    /// Inputs read with damage.
    pub damaged: usize,
    pub seconds: f64,
    pub bytes: u64,
    /// The dataset was filled by another process first (cache fills) and that one was kept.
    pub shared: bool,
    /// `--append`: inputs not ingested because their sha256 is already in the manifest.
    pub already_present: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Write(#[from] WriteError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Dataset(#[from] DatasetError),
    #[error("--extract-files {0}: {1}")]
    Extract(String, std::io::Error),
    /// Options that do not fit the dataset (`--append --partition` other than its own, `--run`
    /// on a single dataset, a bad run name).
    #[error("{0}")]
    Usage(String),
    /// `--run NAME`: the shared dataset already holds that run.
    #[error("{0}")]
    RunExists(String),
}

/// Cores this process may run on (affinity mask and cgroup quota; `WIREHUNT_HASH_THREAD=0` forces
/// inline hashing, for measuring).
fn hash_cores() -> usize {
    if std::env::var_os("WIREHUNT_HASH_THREAD").is_some_and(|v| v == "0") {
        return 1;
    }
    crate::cores()
}

/// What `--append` learned before ingesting: the inputs still to read (None = all), their sha256
/// (so they are not hashed twice), and the ones already in the dataset.
#[derive(Default)]
struct Appended {
    inputs: Option<Vec<String>>,
    hashes: std::collections::HashMap<String, String>,
    already_present: Vec<String>,
}

impl Appended {
    fn inputs_or(&self, all: &[String]) -> Vec<String> {
        self.inputs.clone().unwrap_or_else(|| all.to_vec())
    }
}

/// `--append`: the earlier dataset's files come along into the staging directory (hard links: same
/// filesystem, no copy), and inputs whose sha256 is already in its manifest are left out.
fn prepare_append(
    prev: &Manifest,
    out_dir: &Path,
    staging: &Path,
    inputs: &[String],
) -> Result<Appended, IngestError> {
    for (name, _) in crate::table::all_schemas() {
        let from = out_dir.join(name);
        if !from.is_dir() {
            continue;
        }
        // begin() checked that the dataset holds only wirehunt's files
        let (files, _) = crate::table::partition::table_files(&from, prev.partition)?;
        for (dir, f) in files {
            let to_dir = staging.join(name).join(dir);
            std::fs::create_dir_all(&to_dir)?;
            let Some(fname) = f.file_name() else { continue };
            let to = to_dir.join(fname);
            if std::fs::hard_link(&f, &to).is_err() {
                std::fs::copy(&f, &to)?;
            }
        }
    }
    let known: std::collections::HashSet<&str> = prev
        .inputs
        .iter()
        .filter_map(|i| i.sha256.as_deref())
        .collect();
    let mut a = Appended::default();
    let mut kept = Vec::new();
    for p in inputs {
        let h = capture::is_rereadable(p)
            .then(|| capture::sha256_file(p).ok())
            .flatten();
        match h {
            Some(h) if known.contains(h.as_str()) => a.already_present.push(p.clone()),
            Some(h) => {
                a.hashes.insert(p.clone(), h);
                kept.push(p.clone());
            }
            None => kept.push(p.clone()),
        }
    }
    a.inputs = Some(kept);
    Ok(a)
}

/// `--run NAME` into `dir`: check the name and the directory (new, empty, or a shared dataset without
/// that run), create `dir/runs`, remove the files an interrupted run of that name left, and return
/// the other runs' merged manifest (None when this is the first).
fn prepare_run(
    dir: &Path,
    name: &str,
    asked: Option<Partition>,
) -> Result<Option<Manifest>, IngestError> {
    use crate::table::runs;
    runs::check_name(name).map_err(IngestError::Usage)?;
    let shown = dir.display().to_string();
    if dir.join("manifest.json").exists() {
        return Err(IngestError::Usage(format!(
            "{shown} holds a single dataset; --run writes a shared one (a new or empty directory, or one other --run ingests wrote); use --append to add to it"
        )));
    }
    let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
    if !empty && !runs::is_shared(dir) {
        return Err(DatasetError::Foreign(shown).into());
    }
    if dir
        .join(runs::RUNS_DIR)
        .join(format!("{name}.json"))
        .exists()
    {
        return Err(IngestError::RunExists(format!(
            "{shown} already holds run {name}; choose another --run name"
        )));
    }
    std::fs::create_dir_all(dir.join(runs::RUNS_DIR))?;
    let others = match runs::load_merged(dir) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    if let (Some(m), Some(p)) = (&others, asked)
        && m.partition != p
    {
        return Err(IngestError::Usage(format!(
            "--partition {}: the runs in {shown} are partitioned {}; leave out --partition",
            p.name(),
            m.partition.name()
        )));
    }
    // an interrupted run of this name left files without a manifest: they are this run's to redo
    let partition = others
        .as_ref()
        .map_or(asked.unwrap_or_default(), |m| m.partition);
    for (table, _) in crate::table::all_schemas() {
        let td = dir.join(table);
        if !td.is_dir() {
            continue;
        }
        let (files, _) = crate::table::partition::table_files(&td, partition)?;
        for (_, f) in files {
            let mine = f
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(runs::run_of)
                == Some(name);
            if mine {
                std::fs::remove_file(&f)?;
            }
        }
    }
    Ok(others)
}

/// Ingest `inputs` (already expanded) into `out_dir`. `on_file` is told each input as it starts.
pub fn ingest(
    inputs: &[String],
    out_dir: &Path,
    opts: &IngestOptions,
    mut on_file: impl FnMut(usize, &str),
) -> Result<IngestReport, IngestError> {
    let t0 = Instant::now();
    // a shared dataset's run: the other runs' manifest (merged) says the partitioning
    let other_runs = match &opts.run {
        Some(name) => prepare_run(out_dir, name, opts.partition)?,
        None => None,
    };
    if opts.run.is_none()
        && opts.existing == Existing::Append
        && crate::table::runs::is_shared(out_dir)
    {
        return Err(IngestError::Usage(format!(
            "{} is a shared dataset: add to it with --run NAME (a new run), not --append",
            out_dir.display()
        )));
    }
    let staging = match &opts.run {
        Some(name) => Staging::begin(
            &out_dir.join(crate::table::runs::RUNS_DIR).join(name),
            Existing::Refuse,
        )?,
        None => Staging::begin(out_dir, opts.existing)?,
    };
    let mut writer = DatasetWriter::create(staging.path())?;
    let previous = match opts.existing {
        Existing::Append if crate::table::dataset::is_dataset(out_dir) => {
            Some(Manifest::load(out_dir)?)
        }
        _ => None,
    };
    // an appended run writes the existing dataset's partitions (or says it cannot)
    let partition = match (&previous, opts.partition) {
        (Some(prev), Some(p)) if p != prev.partition => {
            return Err(IngestError::Usage(format!(
                "--partition {}: {} is partitioned {}; --append adds to its partitions (leave out --partition)",
                p.name(),
                out_dir.display(),
                prev.partition.name()
            )));
        }
        (Some(prev), _) => prev.partition,
        (None, p) => other_runs
            .as_ref()
            .map(|m| m.partition)
            .or(p)
            .unwrap_or_default(),
    };
    writer.partition = partition;
    let mut appended = Appended::default();
    if let Some(prev) = &previous {
        appended = prepare_append(prev, out_dir, staging.path(), inputs)?;
        writer.part_prefix = format!("r{}-", prev.inputs.len() + 1);
        // the earlier run's files carry every table's schema already
        writer.empty_parts = false;
    }
    // inputs are numbered across the dataset's runs (connection uids include the number)
    let mut first_ordinal = previous.as_ref().map_or(0, |p| p.inputs.len() as u64);
    if let Some(name) = &opts.run {
        // the first run's files carry every table's schema already
        writer.empty_parts = other_runs.is_none();
        writer.part_prefix = format!("{name}-");
        first_ordinal = crate::table::runs::ordinal_base(name);
    }
    let inputs = &appended.inputs_or(inputs)[..];
    let prefix = writer.part_prefix.clone();
    let mut tables = Tables::new(Some(writer));
    if let Some(x) = &opts.extract {
        std::fs::create_dir_all(&x.dir)
            .map_err(|e| IngestError::Extract(x.dir.display().to_string(), e))?;
        tables.extract = Some(std::sync::Arc::new(x.clone()));
    }
    let mut flows = match worker_threads(opts.threads) {
        1 => Flows::Inline(FlowTable::new(opts.flow)),
        n => Flows::Sharded(shard::Shards::start(
            n,
            opts.flow,
            staging.path(),
            &prefix,
            partition,
            tables.extract.clone(),
        )?),
    };
    let mut decoder = Decoder::default();
    let mut records = Vec::new();
    let (mut failed, mut damaged) = (0, 0);
    let mut total_bytes = 0u64;
    for (i, path) in inputs.iter().enumerate() {
        on_file(i, path);
        let tf = Instant::now();
        let source: Arc<str> = Arc::from(if path == "-" {
            "<stdin>"
        } else {
            path.as_str()
        });
        flows.next_input(first_ordinal + i as u64, &source);
        tables.source = source.clone();
        tables.weird_counts.clear();
        let mut rec = InputRecord {
            path: source.to_string(),
            ..Default::default()
        };
        let mut decoded = 0u64;
        let mut fragments = 0u64;
        let mut skipped: BTreeMap<String, u64> = BTreeMap::new();
        let src = match capture::open_source(path) {
            Ok(s) => match &opts.progress {
                Some(c) => Box::new(Counting {
                    inner: s,
                    bytes: c.clone(),
                }) as Box<dyn std::io::Read + Send>,
                None => s,
            },
            Err(e) => {
                failed += 1;
                rec.error = Some(format!("cannot open: {e}"));
                rec.end = "unreadable".into();
                tables.weird(
                    0,
                    None,
                    "input_unreadable",
                    &rec.error.clone().unwrap_or_default(),
                    None,
                );
                flows.end_input(&mut tables);
                rec.weird = tables.weird_counts.clone();
                tables.end_input();
                records.push(rec);
                continue;
            }
        };
        let mut last_expire = i64::MIN;
        // hash this input now, or take the hash already known for it
        let (hash, known) = match &opts.hashes {
            // --append already hashed it to compare with the manifest
            _ if appended.hashes.contains_key(path) => (false, appended.hashes.get(path).cloned()),
            InputHashes::Compute => (true, None),
            InputHashes::Skip => (false, None),
            InputHashes::Known(m) => match m.get(path) {
                Some(h) => (false, Some(h.clone())),
                None => (true, None),
            },
        };
        // sha256 of a regular file on a second thread when there is a second core (it reads the
        // file itself, mostly from the page cache the parser just filled: no wall time, one more
        // kernel copy); a stream (stdin, a pipe, a FIFO), or a process limited to one core, is
        // hashed inline as the parser reads it
        let threaded = hash && capture::is_rereadable(path) && hash_cores() > 1;
        let hasher = threaded.then(|| {
            let p = path.clone();
            std::thread::spawn(move || capture::sha256_file(&p))
        });
        let inline_hash = hash && hasher.is_none();
        let result = capture::read_capture_opts(src, inline_hash, |frame| {
            let outcome = decoder.decode(frame, |pkt| flows.packet(pkt, &source, &mut tables));
            match outcome {
                Outcome::Decoded => decoded += 1,
                Outcome::FragmentHeld => {
                    decoded += 1;
                    fragments += 1;
                }
                Outcome::Skipped(s) => {
                    *skipped.entry(s.to_string()).or_insert(0) += 1;
                    if let Some(w) = s.weird_name() {
                        tables.weird(frame.ts, None, w, &s.to_string(), Some(frame.number));
                    }
                }
            }
            for ev in decoder.events.drain(..) {
                let (name, addl) = match ev {
                    DecodeEvent::FragmentOverlap => (
                        "fragment_overlap",
                        String::from(
                            "an IP fragment lay entirely inside data already held: dropped (first data kept)",
                        ),
                    ),
                    DecodeEvent::FragmentOverlapMerged => (
                        "fragment_overlap",
                        String::from(
                            "an IP fragment partly overlapped data already held: merged (in the overlap the later bytes were kept)",
                        ),
                    ),
                    DecodeEvent::FragmentError(e) => ("fragment_error", e),
                    DecodeEvent::FragmentTimeout(n) => (
                        "fragment_timeout",
                        format!("{n} incomplete datagrams expired"),
                    ),
                    DecodeEvent::FragmentPoolFull => (
                        "fragment_pool_full",
                        String::from(
                            "fragment pool at its cap: the oldest incomplete datagrams were evicted to make room",
                        ),
                    ),
                };
                tables.weird(frame.ts, None, name, &addl, Some(frame.number));
            }
            if frame.ts > last_expire.saturating_add(1_000_000) {
                last_expire = frame.ts;
                decoder.expire(frame.ts);
            }
        });
        match result {
            Ok((stats, end)) => {
                rec.size = stats.size;
                rec.sha256 = match hasher {
                    // the hash is evidence: a failed hashing read is recorded, never a prefix's hash
                    Some(h) => match h.join() {
                        Ok(Ok(d)) => Some(d),
                        Ok(Err(e)) => {
                            rec.hash_error = Some(format!("sha256 not computed: {e}"));
                            None
                        }
                        Err(_) => {
                            rec.hash_error =
                                Some("sha256 not computed: the hashing thread failed".into());
                            None
                        }
                    },
                    None if inline_hash && matches!(end, ReadEnd::Complete) => Some(stats.sha256),
                    None if inline_hash => {
                        rec.hash_error = Some(
                            "sha256 not computed: the stream ended early, so a hash would cover only a prefix"
                                .into(),
                        );
                        None
                    }
                    None => known,
                };
                rec.format = stats.format;
                rec.compression = stats.compression.map(String::from);
                rec.linktypes = stats
                    .linktypes
                    .into_iter()
                    .filter(|l| *l != capture::NO_INTERFACE)
                    .collect();
                rec.first_ts = stats.first_ts.map(rfc3339);
                rec.last_ts = stats.last_ts.map(rfc3339);
                rec.packets_read = stats.packets_read;
                total_bytes += stats.size;
                if stats.ts_clamped > 0 {
                    tables.weird(
                        stats.last_ts.unwrap_or(0),
                        None,
                        "timestamp_out_of_range",
                        &format!(
                            "{} packet timestamps lay outside 1970-01-01 .. 9999-12-31 (a lying if_tsoffset or if_tsresol?) and were clamped to that range",
                            stats.ts_clamped
                        ),
                        None,
                    );
                }
                if stats.ts_bad_fraction > 0 {
                    tables.weird(
                        stats.first_ts.unwrap_or(0),
                        None,
                        "timestamp_bad_fraction",
                        &format!(
                            "{} pcap records carry a sub-second field of a second or more",
                            stats.ts_bad_fraction
                        ),
                        None,
                    );
                }
                match end {
                    ReadEnd::Complete => rec.end = "complete".into(),
                    ReadEnd::Damaged { name, detail } => {
                        damaged += 1;
                        rec.end = name.to_string();
                        rec.error = Some(detail.clone());
                        tables.weird(stats.last_ts.unwrap_or(0), None, name, &detail, None);
                    }
                }
            }
            Err(e) => {
                failed += 1;
                rec.end = "unreadable".into();
                rec.error = Some(e.to_string());
                tables.weird(0, None, "input_unreadable", &e.to_string(), None);
            }
        }
        rec.packets_decoded = decoded;
        rec.packets_skipped = skipped;
        rec.fragments = fragments;
        flows.end_input(&mut tables);
        rec.weird = tables.weird_counts.clone();
        tables.end_input();
        rec.ingest_seconds = tf.elapsed().as_secs_f64();
        records.push(rec);
    }
    // the flows still open end with the last input, and their weirds count in its record
    tables.weird_counts.clear();
    let (elsewhere, c) = flows.finish(&mut tables)?;
    if let Some(last) = records.last_mut() {
        for (name, n) in std::mem::take(&mut tables.weird_counts) {
            *last.weird.entry(name).or_insert(0) += n;
        }
    }
    tables.end_input();
    if let Some(w) = tables.writer_mut() {
        w.filled_elsewhere = elsewhere
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(t, _)| *t)
            .collect();
    }
    let mut rows = tables.finish()?;
    for (t, n) in elsewhere {
        *rows.entry(t).or_insert(0) += n;
    }
    let mut manifest = Manifest {
        wirehunt_version: env!("CARGO_PKG_VERSION").into(),
        schema_version: crate::table::SCHEMA_VERSION,
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        psl_version: crate::query::udf::PSL_CRATE_VERSION.into(),
        inputs: records,
        tables: rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        flow_stats: c,
        config: serde_json::to_value(opts.flow).unwrap_or_default(),
        partition,
        run: None,
    };
    let run = manifest.clone();
    if let Some(prev) = previous {
        manifest.follow(prev);
    }
    manifest.run = opts.run.clone();
    let json = serde_json::to_string_pretty(&manifest).map_err(std::io::Error::other)?;
    let shared = match &opts.run {
        // a run's files move in beside the other runs', its manifest last
        Some(name) => {
            staging.commit_run(out_dir, name, partition, &json)?;
            false
        }
        None => {
            // manifest last, then the whole directory moves into place in one rename
            std::fs::write(staging.path().join("manifest.json"), json)?;
            staging.commit()? == Committed::Shared
        }
    };
    Ok(IngestReport {
        shared,
        already_present: appended.already_present,
        manifest,
        run,
        failed,
        damaged,
        seconds: t0.elapsed().as_secs_f64(),
        bytes: total_bytes,
    })
}

/// A reader that adds the bytes passing through it to a shared counter (progress).
struct Counting<R> {
    inner: R,
    bytes: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
