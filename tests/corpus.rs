//! The whole real-capture corpus: packets_read equals capinfos's count for every file outside
//! malformed/ (expected counts in tests/data/capinfos_counts.tsv, made by scripts/capinfos_counts.sh),
//! nothing panics or hangs, and every malformed file ends with a clear error or warning.
use crate::common::*;
use std::collections::BTreeMap;

fn expected_counts() -> BTreeMap<String, String> {
    let t = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/capinfos_counts.tsv"),
    )
    .unwrap();
    t.lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn whole_corpus_counts_match_capinfos_and_malformed_files_end_clearly() {
    let Some(c) = corpus_or_skip() else { return };
    let out = tmp("corpus").join("ds");
    let expanded =
        wirehunt_wire::capture::expand_inputs(&[c.to_string_lossy().into_owned()]).unwrap();
    // the corpus's MANIFEST.tsv and README files are left out, and listed as such
    assert!(
        expanded.skipped.iter().any(|p| p.ends_with("MANIFEST.tsv")),
        "{:?}",
        expanded.skipped
    );
    for p in &expanded.skipped {
        let ext = p.rsplit('.').next().unwrap_or("");
        assert!(
            wirehunt_wire::capture::NOT_CAPTURES.contains(&ext),
            "{p} skipped"
        );
    }
    let files = expanded.files;
    let rep = wirehunt_store::ingest::ingest(&files, &out, &Default::default(), |_, _| {}).unwrap();
    let exp = expected_counts();
    let mut mismatches = Vec::new();
    let mut checked = 0;
    for i in &rep.manifest.inputs {
        let rel = std::path::Path::new(&i.path)
            .strip_prefix(&c)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        // accounting holds for every file
        let skipped: u64 = i.packets_skipped.values().sum();
        assert_eq!(i.packets_read, i.packets_decoded + skipped, "{rel}");
        if rel.starts_with("malformed/") {
            // a clear per-file outcome: complete, or a named damage with a sentence
            assert!(
                i.end == "complete" || (i.error.as_deref().is_some_and(|e| e.len() > 10)),
                "{rel}: unclear end {:?}",
                i.end
            );
            continue;
        }
        let Some(e) = exp.get(&rel) else {
            mismatches.push(format!(
                "{rel}: no expected count (run scripts/capinfos_counts.sh)"
            ));
            continue;
        };
        checked += 1;
        if e != &i.packets_read.to_string() {
            mismatches.push(format!(
                "{rel}: wirehunt {} capinfos {e} ({})",
                i.packets_read, i.end
            ));
        }
    }
    assert!(checked > 150, "only {checked} files checked");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // the malformed folder produced weird rows naming what was wrong
    let names: std::collections::BTreeSet<String> =
        column(&out, "weird", "name").into_iter().collect();
    for n in [
        "file_truncated",
        "dns_compression_loop",
        "truncated_ip_header",
    ] {
        assert!(names.contains(n), "no {n} weird row; got {names:?}");
    }
    // the default shards flows over one worker per core; one thread gives the same tables
    let one = tmp("corpus_one").join("ds");
    let opts = wirehunt_store::ingest::IngestOptions {
        threads: 1,
        ..Default::default()
    };
    wirehunt_store::ingest::ingest(&files, &one, &opts, |_, _| {}).unwrap();
    crate::ingest::assert_same_dataset(&out, &one);
}

#[test]
fn tcp_edge_cases_have_sensible_missed_bytes() {
    let Some(c) = corpus_or_skip() else { return };
    let run = |f: &str| {
        let out = tmp(&format!("edge-{}", f.replace('/', "_"))).join("ds");
        ingest_into(&c.join(f), &out);
        rows(
            &out,
            "conn",
            &[
                "proto",
                "missed_bytes",
                "orig_bytes",
                "resp_bytes",
                "history",
            ],
        )
    };
    // a capture with a data gap reports it; a clean retransmission capture reports none
    let gap = run("tcp_edge/tcp_data_gap.pcap");
    assert!(
        gap.iter()
            .any(|r| r[0] == "tcp" && r[1].parse::<u64>().unwrap() > 0),
        "{gap:?}"
    );
    let retr = run("tcp_edge/tcp_retransmissions_chrissanders.pcapng");
    assert!(
        retr.iter().all(|r| r[0] != "tcp" || r[1] == "0"),
        "{retr:?}"
    );
    assert!(
        retr.iter().any(|r| r[4].contains('T')),
        "retransmissions marked T: {retr:?}"
    );
    for r in gap.iter().chain(retr.iter()) {
        let missed: u64 = r[1].parse().unwrap();
        let total: u64 = r[2].parse::<u64>().unwrap() + r[3].parse::<u64>().unwrap();
        assert!(
            missed <= total,
            "missed bytes exceed the sequence span: {r:?}"
        );
    }
}
