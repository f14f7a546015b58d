//! The dataset writer: `DIR/<table>/part-NNNNN.parquet` files (zstd, statistics on, rows sorted by
//! `ts` within each file), and [`Tables`], the row sink every analyzer appends to.
//!
//! Memory: builders are flushed to a new part file every [`FLUSH_ROWS`] rows, so memory does not grow
//! with the capture. A table with no rows at all still gets one empty part file carrying its schema,
//! so every table can be registered and queried.

use super::*;
use arrow::compute::{SortOptions, sort_to_indices, take_record_batch};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Rows buffered per table before a part file is written.
pub const FLUSH_ROWS: usize = 64 * 1024;

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

pub struct DatasetWriter {
    dir: PathBuf,
    parts: HashMap<&'static str, u32>,
    pub rows: HashMap<&'static str, u64>,
    props: WriterProperties,
}

impl DatasetWriter {
    /// Create (or empty the tables of) a dataset directory.
    pub fn create(dir: &Path) -> Result<Self, WriteError> {
        let io = |e: std::io::Error, p: &Path| WriteError::Io {
            path: p.display().to_string(),
            source: e,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
        for (name, _) in all_schemas() {
            let td = dir.join(name);
            if td.exists() {
                for e in std::fs::read_dir(&td).map_err(|e| io(e, &td))? {
                    let p = e.map_err(|e| io(e, &td))?.path();
                    if p.extension().is_some_and(|x| x == "parquet") {
                        std::fs::remove_file(&p).map_err(|e| io(e, &p))?;
                    }
                }
            }
            std::fs::create_dir_all(&td).map_err(|e| io(e, &td))?;
        }
        // zstd level 1 by default (benches/README.md compares the codecs); WIREHUNT_PARQUET_CODEC
        // (zstd1, zstd3, snappy, lz4, none) exists for that measurement
        let codec = match std::env::var("WIREHUNT_PARQUET_CODEC").as_deref() {
            Ok("zstd3") => Compression::ZSTD(ZstdLevel::try_new(3)?),
            Ok("snappy") => Compression::SNAPPY,
            Ok("lz4") => Compression::LZ4_RAW,
            Ok("none") => Compression::UNCOMPRESSED,
            _ => Compression::ZSTD(ZstdLevel::try_new(1)?),
        };
        let props = WriterProperties::builder()
            .set_compression(codec)
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(FLUSH_ROWS))
            .build();
        Ok(DatasetWriter {
            dir: dir.to_path_buf(),
            parts: HashMap::new(),
            rows: HashMap::new(),
            props,
        })
    }

    /// Write one batch as a new part file, sorted by its first column (`ts`).
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
        let n = self.parts.entry(table).or_insert(0);
        let path = self.dir.join(table).join(format!("part-{:05}.parquet", *n));
        *n += 1;
        *self.rows.entry(table).or_insert(0) += batch.num_rows() as u64;
        let file = std::fs::File::create(&path).map_err(|e| WriteError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(self.props.clone()))?;
        w.write(&batch)?;
        w.close()?;
        Ok(())
    }

    /// Write an empty part for tables that got no rows.
    pub fn finish(&mut self) -> Result<(), WriteError> {
        for (name, schema) in all_schemas() {
            if !self.parts.contains_key(name) {
                self.write(name, RecordBatch::new_empty(schema))?;
            }
        }
        Ok(())
    }
}

/// Per-(file, name) weird rows kept before rate limiting kicks in; the rest are only counted.
pub const WEIRD_ROWS_PER_NAME: u64 = 100;

/// The row sink: table builders plus the writer they flush to.
pub struct Tables {
    pub conn: ConnTable,
    pub dns: DnsTable,
    pub http: HttpTable,
    pub tls: TlsTable,
    pub weird: WeirdTable,
    writer: Option<DatasetWriter>,
    /// Name of the capture file being read (for the `source` columns).
    pub source: std::sync::Arc<str>,
    /// Weird events by name for the current file (including rate-limited ones).
    pub weird_counts: std::collections::BTreeMap<String, u64>,
    pub error: Option<WriteError>,
}

impl Tables {
    pub fn new(writer: Option<DatasetWriter>) -> Self {
        Tables {
            conn: ConnTable::default(),
            dns: DnsTable::default(),
            http: HttpTable::default(),
            tls: TlsTable::default(),
            weird: WeirdTable::default(),
            writer,
            source: "".into(),
            weird_counts: Default::default(),
            error: None,
        }
    }

    /// Record a weird event (rate-limited per name and file).
    pub fn weird(
        &mut self,
        ts: i64,
        uid: Option<&str>,
        name: &str,
        addl: &str,
        frame: Option<u64>,
    ) {
        let c = self.weird_counts.entry(name.to_string()).or_insert(0);
        *c += 1;
        if *c > WEIRD_ROWS_PER_NAME {
            return;
        }
        self.weird.ts.append_value(ts);
        self.weird.uid.append_option(uid);
        self.weird.name.append_value(name);
        self.weird.addl.append_value(addl);
        self.weird.source.append_value(&*self.source);
        self.weird.frame.append_option(frame);
        self.maybe_flush();
    }

    /// Flush any table over the row threshold.
    pub fn maybe_flush(&mut self) {
        if self.conn.len() >= FLUSH_ROWS
            || self.dns.len() >= FLUSH_ROWS
            || self.http.len() >= FLUSH_ROWS
            || self.tls.len() >= FLUSH_ROWS
            || self.weird.len() >= FLUSH_ROWS
        {
            self.flush(false);
        }
    }

    /// Flush tables (all non-empty ones when `all`, else those over the threshold).
    pub fn flush(&mut self, all: bool) {
        let min = if all { 1 } else { FLUSH_ROWS };
        let mut out: Vec<(&'static str, arrow::error::Result<RecordBatch>)> = Vec::new();
        if self.conn.len() >= min {
            out.push((ConnTable::NAME, self.conn.finish()));
        }
        if self.dns.len() >= min {
            out.push((DnsTable::NAME, self.dns.finish()));
        }
        if self.http.len() >= min {
            out.push((HttpTable::NAME, self.http.finish()));
        }
        if self.tls.len() >= min {
            out.push((TlsTable::NAME, self.tls.finish()));
        }
        if self.weird.len() >= min {
            out.push((WeirdTable::NAME, self.weird.finish()));
        }
        for (name, b) in out {
            let r = b
                .map_err(WriteError::from)
                .and_then(|b| match self.writer.as_mut() {
                    Some(w) => w.write(name, b),
                    None => Ok(()),
                });
            if let Err(e) = r {
                if self.error.is_none() {
                    self.error = Some(e);
                }
            }
        }
    }

    /// Flush everything and close the dataset; returns rows written per table.
    pub fn finish(mut self) -> Result<HashMap<&'static str, u64>, WriteError> {
        self.flush(true);
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
