//! Hostile captures built in the test (no committed binaries): forged sequence jumps, pipelining
//! floods, segment floods after a hole, memory limits at query time, streamed results, and the
//! dataset guarantees (never half-written, never silently replaced). Assertions are on counts,
//! weird rows and caps, never on time.
use crate::common::*;

fn weird_names(ds: &std::path::Path) -> Vec<String> {
    column(ds, "weird", "name")
}

fn conn_col(ds: &std::path::Path, col: &str) -> Vec<String> {
    column(ds, "conn", col)
}

/// A client's handshake and one data segment, then a data segment whose sequence number jumps
/// ~2 GB ahead: the classic "uploaded 2.15 GB" forgery.
#[test]
fn a_forged_sequence_jump_is_a_weird_row_not_volume() {
    let isn = 1000u32;
    let frames = vec![
        (1_000_000, tcp(A, 40000, B, 443, isn, 0, SYN, &[])),
        (
            1_010_000,
            tcp(B, 443, A, 40000, 5000, isn + 1, SYN | ACK, &[]),
        ),
        (1_020_000, tcp(A, 40000, B, 443, isn + 1, 5001, ACK, &[])),
        (
            1_030_000,
            tcp(A, 40000, B, 443, isn + 1, 5001, ACK | PSH, &[b'x'; 100]),
        ),
        (
            1_040_000,
            tcp(
                A,
                40000,
                B,
                443,
                isn + 101 + 2_150_000_000,
                5001,
                ACK | PSH,
                &[b'y'; 100],
            ),
        ),
        (
            1_050_000,
            tcp(A, 40000, B, 443, isn + 101, 5001, ACK | FIN, &[]),
        ),
    ];
    let (ds, _) = ingest_bytes("seqjump", &[("j.pcap", pcap(1, &frames))]);
    assert_eq!(conn_col(&ds, "orig_seen_bytes"), vec!["100"]);
    // the sequence span no longer carries the jump either
    assert_eq!(conn_col(&ds, "orig_bytes"), vec!["100"]);
    assert_eq!(conn_col(&ds, "missed_bytes"), vec!["0"]);
    assert!(weird_names(&ds).contains(&"tcp_seq_jump".to_string()));
    // and the exfiltration detector finds nothing
    let (f, e) =
        wirehunt_store::detect::detect(&ds, &wirehunt_store::detect::load_detectors(None).unwrap())
            .unwrap();
    assert!(e.is_empty(), "{e:?}");
    assert!(f.iter().all(|f| f.category != "exfiltration"), "{f:?}");
}

/// A real hole (100 bytes never captured) is still a gap of exactly 100 bytes.
#[test]
fn a_real_hole_counts_its_own_size() {
    let isn = 7u32;
    let frames = vec![
        (1_000_000, tcp(A, 40001, B, 80, isn, 0, SYN, &[])),
        (1_010_000, tcp(B, 80, A, 40001, 9, isn + 1, SYN | ACK, &[])),
        (
            1_020_000,
            tcp(A, 40001, B, 80, isn + 1, 10, ACK | PSH, &[b'a'; 50]),
        ),
        // 100 bytes missing, then 50 more
        (
            1_030_000,
            tcp(A, 40001, B, 80, isn + 151, 10, ACK | PSH, &[b'c'; 50]),
        ),
        // and one segment 300 MB further on: a jump, not 300,000,000 more missed bytes
        (
            1_035_000,
            tcp(
                A,
                40001,
                B,
                80,
                isn + 201 + 300_000_000,
                10,
                ACK | PSH,
                &[b'd'; 50],
            ),
        ),
        (
            1_040_000,
            tcp(A, 40001, B, 80, isn + 201, 10, ACK | FIN, &[]),
        ),
    ];
    let (ds, _) = ingest_bytes("hole", &[("h.pcap", pcap(1, &frames))]);
    assert_eq!(conn_col(&ds, "missed_bytes"), vec!["100"]);
    assert_eq!(conn_col(&ds, "orig_bytes"), vec!["200"]);
    assert_eq!(conn_col(&ds, "orig_seen_bytes"), vec!["100"]);
}

/// One connection with many pipelined GETs and no response: the pending queue is capped, every
/// request still becomes a row, and the overflow is a weird row.
#[test]
fn http_pipelining_flood_is_capped_and_counted() {
    let n = wirehunt_wire::proto::http::MAX_PENDING * 4;
    let mut stream = Vec::new();
    for i in 0..n {
        stream.extend_from_slice(format!("GET /{i} HTTP/1.1\r\nHost: victim\r\n\r\n").as_bytes());
    }
    let isn = 1u32;
    let mut frames = vec![
        (1_000_000, tcp(A, 40002, B, 80, isn, 0, SYN, &[])),
        (
            1_010_000,
            tcp(B, 80, A, 40002, 100, isn + 1, SYN | ACK, &[]),
        ),
    ];
    let mut seq = isn + 1;
    let mut t = 1_020_000;
    for chunk in stream.chunks(1400) {
        frames.push((t, tcp(A, 40002, B, 80, seq, 101, ACK | PSH, chunk)));
        seq += chunk.len() as u32;
        t += 100;
    }
    let (ds, _) = ingest_bytes("pipeline", &[("p.pcap", pcap(1, &frames))]);
    let uris = column(&ds, "http", "uri");
    assert_eq!(uris.len(), n, "every request is a row");
    assert_eq!(uris[0], "/0");
    let w = rows(&ds, "weird", &["name", "addl"]);
    let over: Vec<_> = w
        .iter()
        .filter(|r| r[0] == "http_pipeline_overflow")
        .collect();
    assert_eq!(over.len(), 1, "{w:?}");
    let expect = format!(
        "{} were written without their response",
        n - wirehunt_wire::proto::http::MAX_PENDING
    );
    assert!(over[0][1].contains(&expect), "{}", over[0][1]);
}

/// After a hole, a flood of out-of-order segments whose bytes are not kept still reaches the
/// stream's cap (each range costs bookkeeping), instead of growing without bound.
#[test]
fn ranges_after_a_hole_reach_the_cap() {
    use wirehunt_wire::flow::reassembly::{ENTRY_COST, Reassembler};
    let mut r = Reassembler::new();
    r.syn(0);
    r.stop_data();
    let cap = 64 * 1024;
    let mut sink = |_c: wirehunt_wire::flow::reassembly::Chunk<'_>| {};
    // offset 1 is never sent: everything after it is out of order
    for i in 0..100_000u32 {
        r.segment(10 + i * 20, &[], 10, cap, &mut sink);
        assert!(
            r.buffered() <= cap + ENTRY_COST,
            "buffered {} after {i}",
            r.buffered()
        );
    }
    assert!(r.cap_hits > 0);
}

fn syn_flood(n: u32) -> Vec<u8> {
    let mut frames = Vec::with_capacity(n as usize);
    for i in 0..n {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        frames.push((
            1_000_000 + i as i64 * 10,
            tcp(src, 1024 + (i % 60000) as u16, B, 80, i, 0, SYN, &[]),
        ));
    }
    pcap(1, &frames)
}

/// Triage of a SYN flood from many sources runs every detector under a small memory limit.
#[test]
fn detectors_run_on_a_syn_flood_under_a_small_memory_limit() {
    let (ds, rep) = ingest_bytes("synflood", &[("f.pcap", syn_flood(60_000))]);
    assert_eq!(rep.manifest.tables.get("conn"), Some(&60_000));
    let rt = wirehunt_store::query::runtime().unwrap();
    let dets = wirehunt_store::detect::load_detectors(None).unwrap();
    let lim = wirehunt_store::query::Limits {
        memory_bytes: 64 << 20,
    };
    rt.block_on(async {
        let ctx = wirehunt_store::query::open_session_with(&ds, lim)
            .await
            .unwrap();
        for d in &dets {
            let r = wirehunt_store::detect::run_detector(&ctx, d).await;
            assert!(r.is_ok(), "{} failed under 64 MiB: {:?}", d.id, r.err());
        }
    });
}

/// The same flood under the same small limit with 16 query threads (a 16-core machine's default:
/// 16 partitions of every scan, aggregate and join share the limit) from the command line: every
/// detector runs, and the findings are the ones one thread gives.
#[test]
fn detectors_run_on_a_syn_flood_with_many_query_threads() {
    let (ds, _) = ingest_bytes("synflood16", &[("f.pcap", syn_flood(60_000))]);
    let detect = |threads: &str| detect_jsonl(&ds, threads, &["--memory-limit", "64M"]);
    let many = detect("16");
    assert!(many.contains("\"detector\":\"scan\""), "{many}");
    assert_eq!(many, detect("1"));
}

/// A query beyond the memory limit fails with a message (exit 65), never an abort; a huge result
/// streams in table format (first rows, then how many followed) without being collected.
#[test]
fn query_memory_limit_and_streamed_results() {
    let (ds, _) = ingest_bytes("qlimit", &[("f.pcap", syn_flood(3000))]);
    let d = ds.to_string_lossy().into_owned();
    // 9M strings gathered into one array cannot spill: it must hit the limit, with a message
    let o = std::process::Command::new(wirehunt_bin())
        .args([
            "sql",
            &d,
            "-c",
            "SELECT cardinality(array_agg(a.uid || b.uid)) FROM conn a, conn b",
            "--memory-limit",
            "32M",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(err.contains("memory"), "{err}");
    // streaming: a result larger than the memory limit is written batch by batch
    let o = std::process::Command::new(wirehunt_bin())
        .args([
            "sql",
            &d,
            "-c",
            "SELECT value, repeat('x', 100) AS pad FROM range(2000000)",
            "--format",
            "csv",
            "--memory-limit",
            "16M",
        ])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 2_000_001);
    let o = std::process::Command::new(wirehunt_bin())
        .args([
            "sql",
            &d,
            "-c",
            "SELECT * FROM range(3000000)",
            "--format",
            "table",
            "--maxrows",
            "5",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("(3000000 rows, first 5 shown"), "{out}");
}

/// JSON output stays valid JSON whatever the rows hold.
#[test]
fn json_output_is_valid_for_empty_and_hostile_results() {
    let (ds, _) = ingest_bytes("json", &[("f.pcap", syn_flood(10))]);
    let d = ds.to_string_lossy().into_owned();
    for q in [
        "SELECT * FROM conn WHERE false",
        "SELECT '\"quoted\"' AS a, chr(0) AS b, chr(8238) AS c",
        "SELECT uid, ts FROM conn",
    ] {
        let o = run(&["sql", &d, "-c", q, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{q}: {e}: {}", String::from_utf8_lossy(&o.stdout)));
        assert!(v.is_array());
        let o = run(&["sql", &d, "-c", q, "--format", "jsonl"]);
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }
}

/// `ingest -o DIR`: refuses a foreign directory and an existing dataset without --force, never
/// deletes files it did not write, and replaces a dataset with --force only when it is complete.
#[test]
fn ingest_never_destroys_or_half_writes_a_dataset() {
    let dir = tmp("atomic");
    let cap = dir.join("a.pcap");
    std::fs::write(&cap, syn_flood(50)).unwrap();
    let cap2 = dir.join("b.pcap");
    std::fs::write(&cap2, syn_flood(70)).unwrap();
    let c = cap.to_string_lossy().into_owned();
    let c2 = cap2.to_string_lossy().into_owned();
    // a directory with someone else's files: refused, untouched
    let foreign = dir.join("notes");
    std::fs::create_dir_all(foreign.join("conn")).unwrap();
    std::fs::write(foreign.join("conn/mine.parquet"), "not ours").unwrap();
    let o = run(&["ingest", &c, "-d", &foreign.to_string_lossy()]);
    assert_eq!(
        o.status.code(),
        Some(73),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(foreign.join("conn/mine.parquet")).unwrap(),
        "not ours"
    );
    // a fresh dataset, then a second ingest into it: refused without --force
    let ds = dir.join("ds");
    let d = ds.to_string_lossy().into_owned();
    assert_eq!(run(&["ingest", &c, "-d", &d]).status.code(), Some(0));
    let o = run(&["ingest", &c2, "-d", &d]);
    assert_eq!(o.status.code(), Some(73));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(column(&ds, "conn", "uid").len(), 50);
    // --force replaces it; no staging directory is left beside it
    assert_eq!(
        run(&["ingest", &c2, "-d", &d, "--force"]).status.code(),
        Some(0)
    );
    assert_eq!(column(&ds, "conn", "uid").len(), 70);
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("wirehunt-staging"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // a dataset holding a file wirehunt did not write is never replaced
    std::fs::write(ds.join("conn/analyst-notes.txt"), "keep").unwrap();
    let o = run(&["ingest", &c, "-d", &d, "--force"]);
    assert_eq!(o.status.code(), Some(73));
    assert_eq!(column(&ds, "conn", "uid").len(), 70);
}

/// SIGINT during a re-ingest leaves the previous dataset intact and no staging directory.
#[test]
fn interrupting_a_reingest_keeps_the_previous_dataset() {
    let dir = tmp("sigint");
    let small = dir.join("a.pcap");
    std::fs::write(&small, syn_flood(40)).unwrap();
    let ds = dir.join("ds");
    let d = ds.to_string_lossy().into_owned();
    assert_eq!(
        run(&["ingest", &small.to_string_lossy(), "-d", &d])
            .status
            .code(),
        Some(0)
    );
    // a capture given as a FIFO that never ends: the ingest is mid-way when interrupted
    let fifo = dir.join("slow.pcap");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let child = std::process::Command::new(wirehunt_bin())
        .args(["ingest", &fifo.to_string_lossy(), "-d", &d, "--force"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // the writer lives on its own thread (opening a FIFO blocks until the reader opens it; if the
    // ingest failed first, only that thread waits) and keeps the FIFO open past the interrupt
    let fifo2 = fifo.clone();
    std::thread::spawn(move || {
        use std::io::Write;
        if let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(&fifo2) {
            let _ = w.write_all(&syn_flood(2000));
            let _ = w.flush();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    });
    // wait until the staging directory exists, then interrupt
    let t0 = std::time::Instant::now();
    let mut child = child;
    while !std::fs::read_dir(&dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains("wirehunt-staging")
    }) {
        assert!(t0.elapsed().as_secs() < 60, "no staging directory appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest ended before it was interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    // bounded: a handler that did not exit is killed and the test fails instead of hanging
    let t1 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t1.elapsed().as_secs() > 30 {
            let _ = child.kill();
            panic!("ingest did not exit within 30 s of SIGINT");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("previous dataset is intact"));
    assert_eq!(column(&ds, "conn", "uid").len(), 40);
    let o = run(&[
        "sql",
        &d,
        "-c",
        "SELECT count(*) AS n FROM conn",
        "--format",
        "csv",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "n\n40");
    let left = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("wirehunt-staging")
        })
        .count();
    assert_eq!(left, 0);
}

/// `--no-cache` ingests into a private temporary directory and removes it.
#[test]
fn no_cache_uses_a_private_temporary_directory() {
    let dir = tmp("nocache");
    let cap = dir.join("a.pcap");
    std::fs::write(&cap, syn_flood(20)).unwrap();
    let tmpdir = dir.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let o = std::process::Command::new(wirehunt_bin())
        .args([
            "sql",
            &cap.to_string_lossy(),
            "-c",
            "SELECT count(*) AS n FROM conn",
            "--format",
            "csv",
            "--no-cache",
        ])
        .env("TMPDIR", &tmpdir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "n\n20");
    assert_eq!(
        std::fs::read_dir(&tmpdir).unwrap().count(),
        0,
        "temporary dataset left behind"
    );
}

/// zstd: frames of many sizes (a 1.8 MB capture compressed as one frame, many small frames) read
/// in full; a truncated .zst keeps what came before the cut.
#[test]
fn zstd_frames_of_any_size_and_truncated_zstd() {
    let raw = syn_flood(30_000); // ~1.9 MB
    assert!(raw.len() > 1 << 20);
    let one = zstd::encode_all(&raw[..], 3).unwrap();
    let mut many = Vec::new();
    for part in raw.chunks(100_000) {
        many.extend_from_slice(&zstd::encode_all(part, 1).unwrap());
    }
    let (ds, rep) = ingest_bytes(
        "zstd",
        &[("one.pcap.zst", one.clone()), ("many.pcap.zst", many)],
    );
    for i in &rep.manifest.inputs {
        assert_eq!(i.packets_read, 30_000, "{}: {:?}", i.path, i.error);
        assert_eq!(i.end, "complete");
    }
    assert_eq!(column(&ds, "conn", "uid").len(), 30_000);
    let cut = &one[..one.len() * 2 / 3];
    let (_, rep) = ingest_bytes("zstdcut", &[("cut.pcap.zst", cut.to_vec())]);
    let i = &rep.manifest.inputs[0];
    assert!(i.packets_read > 10_000, "kept only {}", i.packets_read);
    assert_ne!(i.end, "complete");
    assert_eq!(
        i.packets_read,
        i.packets_decoded + i.packets_skipped.values().sum::<u64>()
    );
}

/// Out-of-range timestamps (if_tsresol of whole seconds with a value near 2^63, a pcap fraction of
/// more than a second): weird rows, clamped timestamps, and every output format still valid.
#[test]
fn out_of_range_timestamps_are_clamped_and_outputs_stay_valid() {
    let f = tcp(A, 40010, B, 80, 1, 0, SYN, &[]);
    let ng = pcapng(
        &[(1, 0)],
        &[(0, u64::MAX / 2, f.clone()), (0, 1_800_000_000, f.clone())],
    );
    // classic pcap, microseconds field 2,500,000
    let mut p = pcap(1, &[]);
    p.extend_from_slice(&1_800_000_000u32.to_le_bytes());
    p.extend_from_slice(&2_500_000u32.to_le_bytes());
    p.extend_from_slice(&(f.len() as u32).to_le_bytes());
    p.extend_from_slice(&(f.len() as u32).to_le_bytes());
    p.extend_from_slice(&f);
    let (ds, rep) = ingest_bytes("tsrange", &[("a.pcapng", ng), ("b.pcap", p)]);
    let names = weird_names(&ds);
    assert!(
        names.contains(&"timestamp_out_of_range".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"timestamp_bad_fraction".to_string()),
        "{names:?}"
    );
    assert_eq!(
        rep.manifest.inputs[0].last_ts.as_deref(),
        Some("9999-12-31T23:59:59.999999Z")
    );
    let d = ds.to_string_lossy().into_owned();
    for fmt in ["json", "jsonl", "csv", "table"] {
        let o = run(&[
            "sql",
            &d,
            "-c",
            "SELECT ts, uid FROM conn UNION ALL SELECT ts, uid FROM weird",
            "--format",
            fmt,
        ]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{fmt}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            !out.contains("ERROR") && !out.contains("Cast error"),
            "{fmt}: {out}"
        );
        if fmt == "json" {
            serde_json::from_str::<serde_json::Value>(&out).unwrap();
        }
    }
}

/// Symlinked captures inside an input directory are followed, and a link loop ends.
#[test]
fn symlinks_in_input_directories_are_followed_loop_safe() {
    let dir = tmp("links");
    let real = dir.join("archive");
    std::fs::create_dir_all(&real).unwrap();
    std::fs::write(real.join("a.pcap"), syn_flood(5)).unwrap();
    let input = dir.join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::os::unix::fs::symlink(real.join("a.pcap"), input.join("link.pcap")).unwrap();
    std::os::unix::fs::symlink(&input, input.join("loop")).unwrap();
    let files = wirehunt_wire::capture::expand_inputs(&[input.to_string_lossy().into_owned()])
        .unwrap()
        .files;
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("link.pcap"));
}

/// A retransmission that changes already-delivered bytes (`GET /good` resent as `GET /evil`), and
/// an out-of-order segment partly overlapping a held one with other bytes, are conflicts: a
/// `tcp_overlap_conflict` weird row, first data kept.
#[test]
fn conflicting_retransmissions_and_partial_overlaps_are_reported() {
    let isn = 100u32;
    let good = b"GET /good HTTP/1.1\r\nHost: a\r\n\r\n";
    let evil = b"GET /evil HTTP/1.1\r\nHost: a\r\n\r\n";
    let frames = vec![
        (1_000_000, tcp(A, 40020, B, 80, isn, 0, SYN, &[])),
        (1_010_000, tcp(B, 80, A, 40020, 7, isn + 1, SYN | ACK, &[])),
        (1_020_000, tcp(A, 40020, B, 80, isn + 1, 8, ACK | PSH, good)),
        (1_030_000, tcp(A, 40020, B, 80, isn + 1, 8, ACK | PSH, evil)),
        (
            1_040_000,
            tcp(
                A,
                40020,
                B,
                80,
                isn + 1 + good.len() as u32,
                8,
                ACK | FIN,
                &[],
            ),
        ),
    ];
    let (ds, _) = ingest_bytes("conflict", &[("c.pcap", pcap(1, &frames))]);
    assert_eq!(column(&ds, "http", "uri"), vec!["/good"]);
    assert!(
        weird_names(&ds).contains(&"tcp_overlap_conflict".to_string()),
        "{:?}",
        weird_names(&ds)
    );
    // partial overlap at another offset while a hole is open
    let frames = vec![
        (1_000_000, tcp(A, 40021, B, 80, isn, 0, SYN, &[])),
        (1_010_000, tcp(B, 80, A, 40021, 7, isn + 1, SYN | ACK, &[])),
        (
            1_020_000,
            tcp(A, 40021, B, 80, isn + 101, 8, ACK | PSH, b"AAAAAAAAAA"),
        ),
        (
            1_030_000,
            tcp(A, 40021, B, 80, isn + 105, 8, ACK | PSH, b"BBBBBBBBBB"),
        ),
        (
            1_040_000,
            tcp(A, 40021, B, 80, isn + 1, 8, ACK | PSH, &[b'x'; 100]),
        ),
    ];
    let (ds, _) = ingest_bytes("conflict2", &[("c.pcap", pcap(1, &frames))]);
    assert!(
        weird_names(&ds).contains(&"tcp_overlap_conflict".to_string()),
        "{:?}",
        weird_names(&ds)
    );
    // an honest retransmission is not a conflict
    let frames = vec![
        (1_000_000, tcp(A, 40022, B, 80, isn, 0, SYN, &[])),
        (1_010_000, tcp(B, 80, A, 40022, 7, isn + 1, SYN | ACK, &[])),
        (1_020_000, tcp(A, 40022, B, 80, isn + 1, 8, ACK | PSH, good)),
        (1_030_000, tcp(A, 40022, B, 80, isn + 1, 8, ACK | PSH, good)),
    ];
    let (ds, _) = ingest_bytes("noconflict", &[("c.pcap", pcap(1, &frames))]);
    assert!(!weird_names(&ds).contains(&"tcp_overlap_conflict".to_string()));
}

fn flood(kind: &str, n: u64) -> Vec<u8> {
    wirehunt_sim::flood::flood(kind, n, Vec::new()).unwrap()
}

/// The flood generators of benches/memcheck.sh, small: a fragment flood (copies of one fragment,
/// then thousands of datagrams that never complete) does not lock out a later legitimate
/// fragmented DNS query; the copies are counted and cost nothing.
#[test]
fn a_fragment_flood_does_not_lock_out_a_legitimate_datagram() {
    let (ds, rep) = ingest_bytes("fragflood", &[("f.pcap", flood("fragment", 40_000))]);
    assert_eq!(column(&ds, "dns", "query"), vec!["example.com"]);
    let w = &rep.manifest.inputs[0].weird;
    assert_eq!(w.get("fragment_overlap"), Some(&19_999));
    assert!(w.get("fragment_pool_full").is_some_and(|n| *n > 0), "{w:?}");
    let i = &rep.manifest.inputs[0];
    assert_eq!(
        i.packets_read,
        i.packets_decoded + i.packets_skipped.values().sum::<u64>()
    );
}

#[test]
fn seqjump_and_hole_floods_are_not_volume() {
    let (ds, _) = ingest_bytes("jumpflood", &[("f.pcap", flood("seqjump", 300))]);
    let seen: u64 = column(&ds, "conn", "orig_seen_bytes")
        .iter()
        .map(|v| v.parse::<u64>().unwrap())
        .sum();
    let span: u64 = column(&ds, "conn", "orig_bytes")
        .iter()
        .map(|v| v.parse::<u64>().unwrap())
        .sum();
    assert_eq!((seen, span), (300 * 100, 300 * 100));
    let (ds, _) = ingest_bytes("holeflood", &[("f.pcap", flood("hole", 50_000))]);
    assert!(weird_names(&ds).contains(&"reassembly_stream_cap".to_string()));
    assert_eq!(
        column(&ds, "conn", "orig_seen_bytes"),
        vec![(16 + 50_000).to_string()]
    );
}

/// A corrupt Parquet file in a dataset is bad data: `detect` exits 65 with a message, not 1.
#[test]
fn a_corrupt_table_file_is_exit_65() {
    let (ds, _) = ingest_bytes("corruptpq", &[("f.pcap", syn_flood(10))]);
    let part = std::fs::read_dir(ds.join("conn"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&part, b"PAR1 this is not parquet PAR1").unwrap();
    let o = run(&["detect", &ds.to_string_lossy(), "--format", "jsonl"]);
    assert_eq!(
        o.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // tables that no longer hold what the manifest accounts for: refused, never "0 rows"
    let (ds, _) = ingest_bytes("missingpq", &[("f.pcap", syn_flood(10))]);
    for e in std::fs::read_dir(ds.join("conn")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    let o = run(&[
        "sql",
        &ds.to_string_lossy(),
        "-c",
        "SELECT count(*) FROM conn",
        "--format",
        "csv",
    ]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("accounts for 10 conn rows"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A SYN flood from thousands of spoofed sources to one server is a finding (fan-in), not silence.
#[test]
fn a_spoofed_syn_flood_is_reported() {
    let (ds, _) = ingest_bytes("synfanin", &[("f.pcap", flood("syn", 5000))]);
    let (f, e) =
        wirehunt_store::detect::detect(&ds, &wirehunt_store::detect::load_detectors(None).unwrap())
            .unwrap();
    assert!(e.is_empty(), "{e:?}");
    let hit = f
        .iter()
        .find(|f| f.detector == "scan" && f.dst_ip.as_deref() == Some("192.0.2.80"))
        .expect("a fan-in finding");
    assert!(
        hit.severity >= wirehunt_store::detect::Severity::High,
        "{}",
        hit.summary
    );
    assert!(hit.summary.contains("5000 sources"), "{}", hit.summary);
}

/// `ingest --append`: adds captures to a dataset (its files kept, the new run's beside them, uids
/// distinct), skips an input whose sha256 is already in the manifest and says so.
#[test]
fn append_adds_captures_and_skips_known_ones() {
    let dir = tmp("append");
    let a = dir.join("a.pcap");
    std::fs::write(&a, syn_flood(30)).unwrap();
    let b = dir.join("b.pcap");
    let frames: Vec<(i64, Vec<u8>)> = (0..20u32)
        .map(|i| {
            (
                5_000_000 + i as i64,
                tcp([10, 9, 0, i as u8], 2000, B, 443, i, 0, SYN, &[]),
            )
        })
        .collect();
    std::fs::write(&b, pcap(1, &frames)).unwrap();
    let ds = dir.join("ds");
    let d = ds.to_string_lossy().into_owned();
    assert_eq!(
        run(&["ingest", &a.to_string_lossy(), "-d", &d])
            .status
            .code(),
        Some(0)
    );
    // on a terminal the summary is this run's (1 input, 20 connections) and then the dataset's
    let o = std::process::Command::new("script")
        .args([
            "-qec",
            &format!(
                "{} ingest {} -d {} --append",
                wirehunt_bin().display(),
                b.display(),
                ds.display()
            ),
            "/dev/null",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("util-linux script");
    let tty = String::from_utf8_lossy(&o.stdout).replace('\r', "");
    assert!(o.status.success(), "{tty}");
    assert!(tty.contains("ingested 1 file(s)"), "{tty}");
    assert!(tty.contains("  rows: conn 20, dns 0,"), "{tty}");
    assert!(
        tty.contains("  dataset now: 2 input(s), rows: conn 50, dns 0,"),
        "{tty}"
    );
    let uids = column(&ds, "conn", "uid");
    assert_eq!(uids.len(), 50);
    assert_eq!(
        uids.iter().collect::<std::collections::BTreeSet<_>>().len(),
        50,
        "uids collide"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ds.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(m["tables"]["conn"], 50);
    // the same capture again: skipped, said so, nothing changes
    let o = run(&["ingest", &a.to_string_lossy(), "-d", &d, "--append"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("already in the dataset"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(column(&ds, "conn", "uid").len(), 50);
    let o = run(&[
        "sql",
        &d,
        "-c",
        "SELECT count(*) AS n FROM conn",
        "--format",
        "csv",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "n\n50");
    assert_eq!(
        run(&[
            "ingest",
            &a.to_string_lossy(),
            "-d",
            &d,
            "--append",
            "--force"
        ])
        .status
        .code(),
        Some(2)
    );
}

/// File names are attacker-influenced too: a name that is not UTF-8 is read (not "No such file"),
/// given directly or found in a directory, and a newline or U+202E in a name reaches no output raw.
/// Every output names the file by its escape, which leads back to the same file.
#[test]
fn hostile_file_names_are_read_and_escaped_everywhere() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;
    let dir = tmp("names");
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let bad = input.join(OsString::from_vec(b"sensor-\xff\xfe.pcap".to_vec()));
    let trick = input.join("evil\n\u{202e}pacp.pcap");
    std::fs::write(&bad, syn_flood(3)).unwrap();
    // other sources than the first file's: its connections must not continue those
    let frames: Vec<(i64, Vec<u8>)> = (0..4u8)
        .map(|i| {
            (
                2_000_000 + i as i64,
                tcp([10, 9, 9, i], 2000, B, 80, 7, 0, SYN, &[]),
            )
        })
        .collect();
    std::fs::write(&trick, pcap(1, &frames)).unwrap();
    let raw = |o: &std::process::Output| {
        let mut all = o.stdout.clone();
        all.extend_from_slice(&o.stderr);
        all
    };
    let clean = |bytes: &[u8], what: &str| {
        let text =
            String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| panic!("{what}: not UTF-8"));
        assert!(!text.contains('\u{202e}'), "{what}: raw U+202E");
        assert!(!text.contains("evil\n"), "{what}: raw newline from a name");
        text
    };

    // a directory holding both, and the non-UTF-8 file named on the command line
    let ds = dir.join("ds");
    let o = std::process::Command::new(wirehunt_bin())
        .arg("ingest")
        .arg(&input)
        .arg("-d")
        .arg(&ds)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    clean(&raw(&o), "ingest output");
    let manifest = clean(
        &std::fs::read(ds.join("manifest.json")).unwrap(),
        "manifest",
    );
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let mut paths: Vec<String> = m["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap().to_string())
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 2);
    assert!(
        paths[0].ends_with("/evil\\x0a\\u{202e}pacp.pcap"),
        "{paths:?}"
    );
    assert!(paths[1].ends_with("/sensor-\\xff\\xfe.pcap"), "{paths:?}");
    for i in m["inputs"].as_array().unwrap() {
        assert_eq!(i["end"], "complete", "{i}");
        assert!(i["packets_read"].as_u64().unwrap() > 0);
    }
    // the escape names the file: it leads back to the exact path
    assert_eq!(wirehunt_wire::capture::name_path(&paths[1]), bad);
    assert_eq!(wirehunt_wire::capture::name_path(&paths[0]), trick);
    let mut sources = column(&ds, "conn", "source");
    sources.sort();
    sources.dedup();
    assert_eq!(sources, paths);

    // every output format of a query over the names, and sql straight on the non-UTF-8 file
    for fmt in ["table", "csv", "json", "jsonl"] {
        let o = std::process::Command::new(wirehunt_bin())
            .args(["sql", "--format", fmt])
            .arg(&ds)
            .arg("SELECT source, count(*) AS n FROM conn GROUP BY source ORDER BY source")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{fmt}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = clean(&raw(&o), fmt);
        assert!(
            text.contains("sensor-\\xff\\xfe.pcap") || text.contains("sensor-\\\\xff"),
            "{fmt}: {text}"
        );
        if fmt == "json" {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v[1]["source"].as_str().unwrap(), paths[1]);
            assert_eq!(v[1]["n"], 3);
        }
    }
    let o = std::process::Command::new(wirehunt_bin())
        .args(["sql", "--no-cache", "--format", "csv"])
        .arg(&bad)
        .arg("SELECT count(*) AS n FROM conn")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().nth(1), Some("3"));
    // triage of the directory: findings and the HTML report name the files by their escapes
    let page = dir.join("report.html");
    let o = std::process::Command::new(wirehunt_bin())
        .args(["triage", "--no-cache", "--format", "jsonl", "--html"])
        .arg(&page)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    clean(&raw(&o), "triage output");
    let html = clean(&std::fs::read(&page).unwrap(), "html report");
    assert!(
        html.contains(r"sensor-\xff\xfe.pcap"),
        "the report names its inputs"
    );
    // a name that does not exist is reported by its escape, with the input exit code
    let o = std::process::Command::new(wirehunt_bin())
        .arg("ingest")
        .arg(input.join(OsString::from_vec(b"gone-\xff\n\xe2\x80\xae.pcap".to_vec())))
        .arg("-d")
        .arg(dir.join("ds2"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(66));
    let err = clean(&o.stderr, "missing-file error");
    assert!(err.contains("gone-\\xff\\x0a\\u{202e}.pcap"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
