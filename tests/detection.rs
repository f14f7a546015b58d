//! Detection quality: labelled simulator scenarios across many seeds (every injected attack found,
//! benign look-alikes never high), and real captures from the corpus (the right category, host and
//! peer; no high-severity finding on ordinary DNS and HTTP captures).
use crate::common::*;
use wirehunt_store::detect::{Finding, Severity, detect, load_detectors};

fn findings(ds: &std::path::Path) -> Vec<Finding> {
    let (f, errors) = detect(ds, &load_detectors(None).unwrap()).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    f
}

fn matches_attack(f: &Finding, a: &serde_json::Value) -> bool {
    let s = |k: &str| a[k].as_str().map(String::from);
    if f.src_ip != s("src_ip") {
        return false;
    }
    let dom = s("domain").map(|d| d.split(':').next().unwrap_or("").to_string());
    let fdom = f
        .domain
        .as_ref()
        .map(|d| d.split(':').next().unwrap_or("").to_string());
    (dom.is_some() && dom == fdom) || (f.dst_ip.is_some() && f.dst_ip == s("dst_ip"))
}

/// Detection quality over simulated scenarios: recall at high+ and at any severity, precision at
/// high+, benign findings at medium+ per capture (a "high" or "medium" that is not about attack
/// traffic counts as benign, whatever its category: a periodic exfiltration loop is also a beacon).
#[derive(Debug, Default)]
struct Quality {
    captures: usize,
    attacks: usize,
    found: usize,
    found_high: usize,
    high_total: usize,
    high_benign: usize,
    medium_total: usize,
    medium_benign: Vec<usize>,
    /// benign findings at medium or above, by detector
    benign_by_detector: std::collections::BTreeMap<String, usize>,
    problems: Vec<String>,
}

fn evaluate(seeds: &[u64], hours: impl Fn(u64) -> f64, hosts: usize) -> Quality {
    let mut q = Quality::default();
    for seed in seeds {
        let dir = tmp(&format!("sim{seed}"));
        let pcap = dir.join("s.pcap");
        let cfg = wirehunt_sim::SimConfig {
            seed: *seed,
            hours: hours(*seed),
            hosts,
            attacks: wirehunt_sim::parse_attacks("all").unwrap(),
            size: None,
            background_scale: 0.3,
            compressible: false,
        };
        let truth = wirehunt_sim::simulate_to_file(&cfg, &pcap).unwrap();
        let ds = dir.join("ds");
        ingest_into(&pcap, &ds);
        let _ = std::fs::remove_file(&pcap);
        let fs = findings(&ds);
        // every finding pivots to its rows: up to 20 uids, each one a conn row
        let conn_uids: std::collections::HashSet<String> =
            column(&ds, "conn", "uid").into_iter().collect();
        for f in &fs {
            let uids = f.evidence["uids"].as_array().map(|a| a.len()).unwrap_or(0);
            assert!(
                (1..=20).contains(&uids),
                "seed {seed}: {} finding without uids: {}",
                f.detector,
                f.summary
            );
            for u in f.evidence["uids"].as_array().into_iter().flatten() {
                assert!(
                    conn_uids.contains(u.as_str().unwrap_or("")),
                    "seed {seed}: uid {u} of {} is no conn row",
                    f.detector
                );
            }
        }
        let truth: serde_json::Value = serde_json::to_value(&truth).unwrap();
        let atk = truth["attacks"].as_array().unwrap();
        q.captures += 1;
        for a in atk {
            q.attacks += 1;
            let cat = a["category"].as_str().unwrap();
            let hit: Vec<&Finding> = fs
                .iter()
                .filter(|f| f.category == cat && matches_attack(f, a))
                .collect();
            if hit.is_empty() {
                q.problems.push(format!(
                    "seed {seed}: MISSED {} {}",
                    a["kind"], a["parameters"]
                ));
                continue;
            }
            q.found += 1;
            if hit.iter().any(|f| f.severity >= Severity::High) {
                q.found_high += 1;
            } else {
                q.problems.push(format!(
                    "seed {seed}: below high: {} {} ({})",
                    a["kind"], a["parameters"], hit[0].summary
                ));
            }
        }
        let mut benign_medium = 0;
        for f in fs.iter().filter(|f| f.severity >= Severity::Medium) {
            let attack = atk.iter().any(|a| matches_attack(f, a));
            q.medium_total += 1;
            if f.severity >= Severity::High {
                q.high_total += 1;
                if !attack {
                    q.high_benign += 1;
                    q.problems.push(format!(
                        "seed {seed}: HIGH on benign traffic: {} {:?} {:?} {}",
                        f.category, f.src_ip, f.domain, f.summary
                    ));
                }
            }
            if !attack {
                benign_medium += 1;
                *q.benign_by_detector.entry(f.detector.clone()).or_default() += 1;
            }
        }
        q.medium_benign.push(benign_medium);
    }
    q
}

impl Quality {
    fn line(&self) -> String {
        let mb = self.medium_benign.iter().max().copied().unwrap_or(0);
        let mean = self.medium_benign.iter().sum::<usize>() as f64 / self.captures.max(1) as f64;
        format!(
            "{} captures, {} attacks: recall {:.3} at any severity, {:.3} at high+; precision at high+ {:.3} ({} of {} high/critical findings benign), at medium+ {:.3} ({} of {}); benign findings at medium+ per capture: mean {:.1}, max {}",
            self.captures,
            self.attacks,
            self.found as f64 / self.attacks.max(1) as f64,
            self.found_high as f64 / self.attacks.max(1) as f64,
            (self.high_total - self.high_benign) as f64 / self.high_total.max(1) as f64,
            self.high_benign,
            self.high_total,
            (self.medium_total - self.medium_benign.iter().sum::<usize>()) as f64
                / self.medium_total.max(1) as f64,
            self.medium_benign.iter().sum::<usize>(),
            self.medium_total,
            mean,
            mb
        )
    }
}

#[test]
fn simulated_attacks_are_found_at_high_and_benign_services_stay_quiet() {
    let seeds: Vec<u64> = (101..=108).collect();
    let q = evaluate(&seeds, |s| if s % 2 == 0 { 0.5 } else { 0.35 }, 8);
    eprintln!("simulator over seeds {seeds:?}: {}", q.line());
    // every attack found; no benign service (NTP, push/websocket/cast keepalives, update and
    // connectivity checks, monitoring, AV/DNSBL look-ups, CDN names) at high
    assert!(
        q.found == q.attacks && q.high_benign == 0,
        "{}\n{}",
        q.line(),
        q.problems.join("\n")
    );
    // severity is a promise: attacks at high, benign noise at medium+ at most 3 per capture
    assert!(
        q.found_high as f64 >= 0.9 * q.attacks as f64,
        "{}\n{}",
        q.line(),
        q.problems.join("\n")
    );
    assert!(
        q.medium_benign.iter().all(|&n| n <= 3),
        "{}\n{}",
        q.line(),
        q.problems.join("\n")
    );
}

/// The README's detection-quality figures: six-hour scenarios (slow in a debug build; run with
/// `cargo test --release -- --ignored detection_quality_report --nocapture`). WIREHUNT_EVAL_SEEDS
/// (a range `A-B`) and WIREHUNT_EVAL_HOURS override the defaults (seeds 301-320, 6 hours).
#[test]
#[ignore]
fn detection_quality_report() {
    let (a, b) = std::env::var("WIREHUNT_EVAL_SEEDS")
        .ok()
        .and_then(|v| {
            v.split_once('-')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        })
        .unwrap_or((301u64, 320u64));
    let hours: f64 = std::env::var("WIREHUNT_EVAL_HOURS")
        .ok()
        .and_then(|h| h.parse().ok())
        .unwrap_or(6.0);
    let seeds: Vec<u64> = (a..=b).collect();
    let q = evaluate(&seeds, |_| hours, 8);
    println!(
        "detection quality, {hours} h scenarios, seeds {a}-{b}: {}",
        q.line()
    );
    println!(
        "  benign at medium+ by detector: {:?}",
        q.benign_by_detector
    );
    for p in &q.problems {
        println!("  {p}");
    }
}

fn corpus_findings(files: &[&str]) -> Option<Vec<Finding>> {
    let c = corpus_or_skip()?;
    let dir = tmp(&format!("cf-{}", files[0].replace('/', "_")));
    let inputs: Vec<String> = files
        .iter()
        .map(|f| c.join(f).to_string_lossy().into_owned())
        .collect();
    wirehunt_store::ingest::ingest(&inputs, &dir.join("ds"), &Default::default(), |_, _| {})
        .unwrap();
    Some(findings(&dir.join("ds")))
}

/// (file, category, source, peer: SNI/Host/domain or dst ip) found at medium or above; captures whose
/// finding must be high and in the top three are in `EXPECTED_HIGH` (merlin, CryptoWall 4, the
/// single-query and 144-byte DNS exfiltrations among them).
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    // 82k packets between one host pair in 6.5 s: a flood is visible
    (
        "large/echo_flood_741_conns_82k_pkts.pcap",
        "scan",
        "127.0.0.1",
        "127.0.0.1",
    ),
    (
        "beacon/tls_c2_297_conns_2.2s_slips.pcap",
        "beaconing",
        "147.32.80.37",
        "testing.com",
    ),
    (
        "beacon/rat_infected_10s_port4433.pcapng",
        "beaconing",
        "172.16.0.114",
        "172.16.0.111",
    ),
    (
        "beacon/asyncrat_sandbox_run.pcap",
        "beaconing",
        "192.168.100.163",
        "94.156.71.237",
    ),
    // AsyncRAT's self-signed "SXN Server CA" leaf on port 4782, no SNI from a client that sends one
    (
        "beacon/asyncrat_sandbox_run.pcap",
        "suspicious_tls",
        "192.168.100.163",
        "94.156.71.237",
    ),
    (
        "http_exfil/empire_c2_http_post_313KB_exfil.pcap",
        "beaconing",
        "192.168.1.46",
        "192.168.1.161",
    ),
    (
        "dns_tunnel/dnscat2_session.pcap",
        "dns_tunnel",
        "192.168.14.103",
        "dccore200.local",
    ),
    (
        "dns_tunnel/dnscat2_unencrypted_session.pcap",
        "dns_tunnel",
        "192.168.14.103",
        "dccore200.local",
    ),
    (
        "dns_tunnel/dnscat2_dmachard.pcap",
        "dns_tunnel",
        "192.168.1.17",
        "biillpi.com",
    ),
    (
        "dns_tunnel/dns_exfiltration_ndpi.pcap",
        "dns_tunnel",
        "192.168.220.56",
        "(no TLD) via 192.168.203.167",
    ),
    (
        "dns_tunnel/iodine_elastic_examples.pcap",
        "dns_tunnel",
        "10.0.2.30",
        "pirate.sea",
    ),
    (
        "dns_tunnel/iodine_dmachard.pcap",
        "dns_tunnel",
        "192.168.1.17",
        "biillpi.com",
    ),
    (
        "dns_tunnel/dns2tcp_dmachard.pcap",
        "dns_tunnel",
        "192.168.1.17",
        "hsc.fr",
    ),
    (
        "dns_tunnel/dnsexfiltrator_default_file2584B.pcap",
        "dns_tunnel",
        "192.168.1.165",
        "captechutest.org",
    ),
    (
        "dns_tunnel/dnsexfiltrator_max225_file28657B.pcap",
        "dns_tunnel",
        "192.168.1.165",
        "captechutest.org",
    ),
    (
        "dns_tunnel/dnsexfiltrator_dmachard.pcap",
        "dns_tunnel",
        "192.168.1.102",
        "hsc.fr",
    ),
];

#[test]
fn real_attack_captures_yield_the_right_findings() {
    let mut failures = Vec::new();
    for (file, cat, src, peer) in EXPECTED {
        let Some(fs) = corpus_findings(&[file]) else {
            return;
        };
        let ok = fs.iter().any(|f| {
            f.category == *cat
                && f.src_ip.as_deref() == Some(src)
                && f.severity >= Severity::Medium
                && (f.domain.as_deref() == Some(peer) || f.dst_ip.as_deref() == Some(peer))
        });
        if !ok {
            failures.push(format!(
                "{file}: no {cat} finding for {src} -> {peer}; got {:?}",
                fs.iter()
                    .map(|f| (&f.category, &f.src_ip, &f.domain, &f.dst_ip, f.score))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Findings do not depend on how many threads (DataFusion partitions) the queries run on: the demo
/// dataset's findings, low and above, byte for byte with 1, 7 (a prime, so that no table's row
/// groups divide evenly among the partitions) and 16 query threads (a 16-core machine's default; with
/// DataFusion 55's hash-join dynamic filter, 13 or more partitions hung the beaconing detector:
/// `query::correct_results` turns it off).
#[test]
fn findings_do_not_depend_on_query_threads() {
    let ds = crate::sql::demo_dataset();
    let detect = |threads: &str| detect_jsonl(&ds, threads, &["--min-severity", "low"]);
    let one = detect("1");
    assert!(one.lines().count() >= 10, "{one}");
    assert_eq!(one, detect("7"));
    assert_eq!(one, detect("16"));
}

/// `-- materialize:` changes how a detector runs, never what it finds: the built-ins that name CTEs to
/// compute once (beaconing, dns_tunnel, exfil_volume) give the same findings, byte for byte, as the same
/// files without that line (each CTE planned inline at every reference, as DataFusion does); with one
/// query thread and with several. A name that is no CTE of the query is that detector's error, with
/// its file, and the other detectors still run.
#[test]
fn materialized_ctes_change_no_finding() {
    let ds = crate::sql::demo_dataset();
    let dir = tmp("materialize");
    let mut named = 0;
    for e in
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries")).unwrap()
    {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        if text.lines().any(|l| l.starts_with("-- materialize:")) {
            named += 1;
            let plain: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with("-- materialize:"))
                .collect();
            std::fs::write(dir.join(p.file_name().unwrap()), plain.join("\n")).unwrap();
        }
    }
    assert!(named >= 3, "{named} built-ins materialize");
    let q = dir.to_string_lossy().into_owned();
    for threads in ["1", "3"] {
        let with = detect_jsonl(&ds, threads, &["--min-severity", "low"]);
        let without = detect_jsonl(&ds, threads, &["--min-severity", "low", "--queries", &q]);
        for d in ["beaconing", "dns_tunnel", "exfil_volume"] {
            let n = with
                .lines()
                .filter(|l| l.contains(&format!("\"detector\":\"{d}\"")))
                .count();
            assert!(n >= 1, "no {d} finding on the demo capture");
        }
        assert_eq!(with, without, "{threads} thread(s)");
    }
    let bad = tmp("materialize-bad");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries/beaconing.sql"),
    )
    .unwrap();
    std::fs::write(
        bad.join("beaconing.sql"),
        text.replace("-- materialize: ev\n", "-- materialize: no_such_cte\n"),
    )
    .unwrap();
    let d = ds.to_string_lossy();
    let q = bad.to_string_lossy();
    let o = run(&["detect", &d, "--format", "jsonl", "--queries", &q]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("beaconing.sql")
            && err.contains("no common table expression named \"no_such_cte\""),
        "{err}"
    );
    // the other detectors ran: the demo capture's DNS tunnel is still reported
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"detector\":\"dns_tunnel\""));
}

/// A series capped at medium for want of endpoint evidence says what the capture could not tell, so
/// that "none" reads as "not seen here": Slips' C&C test holds only the check-ins (297 TLS 1.3
/// connections to one peer, no DNS, no other traffic from the host), so whether a DNS answer named
/// the peer, what its certificate says and whether the host's TLS fingerprint is unique to it are
/// all unknown. The smart-lock hub resolves its cloud broker's name and its MQTT keepalive is
/// plain TCP: nothing is unknown there.
#[test]
fn a_capped_beacon_says_what_the_capture_could_not_tell() {
    let Some(fs) = corpus_findings(&["beacon/tls_c2_297_conns_2.2s_slips.pcap"]) else {
        return;
    };
    let f = fs
        .iter()
        .find(|f| f.detector == "beaconing" && f.domain.as_deref() == Some("testing.com"))
        .expect("the 2.2 s series");
    assert_eq!(f.severity, Severity::Medium, "{}", f.summary);
    let unchecked = f.evidence["unchecked"].as_str().unwrap_or_default();
    for want in [
        "whether a DNS answer named the peer (the source sent no DNS)",
        "the certificate (none in the clear: TLS 1.3 or resumed sessions)",
        "(the source reaches 1 TLS peer(s), fewer than 3)",
    ] {
        assert!(unchecked.contains(want), "no {want:?} in {unchecked:?}");
    }
    assert!(
        f.summary.contains("none (periodicity alone is capped at medium); not checkable in this capture: whether a DNS answer"),
        "{}",
        f.summary
    );
    let Some(fs) = corpus_findings(&["benign/iot_lock_hub_7d_aliyun_mqtt1883_60s_keepalive.pcap"])
    else {
        return;
    };
    let f = fs
        .iter()
        .find(|f| f.detector == "beaconing" && f.dst_ip.as_deref() == Some("47.89.226.20"))
        .expect("the hub's MQTT keepalive");
    assert_eq!(f.severity, Severity::Low, "{}", f.summary);
    assert_eq!(f.evidence["unchecked"].as_str(), Some(""), "{}", f.summary);
}

/// Ordinary DNS, HTTP and TLS captures raise nothing at high severity (the TLS folder holds self-signed,
/// expired and SNI-less test servers and a merge of years-old captures whose certificates mostly look
/// expired at the recorded time: none of that is "look now"). One file in dns/ is a merge that
/// contains real tunnels (the iodine session of dns_tunnel/iodine_elastic_examples and the dnscat2
/// session of dns_tunnel/dns_exfiltration_ndpi, same hosts and names, and a dns2tcp session): high
/// findings there must be exactly those sessions. One file in http/ (Zeek's `no_crlf` parser trace)
/// is Emotet C2 traffic: POSTs of random paths to an IP literal, answered with 1-470 kB of
/// near-random bytes declared text/html - its download finding is the other allowed one.
#[test]
fn dns_http_and_tls_folders_stay_quiet() {
    let Some(c) = corpus_or_skip() else { return };
    for folder in ["dns", "http", "tls"] {
        let dir = tmp(&format!("quiet-{folder}"));
        wirehunt_store::ingest::ingest(
            &[c.join(folder).to_string_lossy().into_owned()],
            &dir.join("ds"),
            &Default::default(),
            |_, _| {},
        )
        .unwrap();
        let fs = findings(&dir.join("ds"));
        let known_tunnels = [
            ("10.0.2.30", "pirate.sea"),
            ("192.168.220.56", "(no TLD) via 192.168.203.167"),
            // a dns2tcp session (`=auth`, `=connect` requests; base64 TXT answers)
            ("192.168.56.1", "tunnel.phd"),
        ];
        for f in fs.iter().filter(|f| f.severity >= Severity::High) {
            let known = (f.category == "dns_tunnel"
                && known_tunnels.iter().any(|(s, d)| {
                    f.src_ip.as_deref() == Some(s) && f.domain.as_deref() == Some(d)
                }))
                || (folder == "http"
                    && f.category == "download"
                    && f.src_ip.as_deref() == Some("10.1.6.206")
                    && f.dst_ip.as_deref() == Some("5.2.136.90")
                    && f.summary.contains("the answer to a POST"));
            assert!(
                known,
                "{folder}: unexpected high finding {} {:?} {:?} {}",
                f.category, f.src_ip, f.domain, f.summary
            );
        }
    }
}

/// Everyday devices idling and browsing (router SSDP every 60 s, cast discovery, Windows Update,
/// an IoT hub's MQTT keepalive every 60 s for a week, LAN sync and push services): real periodic
/// traffic that is not C2 gets nothing at high and at most 3 findings at medium.
#[test]
fn benign_everyday_captures_get_nothing_at_high() {
    let Some(c) = corpus_or_skip() else { return };
    let mut files: Vec<_> = std::fs::read_dir(c.join("benign"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 3, "benign/ holds {} captures", files.len());
    for f in files {
        let rel = format!("benign/{}", f.file_name().unwrap().to_string_lossy());
        let fs = corpus_findings(&[&rel]).unwrap();
        let loud: Vec<String> = fs
            .iter()
            .filter(|f| f.severity >= Severity::Medium)
            .map(|f| format!("{:?} {} {}", f.severity, f.category, f.summary))
            .collect();
        assert!(
            fs.iter().all(|f| f.severity < Severity::High) && loud.len() <= 3,
            "{rel}:\n{}",
            loud.join("\n")
        );
    }
}

/// Attack captures whose evidence is strong keep their findings at high or above, among the
/// capture's three highest-scored findings (issue 13's goal: the attack in the top 3 at high).
const EXPECTED_HIGH: &[(&str, &str, &str, &str)] = &[
    // Cerber's UDP fan-out: one source, one port, ~1,100 addresses, nothing answered
    (
        "large/cerber_ransomware_infection_6MB.pcap",
        "scan",
        "192.168.1.46",
        "",
    ),
    // an infected IoT device sweeping telnet across public addresses
    (
        "beacon/iot_malware_telnet_scan_slips.pcap",
        "scan",
        "192.168.2.16",
        "",
    ),
    (
        "beacon/asyncrat_sandbox_run.pcap",
        "beaconing",
        "192.168.100.163",
        "94.156.71.237",
    ),
    // AsyncRAT's self-signed "SXN Server CA" leaf on port 4782, no SNI from a client that sends one
    (
        "beacon/asyncrat_sandbox_run.pcap",
        "suspicious_tls",
        "192.168.100.163",
        "94.156.71.237",
    ),
    // the exploit kit's encrypted drop: declared application/x-msdownload, no PE magic, 8 bits/byte
    (
        "large/cerber_ransomware_infection_6MB.pcap",
        "download",
        "192.168.1.46",
        "new.mobilelav.com",
    ),
    // Emotet's loader DLLs fetched from URIs without a file name, no Referer
    (
        "beacon/emotet_ndpi.pcap",
        "download",
        "10.4.20.102",
        "gandhitoday.org",
    ),
    (
        "beacon/emotet_ndpi.pcap",
        "download",
        "10.4.25.101",
        "filmmogzivota.rs",
    ),
    // a stealer pulling six NSS/CRT DLLs from its server, no User-Agent, no Referer
    (
        "http_exfil/http_mime_upload_135KB_truncated_tail.pcap",
        "download",
        "1.8.31.101",
        "eroomia.com",
    ),
    (
        "dns_tunnel/iodine_elastic_examples.pcap",
        "dns_tunnel",
        "10.0.2.30",
        "pirate.sea",
    ),
    (
        "dns_tunnel/dnscat2_unencrypted_session.pcap",
        "dns_tunnel",
        "192.168.14.103",
        "dccore200.local",
    ),
    (
        "dns_tunnel/dns_exfiltration_ndpi.pcap",
        "dns_tunnel",
        "192.168.220.56",
        "(no TLD) via 192.168.203.167",
    ),
    (
        "dns_tunnel/dnsexfiltrator_max225_file28657B.pcap",
        "dns_tunnel",
        "192.168.1.165",
        "captechutest.org",
    ),
    // short two-way tunnels (under 1 KB each way): the answers carry encoded data back - dnscat2's
    // hex in MX/TXT/CNAME, dns2tcp's base64 TXT - which no look-up does
    (
        "dns_tunnel/dnscat2_dmachard.pcap",
        "dns_tunnel",
        "192.168.1.17",
        "biillpi.com",
    ),
    (
        "dns_tunnel/dns2tcp_dmachard.pcap",
        "dns_tunnel",
        "192.168.1.17",
        "hsc.fr",
    ),
    (
        "dns/dns_mixed_malcolm_3MB.pcap",
        "dns_tunnel",
        "192.168.56.1",
        "tunnel.phd",
    ),
    // iodine's 12-query handshake (385 B): every query of type NULL, which no standard client asks,
    // and most answers carry encoded data back
    (
        "dns_tunnel/iodine_dmachard.pcap",
        "dns_tunnel",
        "192.168.1.17",
        "biillpi.com",
    ),
    // AgentTesla: a scripted FTP login and upload of the stolen passwords, after asking ip-api.com
    // for the host's public address
    (
        "http_exfil/agenttesla_ftp_exfil.pcap",
        "exfiltration",
        "192.168.100.164",
        "143.95.79.226",
    ),
    // AgentTesla: the same loot as a mail submitted with AUTH LOGIN in the clear, after api.ipify.org
    (
        "http_exfil/agenttesla_smtp_exfil.pcap",
        "exfiltration",
        "192.168.100.40",
        "43.255.154.57",
    ),
    // Emotet's spam module: an infected host submitting malspam with a macro workbook attached
    (
        "beacon/emotet_ndpi.pcap",
        "exfiltration",
        "10.2.25.102",
        "193.252.22.84",
    ),
    // a loader's C2 exchange: a POST to an IP literal on 7080 answered with 56 kB of near-random
    // bytes declared text/html (an encrypted module)
    (
        "beacon/trickbot_ndpi.pcap",
        "download",
        "10.12.29.101",
        "82.118.225.196",
    ),
    // RATs registering in the clear: STRRAT's keepalive names "Microsoft Windows 7 Professional"
    // (no DNS in the capture, a port of its own), the Turkish RAT's ANABILGI message "Windows XP
    // Service Pack 3" to a LAN controller; both as remote control and as beaconing with that evidence
    (
        "beacon/strrat_c2.pcap",
        "remote_control",
        "192.168.100.11",
        "185.255.114.40",
    ),
    (
        "beacon/strrat_c2.pcap",
        "beaconing",
        "192.168.100.11",
        "185.255.114.40",
    ),
    (
        "beacon/rat_infected_10s_port4433.pcapng",
        "remote_control",
        "172.16.0.114",
        "172.16.0.111",
    ),
    (
        "beacon/rat_infected_10s_port4433.pcapng",
        "beaconing",
        "172.16.0.114",
        "172.16.0.111",
    ),
    // Empire's check-ins to a LAN listener: the IE11 string hard-coded in the stager, while the
    // host browses with IE8
    (
        "http_exfil/empire_c2_http_post_313KB_exfil.pcap",
        "beaconing",
        "192.168.1.46",
        "192.168.1.161",
    ),
    // Merlin's HTTP/3 heartbeats: a QUIC ClientHello offering h3 that names no server - HTTPS to an
    // address, the encrypted side of an IP literal as Host
    (
        "beacon/merlin_c2_http3_quic.pcapng",
        "beaconing",
        "10.0.0.4",
        "24.199.110.233",
    ),
    // CryptoWall 4: a POST to a PHP script answered with 124 kB that is one hex string, declared
    // text/html - no page at all
    (
        "beacon/cryptowall4_c2_checkins.pcapng",
        "download",
        "192.168.122.145",
        "homealldaylong.com",
    ),
    // one query whose first label is base64 of a gzip header (the file's name, test.txt, inside)
    (
        "dns_tunnel/dns_exf_single_ndpi.pcap",
        "dns_tunnel",
        "192.168.2.225",
        "test.txt",
    ),
    // DNSExfiltrator sending a 144-byte file: few names, but its data labels fill DNS's 63-character
    // maximum
    (
        "dns_tunnel/dnsexfiltrator_default_file144B.pcap",
        "dns_tunnel",
        "192.168.1.165",
        "captechutest.org",
    ),
];

#[test]
fn strong_attack_captures_stay_high() {
    let mut failures = Vec::new();
    for (file, cat, src, peer) in EXPECTED_HIGH {
        let Some(fs) = corpus_findings(&[file]) else {
            return;
        };
        // how many findings score above it: 0-2 is the top three
        let rank = |f: &Finding| fs.iter().filter(|g| g.score > f.score).count();
        let ok = fs.iter().any(|f| {
            f.category == *cat
                && f.src_ip.as_deref() == Some(src)
                && f.severity >= Severity::High
                && (peer.is_empty()
                    || f.domain.as_deref() == Some(peer)
                    || f.dst_ip.as_deref() == Some(peer))
                && rank(f) < 3
        });
        if !ok {
            failures.push(format!(
                "{file}: no {cat} finding at high among the top three for {src} -> {peer}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `--suppress FILE`: a known (source, peer) pair is silenced with a reason that shows in every
/// output, and it no longer counts for --fail-on.
#[test]
fn suppressions_silence_a_pair_with_a_reason() {
    let Some(c) = corpus_or_skip() else { return };
    let cap = c.join("beacon/asyncrat_sandbox_run.pcap");
    let dir = tmp("suppress");
    let rules = dir.join("known.csv");
    std::fs::write(&rules, "# known lab traffic\n192.168.100.0/24,94.156.71.237:4782,sandbox detonation by the lab,beaconing\n192.168.100.0/24,94.156.71.237,sandbox detonation by the lab,suspicious_tls\n").unwrap();
    let cap = cap.to_string_lossy().into_owned();
    let o = run(&[
        "-q",
        "triage",
        &cap,
        "--format",
        "jsonl",
        "--fail-on",
        "high",
        "--no-cache",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = run_ok(&[
        "-q",
        "triage",
        &cap,
        "--format",
        "jsonl",
        "--fail-on",
        "high",
        "--no-cache",
        "--suppress",
        &rules.to_string_lossy(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    let f: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let s: Vec<&serde_json::Value> = f.iter().filter(|f| f["suppressed"].is_string()).collect();
    assert_eq!(s.len(), 2, "{out}");
    assert!(s.iter().all(|f| {
        f["suppressed"]
            .as_str()
            .unwrap()
            .starts_with("sandbox detonation by the lab (")
    }));
    let b = s.iter().find(|f| f["detector"] == "beaconing").unwrap();
    assert_eq!(b["severity"], "critical");
    let t = s
        .iter()
        .find(|f| f["detector"] == "suspicious_tls")
        .unwrap();
    assert_eq!(t["severity"], "high");
    // triage with the rules file and `extra` arguments
    let with_rules = |extra: &[&str]| {
        let r = rules.to_string_lossy().into_owned();
        let mut a = vec!["-q", "triage", cap.as_str(), "--suppress", r.as_str()];
        a.extend(extra);
        run(&a)
    };
    // a malformed rule is a usage error
    std::fs::write(&rules, "not-an-address,x,y\n").unwrap();
    let o = with_rules(&["--format", "jsonl", "--no-cache"]);
    assert_eq!(o.status.code(), Some(2));
    // ... and it is said before anything is ingested: the dataset directory is never made
    let ds = dir.join("never");
    let o = with_rules(&["-d", &ds.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("known.csv:1:"));
    assert!(
        !ds.exists(),
        "a bad --suppress file must stop triage before ingest"
    );
    // a misspelt detector id would silence nothing: a usage error naming it
    std::fs::write(&rules, "192.168.100.0/24,94.156.71.237,lab,beaconnig\n").unwrap();
    let o = with_rules(&["--no-cache"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no detector \"beaconnig\""));
    // a reason holding a comma is quoted as in any CSV, and shown whole
    std::fs::write(
        &rules,
        "192.168.100.0/24,94.156.71.237:4782,\"lab detonation, ticket 42\",beaconing\n",
    )
    .unwrap();
    let o = with_rules(&["--format", "jsonl", "--no-cache"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    let b = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|f| f["detector"] == "beaconing" && f["suppressed"].is_string())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        b["suppressed"]
            .as_str()
            .unwrap()
            .starts_with("lab detonation, ticket 42 ("),
        "{b}"
    );
}

/// `executable_download` on every dropper variant the simulator knows (a PE, a PE served as an
/// image, an encrypted payload declared executable, a PowerShell stage), by name and by address:
/// each is high or above, with the body's fuid and the connection's uid in its evidence; the same
/// captures' vendor downloads (Windows Update's agent, a browser fetching an installer from the
/// vendor after visiting its page) stay below medium.
#[test]
fn dropper_variants_are_high_and_vendor_downloads_stay_low() {
    let mut seen = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for seed in 1..=300u64 {
        if seen.len() == 8 {
            break;
        }
        let cfg = wirehunt_sim::SimConfig {
            seed,
            hours: 0.1,
            hosts: 4,
            attacks: vec!["dropper".into()],
            size: None,
            background_scale: 0.05,
            compressible: true,
        };
        // the truth is drawn before any packet is written: skip a seed whose variant is covered
        let dir = tmp(&format!("dropper{seed}"));
        let pcap = dir.join("s.pcap");
        let truth = wirehunt_sim::simulate_to_file(&cfg, &pcap).unwrap();
        let a = &truth.attacks[0];
        let key = (a.kind.clone(), a.domain.is_some());
        if !seen.insert(key.clone()) {
            continue;
        }
        let ds = dir.join("ds");
        ingest_into(&pcap, &ds);
        let fs = findings(&ds);
        let fuids: std::collections::HashSet<String> =
            column(&ds, "files", "fuid").into_iter().collect();
        let dl: Vec<&Finding> = fs
            .iter()
            .filter(|f| f.detector == "executable_download")
            .collect();
        let hit = dl.iter().find(|f| {
            f.src_ip.as_deref() == Some(a.src_ip.as_str())
                && f.dst_ip.as_deref() == a.dst_ip.as_deref()
        });
        match hit {
            None => problems.push(format!("seed {seed} {key:?}: no finding; got {dl:?}")),
            Some(f) => {
                if f.severity < Severity::High {
                    problems.push(format!(
                        "seed {seed} {key:?}: {:?} {}",
                        f.severity, f.summary
                    ));
                }
                let ev_fuids = f.evidence["fuids"].as_array().cloned().unwrap_or_default();
                if ev_fuids.is_empty()
                    || !ev_fuids
                        .iter()
                        .all(|x| fuids.contains(x.as_str().unwrap_or("")))
                {
                    problems.push(format!("seed {seed}: fuids {ev_fuids:?} not in files"));
                }
            }
        }
        for f in &dl {
            let vendor = f
                .domain
                .as_deref()
                .is_some_and(|d| d == "download.windowsupdate.com" || d == "download.mozilla.org");
            if vendor && f.severity >= Severity::Medium {
                problems.push(format!(
                    "seed {seed}: vendor download at {:?}: {}",
                    f.severity, f.summary
                ));
            }
        }
        if !dl
            .iter()
            .any(|f| f.domain.as_deref() == Some("download.windowsupdate.com"))
        {
            // still reported as context, just not loud
            problems.push(format!(
                "seed {seed}: Windows Update's executable not listed at all"
            ));
        }
    }
    assert_eq!(seen.len(), 8, "variants covered: {seen:?}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `--intel FILE`: indicators from a CSV (defanged, with a header and a bad line), JSON lines and a
/// STIX 2.1 bundle match addresses, domains, URLs, JA4 and certificate hashes on a real Emotet
/// infection; each hit is high, and a finding on the same peer is raised by 15 with the indicator in
/// its evidence. A file with no usable indicator is refused (exit 66).
#[test]
fn intel_indicators_match_every_table_and_raise_findings_on_their_peer() {
    let Some(c) = corpus_or_skip() else { return };
    let cap = c.join("beacon/emotet_ndpi.pcap");
    let cap = cap.to_string_lossy().into_owned();
    let dir = tmp("intel");
    let csv = dir.join("iocs.csv");
    std::fs::write(
        &csv,
        "# from the report\ntype,value,source,note\ndomain,gandhitoday[.]org,abuse.ch,loader host\nurl,hxxp://filmmogzivota.rs/SpryAssets/gDR/,urlhaus,\nmd5,not-a-hash,bad,\n",
    )
    .unwrap();
    let jsonl = dir.join("iocs.jsonl");
    std::fs::write(
        &jsonl,
        "{\"type\":\"ja4\",\"value\":\"t12i190600_d83cc789557e_2dae41c691ec\",\"source\":\"ja4db\"}\n{\"value\":\"1C72F7DDC0062687E13E6657E8266A0BFAE2B403324A4DACB492A0919F3D3830\",\"source\":\"sslbl\"}\n",
    )
    .unwrap();
    let stix = dir.join("bundle.json");
    std::fs::write(
        &stix,
        r#"{"type":"bundle","id":"bundle--1","objects":[{"type":"identity","id":"identity--a","name":"CERT-Lab"},{"type":"indicator","id":"indicator--1","created_by_ref":"identity--a","name":"Emotet C2","pattern_type":"stix","pattern":"[ipv4-addr:value = '138.197.147.0/24']"}]}"#,
    )
    .unwrap();
    let args = |intel: &[&std::path::Path]| {
        let mut v = vec![
            "triage".to_string(),
            cap.clone(),
            "--format".into(),
            "jsonl".into(),
            "--no-cache".into(),
            "--min-severity".into(),
            "low".into(),
        ];
        for i in intel {
            v.push("--intel".into());
            v.push(i.to_string_lossy().into_owned());
        }
        v
    };
    let parse = |o: &std::process::Output| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let plain = run(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(plain.status.code(), Some(0));
    let plain = parse(&plain);
    assert!(plain.iter().all(|f| f["detector"] != "intel_match"));
    let tls_before = plain
        .iter()
        .find(|f| f["detector"] == "suspicious_tls" && f["src_ip"] == "10.4.25.101")
        .expect("the self-signed C2 certificate")["score"]
        .as_f64()
        .unwrap();
    let o = run(&args(&[&csv, &jsonl, &stix])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("intel: 5 indicator(s) from 3 file(s), 1 skipped"),
        "{err}"
    );
    assert!(
        err.contains("iocs.csv:5: \"not-a-hash\" is not a valid md5"),
        "{err}"
    );
    let fs = parse(&o);
    let hit = |kind: &str, src: &str| {
        fs.iter()
            .find(|f| {
                f["detector"] == "intel_match"
                    && f["evidence"]["kind"] == kind
                    && f["src_ip"] == src
            })
            .unwrap_or_else(|| panic!("no {kind} hit for {src}"))
    };
    let d = hit("domain", "10.4.20.102");
    assert_eq!(d["evidence"]["indicator"], "gandhitoday.org");
    assert_eq!(d["evidence"]["intel_source"], "abuse.ch");
    assert_eq!(d["severity"], "high");
    assert!(!d["evidence"]["uids"].as_array().unwrap().is_empty());
    let u = hit("url", "10.4.25.101");
    assert_eq!(
        u["evidence"]["indicator"],
        "filmmogzivota.rs/SpryAssets/gDR/"
    );
    let n = hit("cidr", "10.4.25.101");
    assert_eq!(n["dst_ip"], "138.197.147.101");
    assert_eq!(n["evidence"]["intel_source"], "CERT-Lab");
    assert!(n["summary"].as_str().unwrap().contains("(Emotet C2)"));
    assert_eq!(hit("ja4", "10.4.25.101")["severity"], "high");
    // the certificate itself crossed the wire: critical
    let cert = hit("sha256", "10.4.25.101");
    assert_eq!(cert["severity"], "critical");
    assert_eq!(
        cert["evidence"]["seen_in"],
        serde_json::json!(["tls certificate"])
    );
    let tls = fs
        .iter()
        .find(|f| f["detector"] == "suspicious_tls" && f["src_ip"] == "10.4.25.101")
        .unwrap();
    assert_eq!(tls["score"].as_f64().unwrap(), tls_before + 15.0);
    assert_eq!(tls["evidence"]["intel_raise"], 15.0);
    assert!(
        tls["evidence"]["intel"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == "cidr 138.197.147.0/24 (CERT-Lab)")
    );
    // nothing usable: refused, with the reason
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "ip,999.1.1.1\n").unwrap();
    let o = run(&args(&[&bad]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(66));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no usable indicator"));
    // the intel table answers SQL
    let o = run(&[
        "-q",
        "sql",
        "--intel",
        &stix.to_string_lossy(),
        "--no-cache",
        &cap,
        "SELECT kind, value, source FROM intel",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "kind,value,source\ncidr,138.197.147.0/24,CERT-Lab"
    );
}

/// Near-identical findings below high (one detector, one source, one severity, 3 or more) come out
/// as one finding listing its members; high and critical findings are never grouped.
#[test]
fn similar_low_findings_from_one_source_are_grouped() {
    let cap = demo_capture();
    let args = |extra: &[&str]| {
        let mut v = vec![
            "-q",
            "triage",
            cap.to_str().unwrap(),
            "--format",
            "jsonl",
            "--min-severity",
            "low",
        ];
        v.extend_from_slice(extra);
        let o = run(&v);
        assert_eq!(o.status.code(), Some(0));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let fs = args(&[]);
    let raw: Vec<Finding> = {
        let dir = tmp("group");
        wirehunt_store::ingest::ingest(
            &[cap.to_string_lossy().into_owned()],
            &dir.join("ds"),
            &Default::default(),
            |_, _| {},
        )
        .unwrap();
        findings(&dir.join("ds"))
    };
    let grouped: Vec<&serde_json::Value> = fs
        .iter()
        .filter(|f| f["evidence"]["grouped"].is_u64())
        .collect();
    assert!(!grouped.is_empty());
    let mut accounted = fs.len() - grouped.len();
    for g in &grouped {
        let n = g["evidence"]["grouped"].as_u64().unwrap() as usize;
        assert!(n >= 3);
        assert_eq!(g["evidence"]["group"].as_array().unwrap().len(), n);
        assert!(matches!(g["severity"].as_str(), Some("low" | "medium")));
        let same = raw
            .iter()
            .filter(|f| {
                f.detector == g["detector"].as_str().unwrap()
                    && f.src_ip.as_deref() == g["src_ip"].as_str()
                    && f.severity.as_str() == g["severity"].as_str().unwrap()
            })
            .count();
        assert_eq!(same, n, "{g}");
        assert!(
            g["summary"]
                .as_str()
                .unwrap()
                .contains(&format!("and {} more like it", n - 1))
        );
        accounted += n;
    }
    // every raw finding is either shown or a member of a group
    assert_eq!(accounted, raw.len());
    assert_eq!(
        fs.iter()
            .filter(|f| matches!(f["severity"].as_str(), Some("high" | "critical")))
            .count(),
        raw.iter().filter(|f| f.severity >= Severity::High).count()
    );
}

/// A TCP session as Ethernet frames: handshake, each (from client?, payload) as one segment, FIN
/// both ways; one packet every 10 ms from `t0` (microseconds).
fn session(
    c: [u8; 4],
    cp: u16,
    s: [u8; 4],
    sp: u16,
    t0: i64,
    script: &[(bool, &[u8])],
) -> Vec<(i64, Vec<u8>)> {
    let timed: Vec<(i64, bool, &[u8])> = script
        .iter()
        .enumerate()
        .map(|(i, (from_client, p))| (t0 + 30_000 + i as i64 * 10_000, *from_client, *p))
        .collect();
    timed_session(c, cp, s, sp, t0, &timed)
}

/// [`session`] with a time for each segment (microseconds; the handshake at `t0`, the FINs 10 ms
/// after the last segment).
fn timed_session(
    c: [u8; 4],
    cp: u16,
    s: [u8; 4],
    sp: u16,
    t0: i64,
    script: &[(i64, bool, &[u8])],
) -> Vec<(i64, Vec<u8>)> {
    let (mut cs, mut ss) = (1000u32, 5000u32);
    let mut out = vec![
        (t0, tcp(c, cp, s, sp, cs, 0, SYN, b"")),
        (t0 + 10_000, tcp(s, sp, c, cp, ss, cs + 1, SYN | ACK, b"")),
    ];
    cs += 1;
    ss += 1;
    out.push((t0 + 20_000, tcp(c, cp, s, sp, cs, ss, ACK, b"")));
    let mut t = t0 + 20_000;
    for (at, from_client, p) in script {
        t = *at;
        if *from_client {
            out.push((t, tcp(c, cp, s, sp, cs, ss, ACK | PSH, p)));
            cs += p.len() as u32;
        } else {
            out.push((t, tcp(s, sp, c, cp, ss, cs, ACK | PSH, p)));
            ss += p.len() as u32;
        }
    }
    out.push((t + 10_000, tcp(c, cp, s, sp, cs, ss, FIN | ACK, b"")));
    out.push((t + 20_000, tcp(s, sp, c, cp, ss, cs + 1, FIN | ACK, b"")));
    out.push((t + 30_000, tcp(c, cp, s, sp, cs + 1, ss + 1, ACK, b"")));
    out
}

/// A DNS query for an A record, as an Ethernet frame.
fn dns_query(c: [u8; 4], s: [u8; 4], name: &str) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        q.push(l.len() as u8);
        q.extend(l.as_bytes());
    }
    q.extend([0, 0, 1, 0, 1]);
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    f.extend(ip_udp(c, 53000, s, 53, &q));
    f
}

/// A file carried in DNS names is the verdict: a gzip of a small document sent base64 (URL-safe) in
/// the labels of two queries, DNSteal-style - too few names for dns_tunnel - is high for
/// dns_encoded_query, and the summary names the format; the same names carrying random bytes (an
/// id, a token) stay a lead at medium.
#[test]
fn a_file_carried_in_dns_names_is_high() {
    use base64::Engine;
    use std::io::Write;
    let (c, resolver) = ([10, 0, 0, 12], [10, 0, 0, 1]);
    let t0 = 1_700_000_000_000_000i64;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all("user=admin\npassword=hunter2\n".repeat(4).as_bytes())
        .unwrap();
    let file = gz.finish().unwrap();
    let random: Vec<u8> = (0..file.len() as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for (name, data, want) in [
        ("gzip", &file, Severity::High),
        ("random", &random, Severity::Medium),
    ] {
        let text = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
        let frames: Vec<(i64, Vec<u8>)> = text
            .as_bytes()
            .chunks(50)
            .enumerate()
            .map(|(k, ch)| {
                let label = std::str::from_utf8(ch).unwrap();
                (
                    t0 + k as i64 * 100_000,
                    dns_query(c, resolver, &format!("{k}.{label}.exf.example.net")),
                )
            })
            .collect();
        let (ds, _) = ingest_bytes(&format!("dnsfile-{name}"), &[("c.pcap", pcap(1, &frames))]);
        let fs: Vec<Finding> = findings(&ds)
            .into_iter()
            .filter(|f| f.detector == "dns_encoded_query")
            .collect();
        assert_eq!(fs.len(), 1, "{name}: {fs:?}");
        assert_eq!(fs[0].domain.as_deref(), Some("example.net"), "{name}");
        assert_severity(&fs[0], want, name);
        assert_eq!(
            fs[0]
                .summary
                .contains("a name decodes to the header of a gzip file"),
            name == "gzip",
            "{}",
            fs[0].summary
        );
    }
}

/// ftp_smtp_exfil scores by evidence: a cleartext authenticated submission alone is medium; the
/// same after the host asked an IP-echo service for its address is high; a mail client behind
/// STARTTLS, and an FTP upload to a LAN server after browsing it, raise nothing.
#[test]
fn ftp_and_smtp_submissions_are_scored_by_their_evidence() {
    let (pc, srv, lan_srv) = ([10, 0, 0, 5], [198, 51, 100, 25], [10, 0, 0, 200]);
    let smtp: Vec<(bool, &[u8])> = vec![
        (false, b"220 mail.example.net ESMTP\r\n"),
        (true, b"EHLO DESKTOP-1\r\n"),
        (false, b"250-mail.example.net\r\n250 AUTH LOGIN\r\n"),
        (true, b"AUTH LOGIN Ym9iQGV4YW1wbGUubmV0\r\n"),
        (false, b"334 UGFzc3dvcmQ6\r\n"),
        (true, b"aHVudGVyMg==\r\n"),
        (false, b"235 ok\r\n"),
        (true, b"MAIL FROM:<bob@example.net>\r\nRCPT TO:<drop@example.org>\r\nDATA\r\n"),
        (false, b"250 ok\r\n250 ok\r\n354 go\r\n"),
        (true, b"Subject: PW_bob/DESKTOP-1\r\nFrom: bob@example.net\r\n\r\n<html>passwords</html>\r\n.\r\n"),
        (false, b"250 queued\r\n"),
        (true, b"QUIT\r\n"),
        (false, b"221 bye\r\n"),
    ];
    let starttls: Vec<(bool, &[u8])> = vec![
        (false, b"220 smtp.example.com ESMTP\r\n"),
        (true, b"EHLO laptop.home\r\n"),
        (false, b"250-smtp.example.com\r\n250 STARTTLS\r\n"),
        (true, b"STARTTLS\r\n"),
        (false, b"220 go ahead\r\n"),
    ];
    let ftp: Vec<(bool, &[u8])> = vec![
        (false, b"220 nas ready\r\n"),
        (true, b"USER backup\r\n"),
        (false, b"331 password\r\n"),
        (true, b"PASS x\r\n"),
        (false, b"230 ok\r\n"),
        (true, b"CWD /backups\r\n"),
        (false, b"250 ok\r\n"),
        (true, b"LIST\r\n"),
        (false, b"226 done\r\n"),
        (true, b"STOR notes.txt\r\n"),
        (false, b"226 done\r\n"),
    ];
    let t0 = 1_700_000_000_000_000i64;
    let mut base = session(pc, 50001, srv, 587, t0 + 5_000_000, &smtp);
    base.extend(session(
        [10, 0, 0, 6],
        50002,
        [203, 0, 113, 9],
        587,
        t0 + 7_000_000,
        &starttls,
    ));
    base.extend(session(
        [10, 0, 0, 7],
        50003,
        lan_srv,
        21,
        t0 + 9_000_000,
        &ftp,
    ));
    let mut with_lookup = vec![(t0, dns_query(pc, [10, 0, 0, 1], "api.ipify.org"))];
    with_lookup.extend(base.clone());
    for (name, frames, want) in [
        ("plain", base, Severity::Medium),
        ("lookup", with_lookup, Severity::High),
    ] {
        let (ds, _) = ingest_bytes(&format!("ftpsmtp-{name}"), &[("c.pcap", pcap(1, &frames))]);
        let all = findings(&ds);
        // the lookup alone is context: low, whoever did it
        let lookups: Vec<_> = all
            .iter()
            .filter(|f| f.detector == "public_ip_lookup")
            .map(|f| (f.src_ip.clone(), f.severity))
            .collect();
        let want_lookups = if name == "lookup" {
            vec![(Some("10.0.0.5".to_string()), Severity::Low)]
        } else {
            vec![]
        };
        assert_eq!(lookups, want_lookups);
        let fs: Vec<Finding> = all
            .into_iter()
            .filter(|f| f.detector == "ftp_smtp_exfil")
            .collect();
        assert_eq!(
            fs.len(),
            1,
            "{name}: one finding, for the cleartext submission only: {fs:?}"
        );
        let f = &fs[0];
        assert_eq!(
            (f.src_ip.as_deref(), f.dst_ip.as_deref(), f.dst_port),
            (Some("10.0.0.5"), Some("198.51.100.25"), Some(587))
        );
        assert_eq!(f.severity, want, "{name}: {}", f.summary);
        assert!(
            f.summary.contains("PW_bob/DESKTOP-1")
                && f.summary
                    .contains("password sent in the clear (user bob@example.net)"),
            "{}",
            f.summary
        );
        assert_eq!(
            f.summary
                .contains("looked up its own public address (api.ipify.org)"),
            name == "lookup",
            "{}",
            f.summary
        );
        // the tables hold what the sessions said, and never a password
        let smtp_rows = rows(
            &ds,
            "smtp",
            &[
                "orig_h",
                "trans_depth",
                "auth_user",
                "tls",
                "subject",
                "last_reply",
            ],
        );
        assert!(
            smtp_rows.contains(&vec![
                "10.0.0.5".into(),
                "1".into(),
                "bob@example.net".into(),
                "false".into(),
                "PW_bob/DESKTOP-1".into(),
                "250 queued".into()
            ]),
            "{smtp_rows:?}"
        );
        assert!(
            smtp_rows.contains(&vec![
                "10.0.0.6".into(),
                "0".into(),
                "".into(),
                "true".into(),
                "".into(),
                "".into()
            ]),
            "{smtp_rows:?}"
        );
        let ftp_rows = rows(&ds, "ftp", &["command", "arg", "reply_code"]);
        assert_eq!(
            ftp_rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
            ["USER", "PASS", "CWD", "LIST", "STOR"]
        );
        assert_eq!(ftp_rows[1][1], "<hidden>");
        // the finding names its session for pivots (wirehunt extract --uid)
        let smtp_uid = rows(&ds, "conn", &["uid", "orig_h", "resp_p"])
            .into_iter()
            .find(|r| r[1] == "10.0.0.5" && r[2] == "587")
            .unwrap()[0]
            .clone();
        assert_eq!(f.evidence["uids"], serde_json::json!([smtp_uid]));
        let services = rows(&ds, "conn", &["resp_p", "service"]);
        assert!(
            services.contains(&vec!["587".into(), "smtp".into()])
                && services.contains(&vec!["21".into(), "ftp".into()]),
            "{services:?}"
        );
    }
}

/// An IP-echo check (a dynamic-DNS updater asking every five minutes, over plain HTTP, for its own
/// public address) is judged by what it was answered, not by a name list: the host below is on no
/// list. The same schedule answered with anything but the address is periodicity alone (medium);
/// an echo answer from an IP-literal Host keeps that strong evidence (high).
#[test]
fn ip_echo_checks_are_low_by_their_answers() {
    let (c, s) = ([10, 0, 0, 5], [198, 51, 100, 80]);
    let t0 = 1_700_000_000_000_000i64;
    for (name, host, body, want) in [
        (
            "echo",
            "ipcheck.example.net",
            "<html><head><title>Current IP Check</title></head><body>Current IP Address: 203.0.113.9</body></html>\r\n",
            Severity::Low,
        ),
        (
            "status",
            "ipcheck.example.net",
            "<html><head><title>Current IP Check</title></head><body>Current status: OK, nothing to do</body></html>\r\n",
            Severity::Medium,
        ),
        (
            "echo-ip-host",
            "198.51.100.80",
            "<html><head><title>Current IP Check</title></head><body>Current IP Address: 203.0.113.9</body></html>\r\n",
            Severity::Critical,
        ),
    ] {
        let req = format!(
            "GET / HTTP/1.0\r\nHost: {host}\r\nUser-Agent: ddclient/3.10.0\r\nConnection: close\r\n\r\n"
        );
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nServer: checkip\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let mut frames = Vec::new();
        for i in 0..12i64 {
            let t = t0 + i * 300_000_000 + (i * 7 % 5) * 1_000_000;
            frames.extend(session(
                c,
                40000 + i as u16,
                s,
                80,
                t,
                &[(true, req.as_bytes()), (false, resp.as_bytes())],
            ));
        }
        let (ds, _) = ingest_bytes(&format!("ipecho-{name}"), &[("c.pcap", pcap(1, &frames))]);
        let all = findings(&ds);
        let b: Vec<&Finding> = all.iter().filter(|f| f.detector == "beaconing").collect();
        assert_eq!(b.len(), 1, "{name}: {b:?}");
        assert_eq!(b[0].severity, want, "{name}: {}", b[0].summary);
        // the evidence says what the answers were, capped or not
        assert_eq!(
            b[0].evidence["ip_echo"].as_bool(),
            Some(name != "status"),
            "{name}"
        );
        assert_eq!(
            b[0].summary
                .contains("every answer was the same IP address"),
            name == "echo",
            "{name}: {}",
            b[0].summary
        );
        // the look-up itself is context, found by its answer
        let lookups: Vec<(Option<&str>, Severity)> = all
            .iter()
            .filter(|f| f.detector == "public_ip_lookup")
            .map(|f| (f.domain.as_deref(), f.severity))
            .collect();
        let want_lookups = match name {
            "status" => vec![],
            _ => vec![(Some(host), Severity::Low)],
        };
        assert_eq!(lookups, want_lookups, "{name}");
        assert_eq!(
            column(&ds, "files", "text_address")
                .iter()
                .filter(|a| *a == "203.0.113.9")
                .count(),
            if name == "status" { 0 } else { 12 },
            "{name}"
        );
    }
}

/// exfil_volume judges mail as mail: 1.8 MB submitted over SMTP with STARTTLS in six sessions is a
/// mail client's day (medium, the summary says why); the same bytes to the same server and port
/// without SMTP - nothing parsed it as mail - stay a large one-way upload (high).
#[test]
fn mail_submissions_are_not_exfiltration_by_volume() {
    let (c, s) = ([10, 0, 0, 6], [198, 51, 100, 25]);
    let t0 = 1_700_000_000_000_000i64;
    let chunk = vec![0x5au8; 1400];
    for (name, smtp, want) in [
        ("mail", true, Severity::Medium),
        ("raw", false, Severity::High),
    ] {
        let mut frames = Vec::new();
        for i in 0..6i64 {
            let mut script: Vec<(bool, &[u8])> = Vec::new();
            if smtp {
                script.extend([
                    (false, &b"220 smtp.example.com ESMTP\r\n"[..]),
                    (true, &b"EHLO laptop.home\r\n"[..]),
                    (false, &b"250-smtp.example.com\r\n250 STARTTLS\r\n"[..]),
                    (true, &b"STARTTLS\r\n"[..]),
                    (false, &b"220 go ahead\r\n"[..]),
                ]);
            }
            for _ in 0..215 {
                script.push((true, &chunk));
            }
            script.push((false, &b"ok"[..]));
            frames.extend(session(
                c,
                41000 + i as u16,
                s,
                587,
                t0 + i * 600_000_000,
                &script,
            ));
        }
        let (ds, _) = ingest_bytes(&format!("mailvol-{name}"), &[("c.pcap", pcap(1, &frames))]);
        let fs: Vec<Finding> = findings(&ds)
            .into_iter()
            .filter(|f| f.detector == "exfil_volume")
            .collect();
        assert_eq!(fs.len(), 1, "{name}: {fs:?}");
        assert_eq!(fs[0].severity, want, "{name}: {}", fs[0].summary);
        assert_eq!(
            fs[0].summary.contains("SMTP mail submissions"),
            smtp,
            "{name}: {}",
            fs[0].summary
        );
    }
}

/// Binary carried as text: a POST answered with 40 kB that is one hex string (CryptoWall's C2
/// answers its check-ins so) is an encoded payload for executable_download and `files.text_encoding`
/// says `hex`: high when it is declared a web page (text/html: no page at all), medium when its type
/// is honest (text/plain); the same size of prose answering the same POST is a page.
#[test]
fn encoded_payloads_answering_a_post_are_found() {
    let (c, s) = ([10, 0, 0, 8], [198, 51, 100, 44]);
    let t0 = 1_700_000_000_000_000i64;
    let hex: String = (0..20_000u32)
        .map(|i| format!("{:02x}", (i.wrapping_mul(2654435761) >> 11) as u8))
        .collect();
    let prose = "Our shop is open from nine to five, every day but Sunday. ".repeat(700);
    for (name, body, ctype, want) in [
        ("hex", hex.as_str(), "text/html", Some(Severity::High)),
        (
            "hex-plain",
            hex.as_str(),
            "text/plain",
            Some(Severity::Medium),
        ),
        ("prose", prose.as_str(), "text/html", None),
    ] {
        let form = "n=4f2a9c0d11e7b3a5";
        let req = format!(
            "POST /76N1Lm.php?n=x4tk7t4jo6 HTTP/1.1\r\nHost: shop.example.org\r\nUser-Agent: Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1)\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        );
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let mut script: Vec<(bool, &[u8])> = vec![(true, req.as_bytes()), (false, head.as_bytes())];
        script.extend(body.as_bytes().chunks(1400).map(|ch| (false, ch)));
        let frames = session(c, 42000, s, 80, t0, &script);
        let (ds, _) = ingest_bytes(&format!("encoded-{name}"), &[("c.pcap", pcap(1, &frames))]);
        let enc: Vec<String> = rows(&ds, "files", &["is_orig", "text_encoding", "seen_bytes"])
            .into_iter()
            .filter(|r| r[0] == "false")
            .map(|r| format!("{}:{}", r[1], r[2]))
            .collect();
        assert_eq!(
            enc,
            vec![if want.is_some() {
                format!("hex:{}", hex.len())
            } else {
                format!(":{}", prose.len())
            }],
            "{name}"
        );
        let dl: Vec<Finding> = findings(&ds)
            .into_iter()
            .filter(|f| f.detector == "executable_download")
            .collect();
        if let Some(want) = want {
            assert_eq!(dl.len(), 1, "{dl:?}");
            assert_severity(&dl[0], want, name);
            assert!(
                dl[0]
                    .summary
                    .contains("one hex string (binary carried as text")
                    && dl[0].summary.contains("the answer to a POST"),
                "{}",
                dl[0].summary
            );
            assert_eq!(
                dl[0].summary.contains("no page at all"),
                ctype == "text/html",
                "{}",
                dl[0].summary
            );
        } else {
            assert!(dl.is_empty(), "{dl:?}");
        }
    }
}

/// Remote control in the clear is found by what the stream says: a reverse shell's cmd.exe banner
/// (high), a bind shell's PowerShell prompt answering its caller (high, said by the responder), a
/// RAT registering its victim's profile on three connections (high, repeated). Software that names
/// the operating system by design says nothing here: SMB's NativeOS, an LDAP entry's
/// operatingSystem, HTTP's User-Agent, syslog carrying Windows event text, a print job whose
/// document names Windows, and an unknown stream whose first segment is SMB framing and whose later
/// text names Windows.
#[test]
fn remote_control_in_clear_is_found_by_what_the_stream_says() {
    let (c, atk, lan) = ([10, 0, 0, 5], [198, 51, 100, 66], [10, 0, 0, 9]);
    let t0 = 1_700_000_000_000_000i64;
    let banner: &[u8] = b"Microsoft Windows [Version 10.0.19045.2965]\r\n(c) Microsoft Corporation. All rights reserved.\r\n\r\nC:\\Users\\bob>";
    let profile = |i: u8| {
        format!(
            "ping|RAT|C4BA36{i:02}|DESK-7|bob|Microsoft Windows 10 Pro|64-bit|none|1.6|Not Idle"
        )
    };
    let mut frames = Vec::new();
    // a reverse shell: the victim calls out and its shell prints the banner
    frames.extend(session(
        c,
        49200,
        atk,
        4444,
        t0,
        &[
            (true, banner),
            (false, b"whoami\r\n"),
            (true, b"desk-7\\bob\r\n\r\nC:\\Users\\bob>"),
        ],
    ));
    // a bind shell: the attacker connects to the victim, which answers with a prompt
    frames.extend(session(
        atk,
        51000,
        c,
        5555,
        t0 + 5_000_000,
        &[(false, b"PS C:\\Users\\bob> "), (true, b"hostname\r\n")],
    ));
    // a RAT registering three times
    let regs: Vec<String> = (0..3).map(profile).collect();
    for (i, r) in regs.iter().enumerate() {
        frames.extend(session(
            c,
            49300 + i as u16,
            [203, 0, 113, 40],
            8219,
            t0 + 10_000_000 + i as i64 * 20_000_000,
            &[(true, b"144\r\n\r\n"), (true, r.as_bytes()), (false, b"ok")],
        ));
    }
    // benign look-alikes on the LAN and on the web
    let smb_setup = b"\x00\x00\x00\x60\xffSMBs\x00\x00\x00\x00\x18\x07\xc8Windows Server 2003 3790 Service Pack 2\x00Windows Server 2003 5.2\x00";
    frames.extend(session(
        c,
        49400,
        lan,
        445,
        t0 + 1_000_000,
        &[
            (true, smb_setup),
            (false, b"\x00\x00\x00\x20\xffSMBs\x00\x00\x00\x00\x98"),
        ],
    ));
    let ldap_req = b"\x30\x25\x02\x01\x05\x63\x20\x04\x00\x0a\x01\x00\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00\x87\x0bobjectClass\x30\x00";
    let ldap_entry = b"\x30\x84\x00\x00\x00\x50\x02\x01\x05\x64\x84\x00\x00\x00\x47\x04\x0fCN=DESK-7,DC=ad\x30\x84\x00\x00\x00\x2c\x30\x84\x00\x00\x00\x26\x04\x0foperatingSystem\x31\x84\x00\x00\x00\x0f\x04\x1cWindows Server 2019 Standard";
    frames.extend(session(
        c,
        49401,
        lan,
        389,
        t0 + 2_000_000,
        &[(true, ldap_req), (false, ldap_entry)],
    ));
    frames.extend(session(
        c,
        49402,
        [93, 184, 216, 34],
        80,
        t0 + 3_000_000,
        &[
            (true, b"POST /t HTTP/1.1\r\nHost: telemetry.example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64)\r\nContent-Length: 14\r\n\r\nWindows 10 Pro"),
            (false, b"HTTP/1.1 204 No Content\r\n\r\n"),
        ],
    ));
    frames.extend(session(
        c,
        49403,
        lan,
        514,
        t0 + 4_000_000,
        &[(true, b"<134>Dec  6 19:00:00 desk-7 nxlog: Microsoft Windows 10 Enterprise build 19045 updated\n")],
    ));
    frames.extend(session(
        c,
        49404,
        lan,
        7777,
        t0 + 6_000_000,
        &[
            (true, b"\x00\x00\x00\x20\xfeSMB@\x00\x00"),
            (true, b"|Windows 10 Pro|"),
        ],
    ));
    // a print job whose document names Windows
    frames.extend(session(
        c,
        49405,
        lan,
        9100,
        t0 + 7_000_000,
        &[
            (
                true,
                b"\x1b%-12345X@PJL JOB NAME=\"setup\"\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n",
            ),
            (
                true,
                b"%!PS-Adobe-3.0\n(Install on Windows 10 Pro or Windows 11) show\n",
            ),
        ],
    ));
    let (ds, _) = ingest_bytes("remote-control", &[("c.pcap", pcap(1, &frames))]);
    // the columns: one text per stream that said something, on the side that said it
    let ports = column(&ds, "conn", "resp_p");
    let orig = column(&ds, "conn", "orig_profile");
    let resp = column(&ds, "conn", "resp_profile");
    let said = |port: &str| -> (String, String) {
        let i = ports.iter().position(|p| p == port).unwrap();
        (orig[i].clone(), resp[i].clone())
    };
    assert_eq!(
        said("4444"),
        (
            "Microsoft Windows [Version 10.0.19045.2965]".into(),
            String::new()
        )
    );
    assert_eq!(said("5555"), (String::new(), r"PS C:\\Users\\bob>".into()));
    assert_eq!(said("8219").0, "Microsoft Windows 10 Pro");
    for benign in ["445", "389", "80", "514", "7777", "9100"] {
        assert_eq!(
            said(benign),
            (String::new(), String::new()),
            "port {benign}"
        );
    }
    let fs: Vec<Finding> = findings(&ds)
        .into_iter()
        .filter(|f| f.detector == "remote_control_in_clear")
        .collect();
    let got: Vec<(Option<&str>, Option<&str>, Severity)> = fs
        .iter()
        .map(|f| (f.src_ip.as_deref(), f.dst_ip.as_deref(), f.severity))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("10.0.0.5"), Some("203.0.113.40"), Severity::High),
            (Some("10.0.0.5"), Some("198.51.100.66"), Severity::High),
            (Some("198.51.100.66"), Some("10.0.0.5"), Severity::High),
        ],
        "{fs:#?}"
    );
    // the summary names what was said, by whom, and why it scored so
    assert_eq!(fs[0].score, 75.0, "{}", fs[0].summary);
    assert!(
        fs[0]
            .summary
            .contains("a host profile naming its operating system")
            && fs[0].summary.contains("it repeats (3 connection(s)"),
        "{}",
        fs[0].summary
    );
    assert_eq!(fs[1].score, 70.0, "{}", fs[1].summary);
    assert!(
        fs[1].summary.contains("said by the originator"),
        "{}",
        fs[1].summary
    );
    assert!(
        fs[2].summary.contains("said by the responder"),
        "{}",
        fs[2].summary
    );
}

/// A check-in to a LAN address is C2 when its browser User-Agent is one the host's own browser does
/// not send (a string hard-coded in the implant: Empire's IE11 on a host browsing with IE8); the same
/// schedule with the host's browser User-Agent (a dashboard left open) or an agent's own User-Agent
/// (a backup client polling its server) stays at medium or below.
#[test]
fn a_lan_check_in_with_a_browser_user_agent_the_host_does_not_browse_with_is_high() {
    let (c, lan) = ([192, 168, 1, 46], [192, 168, 1, 161]);
    let t0 = 1_700_000_000_000_000i64;
    let browser = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0; SLCC2)";
    let implant = "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko";
    let agent = "BackupAgent/9.2 (status)";
    for (name, ua, want_high) in [
        ("implant", implant, true),
        ("dashboard", browser, false),
        ("agent", agent, false),
    ] {
        let mut frames = Vec::new();
        // browsing: four public sites with the host's browser
        for (i, site) in [
            "news.example",
            "search.example",
            "mail.example",
            "shop.example",
        ]
        .iter()
        .enumerate()
        {
            let req = format!(
                "GET / HTTP/1.1\r\nHost: {site}\r\nUser-Agent: {browser}\r\nAccept: */*\r\n\r\n"
            );
            let resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>";
            frames.extend(session(
                c,
                40000 + i as u16,
                [93, 184, 216, 30 + i as u8],
                80,
                t0 + i as i64 * 1_000_000,
                &[(true, req.as_bytes()), (false, &resp[..])],
            ));
        }
        // the check-ins: every 8 s (a little jitter) for ten minutes, 75 of them
        for k in 0..75i64 {
            let req = format!(
                "GET /news.php HTTP/1.1\r\nHost: 192.168.1.161\r\nUser-Agent: {ua}\r\nCookie: session=q2VbW1\r\n\r\n"
            );
            let resp = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n<html>nothing</html>";
            let jitter = (k * 7919 % 11 - 5) * 40_000;
            frames.extend(session(
                c,
                41000 + k as u16,
                lan,
                80,
                t0 + 10_000_000 + k * 8_000_000 + jitter,
                &[(true, req.as_bytes()), (false, &resp[..])],
            ));
        }
        frames.sort_by_key(|f| f.0);
        let (ds, _) = ingest_bytes(&format!("lan-ua-{name}"), &[("c.pcap", pcap(1, &frames))]);
        let fs: Vec<Finding> = findings(&ds)
            .into_iter()
            .filter(|f| f.detector == "beaconing" && f.dst_ip.as_deref() == Some("192.168.1.161"))
            .collect();
        assert_eq!(fs.len(), 1, "{name}: {fs:?}");
        let f = &fs[0];
        eprintln!("{name}: {} {:?}: {}", f.score, f.severity, f.summary);
        let names_it = f.summary.contains(
            "a browser User-Agent used for this peer only while the host browses with another",
        );
        if want_high {
            assert!(
                f.severity >= Severity::High,
                "{name}: {} {}",
                f.score,
                f.summary
            );
            assert!(names_it, "{name}: {}", f.summary);
        } else {
            assert!(
                f.severity <= Severity::Medium,
                "{name}: {} {}",
                f.score,
                f.summary
            );
            assert!(!names_it, "{name}: {}", f.summary);
        }
    }
}

/// A QUIC session whose handshake wirehunt decrypts (RFC 9001's example Initial packets), then a
/// heartbeat every 15 s for ten minutes: a keepalive. On 443 nothing about the endpoint stands out
/// (low); on 4443, a port not registered for QUIC, the summary names it and the cap is medium (weak
/// evidence with a keepalive).
#[test]
fn a_quic_keepalive_on_an_unregistered_port_names_the_port() {
    let unhex = |f: &str| -> Vec<u8> {
        let t = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("crates/wire/testdata")
                .join(f),
        )
        .unwrap();
        let h: Vec<u8> = t.bytes().filter(u8::is_ascii_hexdigit).collect();
        h.chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect()
    };
    let (client_initial, server_initial) = (
        unhex("rfc9001_client_initial.hex"),
        unhex("rfc9001_server_initial.hex"),
    );
    let (c, s) = ([10, 0, 0, 4], [203, 0, 113, 77]);
    let t0 = 1_700_000_000_000_000i64;
    for (port, want_odd) in [(443u16, false), (4443, true)] {
        let mut frames = vec![
            (t0, ip_udp(c, 53241, s, port, &client_initial)),
            (t0 + 30_000, ip_udp(s, port, c, 53241, &server_initial)),
        ];
        for k in 1..=40i64 {
            // short-header (1-RTT) packets: first bit 0, the rest protected
            let ping: Vec<u8> = (0..27u8)
                .map(|i| {
                    if i == 0 {
                        0x43
                    } else {
                        i.wrapping_mul(37).wrapping_add(k as u8)
                    }
                })
                .collect();
            let t = t0 + k * 15_000_000 + (k * 7919 % 7 - 3) * 50_000;
            frames.push((t, ip_udp(c, 53241, s, port, &ping)));
            frames.push((t + 40_000, ip_udp(s, port, c, 53241, &ping)));
        }
        let (ds, _) = ingest_bytes(&format!("quic-{port}"), &[("q.pcap", pcap(101, &frames))]);
        assert_eq!(
            rows(&ds, "conn", &["proto", "service", "resp_p"]),
            vec![vec![
                "udp".to_string(),
                "quic".to_string(),
                port.to_string()
            ]]
        );
        // the handshake from the decrypted Initials: RFC 9001's ClientHello names example.com
        let tls = rows(
            &ds,
            "tls",
            &["server_name", "version", "ja4", "established"],
        );
        assert_eq!(tls.len(), 1, "{tls:?}");
        assert_eq!(tls[0][0], "example.com");
        assert_eq!(tls[0][1], "TLSv13");
        assert!(tls[0][2].starts_with("q13d"), "{tls:?}");
        assert_eq!(tls[0][3], "true");
        let f = one_finding(&ds, "beaconing", &port.to_string(), &["keepalive"]);
        let names_port = f
            .summary
            .contains("quic on port 4443, not a port registered for it");
        assert_eq!(names_port, want_odd, "{}", f.summary);
        if want_odd {
            assert_eq!(f.severity, Severity::Medium, "{} {}", f.score, f.summary);
        } else {
            assert!(f.severity <= Severity::Low, "{} {}", f.score, f.summary);
        }
    }
}

/// The one finding of `detector` in a dataset (printed), its summary checked to name each of `names`.
fn one_finding(ds: &std::path::Path, detector: &str, label: &str, names: &[&str]) -> Finding {
    let mut fs: Vec<Finding> = findings(ds)
        .into_iter()
        .filter(|f| f.detector == detector)
        .collect();
    assert_eq!(fs.len(), 1, "{label}: {fs:?}");
    let f = fs.remove(0);
    eprintln!("{label}: {} {:?}: {}", f.score, f.severity, f.summary);
    for n in names {
        assert!(f.summary.contains(n), "{label}: no {n:?} in {}", f.summary);
    }
    f
}

/// `f` is at `want` (high: at least high, critical included).
fn assert_severity(f: &Finding, want: Severity, label: &str) {
    if want == Severity::High {
        assert!(f.severity >= want, "{label}: {} {}", f.score, f.summary);
    } else {
        assert_eq!(f.severity, want, "{label}: {} {}", f.score, f.summary);
    }
}

/// A client given an address shows it twice: no DNS answer names the peer, and its ClientHello
/// names no server. That is one fact (devices with a hard-coded cloud address show it too), so the
/// two count once: weak evidence, medium. Evidence of another kind (TLS on a port not registered
/// for it) then takes the same series to high. A ClientHello that offers HTTP (ALPN h2, http/1.1)
/// and names no server is HTTPS to an IP literal - strong, as an IP literal in a plain-HTTP Host is
/// (browsers and HTTP libraries name every origin they reach): high on 443 too - except to a public
/// DNS-over-HTTPS resolver's address (1.1.1.1), which a DoH client is configured with: weak there.
#[test]
fn an_address_without_a_name_counts_once() {
    use wirehunt_sim::net::Rng;
    use wirehunt_sim::proto::{ClientProfile, client_finish, client_hello, server_flight};
    let (c, resolver) = ([10, 0, 0, 7], [10, 0, 0, 1]);
    let t0 = 1_700_000_000_000_000i64;
    let http: &[&str] = &["h2", "http/1.1"];
    let (cloud, doh) = ([198, 51, 100, 20], [1, 1, 1, 1]);
    for (port, alpn, peer, want) in [
        (443u16, &[][..], cloud, Severity::Medium),
        (4443, &[][..], cloud, Severity::High),
        (443, http, cloud, Severity::High),
        (443, http, doh, Severity::Medium),
    ] {
        let mut rng = Rng::new(7);
        // the host uses DNS, for another name
        let mut frames = vec![(t0, dns_query(c, resolver, "www.example.com"))];
        // a new TLS 1.3 connection every 60 s (a little jitter) for 40 minutes, no SNI
        for k in 0..40i64 {
            let hello = client_hello(&mut rng, ClientProfile::Curl, None, alpn, true);
            let flight = server_flight(&mut rng, true, None, false, None);
            let finish = client_finish(&mut rng, true);
            let jitter = (k * 7919 % 11 - 5) * 200_000;
            frames.extend(session(
                c,
                42000 + k as u16,
                peer,
                port,
                t0 + 5_000_000 + k * 60_000_000 + jitter,
                &[(true, &hello), (false, &flight), (true, &finish)],
            ));
        }
        frames.sort_by_key(|f| f.0);
        let label = format!("{port}{}-{}", alpn.join(","), peer[0]);
        let (ds, _) = ingest_bytes(&format!("no-sni-{label}"), &[("c.pcap", pcap(1, &frames))]);
        let tls = rows(&ds, "tls", &["server_name", "version", "alpn_offered"]);
        assert_eq!(tls.len(), 40, "{tls:?}");
        let offered = if alpn.is_empty() {
            "[]"
        } else {
            "[h2, http/1.1]"
        };
        assert!(
            tls.iter()
                .all(|r| r[0].is_empty() && r[1] == "TLSv13" && r[2] == offered),
            "{tls:?}"
        );
        let f = one_finding(
            &ds,
            "beaconing",
            &label,
            &["handshake naming no server", "named by no DNS answer"],
        );
        assert_severity(&f, want, &label);
        assert_eq!(
            f.summary
                .contains("ssl on port 4443, not a port registered for it"),
            port == 4443,
            "{}",
            f.summary
        );
        assert_eq!(
            f.summary.contains("HTTPS to an address"),
            !alpn.is_empty() && peer == cloud,
            "{}",
            f.summary
        );
    }
}

/// An application's own long session - a proprietary protocol to an address its API gave it, not
/// DNS - pinging every 30 s shows two pieces of weak evidence (an unnamed peer, a payload of no
/// known protocol): a keepalive with weak evidence alone stays at medium however many pieces. The
/// same bytes as a new connection per check-in (a raw-TCP implant calling a hard-coded address) are
/// high.
#[test]
fn a_keepalive_needs_strong_evidence_to_pass_medium() {
    let (c, resolver, peer) = ([10, 0, 0, 9], [10, 0, 0, 1], [198, 51, 100, 33]);
    let t0 = 1_700_000_000_000_000i64;
    let ping: Vec<u8> = (0..24u8).map(|i| i.wrapping_mul(91) ^ 0x5a).collect();
    let pong: Vec<u8> = (0..24u8).map(|i| i.wrapping_mul(53) ^ 0xa5).collect();
    let jitter = |k: i64| (k * 7919 % 11 - 5) * 100_000;
    for (shape, want) in [
        ("keepalive", Severity::Medium),
        ("check-ins", Severity::High),
    ] {
        let mut frames = vec![(t0, dns_query(c, resolver, "www.example.com"))];
        if shape == "keepalive" {
            let mut script = Vec::new();
            for k in 0..60i64 {
                let t = t0 + 1_000_000 + k * 30_000_000 + jitter(k);
                script.push((t, true, &ping[..]));
                script.push((t + 40_000, false, &pong[..]));
            }
            frames.extend(timed_session(c, 50000, peer, 7000, t0 + 500_000, &script));
        } else {
            for k in 0..60i64 {
                frames.extend(session(
                    c,
                    50000 + k as u16,
                    peer,
                    7000,
                    t0 + 1_000_000 + k * 30_000_000 + jitter(k),
                    &[(true, &ping[..]), (false, &pong[..])],
                ));
            }
        }
        frames.sort_by_key(|f| f.0);
        let (ds, _) = ingest_bytes(&format!("app-{shape}"), &[("c.pcap", pcap(1, &frames))]);
        let f = one_finding(
            &ds,
            "beaconing",
            shape,
            &["named by no DNS answer", "TCP payload of no known protocol"],
        );
        assert_severity(&f, want, shape);
        let keepalive = f
            .summary
            .contains("keepalive: tiny constant bursts inside one session");
        assert_eq!(keepalive, shape == "keepalive", "{}", f.summary);
        let capped = f
            .summary
            .contains("weak evidence alone on a keepalive: capped at medium");
        assert_eq!(capped, shape == "keepalive", "{}", f.summary);
    }
}

/// A session held for the whole capture in a protocol no analyzer knows, to an address no DNS
/// answer named, on an odd port: what a music, game or meeting client does with servers its API
/// named, and what an implant does - weak facts, so long_connection holds it at medium. The same
/// session opening with a shell's banner in the clear (a reverse shell) is strong evidence: high.
#[test]
fn a_long_session_needs_strong_evidence_to_pass_medium() {
    let (c, resolver, peer) = ([10, 0, 0, 11], [10, 0, 0, 1], [198, 51, 100, 44]);
    let t0 = 1_700_000_000_000_000i64;
    let ping: Vec<u8> = (0..24u8).map(|i| i.wrapping_mul(91) ^ 0x5a).collect();
    let banner = b"Microsoft Windows [Version 10.0.19045.4651]\r\n(c) Microsoft Corporation. All rights reserved.\r\n\r\nC:\\Users\\Public>";
    for (shape, want) in [("app", Severity::Medium), ("shell", Severity::High)] {
        let mut frames = vec![(t0, dns_query(c, resolver, "www.example.com"))];
        let mut script: Vec<(i64, bool, &[u8])> = Vec::new();
        if shape == "shell" {
            script.push((t0 + 600_000, true, &banner[..]));
        }
        // activity now and then, irregular: 40 exchanges over 40 minutes
        for k in 0..40i64 {
            let t = t0 + 1_000_000 + k * 60_000_000 + (k * 7919 % 23) * 1_000_000;
            script.push((t, true, &ping[..]));
            script.push((t + 40_000, false, &ping[..]));
        }
        frames.extend(timed_session(c, 50100, peer, 7000, t0 + 500_000, &script));
        frames.sort_by_key(|f| f.0);
        let (ds, _) = ingest_bytes(&format!("long-{shape}"), &[("c.pcap", pcap(1, &frames))]);
        let f = one_finding(
            &ds,
            "long_connection",
            shape,
            &[
                "peer address named by no DNS answer",
                "payload no analyzer recognised",
                "port 7000 is not a usual long-session port",
            ],
        );
        assert_severity(&f, want, shape);
        assert_eq!(
            f.summary.contains("names the host in the clear"),
            shape == "shell",
            "{}",
            f.summary
        );
        assert_eq!(
            f.summary.contains("weak evidence alone: capped at medium"),
            shape == "app",
            "{}",
            f.summary
        );
    }
}

/// NAT traversal and a VPN tunnel named by parsing: a STUN binding refresh every 10 s (RFC 8489
/// header with the magic cookie, a success response back) and a WireGuard keepalive every 25 s with
/// a handshake every 2 min fill `conn.service` (stun, wireguard); the same datagrams' sizes on the
/// same ports with other contents leave it null. Their schedules are keepalives inside one long
/// flow: whatever else is said about the peer, they stay below high.
#[test]
fn stun_and_wireguard_flows_are_named_and_their_keepalives_stay_below_high() {
    let (c, s) = ([10, 0, 0, 7], [203, 0, 113, 90]);
    let t0 = 1_700_000_000_000_000i64;
    let stun = |kind: u16, k: i64| {
        let mut m = kind.to_be_bytes().to_vec();
        m.extend([0, 0, 0x21, 0x12, 0xa4, 0x42]);
        m.extend((0..12).map(|i| (k as u8).wrapping_mul(31).wrapping_add(i)));
        m
    };
    let wg = |t: u8, n: usize| {
        let mut v = vec![0u8; n];
        v[0] = t;
        v[4..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i * 7) as u8);
        v
    };
    let mut frames = Vec::new();
    let mut fake = Vec::new();
    for k in 0..180i64 {
        let t = t0 + k * 10_000_000;
        // a Binding request and its success response
        frames.push((t, ip_udp(c, 50000, s, 3478, &stun(0x0001, k))));
        frames.push((t + 30_000, ip_udp(s, 3478, c, 50000, &stun(0x0101, k))));
        // same sizes, port 3478, no magic cookie
        fake.push((t, ip_udp(c, 50001, s, 3478, &[0x16; 20])));
    }
    for k in 0..72i64 {
        let t = t0 + 5_000_000 + k * 25_000_000;
        frames.push((t, ip_udp(c, 41000, s, 51820, &wg(4, 32))));
        if k % 5 == 0 {
            frames.push((t + 1_000_000, ip_udp(c, 41000, s, 51820, &wg(1, 148))));
            frames.push((t + 1_040_000, ip_udp(s, 51820, c, 41000, &wg(2, 92))));
        }
        fake.push((t, ip_udp(c, 41001, s, 51820, &wg(9, 32))));
    }
    frames.extend(fake);
    frames.sort_by_key(|f| f.0);
    let (ds, _) = ingest_bytes("stun-wg", &[("v.pcap", pcap(101, &frames))]);
    let mut got = rows(&ds, "conn", &["orig_p", "resp_p", "service"]);
    got.sort();
    let row = |o: &str, r: &str, svc: &str| vec![o.to_string(), r.to_string(), svc.to_string()];
    assert_eq!(
        got,
        vec![
            row("41000", "51820", "wireguard"),
            row("41001", "51820", ""),
            row("50000", "3478", "stun"),
            row("50001", "3478", ""),
        ]
    );
    let all = findings(&ds);
    for (svc, port) in [("stun", 3478u16), ("wireguard", 51820)] {
        let f = all
            .iter()
            .find(|f| f.detector == "beaconing" && f.evidence["service"] == svc)
            .unwrap_or_else(|| panic!("no {svc} schedule: {all:?}"));
        assert_eq!(f.dst_port, Some(port));
        assert!(f.summary.contains("keepalive"), "{}", f.summary);
    }
    let high: Vec<_> = all
        .iter()
        .filter(|f| f.severity >= wirehunt_store::detect::Severity::High)
        .map(|f| (&f.detector, &f.summary))
        .collect();
    assert!(high.is_empty(), "{high:?}");
}

/// A large upload by the host's own browser or system (a phone's photo backup, a user's attachment
/// to a web mail) has the volume of an exfiltration, but its client - the ClientHello's fingerprint
/// (JA4) - is one the host also uses with servers in three or more other registered domains: medium,
/// worth a glance. The same upload by a client the host uses for that peer only (a script's, a sync
/// tool's or an implant's own TLS stack) stays high, and so does the everyday client's upload to a
/// port not registered for HTTPS.
#[test]
fn an_upload_by_the_hosts_everyday_client_is_medium() {
    use wirehunt_sim::net::Rng;
    use wirehunt_sim::proto::{
        ClientProfile, app_data, client_finish, client_hello, server_flight,
    };
    let (c, web, store) = ([10, 0, 0, 9], [203, 0, 113, 10], [198, 51, 100, 77]);
    let t0 = 1_700_000_000_000_000i64;
    let h2: &[&str] = &["h2", "http/1.1"];
    let sites = [
        "news.example.com",
        "www.example.org",
        "shop.example.net",
        "mail.example.edu",
    ];
    for (label, profile, port, want) in [
        ("browser", ClientProfile::Chrome, 443u16, Severity::Medium),
        ("tool", ClientProfile::Minimal, 443, Severity::High),
        ("browser-8443", ClientProfile::Chrome, 8443, Severity::High),
    ] {
        let mut rng = Rng::new(11);
        let pool = rng.bytes(20_000);
        let mut frames = Vec::new();
        let tls_session = |rng: &mut Rng,
                           frames: &mut Vec<(i64, Vec<u8>)>,
                           k: u16,
                           dst: [u8; 4],
                           port: u16,
                           sni: &str,
                           profile: ClientProfile,
                           up: usize,
                           down: usize| {
            let mut script: Vec<(bool, Vec<u8>)> = vec![
                (true, client_hello(rng, profile, Some(sni), h2, true)),
                (
                    false,
                    server_flight(rng, true, Some("h2"), false, Some(sni)),
                ),
                (true, client_finish(rng, true)),
            ];
            for (from_client, n) in [(true, up), (false, down)] {
                let data = app_data(rng, n, &pool);
                script.extend(data.chunks(1400).map(|p| (from_client, p.to_vec())));
            }
            let script: Vec<(bool, &[u8])> =
                script.iter().map(|(d, p)| (*d, p.as_slice())).collect();
            frames.extend(session(
                c,
                40000 + k,
                dst,
                port,
                t0 + i64::from(k) * 60_000_000,
                &script,
            ));
        };
        // the host browses with its browser: four sites in four registered domains
        for (k, site) in sites.iter().enumerate() {
            let k = k as u16;
            tls_session(
                &mut rng,
                &mut frames,
                k,
                web,
                443,
                site,
                ClientProfile::Chrome,
                600,
                30_000,
            );
        }
        // then 3 MB go up to a storage service
        tls_session(
            &mut rng,
            &mut frames,
            9,
            store,
            port,
            "up.cloudstore.com",
            profile,
            3_000_000,
            2_000,
        );
        frames.sort_by_key(|f| f.0);
        let (ds, _) = ingest_bytes(
            &format!("everyday-{label}"),
            &[("c.pcap", pcap(1, &frames))],
        );
        let tls = rows(&ds, "tls", &["server_name", "ja4"]);
        assert_eq!(tls.len(), 5, "{tls:?}");
        assert!(tls.iter().all(|r| !r[1].is_empty()), "{tls:?}");
        let f = one_finding(&ds, "exfil_volume", label, &["up.cloudstore.com"]);
        assert_severity(&f, want, label);
        // the browser's fingerprint serves four other domains; the tool's, this peer only
        let other = if label == "tool" { 0 } else { 4 };
        assert_eq!(
            f.evidence.get("client_domains"),
            Some(&serde_json::json!(other)),
            "{label}"
        );
        assert_eq!(
            f.summary.contains(
                "also uses with servers in 4 other registered domains - its own browser or system"
            ),
            label == "browser",
            "{label}: {}",
            f.summary
        );
    }
}

/// The User-Agent half of the everyday-client cap: a plain-HTTP upload with the browser's
/// User-Agent, which the host also sends to four other registered domains, is medium to a named
/// server, and stays high to an IP literal as Host (no name: the cap does not apply).
#[test]
fn an_everyday_user_agents_upload_is_medium_unless_the_host_is_an_address() {
    let (c, web, store) = ([10, 0, 0, 9], [203, 0, 113, 10], [198, 51, 100, 77]);
    let t0 = 1_700_000_000_000_000i64;
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let page = vec![b'a'; 20_000];
    let chunk = vec![0x5au8; 1400];
    for (label, host, want) in [
        ("named", "upload.example-files.com", Severity::Medium),
        ("literal", "198.51.100.77", Severity::High),
    ] {
        let mut frames = Vec::new();
        for (k, site) in [
            "news.example.com",
            "www.example.org",
            "shop.example.net",
            "mail.example.edu",
        ]
        .iter()
        .enumerate()
        {
            let req = format!("GET / HTTP/1.1\r\nHost: {site}\r\nUser-Agent: {ua}\r\n\r\n");
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n",
                page.len()
            );
            frames.extend(session(
                c,
                40000 + k as u16,
                web,
                80,
                t0 + k as i64 * 60_000_000,
                &[
                    (true, req.as_bytes()),
                    (false, resp.as_bytes()),
                    (false, &page),
                ],
            ));
        }
        let n = 2150;
        let head = format!(
            "POST /put HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            n * chunk.len()
        );
        let mut script: Vec<(bool, &[u8])> = vec![(true, head.as_bytes())];
        script.extend(std::iter::repeat_n((true, &chunk[..]), n));
        script.push((
            false,
            &b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"[..],
        ));
        frames.extend(session(c, 40009, store, 80, t0 + 600_000_000, &script));
        let (ds, _) = ingest_bytes(
            &format!("everyday-ua-{label}"),
            &[("c.pcap", pcap(1, &frames))],
        );
        let f = one_finding(&ds, "exfil_volume", label, &[host]);
        assert_severity(&f, want, label);
        assert_eq!(
            f.evidence.get("client_domains"),
            Some(&serde_json::json!(4)),
            "{label}"
        );
        assert_eq!(
            f.summary.contains("its own browser or system"),
            label == "named",
            "{label}: {}",
            f.summary
        );
    }
}
