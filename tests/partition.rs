//! Hive-style time partitions (`ingest --partition day|hour`): the same rows as an unpartitioned
//! dataset, each row in the directory of its own UTC hour, filters on `date`/`hour` reading only
//! that directory's files, the same findings, `--append` adding files to the right partitions and
//! keeping the old ones, and DuckDB reading the partitions as columns.
use crate::common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Every row of every table as sorted text lines (the partition directories are not in the files).
fn table_lines(ds: &Path) -> BTreeMap<String, Vec<String>> {
    lines_of(ds, false)
}

/// The same without the columns holding connection or file ids (`uid`, `fuid`, `conn_uids` ...).
fn lines_of(ds: &Path, drop_ids: bool) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for (t, _) in wirehunt_store::table::all_schemas() {
        let mut v = Vec::new();
        for b in read_table(ds, t) {
            let schema = b.schema();
            for r in 0..b.num_rows() {
                let cells: Vec<String> = b
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .filter(|(_, f)| !(drop_ids && f.name().contains("uid")))
                    .map(|(c, _)| wirehunt_store::report::cell(c, r))
                    .collect();
                v.push(cells.join("|"));
            }
        }
        v.sort();
        out.insert(t.to_string(), v);
    }
    out
}

/// The hour directories of a table: `date=D/hour=H` → the files in it.
fn hour_dirs(table_dir: &Path) -> BTreeMap<String, Vec<std::path::PathBuf>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for f in parquet_files(table_dir) {
        let rel = f.strip_prefix(table_dir).unwrap();
        let parts: Vec<String> = rel
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(parts.len(), 3, "date=/hour=/part: {}", rel.display());
        assert!(parts[2].starts_with("part-"), "{}", rel.display());
        out.entry(format!("{}/{}", parts[0], parts[1]))
            .or_default()
            .push(f);
    }
    out
}

fn csv(ds: &str, q: &str) -> Vec<String> {
    let o = run_ok(&["sql", ds, "-c", q, "--format", "csv"]);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

fn sorted_findings(ds: &str) -> Vec<String> {
    let o = run_ok(&["detect", ds, "--format", "jsonl", "--min-severity", "low"]);
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[test]
fn hour_partitions_hold_the_same_rows_prune_by_time_and_take_appends() {
    let dir = tmp("partition");
    let cap = dir.join("s.pcap");
    let cap_s = cap.to_string_lossy().into_owned();
    // an hour and a half from a scenario: at least two hour directories
    run_ok(&[
        "-q", "simulate", "--seed", "11", "--hours", "1.5", "--hosts", "10", "-o", &cap_s,
    ]);
    let (flat, part) = (dir.join("flat"), dir.join("part"));
    let (flat_s, part_s) = (
        flat.to_string_lossy().into_owned(),
        part.to_string_lossy().into_owned(),
    );
    run_ok(&["-q", "ingest", &cap_s, "-d", &flat_s, "--threads", "1"]);
    run_ok(&[
        "-q",
        "ingest",
        &cap_s,
        "-d",
        &part_s,
        "--partition",
        "hour",
        "--threads",
        "2",
    ]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(part.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["partition"], "hour");
    let flat_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(flat.join("manifest.json")).unwrap()).unwrap();
    assert!(flat_manifest.get("partition").is_none());

    // the same rows, table by table
    let rows = table_lines(&flat);
    assert!(rows["conn"].len() > 500, "{}", rows["conn"].len());
    assert_eq!(rows, table_lines(&part));

    // each file's rows are in its directory's UTC hour (read with the parquet crate)
    let conn_hours = hour_dirs(&part.join("conn"));
    assert!(conn_hours.len() >= 2, "{:?}", conn_hours.keys());
    for (t, _) in wirehunt_store::table::all_schemas() {
        for (hour, files) in hour_dirs(&part.join(t)) {
            for f in files {
                let file = std::fs::File::open(&f).unwrap();
                let r =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .unwrap()
                        .build()
                        .unwrap();
                for b in r {
                    let b = b.unwrap();
                    let ts = b
                        .column(0)
                        .as_any()
                        .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                        .unwrap();
                    for i in 0..ts.len() {
                        let t = chrono::DateTime::from_timestamp_micros(ts.value(i)).unwrap();
                        assert_eq!(
                            t.format("date=%Y-%m-%d/hour=%H").to_string(),
                            hour,
                            "{}",
                            f.display()
                        );
                    }
                }
            }
        }
    }

    // the directories are columns: counts per hour equal the files' rows
    let per_hour = csv(
        &part_s,
        "SELECT date, hour, count(*) FROM conn GROUP BY date, hour ORDER BY date, hour",
    );
    let expected: Vec<String> = conn_hours
        .iter()
        .map(|(h, files)| {
            let n: usize = files
                .iter()
                .map(|f| {
                    let file = std::fs::File::open(f).unwrap();
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                        .unwrap()
                        .metadata()
                        .file_metadata()
                        .num_rows() as usize
                })
                .sum();
            let (d, hh) = h.split_once('/').unwrap();
            format!(
                "{},{},{n}",
                d.trim_start_matches("date="),
                hh.trim_start_matches("hour=")
            )
        })
        .collect();
    assert_eq!(per_hour, expected);
    // a filter on the partition columns reads that directory's files only
    let (first, first_files) = conn_hours.iter().next().unwrap();
    let (d, h) = first.split_once('/').unwrap();
    let q = format!(
        "EXPLAIN SELECT count(*) FROM conn WHERE date = '{}' AND hour = '{}' AND orig_bytes >= 0",
        d.trim_start_matches("date="),
        h.trim_start_matches("hour=")
    );
    let plan = csv(&part_s, &q).join("\n");
    for (other, files) in &conn_hours {
        for f in files {
            let name = format!("{}/{}", other, f.file_name().unwrap().to_string_lossy());
            assert_eq!(
                plan.contains(&name),
                other == first,
                "{name} in the plan of a filter on {first}: {plan}"
            );
        }
    }
    assert!(!first_files.is_empty());

    // the detectors find the same on both
    assert_eq!(sorted_findings(&flat_s), sorted_findings(&part_s));

    // --append: an input of another day goes to its own directory; the old files stay (same inodes)
    let later = dir.join("later.pcap");
    // 2026-12-05T23:59:59.5Z and 00:00:00.5Z the next day: two days, one connection
    let t0 = 1_796_515_199_500_000i64;
    let q = ip_udp([10, 9, 9, 9], 40000, [10, 9, 9, 1], 5000, b"ping");
    let r = ip_udp([10, 9, 9, 1], 5000, [10, 9, 9, 9], 40000, b"pong");
    std::fs::write(&later, pcap(101, &[(t0, q), (t0 + 1_000_000, r)])).unwrap();
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before: Vec<(std::path::PathBuf, u64)> = parquet_files(&part)
        .into_iter()
        .map(|f| {
            let i = inode(&f);
            (f.strip_prefix(&part).unwrap().to_path_buf(), i)
        })
        .collect();
    let later_s = later.to_string_lossy().into_owned();
    // another partitioning than the dataset's is refused, and the dataset is left as it was
    let o = run(&[
        "-q",
        "ingest",
        &later_s,
        "-d",
        &part_s,
        "--append",
        "--partition",
        "day",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("partitioned hour"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    run_ok(&["-q", "ingest", &later_s, "-d", &part_s, "--append"]);
    for (rel, ino) in &before {
        assert_eq!(
            inode(&part.join(rel)),
            *ino,
            "{} was rewritten",
            rel.display()
        );
    }
    // the connection starts before midnight: its conn row is in 2026-12-05 hour 23
    let later_rows = csv(
        &part_s,
        "SELECT date, hour, count(*) FROM conn WHERE orig_h = '10.9.9.9' GROUP BY date, hour",
    );
    assert_eq!(later_rows, vec!["2026-12-05,23,1".to_string()]);
    assert!(part.join("conn/date=2026-12-05/hour=23").is_dir());
    assert_eq!(
        hour_dirs(&part.join("conn")).len(),
        conn_hours.len() + 1,
        "one new hour directory"
    );
    let total = csv(&part_s, "SELECT count(*) FROM conn");
    assert_eq!(total, vec![(rows["conn"].len() + 1).to_string()]);

    // DuckDB reads the directories as columns (hive partitioning)
    let part_abs = std::fs::canonicalize(&part)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let script = r#"
import duckdb, sys
ds = sys.argv[1]
con = duckdb.connect()
q = "SELECT date, hour, count(*) FROM read_parquet($p, hive_partitioning = true, hive_types_autocast = false) GROUP BY ALL ORDER BY ALL"
for row in con.execute(q, {"p": f"{ds}/conn/*/*/*.parquet"}).fetchall():
    print(",".join(str(v) for v in row))
"#;
    let o = Command::new("python3")
        .args(["-c", script, &part_abs])
        .output()
        .expect("python3 (scripts/test.sh installs DuckDB)");
    assert!(
        o.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let duck: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    let ours = csv(
        &part_s,
        "SELECT date, hour, count(*) FROM conn GROUP BY date, hour ORDER BY date, hour",
    );
    assert_eq!(duck, ours);
}

/// Several machines ingest their shares into one dataset (`--run NAME`), at the same time: the
/// dataset holds both runs' rows (as each share ingested alone, uids apart), distinct uids, one
/// merged manifest; a run name is used once; an interrupted run's files are refused by readers,
/// naming the run, until that run is ingested again.
#[test]
fn runs_of_several_machines_share_one_partitioned_dataset() {
    let dir = tmp("runs");
    let b = dir.join("b.pcap");
    let b_s = b.to_string_lossy().into_owned();
    run_ok(&[
        "-q", "simulate", "--seed", "3", "--hours", "0.3", "--hosts", "6", "-o", &b_s,
    ]);
    let a_s = demo_capture().to_string_lossy().into_owned();
    // each share alone: the truth
    let (a_flat, b_flat) = (dir.join("a_flat"), dir.join("b_flat"));
    run_ok(&["-q", "ingest", &a_s, "-d", &a_flat.to_string_lossy()]);
    run_ok(&["-q", "ingest", &b_s, "-d", &b_flat.to_string_lossy()]);
    let shared = dir.join("shared");
    let sh = shared.to_string_lossy().into_owned();
    // both runs at once, as two machines would
    let spawn = |input: &str, run: &str| {
        Command::new(wirehunt_bin())
            .args([
                "-q",
                "ingest",
                input,
                "-d",
                &sh,
                "--partition",
                "hour",
                "--run",
                run,
            ])
            .output()
            .unwrap()
    };
    let (oa, ob) = std::thread::scope(|s| {
        let ta = s.spawn(|| spawn(&a_s, "host_a"));
        let tb = s.spawn(|| spawn(&b_s, "host_b"));
        (ta.join().unwrap(), tb.join().unwrap())
    });
    for o in [&oa, &ob] {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let mut runs: Vec<String> = std::fs::read_dir(shared.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    runs.sort();
    assert_eq!(runs, vec!["host_a.json".to_string(), "host_b.json".into()]);
    // the rows of both shares, as each alone gave them (uids apart: a run's inputs are numbered
    // from its name)
    let mut expected = lines_of(&a_flat, true);
    for (t, v) in lines_of(&b_flat, true) {
        let e = expected.entry(t).or_default();
        e.extend(v);
        e.sort();
    }
    let got = lines_of(&shared, true);
    assert!(got["conn"].len() > 1000, "{}", got["conn"].len());
    assert_eq!(got, expected);
    // the engine reads the merged manifest's counts; uids are distinct across the runs
    let counts = |ds: &str| {
        csv(
            ds,
            "SELECT (SELECT count(*) FROM conn) AS c, (SELECT count(DISTINCT uid) FROM conn) AS u, (SELECT count(*) FROM dns) AS d, (SELECT count(DISTINCT source) FROM conn) AS s",
        )
    };
    let n = |ds: &Path, t: &str| {
        csv(&ds.to_string_lossy(), &format!("SELECT count(*) FROM {t}"))[0]
            .parse::<u64>()
            .unwrap()
    };
    let conns = n(&a_flat, "conn") + n(&b_flat, "conn");
    let dns = n(&a_flat, "dns") + n(&b_flat, "dns");
    assert_eq!(counts(&sh), vec![format!("{conns},{conns},{dns},2")]);
    run_ok(&["detect", &sh, "--format", "jsonl"]);

    // a run name is used once; --append and a bad name are usage errors
    let before = lines_of(&shared, false);
    let o = run(&["-q", "ingest", &a_s, "-d", &sh, "--run", "host_a"]);
    assert_eq!(
        o.status.code(),
        Some(73),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["-q", "ingest", &a_s, "-d", &sh, "--append"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["-q", "ingest", &a_s, "-d", &sh, "--run", "../x"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&[
        "-q",
        "ingest",
        &a_s,
        "-d",
        &a_flat.to_string_lossy(),
        "--run",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2), "--run into a single dataset");
    assert_eq!(lines_of(&shared, false), before);

    // an interrupted run left a part file and no manifest: readers refuse, naming it
    let some_part = parquet_files(&shared.join("conn")).remove(0);
    let orphan = some_part.with_file_name("part-host_c-s0-00000.parquet");
    std::fs::copy(&some_part, &orphan).unwrap();
    let o = run(&["sql", &sh, "-c", "SELECT count(*) FROM conn"]);
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("run host_c") && err.contains("--run host_c"),
        "{err}"
    );
    // ingesting that run again replaces its files
    let tiny = dir.join("tiny.pcap");
    let q = ip_udp([10, 9, 9, 9], 40000, [10, 9, 9, 1], 5000, b"ping");
    std::fs::write(&tiny, pcap(101, &[(1_796_515_199_500_000, q)])).unwrap();
    run_ok(&[
        "-q",
        "ingest",
        &tiny.to_string_lossy(),
        "-d",
        &sh,
        "--run",
        "host_c",
    ]);
    assert!(!orphan.exists());
    assert_eq!(
        csv(&sh, "SELECT count(*) FROM conn"),
        vec![(conns + 1).to_string()]
    );
}
