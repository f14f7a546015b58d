//! `wirehunt cluster`: a Ballista scheduler and two executors as separate processes on 127.0.0.1
//! (ephemeral ports, torn down at the end), every built-in detector and the README's hunting
//! queries through `--cluster`, compared with the local run: the same findings and rows.
use crate::common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Children killed when the test ends, however it ends.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A port nothing listens on now (the OS's choice of an ephemeral port).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `wirehunt ARGS` with these environment variables added, output to `log`.
fn spawn_env(args: &[&str], env: &[(&str, String)], log: &std::path::Path) -> Child {
    let f = std::fs::File::create(log).unwrap();
    Command::new(wirehunt_bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(f.try_clone().unwrap()))
        .stderr(Stdio::from(f))
        .spawn()
        .unwrap()
}

/// The hunting queries between the README's markers.
fn readme_queries() -> Vec<String> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let block = readme
        .split("<!-- hunting:begin -->")
        .nth(1)
        .and_then(|r| r.split("<!-- hunting:end -->").next())
        .unwrap();
    block
        .split("```sql")
        .skip(1)
        .filter_map(|s| s.split("```").next())
        .map(|q| q.trim().trim_end_matches(';').to_string())
        .collect()
}

/// `wirehunt ARGS` (with `env` added to its environment), killed after five minutes: a job the cluster loses must fail
/// the test, not hang it.
fn run_bounded_env(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut c = Command::new(wirehunt_bin())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // read both pipes on threads so a large result cannot block the child
    let mut out = c.stdout.take().unwrap();
    let mut err = c.stderr.take().unwrap();
    let to = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).map(|_| v)
    });
    let te = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).map(|_| v)
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = c.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(300) {
            let _ = c.kill();
            let _ = c.wait();
            panic!("wirehunt {args:?} did not finish within five minutes on the cluster");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = to.join().unwrap().unwrap();
    let stderr = te.join().unwrap().unwrap();
    std::process::Output {
        status,
        stdout,
        stderr,
    }
}

fn run_bounded_ok(args: &[&str]) -> std::process::Output {
    run_bounded_ok_env(args, &[])
}

fn run_bounded_ok_env(args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let o = run_bounded_env(args, env);
    assert!(
        o.status.success(),
        "wirehunt {args:?}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn sorted_lines(o: &std::process::Output) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// The demo capture ingested into `tmp(name)/ds`: (the test's directory, the dataset's absolute
/// path as the plans name it).
fn demo_dataset(name: &str) -> (std::path::PathBuf, String) {
    let dir = tmp(name);
    let ds = dir.join("ds");
    ingest_into(&demo_capture(), &ds);
    let ds_s = std::fs::canonicalize(&ds)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    (dir, ds_s)
}

/// A scheduler and two executors (`--concurrent-tasks 2`, a work directory each under `dir`) as
/// separate processes on ephemeral ports of 127.0.0.1, started with `env`; returns the cluster's URL,
/// the work directories and the answer of the first `SELECT count(*) AS n FROM conn` over `dataset`
/// that succeeded (the cluster is ready then; bounded: a minute, and no process may exit meanwhile).
fn start_cluster(
    procs: &mut Procs,
    dir: &std::path::Path,
    env: &[(&str, String)],
    dataset: &str,
) -> (String, Vec<std::path::PathBuf>, std::process::Output) {
    let sched_addr = format!("127.0.0.1:{}", free_port());
    procs.0.push(spawn_env(
        &["cluster", "scheduler", "--bind", &sched_addr],
        env,
        &dir.join("scheduler.log"),
    ));
    let mut work = Vec::new();
    for k in 0..2 {
        let (flight, grpc) = (free_port(), free_port());
        let w = dir.join(format!("executor{k}"));
        std::fs::create_dir_all(&w).unwrap();
        procs.0.push(spawn_env(
            &[
                "cluster",
                "executor",
                "--scheduler",
                &sched_addr,
                "--bind",
                &format!("127.0.0.1:{flight}"),
                "--grpc-port",
                &grpc.to_string(),
                "--work-dir",
                &w.to_string_lossy(),
                "--concurrent-tasks",
                "2",
            ],
            env,
            &dir.join(format!("executor{k}.log")),
        ));
        work.push(w);
    }
    let url = format!("df://{sched_addr}");
    let t0 = Instant::now();
    loop {
        let o = run_bounded_env(
            &[
                "--cluster",
                &url,
                "sql",
                dataset,
                "-c",
                "SELECT count(*) AS n FROM conn",
                "--format",
                "csv",
            ],
            env,
        );
        if o.status.success() {
            return (url, work, o);
        }
        for c in &mut procs.0 {
            assert!(
                c.try_wait().unwrap().is_none(),
                "a cluster process exited: {}",
                std::fs::read_to_string(dir.join("scheduler.log")).unwrap_or_default()
            );
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the cluster did not answer within a minute: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn detectors_and_hunting_queries_on_a_ballista_cluster_match_the_local_run() {
    let (dir, ds_s) = demo_dataset("cluster");
    // an indicator on a peer of the demo capture: the intel table travels in the plan
    let peer = {
        let o = run_ok(&[
            "sql",
            &ds_s,
            "-c",
            "SELECT resp_h FROM conn WHERE NOT is_private_ip(resp_h) ORDER BY orig_bytes DESC, resp_h LIMIT 1",
            "--format",
            "csv",
        ]);
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let iocs = dir.join("iocs.csv");
    std::fs::write(&iocs, format!("type,value,source\nip,{peer},test\n")).unwrap();
    let iocs = iocs.to_string_lossy().into_owned();

    let mut procs = Procs(Vec::new());
    let (url, work, count) = start_cluster(&mut procs, &dir, &[], &ds_s);
    let local_count = run_ok(&[
        "sql",
        &ds_s,
        "-c",
        "SELECT count(*) AS n FROM conn",
        "--format",
        "csv",
    ]);
    assert_eq!(count.stdout, local_count.stdout);

    // every built-in detector, with the indicator; findings as JSON lines
    let detect = |cluster: bool| {
        let mut a: Vec<&str> = Vec::new();
        if cluster {
            a.extend(["--cluster", url.as_str()]);
        }
        a.extend([
            "detect",
            ds_s.as_str(),
            "--intel",
            iocs.as_str(),
            "--format",
            "jsonl",
            "--min-severity",
            "low",
        ]);
        run_bounded_ok(&a)
    };
    let (local, remote) = (detect(false), detect(true));
    let local = sorted_lines(&local);
    assert!(
        local.len() >= 6,
        "the demo capture's findings: {}",
        local.len()
    );
    assert!(
        local.iter().any(|l| l.contains("\"intel_match\"")),
        "no intel finding locally"
    );
    // one finding per line: a difference shows the findings that differ, not the whole list
    let remote = sorted_lines(&remote);
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter().filter(|l| !b.contains(l)).cloned().collect()
    };
    assert!(
        local == remote,
        "only local: {:#?}\nonly on the cluster: {:#?}",
        only(&local, &remote),
        only(&remote, &local)
    );

    for q in readme_queries() {
        let mut local = run_ok(&["sql", &ds_s, "-c", &q, "--format", "csv"]);
        let remote =
            run_bounded_ok(&["--cluster", &url, "sql", &ds_s, "-c", &q, "--format", "csv"]);
        // the queries order their rows: the same order, not only the same set
        assert_eq!(
            String::from_utf8_lossy(&local.stdout),
            String::from_utf8_lossy(&remote.stdout),
            "{q}"
        );
        local.stdout.clear();
    }
    // a partitioned dataset: the date/hour directories are columns on the executors too, and a
    // filter on them prunes there as here
    let part = dir.join("part");
    let part_s = part.to_string_lossy().into_owned();
    run_ok(&[
        "-q",
        "ingest",
        &demo_capture().to_string_lossy(),
        "-d",
        &part_s,
        "--partition",
        "hour",
    ]);
    let part_s = std::fs::canonicalize(&part)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for q in [
        "SELECT date, hour, count(*) AS n, sum(orig_bytes) AS up FROM conn GROUP BY date, hour ORDER BY date, hour",
        "SELECT count(*) AS n FROM dns WHERE date = '2026-12-02' AND hour = '09'",
    ] {
        let local = run_ok(&["sql", &part_s, "-c", q, "--format", "csv"]);
        let remote = run_bounded_ok(&[
            "--cluster",
            &url,
            "sql",
            &part_s,
            "-c",
            q,
            "--format",
            "csv",
        ]);
        assert_eq!(
            String::from_utf8_lossy(&local.stdout),
            String::from_utf8_lossy(&remote.stdout),
            "{q}"
        );
        let out = String::from_utf8_lossy(&local.stdout).into_owned();
        assert!(
            out.lines().count() >= 2 && out.lines().nth(1) != Some("0"),
            "{q}: {out}"
        );
    }
    // a dataset of an older wirehunt (no ftp, smtp tables): on the cluster too the missing tables
    // read as empty, so every detector runs and finds what it finds locally
    let old = dir.join("old");
    let old_s = old.to_string_lossy().into_owned();
    run_ok(&[
        "-q",
        "ingest",
        &demo_capture().to_string_lossy(),
        "-d",
        &old_s,
    ]);
    for t in ["ftp", "smtp"] {
        std::fs::remove_dir_all(old.join(t)).unwrap();
    }
    let old_s = std::fs::canonicalize(&old)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let detect_old = |cluster: bool| {
        let mut a: Vec<&str> = Vec::new();
        if cluster {
            a.extend(["--cluster", url.as_str()]);
        }
        a.extend([
            "detect",
            old_s.as_str(),
            "--format",
            "jsonl",
            "--min-severity",
            "low",
        ]);
        sorted_lines(&run_bounded_ok(&a))
    };
    let (local_old, remote_old) = (detect_old(false), detect_old(true));
    assert!(local_old.len() >= 6, "{}", local_old.len());
    assert_eq!(
        local_old, remote_old,
        "an older dataset's findings on the cluster"
    );
    let o = run_bounded_ok(&[
        "--cluster",
        &url,
        "sql",
        &old_s,
        "-c",
        "SELECT count(*) AS n FROM smtp",
        "--format",
        "csv",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "n\n0");

    // the executors ran stages: their work directories hold shuffle output
    let used = work.iter().filter(|w| walk(w).next().is_some()).count();
    assert!(used >= 1, "no executor wrote shuffle files");
}

/// Another engine reads the same dataset: DuckDB (from the Python package registry, installed by
/// scripts/test.sh) over the Parquet files gives wirehunt's row counts and the README's top-talkers
/// answer.
#[test]
fn duckdb_reads_the_dataset_wirehunt_wrote() {
    let (_, ds_s) = demo_dataset("duckdb");
    // the paths travel as bound parameters, never in the SQL text
    let script = r#"
import duckdb, sys
ds = sys.argv[1]
con = duckdb.connect()
for t in ["conn", "dns", "http", "tls", "files", "weird"]:
    n = con.execute("SELECT count(*) FROM read_parquet($p)", {"p": f"{ds}/{t}/**/*.parquet"}).fetchone()[0]
    print(f"{t},{n}")
con.execute("CREATE TABLE conn AS SELECT * FROM read_parquet($p)", {"p": f"{ds}/conn/**/*.parquet"})
for row in con.execute("SELECT orig_h, sum(orig_bytes + resp_bytes) AS bytes, count(*) AS conns FROM conn GROUP BY orig_h ORDER BY bytes DESC, orig_h LIMIT 5").fetchall():
    print(",".join(str(v) for v in row))
"#;
    let o = Command::new("python3")
        .args(["-c", script, &ds_s])
        .output()
        .expect("python3 (scripts/test.sh installs DuckDB)");
    assert!(
        o.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let duck = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut expected = String::new();
    for t in ["conn", "dns", "http", "tls", "files", "weird"] {
        let o = run_ok(&[
            "sql",
            &ds_s,
            "-c",
            &format!("SELECT '{t}' AS t, count(*) AS n FROM {t}"),
            "--format",
            "csv",
        ]);
        expected.push_str(String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap());
        expected.push('\n');
    }
    let o = run_ok(&[
        "sql",
        &ds_s,
        "-c",
        "SELECT orig_h, sum(orig_bytes + resp_bytes) AS bytes, count(*) AS conns FROM conn GROUP BY orig_h ORDER BY bytes DESC, orig_h LIMIT 5",
        "--format",
        "csv",
    ]);
    for l in String::from_utf8_lossy(&o.stdout).lines().skip(1) {
        expected.push_str(l);
        expected.push('\n');
    }
    assert!(expected.lines().count() >= 8, "{expected}");
    assert_eq!(duck, expected);
}

/// An S3-compatible server on an ephemeral port of 127.0.0.1 (moto, from the Python package
/// registry: scripts/test.sh installs it), ready when it accepts connections (bounded: 30 s).
fn start_s3(procs: &mut Procs, log: &std::path::Path) -> String {
    let port = free_port();
    let f = std::fs::File::create(log).unwrap();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::from(f.try_clone().unwrap()))
        .stderr(Stdio::from(f))
        .spawn()
        .expect("moto_server (scripts/test.sh installs it: python3 -m pip install 'moto[server]')");
    procs.0.push(child);
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "moto_server did not listen within 30 s: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    format!("http://127.0.0.1:{port}")
}

/// Copy each local directory's files to `s3://BUCKET/KEY_PREFIX/...` with boto3 (moto's own
/// dependency: an uploader independent of wirehunt's reader). The paths travel as arguments.
fn upload(endpoint: &str, bucket: &str, dirs: &[(&std::path::Path, &str)]) {
    let script = r#"
import boto3, os, sys
endpoint, bucket = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="wirehunt", aws_secret_access_key="wirehunt-test", region_name="us-east-1")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
args = sys.argv[3:]
for local, prefix in zip(args[0::2], args[1::2]):
    for root, _, files in os.walk(local):
        for f in files:
            p = os.path.join(root, f)
            key = prefix + "/" + os.path.relpath(p, local).replace(os.sep, "/")
            s3.upload_file(p, bucket, key)
"#;
    let mut args: Vec<String> = vec!["-c".into(), script.into(), endpoint.into(), bucket.into()];
    for (d, prefix) in dirs {
        args.push(d.to_string_lossy().into_owned());
        args.push((*prefix).to_string());
    }
    let o = Command::new("python3").args(&args).output().unwrap();
    assert!(
        o.status.success(),
        "upload: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Datasets on S3-compatible object storage (`s3://BUCKET/PREFIX`, read through object_store's S3
/// client): the same findings and rows as the directory they were copied from, locally and on a
/// cluster whose scheduler and executors read the bucket; a damaged or partial copy is refused
/// with the reason, like a damaged directory.
#[test]
fn datasets_on_s3_compatible_storage_read_like_their_directories_locally_and_on_the_cluster() {
    let (dir, ds_s) = demo_dataset("cluster_s3");
    let ds = dir.join("ds");
    let part = dir.join("part");
    run_ok(&[
        "-q",
        "ingest",
        &demo_capture().to_string_lossy(),
        "-d",
        &part.to_string_lossy(),
        "--partition",
        "hour",
    ]);
    let part_s = part.to_string_lossy().into_owned();
    // a shared dataset of two runs, and a copy of it missing run b's manifest
    let shared = dir.join("shared");
    for run in ["a", "b"] {
        run_ok(&[
            "-q",
            "ingest",
            &demo_capture().to_string_lossy(),
            "-d",
            &shared.to_string_lossy(),
            "--run",
            run,
        ]);
    }
    let orphan = dir.join("orphan");
    copy_tree(&shared, &orphan);
    std::fs::remove_file(orphan.join("runs/b.json")).unwrap();
    // a copy whose first conn part file lost its tail (an interrupted upload), and a copy of the
    // tables without the manifest
    let bad = dir.join("bad");
    let nomanifest = dir.join("nomanifest");
    for d in [&bad, &nomanifest] {
        copy_tree(&ds, d);
    }
    std::fs::remove_file(nomanifest.join("manifest.json")).unwrap();
    let victim = walk(&bad.join("conn"))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .min()
        .unwrap();
    let len = std::fs::metadata(&victim).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&victim)
        .unwrap()
        .set_len(len / 2)
        .unwrap();

    let mut procs = Procs(Vec::new());
    let endpoint = start_s3(&mut procs, &dir.join("s3.log"));
    upload(
        &endpoint,
        "cases",
        &[
            (&ds, "ir-7/ds"),
            (&part, "ir-7/part"),
            (&bad, "ir-7/bad"),
            (&nomanifest, "ir-7/nomanifest"),
            (&shared, "ir-7/shared"),
            (&orphan, "ir-7/orphan"),
        ],
    );
    let env: Vec<(&str, String)> = vec![
        ("AWS_ACCESS_KEY_ID", "wirehunt".into()),
        ("AWS_SECRET_ACCESS_KEY", "wirehunt-test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_ALLOW_HTTP", "true".into()),
    ];

    // locally: every detector, and the README's hunting queries, as on the directory
    let detect = |dataset: &str, cluster: Option<&str>| {
        let mut a: Vec<&str> = Vec::new();
        if let Some(u) = cluster {
            a.extend(["--cluster", u]);
        }
        a.extend([
            "detect",
            dataset,
            "--format",
            "jsonl",
            "--min-severity",
            "low",
        ]);
        sorted_lines(&run_bounded_ok_env(&a, &env))
    };
    let on_disk = detect(&ds_s, None);
    assert!(
        on_disk.len() >= 6,
        "the demo capture's findings: {}",
        on_disk.len()
    );
    // requests moto logged so far whose line holds `pattern`
    let requests = |pattern: &str| {
        std::fs::read_to_string(dir.join("s3.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(pattern))
            .count()
    };
    // every detector over s3:// lists the dataset once: the session hands its listing to
    // DataFusion instead of DataFusion listing each table prefix again
    let listings = || requests("list-type=2");
    // object reads (range GETs of the dataset's objects), to compare the cluster's with a local run's
    let gets = || requests("\"GET /cases/ir-7/ds/");
    let before = listings();
    let gets_before = gets();
    assert_eq!(on_disk, detect("s3://cases/ir-7/ds", None), "local, s3");
    let local_gets = gets() - gets_before;
    assert_eq!(
        listings() - before,
        1,
        "detect over s3:// listed the dataset more than once"
    );
    let queries = readme_queries();
    assert!(queries.len() >= 3);
    for q in &queries {
        let a = run_ok(&["sql", &ds_s, "-c", q, "--format", "csv"]);
        let b = run_bounded_ok_env(
            &["sql", "s3://cases/ir-7/ds", "-c", q, "--format", "csv"],
            &env,
        );
        assert_eq!(
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout),
            "{q}"
        );
    }

    // a shared dataset: the run manifests merged, both runs' rows
    let q = "SELECT count(*) AS n, count(DISTINCT uid) AS uids, sum(orig_bytes) AS up FROM conn";
    let a = run_ok(&["sql", &shared.to_string_lossy(), "-c", q, "--format", "csv"]);
    let b = run_bounded_ok_env(
        &["sql", "s3://cases/ir-7/shared", "-c", q, "--format", "csv"],
        &env,
    );
    assert_eq!(a.stdout, b.stdout);
    let one = run_ok(&["sql", &ds_s, "-c", q, "--format", "csv"]);
    let n = |o: &std::process::Output| -> u64 {
        let t = String::from_utf8_lossy(&o.stdout).into_owned();
        t.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(n(&b), 2 * n(&one));

    // damaged and partial copies: refused with the object named, exit 65 / 66 as for directories
    let o = run_bounded_env(
        &[
            "sql",
            "s3://cases/ir-7/orphan",
            "-c",
            "SELECT count(*) FROM conn",
        ],
        &env,
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains("s3://cases/ir-7/orphan/") && err.contains("of run b that has no manifest"),
        "{err}"
    );
    let o = run_bounded_env(
        &[
            "sql",
            "s3://cases/ir-7/bad",
            "-c",
            "SELECT count(*) FROM conn",
        ],
        &env,
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(65), "{err}");
    let victim_key = format!(
        "s3://cases/ir-7/bad/{}",
        victim.strip_prefix(&bad).unwrap().to_string_lossy()
    );
    assert!(
        err.contains(&victim_key) && err.contains("not a whole Parquet file"),
        "{err}"
    );
    let o = run_bounded_env(&["detect", "s3://cases/ir-7/nomanifest"], &env);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(66), "{err}");
    assert!(err.contains("not a wirehunt dataset"), "{err}");
    // an endpoint nothing listens on: the transport's error, after a bounded retry, not "not a
    // dataset"
    let mut wrong = env.clone();
    wrong[3].1 = format!("http://127.0.0.1:{}", free_port());
    let o = run_bounded_env(&["sql", "s3://cases/ir-7/ds", "-c", "SELECT 1"], &wrong);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(65), "{err}");
    assert!(
        err.contains("s3://cases/ir-7/ds") && !err.contains("not a wirehunt dataset"),
        "{err}"
    );

    // a cluster whose scheduler plans over the bucket's listing and whose executors read it
    let (url, _, count) = start_cluster(&mut procs, &dir, &env, "s3://cases/ir-7/ds");
    let local_count = run_ok(&[
        "sql",
        &ds_s,
        "-c",
        "SELECT count(*) AS n FROM conn",
        "--format",
        "csv",
    ]);
    assert_eq!(count.stdout, local_count.stdout);
    assert!(String::from_utf8_lossy(&count.stdout).lines().nth(1) != Some("0"));
    let gets_before = gets();
    let listings_before = listings();
    assert_eq!(
        on_disk,
        detect("s3://cases/ir-7/ds", Some(&url)),
        "cluster, s3"
    );
    // the scheduler plans every detector's job of one command through one runtime: each table it
    // reads is listed once per command (the client's own look at the dataset is one more), not
    // once per job (52 listings for the demo dataset's `detect` before, 8 now)
    let cluster_listings = listings() - listings_before;
    let tables = wirehunt_store::table::all_schemas().len();
    assert!(
        cluster_listings <= 1 + tables,
        "cluster detect listed {cluster_listings} times ({tables} tables)"
    );
    // each executor keeps one read cache for the command's tasks, as a local session does: two
    // executors read about twice what one local session reads (one more request per object for
    // blocks two tasks asked for at once), not once per task (1,994 GETs against a local run's 50
    // before the executors shared a cache per client session)
    let cluster_gets = gets() - gets_before;
    let objects = walk(&ds).count();
    assert!(
        local_gets > 0 && cluster_gets <= 2 * local_gets + objects,
        "object GETs: local detect {local_gets}, cluster detect {cluster_gets} ({objects} objects)"
    );
    // a partitioned dataset: its date/hour key prefixes are columns there too
    let q = "SELECT date, hour, count(*) AS n, sum(orig_bytes) AS up FROM conn GROUP BY date, hour ORDER BY date, hour";
    let a = run_ok(&["sql", &part_s, "-c", q, "--format", "csv"]);
    let b = run_bounded_ok_env(
        &[
            "--cluster",
            &url,
            "sql",
            "s3://cases/ir-7/part",
            "-c",
            q,
            "--format",
            "csv",
        ],
        &env,
    );
    assert_eq!(
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&b.stdout)
    );
    assert!(String::from_utf8_lossy(&a.stdout).lines().count() >= 2);
    // and locally, one hour of it: the same count as the directory's, from one listing of the
    // dataset (DataFusion narrows the listing it was handed to the hour's prefix)
    let first = String::from_utf8_lossy(&a.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let mut f = first.split(',');
    let (date, hour) = (f.next().unwrap(), f.next().unwrap());
    let q = format!("SELECT count(*) AS n FROM conn WHERE date = '{date}' AND hour = '{hour}'");
    let a = run_ok(&["sql", &part_s, "-c", &q, "--format", "csv"]);
    let before = listings();
    let b = run_bounded_ok_env(
        &["sql", "s3://cases/ir-7/part", "-c", &q, "--format", "csv"],
        &env,
    );
    assert_eq!(
        listings() - before,
        1,
        "one listing of the partitioned dataset"
    );
    assert_eq!(a.stdout, b.stdout, "{q}");
    let n = String::from_utf8_lossy(&b.stdout)
        .lines()
        .nth(1)
        .unwrap_or("0")
        .to_string();
    assert!(n != "0", "the hour {date} {hour} has rows: {n}");
}

/// A scheduler that is not there (a closed port, a name that does not resolve) is said once, before
/// any query runs, with exit 69 - not one transport error per detector with exit 65 (bad data).
#[test]
fn an_unreachable_scheduler_is_said_once_with_exit_69() {
    let (_dir, ds_s) = demo_dataset("cluster-down");
    let closed = format!("df://127.0.0.1:{}", free_port());
    for url in [closed.as_str(), "df://scheduler.invalid:50050"] {
        for args in [
            vec!["detect", ds_s.as_str()],
            vec!["sql", ds_s.as_str(), "-c", "SELECT count(*) FROM conn"],
        ] {
            let mut a = vec!["-q", "--cluster", url];
            a.extend(args.iter().copied());
            let o = run_bounded_env(&a, &[]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(69), "{a:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
            assert!(
                err.contains(&format!("cannot reach the scheduler at {url}")),
                "{a:?}: {err}"
            );
        }
    }
}
