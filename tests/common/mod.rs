//! Test helpers: a test-side pcap/pcapng writer, packet builders, and readers of the written Parquet
//! tables that do not go through DataFusion (an independent reading of the files).
#![allow(dead_code)]

use arrow::array::{Array, RecordBatch};
use etherparse::PacketBuilder;
use std::path::{Path, PathBuf};

pub fn corpus() -> Option<PathBuf> {
    let p = std::env::var_os("WIREHUNT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps"));
    p.is_dir().then_some(p)
}

/// The corpus, or a loud failure (set WIREHUNT_SKIP_CORPUS=1 to skip on machines without it).
pub fn corpus_or_skip() -> Option<PathBuf> {
    match corpus() {
        Some(p) => Some(p),
        None if std::env::var_os("WIREHUNT_SKIP_CORPUS").is_some() => {
            eprintln!("corpus not found; skipped (WIREHUNT_SKIP_CORPUS set)");
            None
        }
        None => panic!(
            "corpus not found at ../shared/pcaps (set WIREHUNT_CORPUS, or WIREHUNT_SKIP_CORPUS=1 to skip)"
        ),
    }
}

/// tshark is a reference peer: a missing one is a failure, never a silently skipped comparison
/// (`scripts/test.sh`, which `.ci/run` calls, installs it).
pub fn tshark() -> bool {
    let ok = std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tshark is not installed: the comparison tests need it (run `bash scripts/test.sh`, which installs it)"
    );
    ok
}

/// A fresh directory per call (tests run in parallel and may share a name, e.g. two tests
/// ingesting the same corpus file).
/// A fresh scratch directory for a test. The first call also removes what earlier test runs left
/// (directories of test processes that no longer run), so scratch space stays one run's worth; the
/// last run's stays for a look after a failure.
pub fn tmp(name: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = n
                .strip_prefix("wirehunt-test-")
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    });
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("wirehunt-test-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Classic pcap, little endian, microseconds.
pub fn pcap(linktype: u32, frames: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&262144u32.to_le_bytes());
    v.extend_from_slice(&linktype.to_le_bytes());
    for (ts, f) in frames {
        v.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(&(f.len() as u32).to_le_bytes());
        v.extend_from_slice(f);
    }
    v
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    pad4(&mut b);
    let len = 12 + b.len() as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&t.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&b);
    v.extend_from_slice(&len.to_le_bytes());
    v
}

/// pcapng (little endian) with interfaces (linktype, if_tsresol) and EPBs (interface, ts in units, data).
pub fn pcapng(ifaces: &[(u16, u8)], packets: &[(u32, u64, Vec<u8>)]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut v = block(0x0a0d0d0a, &shb);
    for (lt, res) in ifaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&lt.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&262144u32.to_le_bytes());
        // if_tsresol option (code 9, length 1), then opt_endofopt
        idb.extend_from_slice(&9u16.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[*res, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]);
        v.extend_from_slice(&block(1, &idb));
    }
    for (ifid, ts, data) in packets {
        let mut epb = Vec::new();
        epb.extend_from_slice(&ifid.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(*ts as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(data);
        v.extend_from_slice(&block(6, &epb));
    }
    v
}

pub const A: [u8; 4] = [10, 0, 0, 1];
pub const B: [u8; 4] = [192, 0, 2, 80];

/// TCP flags for [`tcp`].
pub const SYN: u8 = 1;
pub const ACK: u8 = 2;
pub const FIN: u8 = 4;
pub const RST: u8 = 8;
pub const PSH: u8 = 16;

/// An Ethernet/IPv4/TCP frame.
// the arguments are the header's own fields, in its order
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: [u8; 4],
    sp: u16,
    dst: [u8; 4],
    dp: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, seq, 1000);
    if flags & SYN != 0 {
        b = b.syn();
    }
    if flags & ACK != 0 {
        b = b.ack(ack);
    }
    if flags & FIN != 0 {
        b = b.fin();
    }
    if flags & RST != 0 {
        b = b.rst();
    }
    if flags & PSH != 0 {
        b = b.psh();
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// The IPv4/UDP part (no link layer).
pub fn ip_udp(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src, dst, 64).udp(sp, dp);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub fn ip6_udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut s = [0u8; 16];
    s[0] = 0xfd;
    s[15] = 1;
    let mut d = [0u8; 16];
    d[0] = 0x20;
    d[1] = 0x01;
    d[15] = 2;
    let b = PacketBuilder::ipv6(s, d, 64).udp(sp, dp);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

pub fn ingest_bytes(
    name: &str,
    files: &[(&str, Vec<u8>)],
) -> (PathBuf, wirehunt_store::ingest::IngestReport) {
    let dir = tmp(name);
    let mut paths = Vec::new();
    for (n, b) in files {
        let p = dir.join(n);
        std::fs::write(&p, b).unwrap();
        paths.push(p.to_string_lossy().into_owned());
    }
    let out = dir.join("ds");
    let rep = wirehunt_store::ingest::ingest(&paths, &out, &Default::default(), |_, _| {}).unwrap();
    (out, rep)
}

/// The `.parquet` files below `dir` at any depth (a partitioned table's date=/hour= directories),
/// sorted by path.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files.extend(parquet_files(&p));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            files.push(p);
        }
    }
    files.sort();
    files
}

/// Read every part file of a table (at any depth) with the parquet crate directly.
pub fn read_table(ds: &Path, table: &str) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let files = parquet_files(&ds.join(table));
    for f in files {
        let file = std::fs::File::open(&f).unwrap();
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            out.push(b.unwrap());
        }
    }
    out
}

/// One column of a table as strings (via arrow's display), rows in file order.
pub fn column(ds: &Path, table: &str, col: &str) -> Vec<String> {
    let mut v = Vec::new();
    for b in read_table(ds, table) {
        let c = b
            .column_by_name(col)
            .unwrap_or_else(|| panic!("no column {col} in {table}"));
        for i in 0..c.len() {
            v.push(wirehunt_store::report::cell(c, i));
        }
    }
    v
}

/// Rows of chosen columns, as strings.
pub fn rows(ds: &Path, table: &str, cols: &[&str]) -> Vec<Vec<String>> {
    let cs: Vec<Vec<String>> = cols.iter().map(|c| column(ds, table, c)).collect();
    let n = cs.first().map_or(0, |c| c.len());
    (0..n)
        .map(|i| cs.iter().map(|c| c[i].clone()).collect())
        .collect()
}

/// The embedded demo capture (`testdata/`, made by `scripts/make-testdata.sh`).
pub fn demo_capture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/scenario.pcap.gz")
}

/// Run the binary and require exit 0 (the failure shows its stderr).
pub fn run_ok(args: &[&str]) -> std::process::Output {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "wirehunt {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `wirehunt detect DS --format jsonl --query-threads N [extra...]`'s findings (exit 0 required).
pub fn detect_jsonl(ds: &Path, threads: &str, extra: &[&str]) -> String {
    let d = ds.to_string_lossy();
    let mut args = vec![
        "detect",
        &d,
        "--format",
        "jsonl",
        "--query-threads",
        threads,
    ];
    args.extend_from_slice(extra);
    String::from_utf8(run_ok(&args).stdout).unwrap()
}

pub fn wirehunt_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wirehunt"))
}

pub fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(wirehunt_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// Ingest one capture into `ds` with the default options (a test's setup step).
pub fn ingest_into(capture: &Path, ds: &Path) -> wirehunt_store::ingest::IngestReport {
    wirehunt_store::ingest::ingest(
        &[wirehunt_wire::capture::path_name(capture)],
        ds,
        &Default::default(),
        |_, _| {},
    )
    .unwrap()
}

/// Copy every file under `from` to the same place under `to`.
pub fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for f in walk(from) {
        let dest = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
}

/// Files under a directory, recursively.
pub fn walk(d: &std::path::Path) -> impl Iterator<Item = std::path::PathBuf> {
    let mut stack = vec![d.to_path_buf()];
    let mut files = Vec::new();
    while let Some(p) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push(p);
                }
            }
        }
    }
    files.into_iter()
}
