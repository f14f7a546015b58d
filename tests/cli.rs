//! The command line end to end: exit codes, formats, the read-only SQL engine, the shell driven
//! non-interactively, escaping of hostile capture bytes in every output, the simulator's
//! determinism and the README's promises (table reference in sync, demo data up to date).
use crate::common::*;
use crate::sql::demo_dataset;
use std::io::Write;
use std::path::Path;

fn s(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn readme_table_reference_is_in_sync_with_the_schema() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("<!-- schema:begin -->")
        .nth(1)
        .expect("schema markers")
        .split("<!-- schema:end -->")
        .next()
        .unwrap();
    assert_eq!(
        section.trim(),
        wirehunt_store::table::markdown_reference().trim(),
        "run `wirehunt schema --markdown` and paste it into the README"
    );
    let fsec = readme
        .split("<!-- functions:begin -->")
        .nth(1)
        .expect("function markers")
        .split("<!-- functions:end -->")
        .next()
        .unwrap();
    let mut f = Vec::new();
    wirehunt_store::report::print_schema(&mut f, None, true, true).unwrap();
    assert_eq!(fsec.trim(), String::from_utf8(f).unwrap().trim());
}

#[test]
fn schema_command() {
    let (out, _) = s(&run(&["schema", "dns"]));
    assert!(out.contains("qtype_name") && out.contains("edns_client_subnet"));
    // an unknown table is a usage error (2): 1 means findings at or above --fail-on, nothing else
    let o = run(&["schema", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    let (out, _) = s(&run(&["schema", "--functions"]));
    assert!(out.contains("info_content") && out.contains("registered_domain"));
}

#[test]
fn ingest_reports_unreadable_inputs_with_66_and_keeps_the_rest() {
    let dir = tmp("cli-ingest");
    let good = dir.join("good.pcap");
    std::fs::write(&good, pcap(101, &[(1, ip_udp(A, 1, B, 2, b"x"))])).unwrap();
    std::fs::write(dir.join("junk.pcap"), b"this is not a capture at all").unwrap();
    let ds = dir.join("ds");
    let o = run(&[
        "ingest",
        good.to_str().unwrap(),
        dir.join("junk.pcap").to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
    ]);
    let (_, err) = s(&o);
    assert_eq!(o.status.code(), Some(66), "{err}");
    assert!(err.contains("not a pcap or pcapng"), "{err}");
    assert_eq!(column(&ds, "conn", "proto"), vec!["udp"]);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ds.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["inputs"][1]["end"], "unreadable");
    // a missing file
    let o = run(&[
        "ingest",
        dir.join("missing.pcap").to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(66));
}

#[test]
fn sql_formats_and_read_only() {
    let ds = demo_dataset();
    let d = ds.to_str().unwrap();
    let (csv, _) = s(&run(&[
        "sql",
        d,
        "-c",
        "SELECT proto, count(*) AS n FROM conn GROUP BY proto ORDER BY proto",
        "--format",
        "csv",
    ]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "proto,n");
    let expect_tcp = column(&ds, "conn", "proto")
        .iter()
        .filter(|p| *p == "tcp")
        .count();
    assert!(
        lines.contains(&format!("tcp,{expect_tcp}").as_str()),
        "{csv}"
    );
    // the query may also be the last positional argument
    let (one, _) = s(&run(&["sql", d, "SELECT 1 AS one", "--format", "csv"]));
    assert_eq!(one, "one\n1\n");
    let (jsonl, _) = s(&run(&[
        "sql",
        d,
        "-c",
        "SELECT uid FROM conn ORDER BY uid LIMIT 3",
        "--format",
        "jsonl",
    ]));
    assert_eq!(jsonl.lines().count(), 3);
    assert!(jsonl.lines().all(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap()["uid"]
            .as_str()
            .unwrap()
            .starts_with('C')
    }));
    let pq = tmp("sqlpq").join("out.parquet");
    let o = run(&[
        "sql",
        d,
        "-c",
        "SELECT * FROM dns",
        "-o",
        pq.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", s(&o));
    let f = std::fs::File::open(&pq).unwrap();
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let n: usize = r.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n, column(&ds, "dns", "uid").len());
    // writes are refused unless asked for, with exit 65 and a message
    let o = run(&[
        "sql",
        d,
        "-c",
        "CREATE TABLE t AS SELECT 1",
        "--format",
        "csv",
    ]);
    let (_, err) = s(&o);
    assert_eq!(o.status.code(), Some(65));
    assert!(err.contains("DDL"), "{err}");
    // a syntax error is said once, in words (DataFusion's text repeats it as a Debug dump)
    let o = run(&["sql", d, "-c", "SELECT * FROM conn WHERE"]);
    let (_, err) = s(&o);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        err.contains("error: syntax error: Expected: an expression, found: EOF"),
        "{err}"
    );
    assert!(!err.contains("ParserError"), "{err}");
}

#[test]
fn shell_driven_non_interactively() {
    let ds = demo_dataset();
    let mut child = std::process::Command::new(wirehunt_bin())
        .args(["sql", ds.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b".tables\n.format csv\nSELECT count(*) AS n\n  FROM tls;\n-- a comment; with a semicolon\nSELECT 'a;b' AS s;\nSELECT broken FROM nowhere;\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = s(&o);
    assert!(
        out.contains("conn\ndns\nhttp\ntls\nfiles\nftp\nsmtp\nweird"),
        "{out}"
    );
    let n = column(&ds, "tls", "uid").len();
    assert!(out.contains(&format!("n\n{n}\n")), "{out}");
    assert!(out.contains("s\na;b\n"), "{out}");
    assert!(
        err.contains("stdin:7: error"),
        "error names the statement's line: {err}"
    );
    assert_eq!(o.status.code(), Some(65));
}

#[test]
fn detect_contract_params_and_errors() {
    let ds = demo_dataset();
    let d = ds.to_str().unwrap();
    let (out, err) = s(&run(&["detect", d, "--format", "jsonl"]));
    let fs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!fs.is_empty(), "{err}");
    for f in &fs {
        for k in [
            "category",
            "detector",
            "score",
            "severity",
            "src_ip",
            "dst_ip",
            "dst_port",
            "domain",
            "first_seen",
            "last_seen",
            "summary",
            "evidence",
        ] {
            assert!(f.get(k).is_some(), "missing {k}: {f}");
        }
        let score = f["score"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&score));
        assert!(["low", "medium", "high", "critical"].contains(&f["severity"].as_str().unwrap()));
        if let Some(t) = f["first_seen"].as_str() {
            assert!(t.ends_with('Z'), "{t}");
        }
        assert!(f["evidence"]["parameters"].is_object());
    }
    // a parameter override is typed and changes the outcome
    let (out, _) = s(&run(&[
        "detect",
        d,
        "--format",
        "jsonl",
        "--param",
        "exfil_volume.min_upload_bytes=1000000000",
    ]));
    // exfil_volume is silenced; the demo's infostealer upload (ftp_smtp_exfil) is exfiltration too
    assert!(!out.contains("\"exfil_volume\""), "{out}");
    assert!(out.contains("\"ftp_smtp_exfil\""), "{out}");
    let o = run(&["detect", d, "--param", "exfil_volume.min_upload_bytes=lots"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&[
        "detect",
        d,
        "--param",
        "exfil_volume.min_upload_bytes=1'; DROP TABLE conn; --",
    ]);
    assert_eq!(o.status.code(), Some(2));
    // a user detector dropped into a directory
    let qd = tmp("userq");
    std::fs::write(qd.join("mine.sql"), "-- id: mine\n-- category: other\n-- summary: {src_ip} made {n} connections\n-- severity: low >= 0\n-- param: min_n int = 1\nSELECT orig_h AS src_ip, count(*) AS n, 10.0 AS score FROM conn GROUP BY orig_h HAVING count(*) >= $min_n").unwrap();
    let (out, _) = s(&run(&[
        "detect",
        d,
        "--queries",
        qd.to_str().unwrap(),
        "--format",
        "jsonl",
    ]));
    assert!(
        out.lines()
            .any(|l| l.contains("\"detector\":\"mine\"") && l.contains("connections"))
    );
    // --fail-on
    let o = run(&["detect", d, "--fail-on", "high", "--format", "csv"]);
    assert_eq!(o.status.code(), Some(1));
    // not a dataset
    assert_eq!(run(&["detect", "/nonexistent"]).status.code(), Some(66));
}

#[test]
fn triage_on_the_demo_capture_finds_each_attack_and_writes_html() {
    let p = demo_capture();
    let dir = tmp("triage");
    let html = dir.join("r.html");
    let o = run(&[
        "-q",
        "triage",
        p.to_str().unwrap(),
        "-d",
        dir.join("ds").to_str().unwrap(),
        "--format",
        "jsonl",
        "--html",
        html.to_str().unwrap(),
    ]);
    let (out, err) = s(&o);
    assert!(o.status.success(), "{err}");
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.with_file_name("scenario.truth.json")).unwrap(),
    )
    .unwrap();
    let fs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for a in truth["attacks"].as_array().unwrap() {
        assert!(
            fs.iter().any(|f| f["category"] == a["category"]
                && f["src_ip"] == a["src_ip"]
                && ["high", "critical"].contains(&f["severity"].as_str().unwrap())),
            "not found at high: {a}"
        );
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!doctype html>") && page.contains("<svg") && !page.contains("<script")
    );
}

/// A capture whose HTTP request carries terminal escapes, HTML and a spreadsheet formula.
fn hostile_capture() -> Vec<u8> {
    let req = b"GET /\x1b[2J\x1b[31mpwn<script>alert(1)</script> HTTP/1.1\r\nHost: =HYPERLINK(\"http://x\")\r\nUser-Agent: \x1b]0;owned\x07<img src=x onerror=alert(1)>\r\n\r\n";
    let hs = [
        (true, SYN, &b""[..]),
        (false, SYN | ACK, &b""[..]),
        (true, ACK, &b""[..]),
        (true, ACK | PSH, &req[..]),
    ];
    let (mut cs, mut ss) = (100u32, 900u32);
    let mut frames = Vec::new();
    for (k, (orig, fl, p)) in hs.iter().enumerate() {
        let f = if *orig {
            tcp(A, 5000, B, 80, cs, ss, *fl, p)
        } else {
            tcp(B, 80, A, 5000, ss, cs, *fl, p)
        };
        let adv = p.len() as u32 + if fl & SYN != 0 { 1 } else { 0 };
        if *orig {
            cs = cs.wrapping_add(adv)
        } else {
            ss = ss.wrapping_add(adv)
        }
        frames.push((1_000_000 + k as i64 * 1000, f));
    }
    pcap(1, &frames)
}

#[test]
fn hostile_bytes_are_escaped_in_every_output() {
    let dir = tmp("hostile");
    let cap = dir.join("h.pcap");
    std::fs::write(&cap, hostile_capture()).unwrap();
    let ds = dir.join("ds");
    assert!(
        run(&[
            "-q",
            "ingest",
            cap.to_str().unwrap(),
            "-d",
            ds.to_str().unwrap()
        ])
        .status
        .success()
    );
    // stored text has no raw control characters
    let ua = column(&ds, "http", "user_agent");
    assert_eq!(ua.len(), 1);
    assert!(
        ua[0].contains("\\x1b]0;owned\\x07<img"),
        "hostile value kept, escaped: {:?}",
        ua[0]
    );
    assert!(!ua[0].chars().any(|c| c.is_control()), "{:?}", ua[0]);
    assert!(column(&ds, "http", "uri")[0].contains("\\x1b[2J"));
    let q = "SELECT uri, host, user_agent FROM http";
    for fmt in ["table", "csv", "jsonl", "json"] {
        let (out, _) = s(&run(&[
            "sql",
            ds.to_str().unwrap(),
            "-c",
            q,
            "--format",
            fmt,
        ]));
        assert!(
            !out.contains('\x1b') && !out.contains('\x07'),
            "{fmt}: raw escape in output: {out:?}"
        );
        if fmt == "csv" {
            assert!(
                out.contains("'=HYPERLINK"),
                "formula not neutralised: {out}"
            );
        }
    }
    // the HTML report escapes markup
    let html = dir.join("r.html");
    let p = dir.join("u.sql");
    std::fs::write(&p, "-- id: ua\n-- category: other\n-- severity: low >= 0\n-- summary: {src_ip} sent {ua}\nSELECT orig_h AS src_ip, user_agent AS ua, 50.0 AS score FROM http").unwrap();
    let o = run(&[
        "-q",
        "triage",
        cap.to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
        "--force",
        "--queries",
        dir.to_str().unwrap(),
        "--format",
        "jsonl",
        "--min-severity",
        "low",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", s(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("<img") && !page.contains("<script>alert") && page.contains("&lt;img"),
        "HTML not escaped"
    );
    // the terminal table output of triage is sanitised too
    let o = run(&[
        "-q",
        "triage",
        cap.to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
        "--queries",
        dir.to_str().unwrap(),
        "--format",
        "table",
        "--min-severity",
        "low",
    ]);
    assert!(!s(&o).0.contains('\x1b'));
}

#[test]
fn simulate_is_deterministic_and_testdata_is_up_to_date() {
    let dir = tmp("simdet");
    let args = |out: &Path| {
        vec![
            "-q".to_string(),
            "simulate".into(),
            "--seed".into(),
            "1".into(),
            "--hours".into(),
            "0.25".into(),
            "--hosts".into(),
            "8".into(),
            "--background-scale".into(),
            "0.03".into(),
            "--compressible".into(),
            "-o".into(),
            out.to_string_lossy().into_owned(),
        ]
    };
    let (a, b) = (dir.join("a.pcap"), dir.join("b.pcap"));
    for p in [&a, &b] {
        let v = args(p);
        let o = run(&v.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{:?}", s(&o));
    }
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(ba, bb, "same seed, same bytes");
    // testdata/scenario.pcap.gz holds exactly these bytes (scripts/make-testdata.sh regenerates it)
    let gz = std::fs::File::open(demo_capture()).unwrap();
    let mut committed = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut committed).unwrap();
    assert!(
        committed == ba,
        "testdata/scenario.pcap.gz is stale: run scripts/make-testdata.sh"
    );
    let t1 = std::fs::read_to_string(dir.join("a.truth.json")).unwrap();
    let t2 = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/scenario.truth.json"),
    )
    .unwrap();
    assert_eq!(t1, t2, "testdata/scenario.truth.json is stale");
    assert!(ba.len() > 1000);
    // the truth file matches the capture: packets, and the attack hosts appear in it
    let v: serde_json::Value = serde_json::from_str(&t1).unwrap();
    let (ds, rep) = ingest_bytes("simtruth", &[("s.pcap", ba)]);
    assert_eq!(
        rep.manifest.inputs[0].packets_read,
        v["packets"].as_u64().unwrap()
    );
    let origs: std::collections::BTreeSet<String> =
        column(&ds, "conn", "orig_h").into_iter().collect();
    for a in v["attacks"].as_array().unwrap() {
        assert!(origs.contains(a["src_ip"].as_str().unwrap()));
        if a["category"] == "dns_tunnel" {
            let dom = a["domain"].as_str().unwrap();
            assert!(column(&ds, "dns", "query").iter().any(|q| q.ends_with(dom)));
        }
    }
}

#[test]
fn manifest_sha256_matches_an_independent_hash_threaded_inline_or_skipped() {
    use sha2::Digest;
    let cap = demo_capture();
    let bytes = std::fs::read(&cap).unwrap();
    let want: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = tmp("cli-sha");
    let manifest = |ds: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(ds.join("manifest.json")).unwrap()).unwrap()
    };
    let cap = cap.to_str().unwrap();
    // default: a second thread hashes the file where there is a second core
    let ds = dir.join("threaded");
    let o = run(&["-q", "ingest", cap, "-d", ds.to_str().unwrap()]);
    assert!(o.status.success(), "{}", s(&o).1);
    let m = manifest(&ds);
    assert_eq!(m["inputs"][0]["sha256"], want.as_str());
    assert_eq!(m["inputs"][0]["size"], bytes.len() as u64);
    // one core: the reading thread hashes what it reads
    let ds = dir.join("inline");
    let o = std::process::Command::new(wirehunt_bin())
        .env("WIREHUNT_HASH_THREAD", "0")
        .args(["-q", "ingest", cap, "-d", ds.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", s(&o).1);
    assert_eq!(manifest(&ds)["inputs"][0]["sha256"], want.as_str());
    // skipped: null, and the tables are the same
    let ds2 = dir.join("nohash");
    let o = run(&[
        "-q",
        "ingest",
        "--no-hash",
        cap,
        "-d",
        ds2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", s(&o).1);
    let m2 = manifest(&ds2);
    assert!(m2["inputs"][0]["sha256"].is_null());
    assert_eq!(m2["tables"], m["tables"]);
    assert_eq!(column(&ds, "conn", "uid"), column(&ds2, "conn", "uid"));
}

/// A stream given as a path (a FIFO, like `<(zcat f.gz)`): read once, hashed inline, never split
/// between the parser and a second reader, and `sql` ingests it without a cache key.
#[test]
fn a_fifo_input_is_read_once_and_hashed_inline() {
    use sha2::Digest;
    let dir = tmp("cli-fifo");
    let frames: Vec<(i64, Vec<u8>)> = (0..3000u16)
        .map(|k| (k as i64 * 1000, ip_udp(A, 20000 + k, B, 9, &[7u8; 900])))
        .collect();
    let bytes = pcap(101, &frames);
    let want: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let fifo = dir.join("in.pcap");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("mkfifo not available; skipped");
        return;
    }
    let feed = |bytes: Vec<u8>, fifo: std::path::PathBuf| {
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let _ = f.write_all(&bytes);
        })
    };
    let writer = feed(bytes.clone(), fifo.clone());
    let ds = dir.join("ds");
    let o = run(&[
        "-q",
        "ingest",
        fifo.to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
    ]);
    writer.join().unwrap();
    assert!(o.status.success(), "{}", s(&o).1);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ds.join("manifest.json")).unwrap()).unwrap();
    let i = &m["inputs"][0];
    assert_eq!(i["packets_read"], 3000);
    assert_eq!(i["end"], "complete");
    assert_eq!(i["size"], bytes.len() as u64);
    assert_eq!(i["sha256"], want.as_str());
    // sql on the stream: no cache key is computed from it (that would consume it)
    let writer = feed(bytes, fifo.clone());
    let o = std::process::Command::new(wirehunt_bin())
        .env("WIREHUNT_CACHE", dir.join("cache"))
        .args([
            "sql",
            fifo.to_str().unwrap(),
            "-c",
            "SELECT count(*) AS n FROM conn",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    writer.join().unwrap();
    assert!(o.status.success(), "{}", s(&o).1);
    assert_eq!(s(&o).0.trim(), "n\n3000");
}

/// An input that is no capture is rejected from its first bytes, and said even with -q (it sets the
/// exit status): `/dev/zero`, endless, returns at once instead of being read to its end for the
/// manifest's hash, and `/dev/null` is an empty input. An error is said once with the path the user
/// gave (the error chain used to repeat the cause two or three times and name the staging directory).
#[test]
#[cfg(target_os = "linux")]
fn a_device_that_is_no_capture_is_rejected_at_once_and_said_under_q() {
    let dir = tmp("cli-devzero");
    let ds = dir.join("ds");
    let mut child = std::process::Command::new(wirehunt_bin())
        .args([
            "-q",
            "ingest",
            "/dev/zero",
            "/dev/null",
            "-d",
            ds.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t0.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("ingest /dev/zero still reading after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(66), "{err}");
    assert!(
        err.contains("/dev/zero: not a pcap or pcapng capture (first bytes 00000000)")
            && err.contains("/dev/null: empty input"),
        "{err}"
    );
    let o = run(&[
        "-q",
        "ingest",
        demo_capture().to_str().unwrap(),
        "-d",
        "/proc/no-such-dir/ds",
    ]);
    let err = s(&o).1;
    assert_eq!(o.status.code(), Some(74), "{err}");
    assert!(err.starts_with("wirehunt: /proc/no-such-dir/ds: "), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

/// The interactive shell, driven through a pseudo-terminal (`script` from util-linux): errors print
/// and the prompt returns (`.schema nope`, `.format parquet` then a query), Ctrl-C cancels the
/// running query and the shell goes on, history is appended per entry.
#[test]
fn the_shell_never_throws_the_analyst_out() {
    let dir = tmp("shellpty");
    let cap = dir.join("a.pcap");
    std::fs::write(
        &cap,
        pcap(1, &[(1_000_000, tcp(A, 40000, B, 80, 1, 0, SYN, &[]))]),
    )
    .unwrap();
    let ds = dir.join("ds");
    assert!(
        run(&[
            "ingest",
            &cap.to_string_lossy(),
            "-d",
            &ds.to_string_lossy()
        ])
        .status
        .success()
    );
    let cache = dir.join("cache");
    // `script` runs the command through $SHELL -c; `exec` makes the shell become wirehunt, so the
    // pty's SIGINT reaches wirehunt alone (a shell left waiting in between, as dash does, would
    // die of the Ctrl-C itself and `script -e` would report 130)
    let cmd = format!(
        "exec {} sql {} --format csv",
        wirehunt_bin().display(),
        ds.display()
    );
    // bounded: if the shell ever missed the Ctrl-C, `timeout` ends it and the assertions fail
    let mut child = std::process::Command::new("timeout")
        .args(["60", "script", "-qfec", &cmd, "/dev/null"])
        .env("WIREHUNT_CACHE", &cache)
        .env("NO_COLOR", "1")
        .env("SHELL", "/bin/sh")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs the shell on a pseudo-terminal");
    let mut stdin = child.stdin.take().unwrap();
    let feed = std::thread::spawn(move || {
        use std::io::Write;
        let step = |s: &mut std::process::ChildStdin, text: &[u8], ms: u64| {
            std::thread::sleep(std::time::Duration::from_millis(ms));
            s.write_all(text).unwrap();
            s.flush().unwrap();
        };
        step(&mut stdin, b".schema nope\n", 1500);
        step(&mut stdin, b".format parquet\n", 300);
        step(&mut stdin, b"SELECT 1 AS x;\n", 300);
        step(&mut stdin, b".format csv\n", 500);
        step(
            &mut stdin,
            b"SELECT sum(value) FROM range(100000000000);\n",
            300,
        );
        step(&mut stdin, b"\x03", 2000);
        step(&mut stdin, b"SELECT 42 AS answer;\n", 800);
        // Tab completes the table name
        step(&mut stdin, b"SELECT count(*) AS n FROM con\t;\n", 800);
        step(&mut stdin, b".mode line\n", 800);
        step(&mut stdin, b"SELECT 7 AS seven;\n", 300);
        step(&mut stdin, b".quit\n", 1500);
    });
    let out = child.wait_with_output().unwrap();
    feed.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("no table named \"nope\""), "{text}");
    assert!(text.contains("parquet output needs a file"), "{text}");
    assert!(text.contains("query cancelled (Ctrl-C)"), "{text}");
    assert!(text.contains("answer\n42"), "{text}");
    assert!(text.contains("\nn\n1\n"), "{text}");
    assert!(text.contains("seven = 7"), "{text}");
    let hist = std::fs::read_to_string(cache.join("history")).unwrap();
    for e in [".schema nope", "SELECT 1 AS x;", "SELECT 42 AS answer;"] {
        assert!(hist.contains(e), "{hist}");
    }
}

/// `wirehunt detectors` lists every built-in with its thresholds and parameters; `--help` prints the
/// exit codes; `ssl` is Zeek's name for the tls table.
#[test]
fn detectors_listing_help_and_the_ssl_view() {
    let o = run(&["detectors"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    for id in [
        "beaconing",
        "dns_tunnel",
        "exfil_volume",
        "dns_encoded_query",
        "scan",
    ] {
        assert!(text.contains(&format!("{id} (")), "{text}");
    }
    assert!(
        text.contains("--param beaconing.max_without_evidence=69.0"),
        "{text}"
    );
    assert!(
        text.contains("severity: critical >= 85, high >= 70"),
        "{text}"
    );
    let o = run(&["--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(
        help.contains("Exit codes:")
            && help.contains("1 a finding at or above --fail-on (and nothing else)")
            && help.contains("73 the output exists"),
        "{help}"
    );
    let dir = tmp("sslview");
    let cap = dir.join("a.pcap");
    std::fs::write(
        &cap,
        pcap(1, &[(1_000_000, tcp(A, 40000, B, 443, 1, 0, SYN, &[]))]),
    )
    .unwrap();
    let ds = dir.join("ds");
    assert!(
        run(&[
            "ingest",
            &cap.to_string_lossy(),
            "-d",
            &ds.to_string_lossy()
        ])
        .status
        .success()
    );
    let o = run(&[
        "sql",
        &ds.to_string_lossy(),
        "-c",
        "SELECT count(*) AS n FROM ssl",
        "--format",
        "csv",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "n\n0");
}

/// A file format without a file is a usage error (exit 2), before any work.
#[test]
fn file_formats_without_a_file_are_usage_errors() {
    let dir = tmp("fmtusage");
    let cap = dir.join("a.pcap");
    std::fs::write(
        &cap,
        pcap(1, &[(1_000_000, tcp(A, 40000, B, 80, 1, 0, SYN, &[]))]),
    )
    .unwrap();
    let ds = dir.join("ds");
    assert!(
        run(&[
            "ingest",
            &cap.to_string_lossy(),
            "-d",
            &ds.to_string_lossy()
        ])
        .status
        .success()
    );
    let d = ds.to_string_lossy().into_owned();
    assert_eq!(
        run(&["sql", &d, "-c", "SELECT 1", "--format", "parquet"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["sql", &d, "-c", "SELECT 1", "--format", "html"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["detect", &d, "--format", "parquet"]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["detect", &d, "--format", "html"]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["triage", &d, "--format", "parquet"]).status.code(),
        Some(2)
    );
    // -o is a result file for triage too (it used to be the dataset directory, so this made a
    // directory named f.parquet and failed)
    let tp = dir.join("t.parquet");
    run_ok(&[
        "triage",
        &d,
        "--format",
        "parquet",
        "-o",
        &tp.to_string_lossy(),
    ]);
    assert!(tp.is_file(), "triage -o FILE is the findings file");
    let out = dir.join("f.parquet");
    assert_eq!(
        run(&[
            "detect",
            &d,
            "--format",
            "parquet",
            "-o",
            &out.to_string_lossy()
        ])
        .status
        .code(),
        Some(0)
    );
    assert!(out.is_file());
}

/// The terminal triage ends with the commands that open the rows behind the first findings; each one,
/// run as printed, answers with those rows.
#[test]
fn triage_says_what_to_open_next_and_the_commands_work() {
    let dir = tmp("open-next");
    let ds = dir.join("ds 'quoted'");
    let cap = demo_capture();
    let o = run(&[
        "-q",
        "triage",
        &cap.to_string_lossy(),
        "-d",
        &ds.to_string_lossy(),
        "--format",
        "table",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("Open next"))
        .skip(1)
        .collect();
    assert!(!lines.is_empty(), "{out}");
    let mut extracts = 0;
    for l in lines {
        let cmd = l
            .trim()
            .split_once(": wirehunt ")
            .unwrap_or_else(|| panic!("{l}"))
            .1;
        // run it through a real shell, as an analyst pasting it would (in a scratch directory:
        // the extract lines write finding-N.pcap there)
        let sh = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("\"$WH\" {cmd}"))
            .env("WH", wirehunt_bin())
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(
            sh.status.code(),
            Some(0),
            "{cmd}: {}",
            String::from_utf8_lossy(&sh.stderr)
        );
        if let Some(file) = cmd
            .strip_prefix("extract ")
            .and_then(|c| c.rsplit_once(" -o "))
        {
            // the slice holds the frames of those connections: re-ingested, the same uids' tuples
            let slice = dir.join(file.1);
            let ds2 = dir.join(format!("{}.ds", file.1));
            let rep = ingest_into(&slice, &ds2);
            assert!(
                rep.manifest.inputs[0].packets_read > 0,
                "{cmd}: empty slice"
            );
            // ... all of them: finding 1 is the beacon to metricdata86.info, 44 connections to one
            // address (counted in the dataset), more than any uid list in its evidence
            assert!(cmd.contains(" --finding "), "{cmd}");
            if cmd.contains("--finding 1 ") {
                let o = run_ok(&[
                    "sql",
                    &ds.to_string_lossy(),
                    "-c",
                    "SELECT count(*) AS n FROM conn WHERE orig_h = '10.10.1.13' AND resp_h = '44.54.23.142' AND resp_p = 80",
                    "--format",
                    "csv",
                ]);
                let want: usize = String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .nth(1)
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(want, 44);
                assert_eq!(column(&ds2, "conn", "uid").len(), want, "{cmd}");
            }
            extracts += 1;
        } else {
            let rows = String::from_utf8_lossy(&sh.stdout).lines().count();
            assert!(rows >= 2, "{cmd} gave no rows");
        }
    }
    assert!(extracts > 0, "no extract line in {out}");
}

/// On a terminal (a pseudo-terminal made by util-linux `script`), triage shows ingest progress in
/// bytes with a rate and an ETA, and paints the severities; `NO_COLOR` turns the colours off (the
/// progress stays); piped, nothing is painted (checked by the escaping test above).
#[test]
fn a_terminal_gets_byte_progress_and_coloured_severities_unless_no_color() {
    let cap = demo_capture();
    let dir = tmp("pty");
    let on_pty = |no_color: bool| -> String {
        let cmd = format!(
            "'{}' triage '{}' --no-cache --format table",
            wirehunt_bin().display(),
            cap.display()
        );
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"])
            .current_dir(&dir)
            .env("COLUMNS", "160")
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let o = c.output().expect("util-linux script");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let painted = on_pty(false);
    // the bar: bytes of the input read out of its size, the rate, the time left
    assert!(painted.contains("ETA"), "{painted}");
    assert!(painted.contains("/s"), "{painted}");
    assert!(painted.contains("critical"), "{painted}");
    // crossterm's SGR for the severity colours (38;5;N foreground)
    assert!(painted.contains("\x1b[38;5;"), "no colour on a terminal");
    let plain = on_pty(true);
    assert!(plain.contains("critical") && plain.contains("ETA"));
    assert!(
        !plain.contains("\x1b[38;5;") && !plain.contains("\x1b[1m"),
        "NO_COLOR ignored"
    );
}

/// Unrelated captures triaged together are summarised per input too: each with its own span,
/// connections and top talker (the corpus's Cerber capture of 2016 beside the 2026 demo). The counts
/// are each capture's own (3829 connections is Cerber ingested alone): a capture from an earlier time
/// does not continue the previous one's flows (before, its UDP flows never timed out and 18
/// connections were merged into others).
#[test]
fn triage_of_unrelated_captures_summarises_each_input() {
    let Some(c) = corpus_or_skip() else { return };
    let demo = demo_capture();
    let cerber = c.join("large/cerber_ransomware_infection_6MB.pcap");
    let o = run(&[
        "-q",
        "triage",
        demo.to_str().unwrap(),
        cerber.to_str().unwrap(),
        "--no-cache",
        "--format",
        "table",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_string()
    };
    assert!(out.contains("Per input:"), "{out}");
    let d = line(demo.to_str().unwrap());
    assert!(
        d.contains("2026-12-02T09:00:00") && d.contains("top talker 10.10.1.10"),
        "{d}"
    );
    assert!(
        d.contains("12399 packets") && d.contains("1863 connections"),
        "{d}"
    );
    let k = line(cerber.to_str().unwrap());
    assert!(
        k.contains("2016-11-24T15:28:42") && k.contains("top talker 192.168.1.46"),
        "{k}"
    );
    assert!(
        k.contains("15236 packets") && k.contains("3829 connections"),
        "{k}"
    );
}

/// A result file appears whole or not at all: a query that fails while its rows stream (a cast that
/// breaks on the first row) leaves the file it would have replaced as it was and no temporary file;
/// a query that succeeds replaces it, readable by others (0644).
#[test]
fn a_failing_query_leaves_the_previous_result_file_untouched() {
    let dir = tmp("atomic-out");
    let ds = dir.join("ds");
    let cap = demo_capture();
    ingest_into(&cap, &ds);
    let out = dir.join("out.csv");
    std::fs::write(&out, "previous\n").unwrap();
    for fmt in ["csv", "parquet"] {
        let file = dir.join(format!("out.{fmt}"));
        std::fs::write(&file, "previous\n").unwrap();
        let o = run(&[
            "sql",
            ds.to_str().unwrap(),
            "-c",
            "SELECT CAST(uid AS INT) FROM conn",
            "--format",
            fmt,
            "-o",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            o.status.code(),
            Some(65),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "previous\n",
            "{fmt}"
        );
    }
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".wirehunt-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    let o = count_conn_to(&ds, &out);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "n\n1863\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }
}

/// `sql DS -c 'SELECT count(*) AS n FROM conn' -o OUT`.
fn count_conn_to(ds: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    run(&[
        "sql",
        ds.to_str().unwrap(),
        "-c",
        "SELECT count(*) AS n FROM conn",
        "-o",
        out.to_str().unwrap(),
    ])
}

/// `-o` naming a pipe or a device writes into it, and `-o` naming a symbolic link replaces the file
/// it points to: a result file is staged and renamed into place, and a rename over `/dev/null` (as
/// root) had replaced the device with a regular file.
#[test]
#[cfg(unix)]
fn an_output_that_is_a_pipe_or_a_link_is_written_through() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tmp("out-special");
    let ds = dir.join("ds");
    ingest_into(&demo_capture(), &ds);
    let query = |out: &std::path::Path| count_conn_to(&ds, out);
    // a FIFO another program reads: it receives the result and stays a FIFO
    let fifo = dir.join("result.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "mkfifo (coreutils) is needed");
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let fifo = fifo.clone();
        std::thread::spawn(move || tx.send(std::fs::read_to_string(fifo).unwrap()));
    }
    let o = query(&fifo);
    assert_eq!(o.status.code(), Some(0), "{}", s(&o).1);
    let got = rx.recv_timeout(std::time::Duration::from_secs(30));
    assert_eq!(
        got.as_deref(),
        Ok("n\n1863\n"),
        "nothing came through the FIFO"
    );
    let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(t.is_fifo(), "the FIFO was replaced: {t:?}");
    // findings and an extracted capture into /dev/null: accepted (no --force: nothing is replaced)
    // and /dev/null is still the character device
    let o = run(&["detect", ds.to_str().unwrap(), "-o", "/dev/null"]);
    assert_eq!(o.status.code(), Some(0), "{}", s(&o).1);
    let uid = column(&ds, "conn", "uid").remove(0);
    let o = run(&[
        "extract",
        ds.to_str().unwrap(),
        "--uid",
        &uid,
        "-o",
        "/dev/null",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", s(&o).1);
    let t = std::fs::symlink_metadata("/dev/null").unwrap().file_type();
    assert!(t.is_char_device(), "/dev/null is no longer a device: {t:?}");
    // /dev/stdout is this process's standard output, here a log opened for appending: the result is
    // appended (opening the name again would start at offset 0 and write over the log)
    let log = dir.join("log.txt");
    std::fs::write(&log, "keep\n").unwrap();
    let append = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let o = std::process::Command::new(wirehunt_bin())
        .args([
            "sql",
            ds.to_str().unwrap(),
            "-c",
            "SELECT count(*) AS n FROM conn",
        ])
        .args(["-o", "/dev/stdout"])
        .stdout(append)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", s(&o).1);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "keep\nn\n1863\n");
    // a relative link whose file does not exist yet: the file is created, the link kept
    std::os::unix::fs::symlink("made.csv", dir.join("dangling.csv")).unwrap();
    let o = query(&dir.join("dangling.csv"));
    assert_eq!(o.status.code(), Some(0), "{}", s(&o).1);
    assert_eq!(
        std::fs::read_to_string(dir.join("made.csv")).unwrap(),
        "n\n1863\n"
    );
    // a directory or a missing directory: the message names the path the user gave
    let o = query(&dir);
    assert_eq!(o.status.code(), Some(65), "{}", s(&o).1);
    assert!(s(&o).1.contains("is a directory"), "{}", s(&o).1);
    let o = run(&[
        "detect",
        ds.to_str().unwrap(),
        "-o",
        dir.join("nope/f.json").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(74), "{}", s(&o).1);
    assert!(
        s(&o).1.contains("nope/f.json: the directory"),
        "{}",
        s(&o).1
    );
    // a new file's name under /dev (tmpfs /dev/shm) is a file like any other: created whole
    if std::path::Path::new("/dev/shm").is_dir() {
        let shm =
            std::path::PathBuf::from(format!("/dev/shm/wirehunt-test-{}.csv", std::process::id()));
        let o = query(&shm);
        let got = std::fs::read_to_string(&shm);
        let _ = std::fs::remove_file(&shm);
        assert_eq!(o.status.code(), Some(0), "{}", s(&o).1);
        assert_eq!(got.unwrap(), "n\n1863\n");
    }
    // a link to a regular file: the file gets the result, the link stays a link
    let target = dir.join("target.csv");
    std::fs::write(&target, "previous\n").unwrap();
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let o = query(&link);
    assert_eq!(o.status.code(), Some(0), "{}", s(&o).1);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "n\n1863\n");
}

/// triage writes its findings in every format to a file (`--findings FILE`), the same findings it
/// prints: the Parquet file's rows and the CSV's lines are the JSON lines on stdout, score for score.
#[test]
fn triage_writes_its_findings_in_every_format() {
    let dir = tmp("triage-findings");
    let cap = demo_capture();
    let ds = dir.join("ds");
    let (pq, csv, json) = (dir.join("f.parquet"), dir.join("f.csv"), dir.join("f.json"));
    let o = run_ok(&[
        "-q",
        "triage",
        cap.to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
        "--format",
        "jsonl",
        "--findings",
        pq.to_str().unwrap(),
    ]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    let file = std::fs::File::open(&pq).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut scores = Vec::new();
    for b in reader {
        let b = b.unwrap();
        let c = b.column_by_name("score").unwrap();
        let c = arrow::compute::cast(c, &arrow::datatypes::DataType::Float64).unwrap();
        let c = c
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .unwrap();
        scores.extend(c.iter().map(|v| v.unwrap()));
    }
    let want: Vec<f64> = lines.iter().map(|f| f["score"].as_f64().unwrap()).collect();
    assert_eq!(scores, want);
    for (path, fmt) in [
        (&csv, None),
        (&json, None),
        (&dir.join("f.out"), Some("jsonl")),
    ] {
        let mut args = vec![
            "-q",
            "triage",
            cap.to_str().unwrap(),
            "-d",
            ds.to_str().unwrap(),
            "--force",
            "--format",
            "jsonl",
            "--findings",
            path.to_str().unwrap(),
        ];
        if let Some(f) = fmt {
            args.extend(["--findings-format", f]);
        }
        run_ok(&args);
        let text = std::fs::read_to_string(path).unwrap();
        let n = match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => text.lines().count() - 1,
            Some("json") => serde_json::from_str::<Vec<serde_json::Value>>(&text)
                .unwrap()
                .len(),
            _ => text.lines().count(),
        };
        assert_eq!(n, lines.len(), "{}", path.display());
    }
}

/// Every command's --help ends with examples, and each example parses (run with --help appended:
/// clap rejects an unknown flag or a bad value before it prints help).
#[test]
fn every_help_has_examples_that_parse() {
    let words = |line: &str| -> Vec<String> {
        let mut out = Vec::new();
        let (mut cur, mut quoted, mut any) = (String::new(), false, false);
        for c in line.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    any = true;
                }
                ' ' if !quoted => {
                    if any || !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    any = false;
                }
                _ => cur.push(c),
            }
        }
        if any || !cur.is_empty() {
            out.push(cur);
        }
        out
    };
    for cmd in [
        "ingest",
        "sql",
        "detect",
        "triage",
        "simulate",
        "schema",
        "detectors",
        "extract",
        "report",
    ] {
        let help = String::from_utf8_lossy(&run_ok(&[cmd, "--help"]).stdout).into_owned();
        let ex: Vec<&str> = help
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("{cmd} --help has no examples"))
            .lines()
            .filter_map(|l| l.trim().strip_prefix("wirehunt "))
            .collect();
        assert!(!ex.is_empty(), "{cmd}");
        for e in ex {
            // the command itself, without a pipe into another tool or a trailing remark
            let e = e.split(" | ").next().unwrap();
            let e = e.split("   (").next().unwrap().trim();
            let mut args = words(e);
            args.push("--help".into());
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = run(&argv);
            assert_eq!(
                o.status.code(),
                Some(0),
                "example `wirehunt {e}`: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// A directory's notes beside its captures are left out, and ingest says which (not silently): the
/// dataset holds the capture only.
#[test]
fn files_in_a_directory_that_are_not_captures_are_named_when_left_out() {
    let dir = tmp("notcaptures");
    let input = dir.join("sensor");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::copy(demo_capture(), input.join("a.pcap.gz")).unwrap();
    std::fs::write(input.join("NOTES.txt"), "collected by the night shift\n").unwrap();
    std::fs::write(input.join("hashes.tsv"), "a.pcap.gz\tabc\n").unwrap();
    let ds = dir.join("ds");
    let o = run(&[
        "ingest",
        input.to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
    ]);
    let (_, err) = s(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("left out 2 file(s)")
            && err.contains("NOTES.txt")
            && err.contains("hashes.tsv"),
        "{err}"
    );
    let m = std::fs::read_to_string(ds.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&m).unwrap();
    let inputs = m["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 1, "{m}");
    assert!(inputs[0]["path"].as_str().unwrap().ends_with("a.pcap.gz"));
    // -q: nothing said
    let o = run(&[
        "-q",
        "ingest",
        "--force",
        input.to_str().unwrap(),
        "-d",
        ds.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// One meaning per flag: `-d` is a dataset directory and `-o` a result file in every command;
/// `ingest -o DIR`, the old spelling, is still read and says so; both at once, or neither, is usage.
#[test]
fn ingest_takes_its_dataset_as_d_and_still_reads_the_old_o() {
    let dir = tmp("ingest_d");
    let cap = demo_capture();
    let cap = cap.to_str().unwrap();
    let d = dir.join("ds");
    let d = d.to_str().unwrap();
    let o = run(&["ingest", cap, "-d", d]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("-o DIR"));
    assert!(Path::new(d).join("manifest.json").is_file());
    let o = run(&["ingest", cap, "-o", d, "--force"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ingest -o DIR is read as -d/--dataset DIR"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        run(&["ingest", cap, "-o", d, "-d", d]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["ingest", cap]).status.code(), Some(2));
}

/// A dataset written before a table existed (an older wirehunt: here the `ftp` and `smtp`
/// directories removed, as schema version 5 wrote no such tables) or before a column existed (here
/// `files.text_address` and `text_encoding`, new in schema version 7, and `conn.orig_profile` and
/// `resp_profile`, new in 8, stripped from the part files) still answers every
/// detector and query: the missing tables read as empty, the missing column as null, and stderr says
/// which tables are missing and how to fill them.
#[test]
fn a_dataset_from_an_older_wirehunt_reads_its_missing_tables_as_empty() {
    let dir = tmp("old_dataset");
    let d = dir.join("ds");
    let d = d.to_str().unwrap();
    run_ok(&["-q", "ingest", demo_capture().to_str().unwrap(), "-d", d]);
    let before = run_ok(&[
        "-q",
        "detect",
        d,
        "--format",
        "jsonl",
        "--min-severity",
        "low",
    ])
    .stdout;
    for t in ["ftp", "smtp"] {
        std::fs::remove_dir_all(Path::new(d).join(t)).unwrap();
    }
    // rewrite a table's part files without the given columns, as an older wirehunt wrote them
    let strip = |table: &str, cols: &[&str]| {
        let mut stripped = 0;
        for e in std::fs::read_dir(Path::new(d).join(table)).unwrap() {
            let p = e.unwrap().path();
            let rb = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                std::fs::File::open(&p).unwrap(),
            )
            .unwrap();
            let schema = rb.schema().clone();
            let r = rb.build().unwrap();
            let keep: Vec<usize> = (0..schema.fields().len())
                .filter(|&i| !cols.contains(&schema.field(i).name().as_str()))
                .collect();
            assert_eq!(
                keep.len() + cols.len(),
                schema.fields().len(),
                "{p:?} has the new columns"
            );
            let batches: Vec<_> = r.map(|b| b.unwrap().project(&keep).unwrap()).collect();
            let mut w = parquet::arrow::ArrowWriter::try_new(
                std::fs::File::create(&p).unwrap(),
                std::sync::Arc::new(schema.project(&keep).unwrap()),
                None,
            )
            .unwrap();
            for b in &batches {
                w.write(b).unwrap();
            }
            w.close().unwrap();
            stripped += 1;
        }
        assert!(stripped > 0, "the demo dataset has {table} part files");
    };
    strip("files", &["text_address", "text_encoding"]);
    strip("conn", &["orig_profile", "resp_profile"]);
    let o = run(&["detect", d, "--format", "jsonl", "--min-severity", "low"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // the same findings, less those the removed tables and columns fed: the demo's infostealer FTP
    // upload (ftp), its reverse shell's banner (conn.orig_profile: remote_control_in_clear, and
    // long_connection's strong evidence - without it the shell's session is held at medium)
    let without_ftp = |out: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| {
                !l.contains("\"detector\":\"ftp_smtp_exfil\"")
                    && !l.contains("\"detector\":\"remote_control_in_clear\"")
                    && !l.contains("\"detector\":\"long_connection\"")
            })
            .map(String::from)
            .collect()
    };
    let shell_session = |out: &[u8]| -> Vec<(String, bool)> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| l.contains("\"detector\":\"long_connection\"") && l.contains(":4444"))
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["severity"].as_str().unwrap_or("").to_string(),
                    v["summary"]
                        .as_str()
                        .unwrap_or("")
                        .contains("names the host in the clear"),
                )
            })
            .collect()
    };
    assert_eq!(
        shell_session(&before),
        vec![("critical".to_string(), true)],
        "the reverse shell's session, its banner in the clear"
    );
    assert_eq!(
        shell_session(&o.stdout),
        vec![("medium".to_string(), false)],
        "without conn.orig_profile the session has weak evidence only"
    );
    assert!(
        String::from_utf8_lossy(&before).contains("\"detector\":\"remote_control_in_clear\""),
        "the demo's reverse shell is found by its banner from the full dataset"
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("\"detector\":\"remote_control_in_clear\""),
        "no profile columns, no remote-control finding"
    );
    assert!(
        String::from_utf8_lossy(&before).contains("\"detector\":\"ftp_smtp_exfil\""),
        "the demo's FTP upload is found from the full dataset"
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("\"detector\":\"ftp_smtp_exfil\""),
        "no ftp table, no FTP finding"
    );
    assert_eq!(
        without_ftp(&o.stdout),
        without_ftp(&before),
        "the same findings"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("has no ftp, smtp table (written by an older wirehunt): read as empty"),
        "{err}"
    );
    let o = run_ok(&[
        "-q",
        "sql",
        d,
        "-c",
        "SELECT count(*) AS n FROM smtp",
        "--format",
        "csv",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "n\n0");
    // the stripped column reads as null in every row
    let o = run_ok(&[
        "-q",
        "sql",
        d,
        "-c",
        "SELECT (SELECT count(*) FROM files) > 0 AS rows, (SELECT count(text_address) + count(text_encoding) FROM files) + (SELECT count(orig_profile) + count(resp_profile) FROM conn) AS new_values",
        "--format",
        "csv",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "rows,new_values\ntrue,0"
    );
}

/// A damaged data page (bit rot, a bad copy) passes the footer checks made when a dataset is opened
/// and fails only when read, as `snappy: corrupt input`, which names no file: detect and sql then
/// read the dataset through and name the damaged file, exit 65.
#[test]
fn a_damaged_page_is_named_by_detect_and_sql() {
    let ds = tmp("damaged").join("ds");
    copy_tree(&demo_dataset(), &ds);
    let mut parts: Vec<_> = std::fs::read_dir(ds.join("conn"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    parts.sort();
    let part = &parts[0];
    let mut b = std::fs::read(part).unwrap();
    let mid = b.len() / 2;
    b[mid..mid + 200].fill(0);
    std::fs::write(part, b).unwrap();
    let name = part.file_name().unwrap().to_string_lossy().into_owned();
    let d = ds.to_str().unwrap();
    let o = run(&["-q", "detect", d]);
    let (_, err) = s(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(err.contains("the dataset is damaged: "), "{err}");
    assert!(err.contains(&format!("conn/{name}")), "{err}");
    let o = run(&["sql", d, "-c", "SELECT * FROM conn", "--format", "csv"]);
    let (_, err) = s(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains(&format!("the dataset is damaged: {d}/conn/{name}")),
        "{err}"
    );
    // extract --finding runs the detectors to number the findings: it names the file too, and
    // writes nothing
    let out = ds.with_extension("pcap");
    let o = run(&["extract", d, "--finding", "1", "-o", out.to_str().unwrap()]);
    let (_, err) = s(&o);
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(err.contains("wirehunt: detector error: "), "{err}");
    assert!(err.contains(&format!("conn/{name}")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists());
}
