//! Community ID against Suricata (7.0 from the distribution's packages; `scripts/test.sh` installs
//! it): for real captures, every flow Suricata writes to eve.json with `community-id: true` (seed 0)
//! carries a Community ID that one of wirehunt's conn rows carries too. wirehunt may have more rows
//! (it splits ICMP exchanges and reused ports differently), never fewer ids.
use crate::common::*;
use std::collections::BTreeSet;

fn suricata_ids(cap: &std::path::Path, dir: &std::path::Path) -> BTreeSet<(String, String)> {
    let yaml = dir.join("s.yaml");
    std::fs::write(
        &yaml,
        format!(
            "%YAML 1.1\n---\ndefault-log-dir: {}\noutputs:\n  - eve-log:\n      enabled: yes\n      filetype: regular\n      filename: eve.json\n      community-id: true\n      community-id-seed: 0\n      types:\n        - flow\n",
            dir.display()
        ),
    )
    .unwrap();
    let o = std::process::Command::new("suricata")
        .args([
            "-c",
            &yaml.to_string_lossy(),
            "-r",
            &cap.to_string_lossy(),
            "-l",
            &dir.to_string_lossy(),
            "--runmode",
            "single",
            "-k",
            "none",
        ])
        .output()
        .expect("suricata is installed (scripts/test.sh installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let eve = std::fs::read_to_string(dir.join("eve.json")).unwrap();
    eve.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event_type"] == "flow")
        .map(|e| {
            let flow = format!(
                "{} {}:{} -> {}:{}",
                e["proto"], e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"]
            );
            (
                e["community_id"].as_str().unwrap_or_default().to_string(),
                flow,
            )
        })
        .collect()
}

#[test]
fn community_ids_equal_suricatas() {
    let Some(c) = corpus_or_skip() else { return };
    let files = [
        "large/cerber_ransomware_infection_6MB.pcap",
        "beacon/asyncrat_sandbox_run.pcap",
        "dns/dns_mixed_malcolm_3MB.pcap",
        "linktypes/ipv6_http_ndpi.pcap",
        "linktypes/ipv6_nmap_ssh.pcap",
        "tcp_edge/teardrop_overlapping_frags.pcap",
    ];
    let mut total = 0;
    for f in files {
        let cap = c.join(f);
        let dir = tmp(&format!("suri-{}", f.replace('/', "_")));
        let theirs = suricata_ids(&cap, &dir);
        let (ds, _) = {
            let out = dir.join("ds");
            let rep = ingest_into(&cap, &out);
            (out, rep)
        };
        let ours: BTreeSet<String> = column(&ds, "conn", "community_id").into_iter().collect();
        let missing: Vec<&String> = theirs
            .iter()
            .filter(|(id, _)| !ours.contains(id))
            .map(|(_, f)| f)
            .collect();
        assert!(!theirs.is_empty(), "{f}: suricata wrote no flows");
        assert!(
            missing.is_empty(),
            "{f}: {} of {} Suricata flows have a Community ID no conn row has: {:?}",
            missing.len(),
            theirs.len(),
            &missing[..missing.len().min(5)]
        );
        total += theirs.len();
    }
    eprintln!("community id: {total} Suricata flows matched");
}

/// Every table with a connection 4-tuple carries the connection's Community ID (the one checked
/// against Suricata above), so a dns, http, tls or files row joins Zeek's and Suricata's records
/// without going through conn.
#[test]
fn every_row_about_a_connection_carries_its_community_id() {
    let ds = crate::sql::demo_dataset();
    let ds = ds.to_str().unwrap();
    for t in ["dns", "http", "tls", "files"] {
        let q = format!(
            "SELECT count(*) AS n, \
                    count(*) FILTER (WHERE t.community_id IS NULL OR t.community_id <> c.community_id) AS bad \
             FROM {t} t JOIN conn c USING (uid)"
        );
        let o = run_ok(&["-q", "sql", ds, "-c", &q, "--format", "csv"]);
        let out = String::from_utf8_lossy(&o.stdout);
        let row: Vec<u64> = out
            .lines()
            .nth(1)
            .unwrap()
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(row[0] > 0, "{t}: no rows joined");
        assert_eq!(
            row[1], 0,
            "{t}: {} rows whose community_id differs from conn's",
            row[1]
        );
    }
}
