//! The dataset writer: `DIR/<table>/part-NNNNN.parquet` files (snappy, page statistics, rows sorted by
//! `ts` within each row group), and [`Tables`], the row sink every analyzer appends to.
//!
//! Memory: a table's builders are written out as one row group as soon as they hold [`FLUSH_BYTES`]
//! of data or [`FLUSH_ROWS`] rows, and the row group goes straight to disk, so memory does not grow with
//! the capture (nor with the width of a table's rows). Each table keeps one part file open and starts
//! the next after [`PART_ROWS`] rows, so a large capture gives a few large files, not many small ones.
//! A table with no rows at all still gets one empty part file carrying its schema, so every table can
//! be registered and queried.

use super::partition::Partition;
use super::*;
use arrow::compute::{SortOptions, sort_to_indices, take_record_batch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use wirehunt_wire::record::{Record, RecordSink, WeirdRecord};

/// Columns (by name, in every table that has them) whose values seldom repeat within a row group:
/// times, ids, hashes, byte and frame counts, ephemeral ports. A dictionary there holds every value
/// once more and costs a hash lookup per value; plain encoding is smaller and cheaper to write. On the
/// first 300k packets of the small-packet mix (benches/README.md): 3.6% fewer instructions for the
/// whole ingest and a 5.5% smaller dataset. Columns not named keep parquet's dictionary (addresses,
/// server ports, names, states: few distinct values).
/// (And every column of [`RANDOM_IDS`].)
const NO_DICTIONARY: &[&str] = &[
    "ts",
    "orig_p",
    "duration",
    "rtt",
    "trans_id",
    "first_frame",
    "last_frame",
    "frame",
    "orig_bytes",
    "resp_bytes",
    "orig_ip_bytes",
    "resp_ip_bytes",
    "orig_seen_bytes",
    "resp_seen_bytes",
    "request_bytes",
    "response_bytes",
    "not_valid_before",
    "not_valid_after",
    "orig_bursts.list.item",
];

/// Columns of random-looking identifiers (uids, Community IDs, hashes, fingerprints): their minimum and
/// maximum in a row group span nearly the whole value space, so statistics prune nothing and only cost
/// a comparison per value. Times, addresses, ports, names and counts keep page statistics. (And
/// every column of [`RANDOM_IDS`].)
const NO_STATISTICS: &[&str] = &[
    "ja3",
    "ja3s",
    "ja3_string",
    "ja3s_string",
    "ja4",
    "cert_chain_sha256.list.item",
];

/// Random identifiers and digests unique to a row (base62 uids, base64 Community IDs, hex digests):
/// no dictionary, no statistics ([`NO_DICTIONARY`], [`NO_STATISTICS`]), and [`NO_COMPRESSION`].
const RANDOM_IDS: &[&str] = &["uid", "community_id", "fuid", "md5", "sha1", "sha256"];

/// Columns of random identifiers and digests ([`RANDOM_IDS`] and the certificate digests, which keep
/// their dictionary: certificates repeat): snappy has no entropy coder, so what it shortened in them
/// was mostly PLAIN's 4-byte length before every value (15-20%). DELTA_LENGTH_BYTE_ARRAY stores those
/// lengths apart, bit-packed to almost nothing, so the columns are written with it and uncompressed:
/// 3.0% fewer instructions for the whole ingest of the small-packet mix, 2.5% larger dataset
/// (benches/README.md, "Identifier columns"). Readers: DataFusion, DuckDB, pyarrow, Spark 3.3 and
/// later.
const NO_COMPRESSION: &[&str] = &["cert_chain_sha256.list.item"];

/// Rows buffered per table before they are written as a row group.
pub const FLUSH_ROWS: usize = 64 * 1024;
/// Builder data (bytes) per table before it is written as a row group: what bounds memory. At 1 MiB a
/// `conn` row group holds about 5k rows. Measured on a 1 GB capture (benches/README.md): peak RSS
/// 43 MiB at 1 MiB, 56 MiB at 4 MiB, 68 MiB at 16 MiB; dataset size and detector times unchanged.
pub const FLUSH_BYTES: usize = 1 << 20;
/// Rows per part file before the next one is started.
pub const PART_ROWS: u64 = 1 << 20;
/// Part files a table keeps open at once in a partitioned dataset (the rest are closed).
pub const MAX_OPEN_PARTITIONS: usize = 4;
/// How often (in rows) a table's held bytes are summed.
const BYTES_CHECK_ROWS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// A leaf column's path from its dotted name (`orig_bursts.list.item`: a list's items). Not
/// `ColumnPath::from(&str)`, which makes a one-part path that no nested leaf matches: the settings
/// for list items were silently ignored until 2026-12-08.
fn column(dotted: &str) -> ColumnPath {
    ColumnPath::new(dotted.split('.').map(str::to_owned).collect())
}

/// A part file being written: its row groups so far are on disk.
struct OpenPart {
    writer: ArrowWriter<BufWriter<File>>,
    rows: u64,
}

pub struct DatasetWriter {
    dir: PathBuf,
    /// Part files started per table and partition directory.
    parts: HashMap<(&'static str, String), u32>,
    /// Directories by time (`ingest --partition`); each partition has its own part files.
    pub partition: Partition,
    /// Prefix of this run's part file names (`part-PREFIXNNNNN.parquet`): empty for a new dataset,
    /// unique per `--append` run so its files never collide with the earlier ones.
    pub part_prefix: String,
    /// Write an empty part for a table that got no rows (so that every table can be read). A
    /// sharded ingest's workers leave that to the reading thread's writer.
    pub empty_parts: bool,
    /// Tables another writer of the same dataset wrote rows to (no empty part needed).
    pub filled_elsewhere: Vec<&'static str>,
    open: HashMap<(&'static str, String), OpenPart>,
    pub rows: HashMap<&'static str, u64>,
    props: WriterProperties,
    /// Rows per part file ([`PART_ROWS`]; smaller in tests).
    part_rows: u64,
}

impl DatasetWriter {
    /// Create the table directories of a (new, staging) dataset directory.
    pub fn create(dir: &Path) -> Result<Self, WriteError> {
        let io = |e: std::io::Error, p: &Path| WriteError::Io {
            path: p.display().to_string(),
            source: e,
        };
        // the directory is a fresh staging directory (table::dataset): nothing in it to remove, and
        // wirehunt never deletes files it did not write
        std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
        for (name, _) in all_schemas() {
            let td = dir.join(name);
            std::fs::create_dir_all(&td).map_err(|e| io(e, &td))?;
        }
        // snappy by default: on one core it is 8% faster than zstd level 1 for the whole ingest and
        // 4 MiB lighter, for files 37% larger (still under 0.5% of the capture); benches/README.md
        // compares the codecs. WIREHUNT_PARQUET_CODEC (snappy, zstd1, zstd3, lz4, none) exists for
        // that measurement.
        let codec = match std::env::var("WIREHUNT_PARQUET_CODEC").as_deref() {
            Ok("zstd1") => Compression::ZSTD(ZstdLevel::try_new(1)?),
            Ok("zstd3") => Compression::ZSTD(ZstdLevel::try_new(3)?),
            Ok("lz4") => Compression::LZ4_RAW,
            Ok("none") => Compression::UNCOMPRESSED,
            _ => Compression::SNAPPY,
        };
        let mut props = WriterProperties::builder()
            .set_compression(codec)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(FLUSH_ROWS));
        for c in RANDOM_IDS.iter().chain(NO_DICTIONARY) {
            props = props.set_column_dictionary_enabled(column(c), false);
        }
        for c in RANDOM_IDS.iter().chain(NO_STATISTICS) {
            props = props.set_column_statistics_enabled(column(c), EnabledStatistics::None);
        }
        for c in RANDOM_IDS.iter().chain(NO_COMPRESSION) {
            props = props
                .set_column_compression(column(c), Compression::UNCOMPRESSED)
                .set_column_encoding(column(c), parquet::basic::Encoding::DELTA_LENGTH_BYTE_ARRAY);
        }
        let props = props.build();
        Ok(DatasetWriter {
            dir: dir.to_path_buf(),
            parts: HashMap::new(),
            partition: Partition::None,
            part_prefix: String::new(),
            empty_parts: true,
            filled_elsewhere: Vec::new(),
            open: HashMap::new(),
            rows: HashMap::new(),
            props,
            part_rows: PART_ROWS,
        })
    }

    /// Write one batch as a row group of the table's open part file (starting a new part when there is
    /// none or it is full), sorted by its first column (`ts`).
    pub fn write(&mut self, table: &'static str, batch: RecordBatch) -> Result<(), WriteError> {
        let batch = if batch.num_rows() > 1 {
            let idx = sort_to_indices(
                batch.column(0),
                Some(SortOptions {
                    descending: false,
                    nulls_first: true,
                }),
                None,
            )?;
            take_record_batch(&batch, &idx)?
        } else {
            batch
        };
        if self.partition.is_none() {
            return self.write_part(table, String::new(), &batch);
        }
        // rows are sorted by time now, so each partition's rows are one run
        let ts = batch
            .column(0)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| {
                arrow::error::ArrowError::SchemaError(format!("{table}: ts is not a timestamp"))
            })?;
        let at = |i: usize| ts.is_valid(i).then(|| ts.value(i));
        let mut start = 0;
        while start < batch.num_rows() {
            let b = self.partition.bucket(at(start));
            let mut end = start + 1;
            while end < batch.num_rows() && self.partition.bucket(at(end)) == b {
                end += 1;
            }
            let dir = self.partition.dir_of(at(start));
            self.write_part(table, dir, &batch.slice(start, end - start))?;
            start = end;
        }
        Ok(())
    }

    /// Write `batch` as a row group of the part file open for `table` in partition directory `dir`.
    fn write_part(
        &mut self,
        table: &'static str,
        dir: String,
        batch: &RecordBatch,
    ) -> Result<(), WriteError> {
        let key = (table, dir);
        // a full part is closed (footer written) and the next one started
        let full = self
            .open
            .get(&key)
            .is_some_and(|p| p.rows >= self.part_rows);
        if full && let Some(p) = self.open.remove(&key) {
            p.writer.close()?;
        }
        if !self.open.contains_key(&key) {
            // bounded open files per table: a capture's rows arrive roughly in time order, so the
            // table's earliest open partition is the one least likely to get more rows (if it does,
            // it gets another part file)
            let mine: Vec<String> = self
                .open
                .keys()
                .filter(|(t, _)| *t == table)
                .map(|(_, d)| d.clone())
                .collect();
            if mine.len() >= MAX_OPEN_PARTITIONS
                && let Some(oldest) = mine.into_iter().min()
                && let Some(p) = self.open.remove(&(table, oldest))
            {
                p.writer.close()?;
            }
        }
        let part = match self.open.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let (table, dir) = v.key().clone();
                let n = self.parts.entry((table, dir.clone())).or_insert(0);
                let parent = self.dir.join(table).join(&dir);
                if !dir.is_empty() {
                    std::fs::create_dir_all(&parent).map_err(|e| WriteError::Io {
                        path: parent.display().to_string(),
                        source: e,
                    })?;
                }
                let path = parent.join(format!("part-{}{:05}.parquet", self.part_prefix, *n));
                *n += 1;
                let file = File::create(&path).map_err(|e| WriteError::Io {
                    path: path.display().to_string(),
                    source: e,
                })?;
                let writer = ArrowWriter::try_new(
                    BufWriter::with_capacity(256 << 10, file),
                    batch.schema(),
                    Some(self.props.clone()),
                )?;
                v.insert(OpenPart { writer, rows: 0 })
            }
        };
        part.writer.write(batch)?;
        // end the row group now: its encoded pages go to the file instead of staying in memory
        part.writer.flush()?;
        part.rows += batch.num_rows() as u64;
        *self.rows.entry(table).or_insert(0) += batch.num_rows() as u64;
        Ok(())
    }

    /// Write an empty part for tables that got no rows, then close every open part file.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        for (name, schema) in all_schemas() {
            if self.empty_parts
                && !self.parts.keys().any(|(t, _)| *t == name)
                && !self.filled_elsewhere.contains(&name)
            {
                // partitioned: Hive's default partition holds the schema
                let dir = self.partition.dir_of(None);
                self.write_part(name, dir, &RecordBatch::new_empty(schema))?;
            }
        }
        for (_, p) in self.open.drain() {
            p.writer.close()?;
        }
        Ok(())
    }
}

/// Per-(file, name) weird rows kept (the earliest, see [`Tables::weird`]); the rest are only counted.
pub const WEIRD_ROWS_PER_NAME: u64 = 100;

/// A weird row held until its input ends. Ordered by time first: the rows kept of a name are the
/// earliest ones, whatever order the events were raised in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WeirdRow {
    pub ts: i64,
    pub frame: Option<u64>,
    pub uid: Option<String>,
    pub addl: String,
    pub source: std::sync::Arc<str>,
}

/// The row sink: table builders plus the writer they flush to. The wire layers see it only as a
/// [`RecordSink`].
pub struct Tables {
    pub builders: Builders,
    writer: Option<DatasetWriter>,
    /// `--extract-files`: where HTTP bodies are written (None: off).
    pub extract: Option<std::sync::Arc<wirehunt_wire::proto::files::Extract>>,
    /// Name of the capture file being read (for the `source` columns).
    pub source: std::sync::Arc<str>,
    /// Weird events by name for the current file (including rate-limited ones).
    pub weird_counts: std::collections::BTreeMap<String, u64>,
    /// The current file's weird rows by name, at most [`WEIRD_ROWS_PER_NAME`] each (a max-heap:
    /// its top is the latest kept), written by [`Tables::end_input`].
    held: std::collections::BTreeMap<String, std::collections::BinaryHeap<WeirdRow>>,
    pub error: Option<WriteError>,
}

impl RecordSink for Tables {
    fn record(&mut self, r: Record<'_>) {
        self.builders.append(&r);
        self.maybe_flush();
    }
    fn weird(&mut self, ts: i64, uid: Option<&str>, name: &str, addl: &str, frame: Option<u64>) {
        Tables::weird(self, ts, uid, name, addl, frame);
    }
    fn extract_files(&self) -> Option<&std::sync::Arc<wirehunt_wire::proto::files::Extract>> {
        self.extract.as_ref()
    }
}

impl Tables {
    pub fn new(writer: Option<DatasetWriter>) -> Self {
        Tables {
            builders: Builders::default(),
            writer,
            extract: None,
            source: "".into(),
            weird_counts: Default::default(),
            held: Default::default(),
            error: None,
        }
    }

    /// Record a weird event. Every one is counted; of each name, the [`WEIRD_ROWS_PER_NAME`]
    /// earliest of the current file (by time, then frame, uid and text) become rows when the file
    /// ends ([`Tables::end_input`]). The earliest, not the first raised: a flow's events are raised
    /// when it ends, which in a sharded ingest depends on the other flows of its shard, and the
    /// rows kept must not.
    pub fn weird(
        &mut self,
        ts: i64,
        uid: Option<&str>,
        name: &str,
        addl: &str,
        frame: Option<u64>,
    ) {
        match self.weird_counts.get_mut(name) {
            Some(c) => *c += 1,
            None => {
                self.weird_counts.insert(name.to_string(), 1);
            }
        }
        let heap = match self.held.get_mut(name) {
            Some(h) => h,
            None => self.held.entry(name.to_string()).or_default(),
        };
        // full, and no earlier than the latest kept: nothing to allocate
        if heap.len() as u64 >= WEIRD_ROWS_PER_NAME
            && heap
                .peek()
                .is_some_and(|top| (ts, frame) > (top.ts, top.frame))
        {
            return;
        }
        let row = WeirdRow {
            ts,
            frame,
            uid: uid.map(str::to_string),
            addl: addl.to_string(),
            source: self.source.clone(),
        };
        hold(heap, row);
    }

    /// The current file's held weird rows and counts, taken (a shard hands them to the merger).
    pub fn take_weirds(
        &mut self,
    ) -> (
        Vec<(String, WeirdRow)>,
        std::collections::BTreeMap<String, u64>,
    ) {
        let mut rows = Vec::new();
        for (name, heap) in std::mem::take(&mut self.held) {
            rows.extend(heap.into_vec().into_iter().map(|r| (name.clone(), r)));
        }
        (rows, std::mem::take(&mut self.weird_counts))
    }

    /// Add another shard's held weird rows and counts of the current file.
    pub fn put_weirds(
        &mut self,
        rows: Vec<(String, WeirdRow)>,
        counts: std::collections::BTreeMap<String, u64>,
    ) {
        for (name, n) in counts {
            *self.weird_counts.entry(name).or_insert(0) += n;
        }
        for (name, row) in rows {
            hold(self.held.entry(name).or_default(), row);
        }
    }

    /// The current file ended: its kept weird rows are written, in time order.
    pub fn end_input(&mut self) {
        let mut rows: Vec<(String, WeirdRow)> = Vec::new();
        for (name, heap) in std::mem::take(&mut self.held) {
            rows.extend(heap.into_vec().into_iter().map(|r| (name.clone(), r)));
        }
        rows.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        for (name, r) in rows {
            self.builders.weird.append(&WeirdRecord {
                ts: r.ts,
                uid: r.uid.as_deref(),
                name: &name,
                addl: &r.addl,
                source: &r.source,
                frame: r.frame,
            });
            self.maybe_flush();
        }
    }

    /// Flush any table over its row or byte threshold (called after every appended row; bytes are
    /// summed every [`BYTES_CHECK_ROWS`] rows).
    pub fn maybe_flush(&mut self) {
        let full = self.builders.finish_some(|n, held| {
            n >= FLUSH_ROWS || (n % BYTES_CHECK_ROWS == 0 && held() >= FLUSH_BYTES)
        });
        self.write_out(full);
    }

    /// Write finished batches (the first error is kept for [`Tables::finish`]).
    fn write_out(&mut self, batches: Vec<(&'static str, arrow::error::Result<RecordBatch>)>) {
        for (name, b) in batches {
            let r = b
                .map_err(WriteError::from)
                .and_then(|b| match self.writer.as_mut() {
                    Some(w) => w.write(name, b),
                    None => Ok(()),
                });
            if let Err(e) = r
                && self.error.is_none()
            {
                self.error = Some(e);
            }
        }
    }

    /// The writer (None for a sink that only counts).
    pub fn writer_mut(&mut self) -> Option<&mut DatasetWriter> {
        self.writer.as_mut()
    }

    /// Flush everything and close the dataset; returns rows written per table.
    pub fn finish(mut self) -> Result<HashMap<&'static str, u64>, WriteError> {
        self.end_input();
        let all = self.builders.finish_some(|_, _| true);
        self.write_out(all);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.writer.as_mut() {
            Some(w) => {
                w.finish()?;
                Ok(w.rows.clone())
            }
            None => Ok(HashMap::new()),
        }
    }
}

/// Keep `row` if it is among the [`WEIRD_ROWS_PER_NAME`] earliest.
fn hold(heap: &mut std::collections::BinaryHeap<WeirdRow>, row: WeirdRow) {
    if (heap.len() as u64) < WEIRD_ROWS_PER_NAME {
        heap.push(row);
    } else if let Some(mut top) = heap.peek_mut()
        && row < *top
    {
        *top = row;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    /// Builders are written out by size, as sorted row groups of one open part file, and the
    /// builders never hold much more than the budget.
    #[test]
    fn builders_flush_by_size_into_sorted_row_groups_of_one_part() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Tables::new(Some(DatasetWriter::create(dir.path()).unwrap()));
        fill_weird(&mut t, 6000);
        let rows = t.finish().unwrap();
        assert_eq!(rows["weird"], 6000);
        let parts = parts(dir.path());
        assert_eq!(parts.len(), 1, "{parts:?}");
        let (groups, seen) = check_sorted_row_groups(&parts[0]);
        // 6000 rows of ~1 KB with a 1 MiB budget: at least five row groups
        assert!(groups >= 5, "{groups} row groups");
        assert_eq!(seen, 6000);
    }

    /// Every column the writer configures by name is a leaf of some table (a nested one by its dotted
    /// path), and the settings reach it: a list's items were once named by a one-part path that no
    /// leaf matched, so their settings were silently ignored.
    #[test]
    fn configured_columns_exist_and_get_their_settings() {
        use parquet::basic::Encoding;
        let dir = tempfile::tempdir().unwrap();
        let w = DatasetWriter::create(dir.path()).unwrap();
        let mut leaves: Vec<ColumnPath> = Vec::new();
        for (_, schema) in all_schemas() {
            let descr = parquet::arrow::ArrowSchemaConverter::new()
                .convert(&schema)
                .unwrap();
            leaves.extend(descr.columns().iter().map(|c| c.path().clone()));
        }
        let leaf = |name: &str| {
            let p = column(name);
            assert!(leaves.contains(&p), "{name} is no table's leaf column");
            p
        };
        for c in RANDOM_IDS.iter().chain(NO_DICTIONARY) {
            assert!(!w.props.dictionary_enabled(&leaf(c)), "{c}: dictionary");
        }
        for c in RANDOM_IDS.iter().chain(NO_STATISTICS) {
            assert_eq!(
                w.props.statistics_enabled(&leaf(c)),
                EnabledStatistics::None,
                "{c}: statistics"
            );
        }
        for c in RANDOM_IDS.iter().chain(NO_COMPRESSION) {
            let p = leaf(c);
            assert_eq!(w.props.compression(&p), Compression::UNCOMPRESSED, "{c}");
            assert_eq!(
                w.props.encoding(&p),
                Some(Encoding::DELTA_LENGTH_BYTE_ARRAY),
                "{c}"
            );
        }
        // and a column named in no list keeps the defaults
        let other = column("orig_burst_bytes.list.item");
        assert!(leaves.contains(&other));
        assert!(w.props.dictionary_enabled(&other));
        assert_eq!(w.props.statistics_enabled(&other), EnabledStatistics::Page);
    }

    /// A full part file is closed and the next one started; every part is complete and readable.
    #[test]
    fn parts_roll_over_after_part_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::create(dir.path()).unwrap();
        w.part_rows = 2000;
        let mut t = Tables::new(Some(w));
        fill_weird(&mut t, 6000);
        let rows = t.finish().unwrap();
        assert_eq!(rows["weird"], 6000);
        let parts = parts(dir.path());
        // ~1000 rows per row group, a new part once a part holds 2000 or more
        assert!((2..=4).contains(&parts.len()), "{parts:?}");
        let total: u64 = parts.iter().map(|p| check_sorted_row_groups(p).1).sum();
        assert_eq!(total, 6000);
        // the tables that got no rows still have one empty, readable part
        let conn = std::fs::read_dir(dir.path().join("conn")).unwrap().count();
        assert_eq!(conn, 1);
    }

    fn parts(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(dir.join("weird"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    }

    /// Append `n` weird rows of ~1 KB with descending timestamps (so every row group has to be
    /// sorted by the writer); the builders must never hold much more than the budget.
    fn fill_weird(t: &mut Tables, n: u64) {
        let addl = "x".repeat(1000);
        let mut max_held = 0;
        for i in 0..n {
            // descending timestamps: every row group has to be sorted by the writer
            let w = &mut t.builders.weird;
            w.ts.append_value((n - i) as i64);
            w.uid.append_null();
            w.name.append_value("test_row");
            w.addl.append_value(&addl);
            w.source.append_value("x.pcap");
            w.frame.append_value(i);
            t.maybe_flush();
            max_held = max_held.max(t.builders.weird.held_bytes());
        }
        assert!(
            max_held < FLUSH_BYTES + BYTES_CHECK_ROWS * 1100,
            "held {max_held}"
        );
    }

    /// (row groups, rows) of a part file, checking that each row group is sorted by `ts`.
    fn check_sorted_row_groups(path: &Path) -> (usize, u64) {
        let file = std::fs::File::open(path).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(file.try_clone().unwrap()).unwrap();
        let groups = b.metadata().num_row_groups();
        let mut seen = 0;
        for g in 0..groups {
            let r = ParquetRecordBatchReaderBuilder::try_new(file.try_clone().unwrap())
                .unwrap()
                .with_row_groups(vec![g])
                .build()
                .unwrap();
            let mut ts = Vec::new();
            for batch in r {
                let batch = batch.unwrap();
                let c = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<TimestampMicrosecondArray>()
                    .unwrap();
                ts.extend(c.values().iter().copied());
            }
            assert!(
                ts.windows(2).all(|w| w[0] <= w[1]),
                "row group {g} unsorted"
            );
            seen += ts.len() as u64;
        }
        (groups, seen)
    }
}
