//! Detection quality: labelled simulator scenarios across many seeds (every injected attack found,
//! benign look-alikes never high), and real captures from the corpus (the right category, host and
//! peer; no high-severity finding on ordinary DNS and HTTP captures).
use crate::common::*;
use wirehunt::detect::{Finding, Severity, detect, load_detectors};

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

#[test]
fn simulated_attacks_are_found_and_lookalikes_stay_below_high() {
    let seeds: Vec<u64> = (101..=108).collect();
    let (mut tp, mut attacks, mut high_total, mut high_fp) = (0, 0, 0, 0);
    let mut missed = Vec::new();
    for seed in &seeds {
        let dir = tmp(&format!("sim{seed}"));
        let pcap = dir.join("s.pcap");
        let cfg = wirehunt::simulate::SimConfig {
            seed: *seed,
            hours: if seed % 2 == 0 { 0.5 } else { 0.35 },
            hosts: 8,
            attacks: wirehunt::simulate::parse_attacks("all").unwrap(),
            size: None,
            background_scale: 0.3,
            compressible: false,
        };
        let truth = wirehunt::simulate::simulate_to_file(&cfg, &pcap).unwrap();
        let ds = dir.join("ds");
        wirehunt::ingest::ingest(
            &[pcap.to_string_lossy().into_owned()],
            &ds,
            &Default::default(),
            |_, _| {},
        )
        .unwrap();
        let fs = findings(&ds);
        let truth: serde_json::Value = serde_json::to_value(&truth).unwrap();
        let atk = truth["attacks"].as_array().unwrap();
        for a in atk {
            attacks += 1;
            let cat = a["category"].as_str().unwrap();
            if fs.iter().any(|f| f.category == cat && matches_attack(f, a)) {
                tp += 1;
            } else {
                missed.push(format!("seed {seed}: {} {}", a["kind"], a["parameters"]));
            }
        }
        for f in fs.iter().filter(|f| f.severity >= Severity::High) {
            high_total += 1;
            // a high finding must be about attack traffic (any category: a periodic exfiltration
            // loop is also a beacon)
            if !atk.iter().any(|a| matches_attack(f, a)) {
                high_fp += 1;
                missed.push(format!(
                    "seed {seed}: HIGH on benign traffic: {} {:?} {:?} {}",
                    f.category, f.src_ip, f.domain, f.summary
                ));
            }
        }
    }
    eprintln!(
        "simulator: {tp}/{attacks} attacks found (recall {:.3}); {} of {high_total} high/critical findings on attack traffic (precision {:.3}) over seeds {:?}",
        tp as f64 / attacks as f64,
        high_total - high_fp,
        (high_total - high_fp) as f64 / high_total.max(1) as f64,
        seeds
    );
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

fn corpus_findings(files: &[&str]) -> Option<Vec<Finding>> {
    let c = corpus_or_skip()?;
    let dir = tmp(&format!("cf-{}", files[0].replace('/', "_")));
    let inputs: Vec<String> = files
        .iter()
        .map(|f| c.join(f).to_string_lossy().into_owned())
        .collect();
    wirehunt::ingest::ingest(&inputs, &dir.join("ds"), &Default::default(), |_, _| {}).unwrap();
    Some(findings(&dir.join("ds")))
}

/// (file, category, source, peer: SNI/Host/domain or dst ip) found at medium or above.
const EXPECTED: &[(&str, &str, &str, &str)] = &[
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
        "dns_tunnel/dnsexfiltrator_default_file144B.pcap",
        "dns_tunnel",
        "192.168.1.165",
        "captechutest.org",
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
    (
        "dns_tunnel/dns_exf_single_ndpi.pcap",
        "dns_tunnel",
        "192.168.2.225",
        "test.txt",
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

/// Ordinary DNS and HTTP captures raise nothing at high severity. One file in dns/ is a merge that
/// contains real tunnels (the iodine session of dns_tunnel/iodine_elastic_examples and the dnscat2
/// session of dns_tunnel/dns_exfiltration_ndpi, same hosts and names): high findings there must be
/// exactly those sessions.
#[test]
fn dns_and_http_folders_stay_quiet() {
    let Some(c) = corpus_or_skip() else { return };
    for folder in ["dns", "http"] {
        let dir = tmp(&format!("quiet-{folder}"));
        wirehunt::ingest::ingest(
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
        ];
        for f in fs.iter().filter(|f| f.severity >= Severity::High) {
            let known = f.category == "dns_tunnel"
                && known_tunnels
                    .iter()
                    .any(|(s, d)| f.src_ip.as_deref() == Some(s) && f.domain.as_deref() == Some(d));
            assert!(
                known,
                "{folder}: unexpected high finding {} {:?} {:?} {}",
                f.category, f.src_ip, f.domain, f.summary
            );
        }
    }
}
