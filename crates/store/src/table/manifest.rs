//! `manifest.json`: where every row came from. One object per input with its size, sha256, format,
//! link types, time span and the packet accounting (read = decoded + skipped by reason).

use super::location::Location;
use super::snapshot::{MANIFEST, Snapshot};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct InputRecord {
    pub path: String,
    pub size: u64,
    /// Hex sha256 of the file as stored (compressed bytes for .gz/.zst); null with `--no-hash`.
    pub sha256: Option<String>,
    pub format: String,
    pub compression: Option<String>,
    pub linktypes: Vec<u32>,
    /// RFC 3339 UTC.
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub packets_read: u64,
    pub packets_decoded: u64,
    pub packets_skipped: BTreeMap<String, u64>,
    /// Fragments held for reassembly count as decoded; this says how many of them there were.
    pub fragments: u64,
    /// Weird events by name (all of them, also the rate-limited ones).
    pub weird: BTreeMap<String, u64>,
    /// How the file ended: "complete" or the damage (file_truncated, ...).
    pub end: String,
    pub error: Option<String>,
    /// Why `sha256` is null although hashing was asked for (the hashing read failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_error: Option<String>,
    pub ingest_seconds: f64,
}

/// The flow table's counters, as the manifest's `flow_stats` (one struct for both).
pub use wirehunt_wire::flow::FlowCounters as FlowStats;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Manifest {
    pub wirehunt_version: String,
    pub schema_version: u32,
    pub created: String,
    pub psl_version: String,
    pub inputs: Vec<InputRecord>,
    pub tables: BTreeMap<String, u64>,
    pub flow_stats: FlowStats,
    pub config: serde_json::Value,
    /// Time partitions of the tables' directories (`ingest --partition`); absent: none.
    #[serde(
        default,
        skip_serializing_if = "crate::table::partition::Partition::is_none"
    )]
    pub partition: crate::table::partition::Partition,
    /// A shared dataset's run (`ingest --run NAME`) this manifest is of; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

impl Manifest {
    /// This run's manifest continuing `prev` (`--append`): earlier inputs first, row counts and
    /// flow counters added up.
    pub fn follow(&mut self, prev: Manifest) {
        self.run = None;
        let mut inputs = prev.inputs;
        inputs.append(&mut self.inputs);
        self.inputs = inputs;
        for (k, v) in prev.tables {
            *self.tables.entry(k).or_insert(0) += v;
        }
        let (a, b) = (&prev.flow_stats, &mut self.flow_stats);
        b.flows += a.flows;
        b.expired += a.expired;
        b.evicted += a.evicted;
        b.max_concurrent = b.max_concurrent.max(a.max_concurrent);
        b.reassembly_cap_hits += a.reassembly_cap_hits;
        b.max_buffered_bytes = b.max_buffered_bytes.max(a.max_buffered_bytes);
    }

    /// The dataset's manifest: `manifest.json`, or a shared dataset's run manifests merged.
    pub fn load(dir: &std::path::Path) -> std::io::Result<Manifest> {
        let location = Location::of(dir).map_err(std::io::Error::other)?;
        match Manifest::read(&location) {
            // no single manifest: perhaps a shared dataset (which takes a listing)
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let listing = location.list().map_err(std::io::Error::other)?;
                Snapshot { location, listing }.manifest()
            }
            r => r,
        }
    }

    /// The single manifest (`manifest.json`) at `location`; `NotFound` when there is none.
    pub fn read(location: &Location) -> std::io::Result<Manifest> {
        let text = location.read(MANIFEST).map_err(std::io::Error::other)?;
        let text = text.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{}: no {MANIFEST}", location.name()),
            )
        })?;
        serde_json::from_slice(&text).map_err(std::io::Error::other)
    }
}

/// Format UTC microseconds as RFC 3339.
pub fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| us.to_string())
}
