//! `extract`: the original frames of chosen connections, written to a pcap or pcapng for Wireshark.
//!
//! The pivot back from a finding to packets: the `conn` rows of the chosen uids give each
//! connection's 5-tuple and its first and last frame (`first_frame` in `source`, `last_frame` in
//! `last_source`); the dataset's manifest names the captures (and their sha256); those captures are
//! read again and every frame that decodes to one of the connections (either direction, between its
//! first and last frame) is written unchanged, with its timestamp and link type. Datasets written
//! before the frame columns fall back to the connection's time window.
//! Inputs whose time span misses every window are not read. A capture whose hash no longer matches
//! the manifest is refused: the packets would not be the ones the rows describe.
//!
//! Two passes per capture: the first decodes and marks the frames (every fragment of a reassembled
//! datagram included), the second writes them unchanged in capture order. A capture read from stdin
//! at ingest cannot be read again (`--input` names it).

use crate::table::manifest::Manifest;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, UInt16Type, UInt64Type};
use datafusion::prelude::{SessionContext, cast, col, lit};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use wirehunt_wire::capture::write::{CaptureFormat, CaptureWriter, WriteError};
use wirehunt_wire::capture::{self, CaptureError};
use wirehunt_wire::decode::{Decoder, FragLimits};

/// One connection to extract, from its `conn` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub uid: String,
    pub proto: u8,
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    /// First and last packet, UTC microseconds (inclusive).
    pub first: i64,
    pub last: i64,
    pub source: String,
    /// First and last frame numbers, and the capture of the last one (`conn.first_frame`,
    /// `last_frame`, `last_source`; None in datasets written before those columns).
    pub frames: Option<(u64, u64, String)>,
}

/// What went wrong, by what the user should do about it.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("{0}")]
    Dataset(String),
    #[error("no connection with uid {0} in the dataset")]
    UnknownUid(String),
    #[error("{path}: {err}")]
    Input { path: String, err: String },
    #[error("{path} changed since it was ingested (sha256 {now}, the manifest says {then})")]
    Changed {
        path: String,
        now: String,
        then: String,
    },
    #[error("{0}")]
    Write(#[from] WriteError),
}

/// The `conn` rows of `uids` (each uid once, in the order given).
pub async fn lookup(ctx: &SessionContext, uids: &[String]) -> Result<Vec<Wanted>, ExtractError> {
    let mut order: Vec<String> = Vec::new();
    for u in uids {
        if !order.contains(u) {
            order.push(u.clone());
        }
    }
    let list = order.iter().map(|u| lit(u.as_str())).collect();
    let df = ctx
        .table("conn")
        .await?
        .filter(col("uid").in_list(list, false))?
        .select(vec![
            col("uid"),
            col("proto"),
            col("orig_h"),
            cast(col("orig_p"), DataType::UInt16).alias("orig_p"),
            col("resp_h"),
            cast(col("resp_p"), DataType::UInt16).alias("resp_p"),
            cast(col("ts"), DataType::Int64).alias("ts"),
            cast(col("duration"), DataType::Float64).alias("duration"),
            col("source"),
            cast(col("first_frame"), DataType::UInt64).alias("first_frame"),
            cast(col("last_frame"), DataType::UInt64).alias("last_frame"),
            col("last_source"),
        ])?;
    let mut found: BTreeMap<String, Wanted> = BTreeMap::new();
    for b in df.collect().await? {
        let s = |i: usize| {
            let a = b.column(i);
            let a = datafusion::arrow::compute::cast(a, &DataType::Utf8)?;
            Ok::<_, datafusion::error::DataFusionError>(a.as_string::<i32>().clone())
        };
        let (uid, proto, oh, rh, src) = (s(0)?, s(1)?, s(2)?, s(4)?, s(8)?);
        let op = b.column(3).as_primitive::<UInt16Type>();
        let rp = b.column(5).as_primitive::<UInt16Type>();
        let ts = b.column(6).as_primitive::<Int64Type>();
        let dur = b.column(7).as_primitive::<Float64Type>();
        let ff = b.column(9).as_primitive::<UInt64Type>();
        let lf = b.column(10).as_primitive::<UInt64Type>();
        let ls = s(11)?;
        for r in 0..b.num_rows() {
            let addr = |a: &datafusion::arrow::array::StringArray| -> Result<IpAddr, ExtractError> {
                a.value(r).parse().map_err(|_| {
                    ExtractError::Dataset(format!(
                        "conn row {} has an unreadable address {:?}",
                        uid.value(r),
                        a.value(r)
                    ))
                })
            };
            let proto = match proto.value(r) {
                "tcp" => 6,
                "udp" => 17,
                "icmp" if addr(&oh)?.is_ipv6() => 58,
                "icmp" => 1,
                other => other.parse().unwrap_or(0),
            };
            let first = ts.value(r);
            let span = if dur.is_null(r) { 0.0 } else { dur.value(r) };
            // duration is seconds as f64: round up to the microsecond so the last packet is inside
            let last = first.saturating_add((span * 1e6).ceil().max(0.0) as i64 + 1);
            found.insert(
                uid.value(r).to_string(),
                Wanted {
                    uid: uid.value(r).to_string(),
                    proto,
                    orig: (addr(&oh)?, op.value(r)),
                    resp: (addr(&rh)?, rp.value(r)),
                    first,
                    last,
                    source: src.value(r).to_string(),
                    frames: (!ff.is_null(r) && !lf.is_null(r) && !ls.is_null(r))
                        .then(|| (ff.value(r), lf.value(r), ls.value(r).to_string())),
                },
            );
        }
    }
    order
        .into_iter()
        .map(|u| found.remove(&u).ok_or(ExtractError::UnknownUid(u)))
        .collect()
}

/// What an extraction wrote and read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExtractReport {
    /// Frames written per uid (0 when none was found in the captures).
    pub packets: BTreeMap<String, u64>,
    pub written: u64,
    pub inputs_read: Vec<String>,
    /// Inputs the manifest names that were not read because no window touches their time span.
    pub inputs_skipped: usize,
}

/// The manifest inputs to read for `wanted`, in ingest order (rotated files continue connections,
/// so every input whose span touches a window is read, not only the one named in `source`).
/// `override_paths` replaces the manifest's paths (the captures were moved), matched by position
/// when counts agree, else read all of them.
fn inputs_for(
    manifest: &Manifest,
    wanted: &[Wanted],
    override_paths: &[String],
) -> (Vec<(usize, String, Option<String>)>, usize) {
    if !override_paths.is_empty() {
        return (
            override_paths
                .iter()
                .enumerate()
                .map(|(k, p)| (k, p.clone(), None))
                .collect(),
            0,
        );
    }
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|d| d.timestamp_micros())
    };
    let mut v = Vec::new();
    let mut skipped = 0;
    for (k, i) in manifest.inputs.iter().enumerate() {
        let (a, b) = (parse(&i.first_ts), parse(&i.last_ts));
        let touches = match (a, b) {
            (Some(a), Some(b)) => wanted.iter().any(|w| w.first <= b && w.last >= a),
            _ => wanted.iter().any(|w| w.source == i.path),
        };
        if touches {
            v.push((k, i.path.clone(), i.sha256.clone()));
        } else {
            skipped += 1;
        }
    }
    (v, skipped)
}

/// Read the captures again and write the frames of `wanted` to `out`.
pub fn extract<W: Write>(
    dataset: &Path,
    wanted: &[Wanted],
    override_paths: &[String],
    out: W,
    format: CaptureFormat,
) -> Result<(W, ExtractReport), ExtractError> {
    let manifest = Manifest::load(dataset)
        .map_err(|e| ExtractError::Dataset(format!("{}: manifest.json: {e}", dataset.display())))?;
    let (inputs, inputs_skipped) = inputs_for(&manifest, wanted, override_paths);
    // each connection's exact bounds, (input position in the manifest, frame) of its first and
    // last packet: every frame of its 5-tuple between the two is one of its packets (the flow table
    // holds one connection per tuple at a time); without them (older datasets, a source the
    // manifest names twice) the time window decides
    let position = |path: &str| {
        let mut at = manifest
            .inputs
            .iter()
            .enumerate()
            .filter(|(_, i)| i.path == path);
        match (at.next(), at.next()) {
            (Some((k, _)), None) => Some(k),
            _ => None,
        }
    };
    /// (input position in the manifest, frame number) of a packet
    type At = (usize, u64);
    let bounds: Vec<Option<(At, At)>> = wanted
        .iter()
        .map(|w| {
            let (ff, lf, ls) = w.frames.as_ref()?;
            Some(((position(&w.source)?, *ff), (position(ls)?, *lf)))
        })
        .collect();
    // (proto, low endpoint, high endpoint) -> the wanted connections on that tuple
    type Key = (u8, (IpAddr, u16), (IpAddr, u16));
    // the flow table's own keying, so a connection here is exactly a conn row's
    let key = |proto: u8, a: (IpAddr, u16), b: (IpAddr, u16)| -> Key {
        let (x, y) = wirehunt_wire::flow::canonical_endpoints(proto, a, b);
        (proto, x, y)
    };
    let mut by_key: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, w) in wanted.iter().enumerate() {
        by_key
            .entry(key(w.proto, w.orig, w.resp))
            .or_default()
            .push(i);
    }
    let mut writer = CaptureWriter::new(out, format).map_err(WriteError::Io)?;
    let mut counts = vec![0u64; wanted.len()];
    let mut report = ExtractReport {
        inputs_skipped,
        ..Default::default()
    };
    for (k, path, sha) in inputs {
        if path == "-" {
            return Err(ExtractError::Input {
                path,
                err: "was read from stdin and cannot be read again; pass the capture with --input"
                    .into(),
            });
        }
        // pass 1: which frames belong to the connections (a reassembled datagram names all of
        // its fragments, which come before the frame that completed it)
        let mut decoder = Decoder::new(FragLimits::default());
        let mut frames: BTreeSet<u64> = BTreeSet::new();
        read_checked(&path, sha.as_deref(), |frame| {
            let mut hit: Option<usize> = None;
            decoder.decode(frame, |p| {
                if let Some(ids) = by_key.get(&key(p.proto, (p.src, p.sport), (p.dst, p.dport))) {
                    hit = ids.iter().copied().find(|&i| match bounds.get(i) {
                        Some(Some((lo, hi))) => (*lo..=*hi).contains(&(k, frame.number)),
                        _ => wanted
                            .get(i)
                            .is_some_and(|w| (w.first..=w.last).contains(&p.ts)),
                    });
                }
            });
            if let Some(i) = hit {
                let before = frames.len();
                frames.insert(frame.number);
                frames.extend(decoder.reassembled_from().iter().copied());
                if let Some(c) = counts.get_mut(i) {
                    *c += (frames.len() - before) as u64;
                }
            }
        })?;
        // pass 2: write them, unchanged, in capture order
        if !frames.is_empty() {
            let mut failed: Option<WriteError> = None;
            read_checked(&path, sha.as_deref(), |frame| {
                if failed.is_none()
                    && frames.contains(&frame.number)
                    && let Err(e) =
                        writer.write(frame.ts, frame.linktype, frame.data, frame.orig_len)
                {
                    failed = Some(e);
                }
            })?;
            if let Some(e) = failed {
                return Err(e.into());
            }
        }
        report.inputs_read.push(path);
    }
    report.written = writer.packets;
    report.packets = wanted
        .iter()
        .zip(counts)
        .map(|(w, c)| (w.uid.clone(), c))
        .collect();
    let out = writer.finish().map_err(WriteError::Io)?;
    Ok((out, report))
}

/// Read one capture, refusing it when its sha256 is not the manifest's (checked on every read: the
/// frames written must be the ones the rows describe).
fn read_checked(
    path: &str,
    sha: Option<&str>,
    on_frame: impl FnMut(&wirehunt_wire::capture::Frame<'_>),
) -> Result<(), ExtractError> {
    let src = capture::open_source(path).map_err(|e| ExtractError::Input {
        path: path.to_string(),
        err: format!("{e} (moved? pass the captures with --input)"),
    })?;
    let (stats, _end) =
        capture::read_capture_opts(src, sha.is_some(), on_frame).map_err(|e: CaptureError| {
            ExtractError::Input {
                path: path.to_string(),
                err: e.to_string(),
            }
        })?;
    match sha {
        Some(then) if stats.sha256 != then => Err(ExtractError::Changed {
            path: path.to_string(),
            now: stats.sha256,
            then: then.to_string(),
        }),
        _ => Ok(()),
    }
}
