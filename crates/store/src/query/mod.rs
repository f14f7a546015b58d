//! DataFusion over a dataset directory: one `SessionContext`, every table registered by name with its
//! declared schema, the security UDFs ([`udf`]), read-only SQL unless asked otherwise, and an ingest
//! cache so `sql`/`triage` on capture files reuse a dataset when the files' sha256 match.

pub mod cache;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod geo;
pub mod objects;
pub mod rewrite;
pub mod udf;

use crate::table::all_schemas;
use crate::table::snapshot::Snapshot;
use arrow::record_batch::RecordBatch;
use datafusion::execution::options::ParquetReadOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The async runtime every query runs on: one per process, built on first use (two workers, as
/// the session's target partitions). Triage's detectors, overview and report timelines share it
/// (each used to build its own).
pub fn runtime() -> crate::Result<&'static tokio::runtime::Runtime> {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(query_threads())
        .enable_all()
        .build()?;
    Ok(RT.get_or_init(|| rt))
}

/// The environment variable that sets the query threads (as `--query-threads`).
pub const THREADS_ENV: &str = "WIREHUNT_QUERY_THREADS";

/// At most this many query threads, whatever the machine says.
pub const MAX_QUERY_THREADS: usize = 256;

static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Threads a query runs on: the runtime's worker threads and DataFusion's target partitions (each
/// scan, aggregate, join and sort runs in that many partitions, on that many threads). Set once by
/// `--query-threads` ([`set_query_threads`]), else `$WIREHUNT_QUERY_THREADS`, else the cores this
/// process may use. The memory limit is shared by all of them. Findings and query results do not
/// depend on it (tests/detection.rs runs the detectors with 1, 7 and 16).
pub fn query_threads() -> usize {
    *THREADS.get_or_init(|| {
        std::env::var(THREADS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(crate::cores)
            .min(MAX_QUERY_THREADS)
    })
}

/// Fix the query threads of this process (0: the cores it may use); first call wins, and it must
/// come before the first query (the runtime is built once).
pub fn set_query_threads(n: usize) {
    let n = if n == 0 { crate::cores() } else { n };
    let _ = THREADS.set(n.min(MAX_QUERY_THREADS));
}

/// Query-time resource limits. Every byte of a capture is attacker-controlled, so a query over a
/// hostile dataset (a million spoofed sources, a cross join) must fail with a message or spill to disk,
/// never abort the process: DataFusion runs with a greedy memory pool of `memory_bytes` (sorts and
/// aggregates spill into a private temporary directory when the pool is full; an operator that
/// cannot spill fails with "Resources exhausted"). A fair pool (each spilling operator gets an equal
/// share) was measured and rejected: a detector plan holds ~100 spilling operators, so under a small
/// limit each share was below the 1 MiB an aggregate needs to start, and queries failed that a
/// greedy pool runs (as datafusion-cli does by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: usize,
}

/// The environment variable that sets the query memory limit (same syntax as `--memory-limit`).
pub const MEMORY_ENV: &str = "WIREHUNT_MEMORY_LIMIT";

static LIMITS: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();

impl Limits {
    /// A quarter of the memory this process may use (the cgroup limit when there is one, else
    /// physical RAM), at least 256 MiB.
    pub fn default_for_machine() -> Limits {
        Limits {
            memory_bytes: (available_memory() / 4).max(256 << 20),
        }
    }

    /// `$WIREHUNT_MEMORY_LIMIT` when set, else [`Limits::default_for_machine`].
    pub fn from_env() -> Result<Limits, String> {
        match std::env::var(MEMORY_ENV) {
            Ok(v) if !v.trim().is_empty() => parse_size(&v)
                .map(|memory_bytes| Limits { memory_bytes })
                .map_err(|e| format!("{MEMORY_ENV}: {e}")),
            _ => Ok(Limits::default_for_machine()),
        }
    }

    /// The limits of this process: set once by the command line ([`Limits::set`]), else from the
    /// environment, else the default.
    pub fn current() -> Limits {
        *LIMITS.get_or_init(|| Limits::from_env().unwrap_or_else(|_| Limits::default_for_machine()))
    }

    /// Fix the process's limits (first call wins).
    pub fn set(self) {
        let _ = LIMITS.set(self);
    }
}

/// Memory this process may use: the cgroup v2/v1 limit when set, else MemTotal.
pub fn available_memory() -> usize {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let cgroup = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&n| n > 0 && n < (1u64 << 60));
    let total = read("/proc/meminfo").and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|k| k.parse::<u64>().ok())
            .map(|k| k * 1024)
    });
    let n = match (cgroup, total) {
        (Some(c), Some(t)) => c.min(t),
        (Some(c), None) => c,
        (None, Some(t)) => t,
        (None, None) => 4 << 30,
    };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `4G`, `512M`, `1.5GiB`, `2000000` (bytes) or `25%` (of [`available_memory`]).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    if let Some(p) = t.strip_suffix('%') {
        let f: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not a size"))?;
        if !(f > 0.0 && f <= 100.0) {
            return Err(format!("{s:?}: a percentage is 1-100"));
        }
        return Ok((available_memory() as f64 * f / 100.0) as usize);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 4G, 512M, 25%)"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        u => return Err(format!("{s:?}: unknown unit {u:?} (K, M, G, T)")),
    };
    let v = n * mult;
    if v.is_nan() || v < (16u64 << 20) as f64 {
        return Err(format!("{s:?}: at least 16M is needed to run a query"));
    }
    Ok(v.min(usize::MAX as f64) as usize)
}

static INTEL: std::sync::RwLock<Option<arrow::record_batch::RecordBatch>> =
    std::sync::RwLock::new(None);

static CLUSTER: std::sync::RwLock<Option<String>> = std::sync::RwLock::new(None);

/// `--cluster df://HOST:PORT`: the sessions opened from now on run their queries on that Ballista
/// scheduler ([`cluster`]).
pub fn set_cluster(url: Option<String>) {
    if let Ok(mut g) = CLUSTER.write() {
        *g = url;
    }
    forget_shared();
}

/// The process's session (see [`session`]): the dataset it was opened on, and the session.
static SHARED: std::sync::Mutex<Option<(PathBuf, SessionContext)>> = std::sync::Mutex::new(None);

fn forget_shared() {
    if let Ok(mut g) = SHARED.lock() {
        *g = None;
    }
}

/// The process's one session over `dataset`: opened on first use, then shared by everything that
/// reads the dataset in this run (triage's detectors, its overview and its report's timelines), so
/// tables are registered once and every query draws on one memory pool. A different dataset, new
/// indicators or a new cluster give a new session.
pub async fn session(dataset: &Path) -> datafusion::error::Result<SessionContext> {
    if let Ok(g) = SHARED.lock()
        && let Some((p, ctx)) = g.as_ref()
        && p == dataset
    {
        return Ok(ctx.clone());
    }
    let ctx = open_session(dataset).await?;
    if let Ok(mut g) = SHARED.lock() {
        *g = Some((dataset.to_path_buf(), ctx.clone()));
    }
    Ok(ctx)
}

fn cluster_url() -> Option<String> {
    CLUSTER.read().ok().and_then(|g| g.clone())
}

/// Whether the sessions opened now run their queries on a Ballista cluster (`--cluster`).
pub(crate) fn is_cluster() -> bool {
    cluster_url().is_some()
}

/// Indicators (`--intel`) for the sessions opened from now on: the `intel` table (empty until set).
pub fn set_intel(batch: arrow::record_batch::RecordBatch) {
    if let Ok(mut g) = INTEL.write() {
        *g = Some(batch);
    }
    forget_shared();
}

fn intel_batch() -> datafusion::error::Result<arrow::record_batch::RecordBatch> {
    if let Some(b) = INTEL.read().ok().and_then(|g| g.clone()) {
        return Ok(b);
    }
    Ok(crate::table::IntelTable::default().finish()?)
}

/// A session with the dataset's tables and the UDFs registered, under [`Limits::current`].
pub async fn open_session(dataset: &Path) -> datafusion::error::Result<SessionContext> {
    open_session_with(dataset, Limits::current()).await
}

/// The tables of this wirehunt's registry that a dataset (as listed) has no directory for (it was
/// written by an older wirehunt; on object storage, no objects): a session reads them as empty;
/// callers say so.
pub fn missing_tables(s: &Snapshot) -> Vec<&'static str> {
    if !s.is_dataset() {
        return Vec::new();
    }
    all_schemas()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| !s.has_table(n))
        .collect()
}

/// A listing handed over by a caller that already looked at the dataset (the command line checks
/// that it is one and which tables it has before opening a session): the next session opened on
/// that path uses it instead of listing again, once. Over object storage that is one LIST request
/// per command instead of three.
static HANDED_OVER: std::sync::Mutex<Option<(PathBuf, Snapshot)>> = std::sync::Mutex::new(None);

/// Hand a listing to the next session opened on `dataset` (see [`HANDED_OVER`]).
pub fn hand_over(dataset: &Path, snapshot: Snapshot) {
    if let Ok(mut g) = HANDED_OVER.lock() {
        *g = Some((dataset.to_path_buf(), snapshot));
    }
}

/// The listing handed over for `dataset`, if any (taken: used once); else a new one.
fn snapshot_for(dataset: &Path) -> Result<Snapshot, String> {
    let handed = HANDED_OVER
        .lock()
        .ok()
        .and_then(|mut g| g.take_if(|(p, _)| p == dataset).map(|(_, s)| s));
    match handed {
        Some(s) => Ok(s),
        None => Snapshot::take(dataset),
    }
}

/// Optimisations of DataFusion 55 that give wrong answers, turned off in every session (local, a
/// cluster client's, the scheduler's).
///
/// The aggregate dynamic filter: for `min(ts), max(expr)` (a column and an expression, as
/// long_connection.sql's capture span) DataFusion 55.2 builds the scan's pruning filter from the
/// column aggregates alone (`ts < current min`), so row groups the `max(expr)` needs are skipped
/// depending on which partition runs first: the capture span, and every finding's coverage, changed
/// from run to run (apache/datafusion#24816, fixed after 55). tests/sql.rs checks it stays off.
///
/// The hash join's dynamic filter: every partition of a join reports its build side to a shared
/// accumulator and waits at a barrier; with 13 or more partitions a partition can finish without
/// reaching it, and the query hangs at 0% CPU (apache/datafusion#21625, the TPC-H Q18 hang; here the
/// beaconing detector on the demo dataset with 13-16 query threads, found when queries began to
/// use every core). tests/detection.rs runs the detectors with 16 query threads.
pub fn correct_results(mut cfg: SessionConfig) -> SessionConfig {
    let o = &mut cfg.options_mut().optimizer;
    o.enable_aggregate_dynamic_filter_pushdown = false;
    o.enable_join_dynamic_filter_pushdown = false;
    cfg
}

/// A session under explicit limits.
pub async fn open_session_with(
    dataset: &Path,
    limits: Limits,
) -> datafusion::error::Result<SessionContext> {
    // one look at the dataset: checked, then its tables registered from the same listing
    let snap = snapshot_for(dataset).map_err(datafusion::error::DataFusionError::Plan)?;
    let is_dataset = snap.is_dataset();
    if is_dataset {
        snap.check()
            .map_err(datafusion::error::DataFusionError::Plan)?;
    }
    use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let pool = TrackConsumersPool::new(
        GreedyMemoryPool::new(limits.memory_bytes),
        std::num::NonZeroUsize::new(5).unwrap_or(std::num::NonZeroUsize::MIN),
    );
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(std::sync::Arc::new(pool))
        // object storage read through a cache of a quarter of the query memory (at most 1 GiB)
        .with_object_store_registry(objects::cached_registry(
            (limits.memory_bytes / 4).min(1 << 30),
        ))
        .build_arc()?;
    let cfg = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(query_threads())
        // results stream batch by batch; smaller batches keep a wide row's peak memory down
        .with_batch_size(8192);
    let cfg = correct_results(cfg);
    let cluster = cluster_url();
    let ctx = match &cluster {
        #[cfg(feature = "cluster")]
        Some(url) => cluster::connect(url).await?,
        #[cfg(not(feature = "cluster"))]
        Some(_) => {
            return Err(datafusion::error::DataFusionError::Plan(
                "--cluster: this wirehunt was built without the `cluster` feature".into(),
            ));
        }
        None => {
            let ctx = SessionContext::new_with_config_rt(cfg, runtime);
            udf::register(&ctx);
            ctx
        }
    };
    let partition = snap.manifest().map(|m| m.partition).unwrap_or_default();
    for (name, schema) in all_schemas() {
        if !snap.has_table(name) {
            // a table this wirehunt writes but an older one did not: it reads as empty, so every
            // detector and query still runs (see [`missing_tables`]); a cluster's executors cannot
            // read an in-memory table, so there it is an empty VALUES view carried in the plan
            if is_dataset {
                let empty = RecordBatch::new_empty(schema.clone());
                match &cluster {
                    None => {
                        ctx.register_batch(name, empty)?;
                    }
                    #[cfg(feature = "cluster")]
                    Some(_) => {
                        ctx.register_table(name, cluster::values_view(&empty)?)?;
                    }
                    #[cfg(not(feature = "cluster"))]
                    Some(_) => {}
                }
            }
            continue;
        }
        // a partitioned dataset's directories are columns (`date`, `hour`): filters on them prune
        let opts = ParquetReadOptions {
            schema: Some(&schema),
            table_partition_cols: partition
                .columns()
                .iter()
                .map(|c| (c.to_string(), arrow::datatypes::DataType::Utf8))
                .collect(),
            ..Default::default()
        };
        // a cluster's executors open the files by the path in the plan: make it absolute
        let table_url = snap.location.table_url(name, cluster.is_some())?;
        ctx.register_parquet(name, &table_url, opts).await?;
        if cluster.is_none() {
            give_listing(&ctx, &snap, name, &table_url)?;
        }
    }
    match &cluster {
        // executors get the plan, not this process's memory: the indicators travel in it
        #[cfg(feature = "cluster")]
        Some(_) => {
            ctx.register_table("intel", cluster::values_view(&intel_batch()?)?)?;
        }
        _ => {
            ctx.register_batch("intel", intel_batch()?)?;
        }
    }
    // Zeek habits: `ssl` is Zeek's name for the tls log
    if snap.has_table("tls") {
        ctx.sql("CREATE VIEW ssl AS SELECT * FROM tls").await?;
    }
    Ok(ctx)
}

/// Hand DataFusion the table's files from the session's one listing of an object-storage dataset, so
/// that its scans do not list the table prefix again (one request per table per command saved) and
/// the query reads exactly the files the checks looked at. Filled under the key DataFusion's own
/// listing uses (`register_parquet`'s table name and the URL's prefix); were that to change, DataFusion
/// would list as before. A partitioned table is given whole: DataFusion 55 narrows a cached listing
/// to the partition prefix its filters select (`list_prefixed_files`). Directories are not given
/// (listing one is cheap).
fn give_listing(
    ctx: &SessionContext,
    snap: &crate::table::snapshot::Snapshot,
    name: &str,
    table_url: &str,
) -> datafusion::error::Result<()> {
    use datafusion::datasource::listing::ListingTableUrl;
    use datafusion::execution::cache::TableScopedPath;
    use datafusion::execution::cache::cache_manager::CachedFileList;
    if !snap.location.is_remote() {
        return Ok(());
    }
    let Some(cache) = ctx.runtime_env().cache_manager.get_list_files_cache() else {
        return Ok(());
    };
    let metas: Option<Vec<object_store::ObjectMeta>> = snap
        .listing
        .files_below(name)
        .map(|e| e.meta.clone())
        .collect();
    let Some(metas) = metas else {
        return Ok(());
    };
    let key = TableScopedPath {
        table: Some(datafusion::common::TableReference::from(name)),
        path: ListingTableUrl::parse(table_url)?.prefix().clone(),
    };
    cache.put(&key, CachedFileList::from(metas));
    Ok(())
}

/// SQL options: read-only unless `allow_write`.
pub fn sql_options(allow_write: bool) -> datafusion::execution::context::SQLOptions {
    datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(allow_write)
        .with_allow_dml(allow_write)
        .with_allow_statements(allow_write)
}

/// Plan one statement an analyst typed: parsed, mended ([`rewrite`]: unquoted mixed-case columns,
/// minute-precision timestamp literals), planned and checked against [`sql_options`].
pub async fn dataframe(
    ctx: &SessionContext,
    sql: &str,
    allow_write: bool,
) -> datafusion::error::Result<datafusion::dataframe::DataFrame> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    let mut stmt = state.sql_to_statement(sql, &dialect)?;
    rewrite::mend(&mut stmt, sql);
    let plan = state.statement_to_plan(stmt).await?;
    sql_options(allow_write).verify_plan(&plan)?;
    ctx.execute_logical_plan(plan).await
}

/// Run one statement and collect its batches.
pub async fn run_sql(
    ctx: &SessionContext,
    sql: &str,
    allow_write: bool,
) -> datafusion::error::Result<Vec<RecordBatch>> {
    dataframe(ctx, sql, allow_write).await?.collect().await
}

/// Split a script into statements at top-level semicolons: a small scanner that knows SQL's quoting
/// ('...', "...") and comments (--, /* */), so a semicolon inside them does not split; each
/// statement keeps its starting line for error messages. Each statement is then parsed by
/// DataFusion's parser.
pub fn split_statements(script: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start_line = 1;
    let mut line = 1;
    let (mut in_s, mut in_d, mut in_line_comment, mut in_block) = (false, false, false, false);
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if cur.trim().is_empty() {
            start_line = line;
        }
        if c == '\n' {
            line += 1;
            in_line_comment = false;
        }
        if in_line_comment {
            cur.push(c);
            i += 1;
            continue;
        }
        if in_block {
            cur.push(c);
            if c == '*' && next == Some('/') {
                cur.push('/');
                i += 2;
                in_block = false;
                continue;
            }
            i += 1;
            continue;
        }
        match c {
            '\'' if !in_d => in_s = !in_s,
            '"' if !in_s => in_d = !in_d,
            '-' if !in_s && !in_d && next == Some('-') => in_line_comment = true,
            '/' if !in_s && !in_d && next == Some('*') => in_block = true,
            ';' if !in_s && !in_d => {
                if !is_blank_sql(&cur) {
                    out.push((start_line, cur.trim().to_string()));
                }
                cur.clear();
                i += 1;
                continue;
            }
            _ => {}
        }
        cur.push(c);
        i += 1;
    }
    if !is_blank_sql(&cur) {
        out.push((start_line, cur.trim().to_string()));
    }
    out
}

fn is_blank_sql(s: &str) -> bool {
    s.lines()
        .map(|l| l.split("--").next().unwrap_or("").trim())
        .all(|l| l.is_empty())
}

/// Where cached datasets live: `$WIREHUNT_CACHE`, else `$XDG_CACHE_HOME/wirehunt`, else `~/.cache/wirehunt`.
pub fn cache_root() -> PathBuf {
    if let Some(p) = std::env::var_os("WIREHUNT_CACHE") {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(p).join("wirehunt");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache").join("wirehunt");
    }
    std::env::temp_dir().join("wirehunt-cache")
}

/// Cache key of a set of capture files: sha256 over the files' own sha256s, the wirehunt version and
/// the schema version (so a new release never reads an old layout). Also returns each file's sha256
/// (hex), so the ingest that fills the cache does not hash the files again.
pub fn cache_key(
    files: &[String],
    extra: &str,
) -> std::io::Result<(String, std::collections::HashMap<String, String>)> {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(crate::table::SCHEMA_VERSION.to_le_bytes());
    h.update(extra.as_bytes());
    let mut each = std::collections::HashMap::new();
    for f in files {
        let d = wirehunt_wire::capture::sha256_file_digest(f)?;
        h.update(d);
        each.insert(f.clone(), wirehunt_wire::capture::hex(&d));
    }
    Ok((
        wirehunt_wire::capture::hex(&h.finalize())[..24].to_string(),
        each,
    ))
}

pub use crate::table::dataset::is_dataset;

/// The query failed because the dataset's data did not decode: a Parquet error (a damaged page, a
/// bad footer, `snappy: corrupt input` - the codec's error wrapped in one) anywhere in the error's
/// chain, by type, not by the words of its message. Then the message names no file, and the caller
/// can read the dataset through to find it ([`crate::table::snapshot::Snapshot::find_damaged`]).
/// A query that fails in a Ballista executor arrives as text and is not recognised here.
pub fn is_damaged_data(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |c| c.source()).any(|c| {
        c.is::<parquet::errors::ParquetError>()
            || matches!(
                c.downcast_ref::<arrow::error::ArrowError>(),
                Some(arrow::error::ArrowError::ParquetError(_))
            )
    })
}

/// An error message an analyst can act on: a query over the memory limit says so and how to raise it;
/// an unknown table lists the tables.
pub fn explain_error(e: &(dyn std::error::Error + 'static)) -> String {
    let chain = || std::iter::successors(Some(e), |c| c.source());
    // a syntax error: DataFusion's text is `SQL error: ParserError("X"): sql parser error: X`
    let syntax = chain().find_map(|c| {
        match c
            .downcast_ref::<datafusion::error::DataFusionError>()?
            .find_root()
        {
            datafusion::error::DataFusionError::SQL(p, _) => Some(p.to_string()),
            _ => None,
        }
    });
    if let Some(p) = syntax {
        return format!(
            "syntax error: {}",
            p.strip_prefix("sql parser error: ").unwrap_or(&p)
        );
    }
    // DataFusion's errors repeat their source's message in their own: say each part once
    let mut text = String::new();
    for part in chain().map(|c| c.to_string()) {
        if !text.contains(part.trim_end_matches('.')) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    let exhausted = chain().any(|c| {
        c.downcast_ref::<datafusion::error::DataFusionError>()
            .is_some_and(|d| {
                matches!(
                    d.find_root(),
                    datafusion::error::DataFusionError::ResourcesExhausted(_)
                )
            })
    }) || text.contains("Resources exhausted");
    if exhausted {
        let lim = Limits::current().memory_bytes;
        return format!(
            "the query needs more memory than its limit of {} MiB and could not spill it to disk ({text}); \
             raise it with --memory-limit SIZE or {MEMORY_ENV}=SIZE, or narrow the query (WHERE, LIMIT, fewer joined rows)",
            lim >> 20
        );
    }
    if text.contains("table '") && text.contains("not found") {
        let names: Vec<&str> = all_schemas().into_iter().map(|(n, _)| n).collect();
        return format!("{text} (tables: {})", names.join(", "));
    }
    text
}
