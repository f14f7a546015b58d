//! Ingest on captures written by the tests: every link type, pcapng with several interfaces and
//! resolutions, fragments, a truncated file, each conn_state, accounting and determinism.
use crate::common::*;

fn udp_eth(payload_ip: &[u8]) -> Vec<u8> {
    let mut e = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    e.extend_from_slice(payload_ip);
    e
}

#[test]
fn every_link_type_decodes_to_the_same_flow() {
    let ip = ip_udp(A, 5555, B, 9999, b"hello");
    let ip6 = ip6_udp(5555, 9999, b"hello");
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&ip);
    let mut lo = 2u32.to_be_bytes().to_vec();
    lo.extend_from_slice(&ip);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    let mut vlan = vec![
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xa8, 0, 100, 0x81, 0x00, 0, 200, 0x08, 0x00,
    ];
    vlan.extend_from_slice(&ip);
    let mut pppoe = vec![
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0x64, 0x11, 0, 0, 1,
    ];
    pppoe.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
    pppoe.extend_from_slice(&[0, 0x21]);
    pppoe.extend_from_slice(&ip);
    let cases: Vec<(&str, u32, Vec<u8>)> = vec![
        ("ether", 1, udp_eth(&ip)),
        ("raw101", 101, ip.clone()),
        ("ipv4_228", 228, ip.clone()),
        ("ipv6_229", 229, ip6.clone()),
        ("null", 0, null),
        ("loop", 108, lo),
        ("sll", 113, sll),
        ("sll2", 276, sll2),
        ("vlan_qinq", 1, vlan),
        ("pppoe", 1, pppoe),
    ];
    for (name, lt, frame) in cases {
        let (ds, rep) = ingest_bytes(
            name,
            &[(
                "f.pcap",
                pcap(lt, &[(1_000_000, frame.clone()), (1_100_000, frame)]),
            )],
        );
        let i = &rep.manifest.inputs[0];
        assert_eq!(
            (i.packets_read, i.packets_decoded),
            (2, 2),
            "{name}: {:?}",
            i.packets_skipped
        );
        assert_eq!(i.linktypes, vec![lt], "{name}");
        let r = rows(
            &ds,
            "conn",
            &["proto", "orig_p", "resp_p", "orig_pkts", "orig_bytes"],
        );
        assert_eq!(r, vec![vec!["udp", "5555", "9999", "2", "10"]], "{name}");
        if name == "vlan_qinq" {
            assert_eq!(column(&ds, "conn", "vlan"), vec!["100"]);
        }
    }
}

#[test]
fn unknown_link_type_is_a_named_skip_with_a_weird_row() {
    let (ds, rep) = ingest_bytes(
        "unknown_lt",
        &[("f.pcap", pcap(147, &[(1, vec![1, 2, 3]), (2, vec![4])]))],
    );
    let i = &rep.manifest.inputs[0];
    assert_eq!(i.packets_read, 2);
    assert_eq!(i.packets_decoded, 0);
    assert_eq!(i.packets_skipped.get("unknown_linktype_147"), Some(&2));
    assert!(
        column(&ds, "weird", "name")
            .iter()
            .all(|n| n == "unknown_linktype")
    );
}

#[test]
fn pcapng_with_two_interfaces_and_resolutions() {
    let eth = udp_eth(&ip_udp(A, 1000, B, 2000, b"x"));
    let raw = ip_udp(A, 1001, B, 2001, b"y");
    // interface 0: ethernet, microseconds; interface 1: raw IP, nanoseconds
    let f = pcapng(
        &[(1, 6), (101, 9)],
        &[
            (0, 1_600_000_000_000_000, eth),
            (1, 1_600_000_000_500_000_000, raw),
        ],
    );
    let (ds, rep) = ingest_bytes("pcapng2if", &[("f.pcapng", f)]);
    let i = &rep.manifest.inputs[0];
    assert_eq!(i.format, "pcapng");
    assert_eq!(i.linktypes, vec![1, 101]);
    assert_eq!(i.packets_decoded, 2);
    assert_eq!(i.first_ts.as_deref(), Some("2020-09-13T12:26:40.000000Z"));
    assert_eq!(i.last_ts.as_deref(), Some("2020-09-13T12:26:40.500000Z"));
    // (two flows: maybe two flow workers' part files, so in no particular order)
    let mut ports = column(&ds, "conn", "orig_p");
    ports.sort();
    assert_eq!(ports, vec!["1000", "1001"]);
}

#[test]
fn ipv4_fragments_reassemble_into_one_datagram() {
    let payload = vec![7u8; 100];
    let whole = ip_udp(A, 4000, B, 53, &payload);
    // split the IP payload (UDP header + data, 108 bytes) at 56
    let body = &whole[20..];
    let frag = |off: usize, more: bool, part: &[u8]| -> Vec<u8> {
        let mut h = whole[..20].to_vec();
        let total = (20 + part.len()) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&fo.to_be_bytes());
        h[10] = 0;
        h[11] = 0;
        let mut v = h;
        v.extend_from_slice(part);
        v
    };
    let f1 = frag(0, true, &body[..56]);
    let f2 = frag(56, false, &body[56..]);
    let (ds, rep) = ingest_bytes("frags", &[("f.pcap", pcap(101, &[(1, f2), (2, f1)]))]);
    let i = &rep.manifest.inputs[0];
    assert_eq!((i.packets_read, i.packets_decoded, i.fragments), (2, 2, 1));
    assert_eq!(
        rows(&ds, "conn", &["proto", "orig_p", "resp_p", "orig_bytes"]),
        vec![vec!["udp", "4000", "53", "100"]]
    );
}

#[test]
fn truncated_file_keeps_packets_before_the_damage() {
    let frames: Vec<(i64, Vec<u8>)> = (0..5)
        .map(|k| {
            (
                k * 1000,
                udp_eth(&ip_udp(A, 7000 + k as u16, B, 80, b"abcdef")),
            )
        })
        .collect();
    let mut f = pcap(1, &frames);
    f.truncate(f.len() - 10);
    let (ds, rep) = ingest_bytes(
        "trunc",
        &[("t.pcap", f), ("ok.pcap", pcap(1, &frames[..1]))],
    );
    let t = &rep.manifest.inputs[0];
    assert_eq!(t.packets_read, 4);
    assert_eq!(t.end, "file_truncated");
    assert!(t.error.as_deref().unwrap_or("").contains("after frame 4"));
    assert_eq!(rep.manifest.inputs[1].end, "complete");
    assert!(column(&ds, "weird", "name").contains(&"file_truncated".to_string()));
    assert_eq!(rep.failed, 0);
    assert_eq!(rep.damaged, 1);
}

/// Build one TCP conversation from (from_orig, flags, payload) steps.
fn convo(port: u16, steps: &[(bool, u8, &[u8])]) -> Vec<(i64, Vec<u8>)> {
    let (mut cs, mut ss) = (1000u32, 5000u32);
    let mut out = Vec::new();
    for (k, (orig, flags, p)) in steps.iter().enumerate() {
        let ts = 1_000_000 + k as i64 * 10_000;
        let f = if *orig {
            tcp(A, port, B, 80, cs, ss, *flags, p)
        } else {
            tcp(B, 80, A, port, ss, cs, *flags, p)
        };
        let adv = p.len() as u32 + if flags & (SYN | FIN) != 0 { 1 } else { 0 };
        if *orig {
            cs = cs.wrapping_add(adv)
        } else {
            ss = ss.wrapping_add(adv)
        }
        out.push((ts, f));
    }
    out
}

#[test]
fn every_conn_state() {
    /// (from the originator, TCP flags, payload)
    type Seg = (bool, u8, &'static [u8]);
    let hs: [Seg; 3] = [(true, SYN, b""), (false, SYN | ACK, b""), (true, ACK, b"")];
    let cases: Vec<(&str, Vec<Seg>)> = vec![
        ("S0", vec![(true, SYN, b"")]),
        ("REJ", vec![(true, SYN, b""), (false, RST | ACK, b"")]),
        ("S1", hs.to_vec()),
        (
            "SF",
            [
                &hs[..],
                &[
                    (true, ACK | PSH, b"hi"),
                    (true, FIN | ACK, b""),
                    (false, FIN | ACK, b""),
                    (true, ACK, b""),
                ],
            ]
            .concat(),
        ),
        ("S2", [&hs[..], &[(true, FIN | ACK, b"")]].concat()),
        ("S3", [&hs[..], &[(false, FIN | ACK, b"")]].concat()),
        ("RSTO", [&hs[..], &[(true, RST | ACK, b"")]].concat()),
        ("RSTR", [&hs[..], &[(false, RST | ACK, b"")]].concat()),
        ("RSTOS0", vec![(true, SYN, b""), (true, RST, b"")]),
        ("RSTRH", vec![(false, SYN | ACK, b""), (false, RST, b"")]),
        ("SH", vec![(true, SYN, b""), (true, FIN, b"")]),
        (
            "SHR",
            vec![(false, SYN | ACK, b""), (false, FIN | ACK, b"")],
        ),
        ("OTH", vec![(true, ACK, b"data"), (false, ACK, b"")]),
    ];
    let mut frames = Vec::new();
    let mut expected = Vec::new();
    for (k, (state, steps)) in cases.iter().enumerate() {
        let port = 40000 + k as u16;
        for (ts, f) in convo(port, steps) {
            frames.push((ts + k as i64 * 1_000_000, f));
        }
        expected.push((port.to_string(), state.to_string()));
    }
    let (ds, _) = ingest_bytes("states", &[("s.pcap", pcap(1, &frames))]);
    let mut got: Vec<(String, String)> = rows(&ds, "conn", &["orig_p", "conn_state", "resp_p"])
        .into_iter()
        .map(|r| {
            if r[2] == "80" {
                (r[0].clone(), r[1].clone())
            } else {
                (r[2].clone(), r[1].clone())
            }
        })
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // the SF connection's history and bytes, as Zeek writes them
    let sf = rows(
        &ds,
        "conn",
        &["orig_p", "history", "orig_bytes", "resp_bytes"],
    )
    .into_iter()
    .find(|r| r[0] == "40003")
    .unwrap();
    // Zeek's "a" is a pure ACK: the responder only sent SYN-ACK and FIN-ACK
    assert_eq!(sf[1..], ["ShADFf".to_string(), "2".into(), "0".into()]);
}

#[test]
fn accounting_and_determinism_on_the_demo_capture() {
    let p = demo_capture();
    let run = |name: &str| {
        let out = tmp(name).join("ds");
        let rep = ingest_into(&p, &out);
        (out, rep)
    };
    let (a, ra) = run("det_a");
    let (b, _) = run("det_b");
    let i = &ra.manifest.inputs[0];
    let skipped: u64 = i.packets_skipped.values().sum();
    assert_eq!(i.packets_read, i.packets_decoded + skipped);
    assert_eq!(i.compression.as_deref(), Some("gzip"));
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.with_file_name("scenario.truth.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(i.packets_read, truth["packets"].as_u64().unwrap());
    assert_eq!(column(&a, "conn", "uid"), column(&b, "conn", "uid"));
    assert_eq!(column(&a, "dns", "query"), column(&b, "dns", "query"));
    // rows are sorted by ts within every row group (one per part file at this size; one part
    // per flow worker)
    for t in ["conn", "dns", "http", "tls"] {
        for part in std::fs::read_dir(a.join(t)).unwrap() {
            let file = std::fs::File::open(part.unwrap().path()).unwrap();
            let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap();
            for b in r {
                let b = b.unwrap();
                let ts = b.column_by_name("ts").unwrap();
                let ts: Vec<String> = (0..ts.len())
                    .map(|i| wirehunt_store::report::cell(ts, i))
                    .collect();
                assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{t} not sorted");
            }
        }
    }
    // every dns/http/tls uid joins a conn row
    let uids: std::collections::HashSet<String> = column(&a, "conn", "uid").into_iter().collect();
    for t in ["dns", "http", "tls"] {
        assert!(
            column(&a, t, "uid").iter().all(|u| uids.contains(u)),
            "{t} uid without conn"
        );
    }
}

#[test]
fn flow_cap_evicts_and_counts() {
    let frames: Vec<(i64, Vec<u8>)> = (0..50u16)
        .map(|k| (k as i64 * 1000, udp_eth(&ip_udp(A, 10000 + k, B, 9, b"z"))))
        .collect();
    let dir = tmp("cap");
    let p = dir.join("c.pcap");
    std::fs::write(&p, pcap(1, &frames)).unwrap();
    let opts = wirehunt_store::ingest::IngestOptions {
        flow: wirehunt_wire::flow::FlowConfig {
            max_flows: 10,
            ..Default::default()
        },
        // one flow table: the cap is split between shards otherwise
        threads: 1,
        ..Default::default()
    };
    let rep = wirehunt_store::ingest::ingest(
        &[p.to_string_lossy().into_owned()],
        &dir.join("ds"),
        &opts,
        |_, _| {},
    )
    .unwrap();
    assert_eq!(rep.manifest.flow_stats.evicted, 40);
    assert_eq!(rep.manifest.flow_stats.max_concurrent, 10);
    assert_eq!(
        column(&dir.join("ds"), "conn", "end_reason")
            .iter()
            .filter(|r| *r == "evicted")
            .count(),
        40
    );
}

/// Bounded memory on a capture of several hundred MB: the flow table never exceeds its cap, the
/// out-of-order buffers stay under theirs, and evictions are counted rather than memory grown.
/// (Not timed; the speed is measured by benches/.)
#[test]
fn several_hundred_mb_capture_stays_under_the_caps() {
    let dir = tmp("big");
    let pcap = dir.join("big.pcap");
    let cfg = wirehunt_sim::SimConfig {
        seed: 9,
        hours: 0.5,
        hosts: 30,
        attacks: wirehunt_sim::parse_attacks("all").unwrap(),
        size: Some(300_000_000),
        background_scale: 1.0,
        compressible: false,
    };
    let truth = wirehunt_sim::simulate_to_file(&cfg, &pcap).unwrap();
    assert!(truth.bytes >= 300_000_000);
    let flow = wirehunt_wire::flow::FlowConfig {
        max_flows: 2_000,
        max_total_buffer: 4 << 20,
        max_stream_buffer: 256 << 10,
        ..Default::default()
    };
    let opts = wirehunt_store::ingest::IngestOptions {
        flow,
        ..Default::default()
    };
    let rep = wirehunt_store::ingest::ingest(
        &[pcap.to_string_lossy().into_owned()],
        &dir.join("ds"),
        &opts,
        |_, _| {},
    )
    .unwrap();
    let fs = &rep.manifest.flow_stats;
    assert!(fs.max_concurrent <= 2_000, "{fs:?}");
    assert!(fs.max_buffered_bytes <= (4 << 20) + 64 * 1024, "{fs:?}");
    assert!(
        fs.flows > fs.max_concurrent,
        "the capture has more flows than the cap: {fs:?}"
    );
    assert_eq!(rep.manifest.inputs[0].packets_read, truth.packets);
    // peak memory of this whole test process stays far from the capture size
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let hwm_kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        eprintln!(
            "peak RSS of the test process: {} MiB for a {} MB capture",
            hwm_kb / 1024,
            truth.bytes / 1_000_000
        );
    }
    let _ = std::fs::remove_file(&pcap);
}

/// Several captures in one dataset: every protocol row names the capture its connection started in
/// (the conn row's source), even when it is written while a later file is read (connections still
/// open at the end of a file are finished at the end of the input).
#[test]
fn protocol_rows_name_their_connections_capture() {
    let Some(c) = corpus_or_skip() else { return };
    let files = [
        "beacon/emotet_ndpi.pcap",
        "beacon/merlin_c2_http3_quic.pcapng",
        "http/bro_org_browsing.pcap",
    ];
    let dir = tmp("multi-source");
    let inputs: Vec<String> = files
        .iter()
        .map(|f| c.join(f).to_string_lossy().into_owned())
        .collect();
    wirehunt_store::ingest::ingest(&inputs, &dir.join("ds"), &Default::default(), |_, _| {})
        .unwrap();
    let conn: std::collections::HashMap<String, String> =
        rows(&dir.join("ds"), "conn", &["uid", "source"])
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
    let mut checked = 0;
    for table in ["dns", "http", "tls", "files"] {
        for r in rows(&dir.join("ds"), table, &["uid", "source"]) {
            assert_eq!(conn.get(&r[0]), Some(&r[1]), "{table} row of {}", r[0]);
            checked += 1;
        }
    }
    // emotet's downloads are written while merlin is read: they were the rows that went wrong
    let emotet_files = rows(&dir.join("ds"), "files", &["source"])
        .into_iter()
        .filter(|r| r[0].ends_with("emotet_ndpi.pcap"))
        .count();
    assert!(
        checked > 50 && emotet_files >= 2,
        "{checked} rows, {emotet_files} emotet files"
    );
}

/// Every row of a table, every column (as arrow displays it), sorted: a dataset's content whatever
/// its part files and row order.
fn sorted_rows(ds: &std::path::Path, table: &str) -> Vec<String> {
    let mut v = Vec::new();
    for b in read_table(ds, table) {
        for i in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| wirehunt_store::report::cell(c, i))
                .collect();
            v.push(cells.join("\t"));
        }
    }
    v.sort();
    v
}

/// The same rows in every table, and the same accounting per input.
pub fn assert_same_dataset(a: &std::path::Path, b: &std::path::Path) {
    for (t, _) in wirehunt_store::table::all_schemas() {
        let (x, y) = (sorted_rows(a, t), sorted_rows(b, t));
        assert_eq!(x.len(), y.len(), "{t}: row counts differ");
        if let Some((r, s)) = x.iter().zip(&y).find(|(r, s)| r != s) {
            panic!("{t}: first difference\n{r}\n{s}");
        }
    }
    let (ma, mb) = (
        wirehunt_store::table::manifest::Manifest::load(a).unwrap(),
        wirehunt_store::table::manifest::Manifest::load(b).unwrap(),
    );
    assert_eq!(ma.tables, mb.tables);
    assert_eq!(ma.flow_stats.flows, mb.flow_stats.flows);
    assert_eq!(ma.flow_stats.expired, mb.flow_stats.expired);
    for (i, j) in ma.inputs.iter().zip(&mb.inputs) {
        assert_eq!(
            (
                &i.path,
                i.packets_read,
                i.packets_decoded,
                &i.packets_skipped,
                &i.weird,
                &i.end
            ),
            (
                &j.path,
                j.packets_read,
                j.packets_decoded,
                &j.packets_skipped,
                &j.weird,
                &j.end
            )
        );
    }
}

/// `--threads N`: flows sharded over N workers give the same rows as one thread: the same uids,
/// the same end reasons (a flow times out where one thread would time it out, though the packets
/// that moved the clock went to another worker), and the same weird rows when a name is over its
/// per-file cap and its events are raised in every worker (a sequence-jump flood: one event per
/// connection, raised when the connection ends).
#[test]
fn sharded_ingest_gives_the_same_tables_as_one_thread() {
    let dir = tmp("shards");
    let scenario = dir.join("s.pcap");
    let flood = dir.join("jump.pcap");
    let s = scenario.to_string_lossy().into_owned();
    let f = flood.to_string_lossy().into_owned();
    run_ok(&[
        "-q", "simulate", "--seed", "5", "--hours", "2", "--hosts", "30", "-o", &s,
    ]);
    run_ok(&[
        "-q",
        "simulate",
        "--flood",
        "seqjump",
        "--packets",
        "300",
        "-o",
        &f,
    ]);
    // the flood's clock is from another time than the scenario's: its start ends every open flow
    let inputs = [s, f, demo_capture().to_string_lossy().into_owned()];
    let ingest = |threads: usize| {
        let out = dir.join(format!("t{threads}"));
        let opts = wirehunt_store::ingest::IngestOptions {
            threads,
            hashes: wirehunt_store::ingest::InputHashes::Skip,
            ..Default::default()
        };
        let rep = wirehunt_store::ingest::ingest(&inputs, &out, &opts, |_, _| {}).unwrap();
        (out, rep)
    };
    let (one, rep) = ingest(1);
    // (the flood's connections end when the next input starts: they count in that one)
    let jumps: u64 = rep
        .manifest
        .inputs
        .iter()
        .filter_map(|i| i.weird.get("tcp_seq_jump"))
        .sum();
    assert!(
        jumps > wirehunt_store::table::writer::WEIRD_ROWS_PER_NAME,
        "the flood raises more sequence-jump weirds than are kept: {jumps}"
    );
    assert!(
        rep.manifest.tables["conn"] > 1000,
        "{:?}",
        rep.manifest.tables
    );
    for threads in [2, 5] {
        let (many, _) = ingest(threads);
        // one part file per worker at this size
        let parts = std::fs::read_dir(many.join("conn")).unwrap().count();
        assert!(parts >= 2, "{threads} workers wrote {parts} conn parts");
        assert_same_dataset(&one, &many);
    }
}
