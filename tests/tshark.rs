//! Corpus comparisons with tshark (the reference peer). For every file in a folder the facts in
//! wirehunt's tables must equal tshark's, except files listed with a reason in
//! tests/data/tshark_differences.tsv. Skipped (with a message) where tshark is not installed.
use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn differences() -> BTreeMap<(String, String), String> {
    let t = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tshark_differences.tsv"),
    )
    .unwrap();
    t.lines()
        .skip(1)
        .filter_map(|l| {
            let p: Vec<&str> = l.split('\t').collect();
            (p.len() == 3).then(|| ((p[0].to_string(), p[1].to_string()), p[2].to_string()))
        })
        .collect()
}

fn tshark_fields(file: &Path, filter: &str, fields: &[&str], extra: &[&str]) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-r")
        .arg(file)
        .args(extra)
        .args(["-Y", filter, "-T", "fields", "-E", "occurrence=f"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let o = c.output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

fn files(dir: &str) -> Vec<(String, std::path::PathBuf)> {
    let Some(c) = corpus_or_skip() else {
        return Vec::new();
    };
    let mut v: Vec<_> = std::fs::read_dir(c.join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                p,
            )
        })
        .collect();
    v.sort();
    v
}

fn ingest_one(name: &str, path: &Path) -> std::path::PathBuf {
    let out = tmp(&format!("ts-{}", name.replace('/', "_"))).join("ds");
    ingest_into(path, &out);
    out
}

/// Check per file; returns the files that differed but are listed.
fn compare<T: Ord + std::fmt::Debug>(
    table: &str,
    dirs: &[&str],
    mut f: impl FnMut(&str, &Path) -> (BTreeSet<T>, BTreeSet<T>),
) {
    if !tshark() {
        return;
    }
    let diff = differences();
    let mut failures = Vec::new();
    let mut checked = 0;
    for d in dirs {
        for (name, path) in files(d) {
            let (ours, theirs) = f(&name, &path);
            checked += 1;
            if ours != theirs && !diff.contains_key(&(name.clone(), table.to_string())) {
                let a: Vec<_> = ours.difference(&theirs).take(3).collect();
                let b: Vec<_> = theirs.difference(&ours).take(3).collect();
                failures.push(format!("{name}: only wirehunt {a:?}; only tshark {b:?}"));
            }
        }
    }
    assert!(checked > 0 || corpus().is_none());
    assert!(
        failures.is_empty(),
        "{table} differs from tshark (fix, or explain in tests/data/tshark_differences.tsv):\n{}",
        failures.join("\n")
    );
}

/// Names compared modulo the rendering of bytes outside ASCII: wirehunt keeps them as \DDD escapes,
/// tshark shows U+FFFD; both become one '?' per run. Names over 255 characters are "<Name too long>"
/// in tshark (wirehunt keeps them whole and writes a dns_name_too_long weird).
fn norm_name(s: &str, ours: bool) -> String {
    let mut bytes = Vec::new();
    if ours {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                bytes.push(
                    std::str::from_utf8(&b[i + 1..i + 4])
                        .unwrap()
                        .parse::<u16>()
                        .unwrap() as u8,
                );
                i += 4;
            } else if b[i] == b'\\' && i + 1 < b.len() {
                bytes.push(b[i + 1]);
                i += 2;
            } else {
                bytes.push(b[i]);
                i += 1;
            }
        }
        if bytes.len() > 255 {
            return "<Name too long>".into();
        }
    } else {
        if s == "<Root>" {
            return String::new();
        }
        bytes = s.as_bytes().to_vec();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut out = String::new();
    let mut in_run = false;
    for c in text.chars() {
        if c.is_ascii() && c != '\u{fffd}' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('?');
            in_run = true;
        }
    }
    out
}

#[test]
fn dns_names_types_and_rcodes_match_tshark() {
    compare("dns", &["dns", "dns_tunnel"], |name, path| {
        let ds = ingest_one(name, path);
        let mut ours = BTreeSet::new();
        for r in rows(
            &ds,
            "dns",
            &[
                "query",
                "qtype",
                "rcode",
                "has_response",
                "damage",
                "has_query",
            ],
        ) {
            if r[0].is_empty() && r[4].is_empty() && r[5] == "false" {
                continue;
            }
            if !r[4].is_empty() {
                continue; // malformed messages: tshark flags them too (excluded from its side below)
            }
            let n = norm_name(&r[0], true);
            ours.insert((n.clone(), r[1].clone(), String::from("q")));
            if r[3] == "true" {
                ours.insert((n, r[1].clone(), r[2].clone()));
            }
        }
        let mut theirs = BTreeSet::new();
        for f in tshark_fields(
            path,
            "(dns || mdns || llmnr) && !_ws.malformed",
            &[
                "dns.qry.name",
                "dns.qry.type",
                "dns.flags.rcode",
                "dns.flags.response",
            ],
            &[],
        ) {
            if f.len() < 4 || f[1].is_empty() {
                continue;
            }
            let n = norm_name(&f[0], false);
            theirs.insert((n.clone(), f[1].clone(), String::from("q")));
            if f[3] == "1" || f[3] == "True" {
                theirs.insert((n, f[1].clone(), f[2].clone()));
            }
        }
        // drop tshark entries of messages wirehunt marked as damaged (tshark flags most as malformed too)
        let damaged: BTreeSet<(String, String)> = rows(&ds, "dns", &["query", "qtype", "damage"])
            .into_iter()
            .filter(|r| !r[2].is_empty())
            .map(|r| (norm_name(&r[0], true), r[1].clone()))
            .collect();
        theirs.retain(|(n, t, _)| !damaged.contains(&(n.clone(), t.clone())));
        (ours, theirs)
    });
}

#[test]
fn http_requests_match_tshark() {
    compare("http", &["http", "http_exfil"], |name, path| {
        let ds = ingest_one(name, path);
        // multiset as (method, host, uri, occurrence number)
        let mut count: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for r in rows(&ds, "http", &["method", "host", "uri"]) {
            if r[0].is_empty() {
                continue;
            }
            *count
                .entry((r[0].clone(), r[1].clone(), r[2].clone()))
                .or_insert(0) += 1;
        }
        let ours: BTreeSet<_> = count
            .into_iter()
            .flat_map(|(k, n)| (0..n).map(move |i| (k.clone(), i)))
            .collect();
        let mut count: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for f in tshark_fields(
            path,
            "http.request",
            &["http.request.method", "http.host", "http.request.uri"],
            &[],
        ) {
            if f.len() < 3 {
                continue;
            }
            *count
                .entry((f[0].clone(), f[1].clone(), f[2].clone()))
                .or_insert(0) += 1;
        }
        let theirs: BTreeSet<_> = count
            .into_iter()
            .flat_map(|(k, n)| (0..n).map(move |i| (k.clone(), i)))
            .collect();
        (ours, theirs)
    });
}

#[test]
fn post_body_sizes_match_tshark_content_length() {
    if !tshark() {
        return;
    }
    let mut checked = 0;
    let diff = differences();
    for (name, path) in files("http_exfil") {
        if diff.contains_key(&(name.clone(), "http".to_string())) {
            continue;
        }
        let ds = ingest_one(&name, &path);
        let r = rows(
            &ds,
            "http",
            &["method", "request_body_len", "partial", "chunked_request"],
        );
        let posts = |x: &Vec<String>| x[0] == "POST" || x[0] == "PUT";
        let ours: BTreeSet<(String, String)> = r
            .iter()
            .filter(|x| posts(x) && x[2] == "false" && x[3] == "false")
            .map(|x| (x[0].clone(), x[1].clone()))
            .collect();
        let any_partial = r.iter().any(|x| posts(x) && x[2] == "true");
        let theirs: BTreeSet<(String, String)> = tshark_fields(
            &path,
            "http.request.method == \"POST\" || http.request.method == \"PUT\"",
            &["http.request.method", "http.content_length"],
            &[],
        )
        .into_iter()
        .filter(|f| f.len() == 2 && !f[1].is_empty())
        .map(|f| (f[0].clone(), f[1].clone()))
        .collect();
        for o in &ours {
            assert!(
                theirs.contains(o),
                "{name}: wirehunt body {o:?} not among tshark's {theirs:?}"
            );
            checked += 1;
        }
        if !any_partial {
            assert!(
                theirs.is_subset(&ours),
                "{name}: tshark {theirs:?} vs wirehunt {ours:?}"
            );
        }
    }
    assert!(checked > 0 || corpus().is_none());
}

#[test]
fn tls_server_names_ja3_and_ja3s_match_tshark() {
    let extra_files = [
        "beacon/tls_c2_297_conns_2.2s_slips.pcap",
        "linktypes/raw_ip_tls_alpn.pcap",
        "linktypes/sll2_openjdk_tls.pcap",
        // QUIC: the handshake decrypted from the Initial packets (one after a Retry)
        "beacon/merlin_c2_http3_quic.pcapng",
        "linktypes/ppp_quic_interop_retry.pcap",
    ];
    compare("tls", &["tls"], |name, path| {
        let ds = ingest_one(name, path);
        let mut ours = BTreeSet::new();
        for r in rows(&ds, "tls", &["server_name", "ja3", "ja3s"]) {
            if !r[1].is_empty() {
                ours.insert(("ch".to_string(), r[0].clone(), r[1].clone()));
            }
            if !r[2].is_empty() {
                ours.insert(("sh".to_string(), String::new(), r[2].clone()));
            }
        }
        let mut theirs = BTreeSet::new();
        for f in tshark_fields(
            path,
            "tls.handshake.type == 1",
            &["tls.handshake.extensions_server_name", "tls.handshake.ja3"],
            &[],
        ) {
            if f.len() == 2 {
                theirs.insert(("ch".to_string(), f[0].clone(), f[1].clone()));
            }
        }
        for f in tshark_fields(
            path,
            "tls.handshake.type == 2",
            &["tls.handshake.ja3s"],
            &[],
        ) {
            if !f[0].is_empty() {
                theirs.insert(("sh".to_string(), String::new(), f[0].clone()));
            }
        }
        (ours, theirs)
    });
    // TLS captures elsewhere in the corpus
    if !tshark() {
        return;
    }
    if let Some(c) = corpus_or_skip() {
        for f in extra_files {
            let ds = ingest_one(f, &c.join(f));
            let ours: BTreeSet<(String, String)> = rows(&ds, "tls", &["server_name", "ja3"])
                .into_iter()
                .filter(|r| !r[1].is_empty())
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect();
            let theirs: BTreeSet<(String, String)> = tshark_fields(
                &c.join(f),
                "tls.handshake.type == 1",
                &["tls.handshake.extensions_server_name", "tls.handshake.ja3"],
                &[],
            )
            .into_iter()
            .map(|v| (v[0].clone(), v[1].clone()))
            .collect();
            assert_eq!(ours, theirs, "{f}");
        }
    }
}

/// A multiset as a set: each value with its occurrence number.
fn counted(items: impl IntoIterator<Item = String>) -> BTreeSet<(String, usize)> {
    let mut n: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for i in items {
        let k = n.entry(i.clone()).or_insert(0);
        out.insert((i, *k));
        *k += 1;
    }
    out
}

/// Every FTP command (verb and argument; a password only as `PASS`) and every data channel port,
/// against tshark's ftp dissector, over every file of the folders holding FTP and SMTP captures
/// (files with neither must have none in both tools).
#[test]
fn ftp_commands_and_data_channels_match_tshark() {
    compare(
        "ftp",
        &["http_exfil", "linktypes", "tls", "beacon"],
        |name, path| {
            let ds = ingest_one(name, path);
            let mut ours = Vec::new();
            for r in rows(&ds, "ftp", &["command", "arg", "data_p"]) {
                let arg = if r[0] == "PASS" {
                    String::new()
                } else {
                    r[1].clone()
                };
                ours.push(format!("{} {arg}", r[0]));
                if !r[2].is_empty() {
                    ours.push(format!("port {}", r[2]));
                }
            }
            let mut theirs = Vec::new();
            for f in tshark_fields(
                path,
                "ftp.request.command",
                &["ftp.request.command", "ftp.request.arg"],
                &[],
            ) {
                let cmd = f[0].to_ascii_uppercase();
                let arg = if cmd == "PASS" {
                    String::new()
                } else {
                    f.get(1).cloned().unwrap_or_default()
                };
                theirs.push(format!("{cmd} {arg}"));
            }
            for f in tshark_fields(
                path,
                "ftp.passive.port || ftp.active.port || ftp.eprt.port || ftp.epsv.port",
                &[
                    "ftp.passive.port",
                    "ftp.active.port",
                    "ftp.eprt.port",
                    "ftp.epsv.port",
                ],
                &[],
            ) {
                if let Some(p) = f.iter().find(|x| !x.is_empty()) {
                    theirs.push(format!("port {p}"));
                }
            }
            (counted(ours), counted(theirs))
        },
    );
}

/// SMTP envelopes (HELO, MAIL FROM, RCPT TO), the AUTH user and the Subject header against tshark's
/// smtp and imf dissectors, over the same folders plus `malformed` (a fuzzed SMTP session).
#[test]
fn smtp_envelopes_auth_users_and_subjects_match_tshark() {
    compare(
        "smtp",
        &["http_exfil", "linktypes", "tls", "beacon", "malformed"],
        |name, path| {
            let ds = ingest_one(name, path);
            let mut ours = Vec::new();
            let mut sessions = BTreeSet::new();
            for r in rows(
                &ds,
                "smtp",
                &["uid", "helo", "mailfrom", "rcptto", "auth_user", "subject"],
            ) {
                if sessions.insert(r[0].clone()) {
                    ours.push(format!("helo {}", r[1]));
                    if !r[4].is_empty() {
                        ours.push(format!("user {}", r[4]));
                    }
                }
                if !r[2].is_empty() {
                    ours.push(format!("from {}", r[2]));
                }
                // list cells print as [a, b]
                for a in r[3]
                    .trim_matches(['[', ']'])
                    .split(", ")
                    .filter(|a| !a.is_empty())
                {
                    ours.push(format!("rcpt {a}"));
                }
                if !r[5].is_empty() {
                    ours.push(format!("subject {}", r[5]));
                }
            }
            let addr = |p: &str| {
                let p = p.split_once(':').map_or(p, |x| x.1).trim();
                match (p.find('<'), p.find('>')) {
                    (Some(a), Some(b)) if a < b => p[a + 1..b].to_string(),
                    _ => p.split(' ').next().unwrap_or_default().to_string(),
                }
            };
            let mut theirs = Vec::new();
            // pipelined commands share a frame: every occurrence, '|' between them
            let o = Command::new("tshark")
                .arg("-r")
                .arg(path)
                .args([
                    "-Y",
                    "smtp.req.command",
                    "-T",
                    "fields",
                    "-E",
                    "occurrence=a",
                    "-E",
                    "aggregator=|",
                ])
                .args(["-e", "smtp.req.command", "-e", "smtp.req.parameter"])
                .output()
                .unwrap();
            for l in String::from_utf8_lossy(&o.stdout).lines() {
                let (cmds, params) = l.split_once('\t').unwrap_or((l, ""));
                let params: Vec<&str> = params.split('|').collect();
                for (i, c) in cmds.split('|').enumerate() {
                    let param = params.get(i).copied().unwrap_or_default();
                    match c.to_ascii_uppercase().as_str() {
                        "EHLO" | "HELO" => theirs.push(format!("helo {param}")),
                        "MAIL" => theirs.push(format!("from {}", addr(param))),
                        "RCPT" => theirs.push(format!("rcpt {}", addr(param))),
                        _ => {}
                    }
                }
            }
            for f in tshark_fields(path, "smtp.auth.username", &["smtp.auth.username"], &[]) {
                // tshark shows AUTH LOGIN's user name as sent (base64); wirehunt stores it decoded
                use base64::Engine;
                let user = base64::engine::general_purpose::STANDARD
                    .decode(f[0].trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_else(|| f[0].clone());
                theirs.push(format!("user {user}"));
            }
            for f in tshark_fields(path, "imf.subject", &["imf.subject"], &[]) {
                theirs.push(format!("subject {}", f[0]));
            }
            (counted(ours), counted(theirs))
        },
    );
}

/// conn rows vs `tshark -z conv`: TCP counts are equal; UDP rows can exceed tshark's conversations
/// only because a 5-tuple idle for longer than the UDP timeout starts a new conn row (Zeek semantics)
/// while tshark counts each 5-tuple once - so distinct UDP 5-tuples must equal tshark's count exactly.
#[test]
fn conn_counts_match_tshark_conversations() {
    if !tshark() {
        return;
    }
    let Some(c) = corpus_or_skip() else { return };
    let files = [
        "http/bro_org_browsing.pcap",
        "http/espn_page_load.pcapng",
        "beacon/tls_c2_297_conns_2.2s_slips.pcap",
        "beacon/rat_infected_10s_port4433.pcapng",
        "dns/dns_mixed_malcolm_3MB.pcap",
        "large/cerber_ransomware_infection_6MB.pcap",
        "large/echo_flood_741_conns_82k_pkts.pcap",
        "beacon/iot_malware_telnet_scan_slips.pcap",
    ];
    for f in files {
        let path = c.join(f);
        let ds = ingest_one(f, &path);
        let conv = |p: &str| -> usize {
            let o = Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args(["-q", "-z", &format!("conv,{p}")])
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains("<->"))
                .count()
        };
        let r = rows(
            &ds,
            "conn",
            &["proto", "orig_h", "orig_p", "resp_h", "resp_p"],
        );
        let tcp = r.iter().filter(|x| x[0] == "tcp").count();
        assert_eq!(tcp, conv("tcp"), "{f}: tcp");
        let udp_rows = r.iter().filter(|x| x[0] == "udp").count();
        let udp_tuples: BTreeSet<(String, String)> = r
            .iter()
            .filter(|x| x[0] == "udp")
            .map(|x| {
                let (a, b) = (format!("{}:{}", x[1], x[2]), format!("{}:{}", x[3], x[4]));
                if a < b { (a, b) } else { (b, a) }
            })
            .collect();
        let t = conv("udp");
        assert_eq!(udp_tuples.len(), t, "{f}: distinct udp 5-tuples");
        assert!(udp_rows >= t, "{f}");
    }
}

/// The simulator's output dissects cleanly: DNS, HTTP and TLS are recognised, and tshark reports no
/// malformed packet, no bad checksum (with checksum validation on) and no TCP analysis problem.
#[test]
fn simulated_capture_dissects_cleanly_in_tshark() {
    if !tshark() {
        return;
    }
    let dir = tmp("sim-tshark");
    let p = dir.join("s.pcap");
    let cfg = wirehunt_sim::SimConfig {
        seed: 5,
        hours: 0.2,
        hosts: 6,
        attacks: wirehunt_sim::parse_attacks("all").unwrap(),
        size: None,
        background_scale: 0.3,
        compressible: false,
    };
    let truth = wirehunt_sim::simulate_to_file(&cfg, &p).unwrap();
    // a dropper that serves a PE as image/jpeg is malformed JPEG on purpose: tshark's image
    // dissector may fail on that one body and on nothing else
    let disguised: Vec<String> = truth
        .attacks
        .iter()
        .filter(|a| a.kind == "dropper_pe_as_image")
        .filter_map(|a| a.dst_ip.clone())
        .collect();
    let checks = [
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
    ];
    let count = |filter: &str| tshark_fields(&p, filter, &["frame.number"], &checks).len();
    let problems = "_ws.malformed || _ws.expert.severity >= warning";
    let mut clean = problems.to_string();
    for ip in &disguised {
        let on_purpose = format!("(ip.src == {ip} && http.content_type == \"image/jpeg\")");
        assert!(count(&format!("({problems}) && {on_purpose}")) <= 1);
        clean = format!("({clean}) && !{on_purpose}");
    }
    assert_eq!(count(&clean), 0, "expert warnings or malformed packets");
    assert_eq!(
        count("tcp.checksum.status == 0 || udp.checksum.status == 0 || ip.checksum.status == 0"),
        0,
        "bad checksums"
    );
    assert_eq!(
        count("tcp.analysis.flags && !tcp.analysis.window_update"),
        0,
        "TCP analysis problems"
    );
    assert!(count("dns.flags.response == 1") > 50);
    assert!(count("http.request") > 5);
    assert!(count("tls.handshake.type == 1") > 10);
    assert!(
        count("tls.handshake.type == 11") > 0,
        "TLS 1.2 certificates"
    );
    assert!(count("ipv6") > 0);
}

/// The `files` table against `tshark --export-objects http`: for every HTTP capture of the corpus,
/// the set of sha256 of wirehunt's complete bodies equals the set of sha256 of the files tshark
/// writes (both decode gzip/deflate and de-chunk), except files explained in
/// tests/data/tshark_differences.tsv. Also: the corpus exercises a gzip body, a chunked body and a
/// cut body, and extraction writes exactly the bytes the sha256 names.
#[test]
fn file_hashes_match_tshark_export_objects() {
    if !tshark() {
        return;
    }
    let sha_of_dir = |dir: &Path| -> BTreeSet<String> {
        use sha2::Digest;
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .filter(|b| !b.is_empty())
            .map(|b| format!("{:x}", sha2::Sha256::digest(&b)))
            .collect()
    };
    let (mut gzip, mut chunked, mut cut) = (0, 0, 0);
    compare("files", &["http", "http_exfil"], |name, path| {
        let base = tmp(&format!("fx-{}", name.replace('/', "_")));
        let ds = base.join("ds");
        let x = base.join("x");
        let o = run(&[
            "ingest",
            &path.to_string_lossy(),
            "-d",
            &ds.to_string_lossy(),
            "--extract-files",
            &x.to_string_lossy(),
            "-q",
        ]);
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r = rows(
            &ds,
            "files",
            &["sha256", "seen_bytes", "complete", "decoded", "extracted"],
        );
        let ours: BTreeSet<String> = r
            .iter()
            .filter(|x| x[2] == "true" && x[1] != "0")
            .map(|x| x[0].clone())
            .collect();
        // extraction: each complete body's file holds exactly the bytes its sha256 names
        for row in r.iter().filter(|x| x[2] == "true") {
            let f = x.join(&row[4]);
            assert!(row[4].ends_with(&row[0]), "{name}: {row:?}");
            use sha2::Digest;
            let got = format!("{:x}", sha2::Sha256::digest(std::fs::read(&f).unwrap()));
            assert_eq!(got, row[0], "{name}: {}", f.display());
        }
        gzip += r
            .iter()
            .filter(|x| x[3] == "true" && x[2] == "true")
            .count();
        cut += r.iter().filter(|x| x[2] == "false").count();
        chunked += rows(&ds, "http", &["chunked_response"])
            .iter()
            .filter(|x| x[0] == "true")
            .count();
        let obj = base.join("tshark");
        std::fs::create_dir_all(&obj).unwrap();
        // (tshark exits 2 on a capture cut short, after exporting what it read)
        let _ = Command::new("tshark")
            .arg("-r")
            .arg(path)
            .args(["-q", "--export-objects"])
            .arg(format!("http,{}", obj.display()))
            .output()
            .unwrap();
        (ours, sha_of_dir(&obj))
    });
    if corpus().is_some() {
        assert!(
            gzip > 0 && chunked > 0 && cut > 0,
            "gzip {gzip} chunked {chunked} cut {cut}"
        );
    }
}

/// `extract` writes exactly the frames of the chosen connections: for a TCP, a UDP and an ICMP
/// connection (the busiest of each, plus the quietest TCP one), tshark's frames of the 5-tuple in
/// the connection's time window in the original capture (time and length of each frame) equal
/// tshark's frames of the slice; ingesting the slice gives the same conn rows (tuple, packets,
/// bytes). Exit statuses: an existing output is kept (73), an unknown uid is 65, a capture changed
/// since ingest is refused (66), and --input reads a moved capture.
#[test]
fn extract_slices_equal_tsharks_frames_of_each_connection() {
    if !tshark() {
        return;
    }
    let Some(c) = corpus_or_skip() else { return };
    let f = "large/cerber_ransomware_infection_6MB.pcap";
    let dir = tmp("extract");
    let orig = dir.join("capture.pcap");
    std::fs::copy(c.join(f), &orig).unwrap();
    let ds = dir.join("ds");
    ingest_into(&orig, &ds);
    let cols = [
        "uid",
        "proto",
        "orig_h",
        "orig_p",
        "resp_h",
        "resp_p",
        "orig_pkts",
        "resp_pkts",
        "orig_bytes",
        "resp_bytes",
        "ts",
        "duration",
        "first_frame",
        "last_frame",
    ];
    let conns: Vec<Vec<String>> = rows(&ds, "conn", &cols)
        .into_iter()
        .filter(|r| !r[2].contains(':'))
        .collect();
    let pkts = |r: &Vec<String>| r[6].parse::<u64>().unwrap() + r[7].parse::<u64>().unwrap();
    let busiest = |proto: &str| {
        conns
            .iter()
            .filter(|r| r[1] == proto && (proto != "icmp" || r[3] == "8"))
            .max_by_key(|r| (pkts(r), r[0].clone()))
            .unwrap_or_else(|| panic!("{f}: no {proto} connection"))
            .clone()
    };
    let quiet_tcp = conns
        .iter()
        .filter(|r| r[1] == "tcp")
        .min_by_key(|r| (pkts(r), r[0].clone()))
        .unwrap()
        .clone();
    let chosen = vec![busiest("tcp"), busiest("udp"), busiest("icmp"), quiet_tcp];
    assert!(pkts(&chosen[0]) > 50 && pkts(&chosen[1]) > 1, "{chosen:?}");

    // the truth: tshark's frames of each tuple inside the connection's window, in the original
    let us = |ts: &str| -> i64 {
        // conn.ts as read back is "YYYY-MM-DDTHH:MM:SS.ffffff"
        let t =
            chrono::NaiveDateTime::parse_from_str(ts.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap_or_else(|e| panic!("ts {ts}: {e}"));
        t.and_utc().timestamp_micros()
    };
    let mut want: Vec<(String, String)> = Vec::new();
    for r in &chosen {
        let (first, dur) = (us(&r[10]), r[11].parse::<f64>().unwrap_or(0.0));
        let last = first + (dur * 1e6).ceil() as i64 + 1;
        let l4 = match r[1].as_str() {
            "icmp" => "icmp && (icmp.type == 0 || icmp.type == 8)".to_string(),
            p => format!("{p}.port == {} && {p}.port == {} && !icmp", r[3], r[5]),
        };
        let filter = format!(
            "ip.addr == {} && ip.addr == {} && {l4} && frame.time_epoch >= {}.{:06} && frame.time_epoch <= {}.{:06}",
            r[2],
            r[4],
            first / 1_000_000,
            first % 1_000_000,
            last / 1_000_000,
            last % 1_000_000
        );
        let frames = tshark_fields(
            &orig,
            &filter,
            &["frame.time_epoch", "frame.len", "frame.number"],
            &[],
        );
        assert_eq!(frames.len() as u64, pkts(r), "{f}: tshark frames of {r:?}");
        // conn's first_frame/last_frame are tshark's frame numbers of the first and last packet
        assert_eq!(
            (frames[0][2].as_str(), frames[frames.len() - 1][2].as_str()),
            (r[12].as_str(), r[13].as_str()),
            "{f}: first and last frame of {r:?}"
        );
        want.extend(frames.into_iter().map(|v| (v[0].clone(), v[1].clone())));
    }
    want.sort();

    let slice = dir.join("slice.pcapng");
    let mut args: Vec<String> = vec!["extract".into(), ds.display().to_string()];
    for r in &chosen {
        args.extend(["--uid".to_string(), r[0].clone()]);
    }
    args.extend(["-o".to_string(), slice.display().to_string()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run(&argv);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut got: Vec<(String, String)> =
        tshark_fields(&slice, "frame", &["frame.time_epoch", "frame.len"], &[])
            .into_iter()
            .map(|v| (v[0].clone(), v[1].clone()))
            .collect();
    got.sort();
    assert_eq!(
        got, want,
        "slice frames = tshark's frames of the four connections"
    );

    // the slice ingests to the same connections
    let ds2 = dir.join("ds2");
    ingest_into(&slice, &ds2);
    let key = |r: &Vec<String>| r[1..10].to_vec();
    let mut a: Vec<Vec<String>> = chosen.iter().map(key).collect();
    let mut b: Vec<Vec<String>> = rows(&ds2, "conn", &cols).iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "conn rows of the slice");

    // exit statuses
    let uid = chosen[0][0].as_str();
    let ds_s = ds.display().to_string();
    let slice_s = slice.display().to_string();
    let before = std::fs::read(&slice).unwrap();
    let o = run(&["extract", &ds_s, "--uid", uid, "-o", &slice_s]);
    assert_eq!(o.status.code(), Some(73), "existing output");
    assert_eq!(
        std::fs::read(&slice).unwrap(),
        before,
        "existing output untouched"
    );
    let pcap = dir.join("one.pcap");
    let pcap_s = pcap.display().to_string();
    let o = run(&[
        "extract",
        &ds_s,
        "--uid",
        "Cnotauid0000000000",
        "-o",
        &pcap_s,
    ]);
    assert_eq!(o.status.code(), Some(65));
    assert!(!pcap.exists(), "no output for an unknown uid");
    // moved: the manifest's path is gone, --input names the new place
    let moved = dir.join("moved.pcap");
    std::fs::rename(&orig, &moved).unwrap();
    let o = run(&["extract", &ds_s, "--uid", uid, "-o", &pcap_s]);
    assert_eq!(
        o.status.code(),
        Some(66),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!pcap.exists());
    run_ok(&[
        "extract",
        &ds_s,
        "--uid",
        uid,
        "-o",
        &pcap_s,
        "--input",
        &moved.display().to_string(),
    ]);
    let n = tshark_fields(&pcap, "frame", &["frame.number"], &[]).len() as u64;
    assert_eq!(n, pkts(&chosen[0]), "classic pcap via --input");
    // changed since ingest: refused, nothing written
    std::fs::rename(&moved, &orig).unwrap();
    let mut bytes = std::fs::read(&orig).unwrap();
    bytes.extend_from_slice(&[0u8; 16]);
    std::fs::write(&orig, bytes).unwrap();
    let changed = dir.join("changed.pcap");
    let o = run(&[
        "extract",
        &ds_s,
        "--uid",
        uid,
        "-o",
        &changed.display().to_string(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(66),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("changed since it was ingested"));
    assert!(!changed.exists());
    // restored, the capture is accepted again; --finding 1 takes triage's first finding's uids
    std::fs::copy(c.join(f), &orig).unwrap();
    let o = run(&[
        "detect",
        &ds_s,
        "--format",
        "jsonl",
        "--min-severity",
        "medium",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap()).unwrap();
    let uids: Vec<&str> = first["evidence"]["uids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let by_finding = dir.join("finding-1.pcap");
    run_ok(&[
        "extract",
        &ds_s,
        "--finding",
        "1",
        "-o",
        &by_finding.display().to_string(),
    ]);
    let ds4 = dir.join("ds4");
    ingest_into(&by_finding, &ds4);
    // the finding is the worm's sweep of udp/6892 (3252 attempts): its evidence lists 20 uids
    // (max_uids), the extract holds every connection and frame the finding counted
    assert_eq!(first["detector"], "scan", "{first}");
    assert_eq!(uids.len(), 20, "{first}");
    let attempts = first["evidence"]["attempts"].as_u64().unwrap() as usize;
    assert!(attempts > 1000, "{first}");
    let got = column(&ds4, "conn", "uid");
    assert_eq!(got.len(), attempts, "{first}");
    assert_eq!(
        tshark_fields(&by_finding, "", &["frame.number"], &[]).len() as u64,
        first["evidence"]["packets"].as_u64().unwrap(),
        "{first}"
    );
    let none = dir.join("none.pcap").display().to_string();
    // detector options serve --finding; --fail-on has no meaning here: a usage error
    assert_eq!(
        run(&[
            "extract",
            &ds_s,
            "--uid",
            uid,
            "--fail-on",
            "high",
            "-o",
            &none
        ])
        .status
        .code(),
        Some(2)
    );
    let o = run(&["extract", &ds_s, "--finding", "99", "-o", &none]);
    assert_eq!(o.status.code(), Some(65));

    // fragments: every frame of an IP-fragmented DNS capture belongs to a connection, and the
    // slice of all its connections holds all of them (the fragments before each reassembled
    // datagram's last one included), as tshark counts IP frames
    let frag = c.join("tcp_edge/dns_fragmented_ndpi.pcap");
    let ds3 = dir.join("ds3");
    let rep = ingest_into(&frag, &ds3);
    assert!(
        rep.manifest.inputs[0].fragments > 0,
        "the capture holds fragments"
    );
    let all = dir.join("all.pcap");
    run_ok(&[
        "extract",
        &ds3.display().to_string(),
        "--query",
        "SELECT uid FROM conn",
        "-o",
        &all.display().to_string(),
    ]);
    let ip_frames = tshark_fields(&frag, "ip || ipv6", &["frame.number"], &[]).len();
    let slice_frames = tshark_fields(&all, "frame", &["frame.number"], &[]).len();
    assert_eq!(slice_frames, ip_frames, "all IP frames, fragments included");
    assert!(slice_frames as u64 > rep.manifest.inputs[0].fragments);
}

/// `conn.orig_profile` / `resp_profile` against tshark's payload search: the TCP streams whose payload
/// names a Windows product as a word (tshark's `matches`, a regular expression over each segment's
/// raw bytes) and that tshark dissects as none of the protocols wirehunt parses or leaves out by
/// content (HTTP, TLS, FTP control, SMTP, SMB, NetBIOS sessions, LDAP, Kerberos, DCE/RPC, syslog)
/// are exactly the connections with a host profile, endpoints compared without direction (a bind
/// shell's profile is the responder's). On these folders that is STRRAT's keepalive, the 2010 RAT's
/// registration and AgentTesla's FTP-uploaded report, and nothing in `benign/` (a Windows 7 domain
/// client's SMB, LDAP and Kerberos name Windows by design).
#[test]
fn host_profiles_match_tsharks_payload_search() {
    let endpoints = |a: &str, ap: &str, b: &str, bp: &str| -> String {
        let (x, y) = (format!("{a}:{ap}"), format!("{b}:{bp}"));
        if x <= y {
            format!("{x} {y}")
        } else {
            format!("{y} {x}")
        }
    };
    let mut profiles = 0;
    compare(
        "conn_profile",
        &["beacon", "benign", "http_exfil", "large"],
        |name, path| {
            let ds = ingest_one(name, path);
            let ours: BTreeSet<String> = rows(
                &ds,
                "conn",
                &[
                    "orig_h",
                    "orig_p",
                    "resp_h",
                    "resp_p",
                    "orig_profile",
                    "resp_profile",
                ],
            )
            .into_iter()
            .filter(|r| !r[4].is_empty() || !r[5].is_empty())
            .map(|r| endpoints(&r[0], &r[1], &r[2], &r[3]))
            .collect();
            profiles += ours.len();
            let parsed: BTreeSet<String> = tshark_fields(
                path,
                "http || tls || ftp || smtp || smb || smb2 || nbss || ldap || kerberos || dcerpc || syslog",
                &["tcp.stream"],
                &[],
            )
            .into_iter()
            .map(|f| f[0].clone())
            .collect();
            let theirs: BTreeSet<String> = tshark_fields(
                path,
                r#"tcp.payload matches "Win(dows)? (XP|Vista|7|8|8[.]1|10|11|Server)([^A-Za-z0-9.]|$)""#,
                &["tcp.stream", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport"],
                &[],
            )
            .into_iter()
            .filter(|f| f.len() == 5 && !parsed.contains(&f[0]))
            .map(|f| endpoints(&f[1], &f[2], &f[3], &f[4]))
            .collect();
            (ours, theirs)
        },
    );
    assert!(
        profiles >= 3 || corpus().is_none() || !tshark(),
        "{profiles}"
    );
}
