//! DataFusion Ballista (`wirehunt cluster`, `--cluster df://HOST:PORT`): the same queries on a
//! scheduler and executors started from this binary, so that both know wirehunt's functions (the
//! scheduler plans with them, executors decode plans that name them). A client session plans the
//! query against the dataset's Parquet files by path: every executor must read the dataset at the
//! same path (a shared filesystem).
//!
//! What is distributed: scans, filters, projections, aggregates (partial per partition, then
//! final), joins and sorts, as Ballista stages over the dataset's part files. What is not: ingest
//! (see README "Scaling out"), and what wirehunt does with a detector's rows (scoring is SQL, but
//! ranking, severity gates and the report run in the client).

use ballista::prelude::SessionContextExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

/// The scheduler's sessions: DataFusion's functions plus wirehunt's. The scheduler lists a table's
/// files when it plans a job (local paths, or `s3://` objects: super::objects), and Ballista 55 makes
/// a session per job, so each detector of one `detect` listed every table it reads again (49
/// listings for the demo dataset's `detect` over S3). The jobs of one wirehunt command (named by
/// [`client_session`]) share one runtime, and with it DataFusion's list-files and Parquet-metadata
/// caches and wirehunt's object cache: the command lists each table once, as a local session does,
/// and sees one state of the dataset throughout; the next command starts empty. Jobs of other
/// clients get a runtime each.
fn session_state(
    runtimes: &PerCommand<Arc<datafusion::execution::runtime_env::RuntimeEnv>>,
    config: SessionConfig,
) -> datafusion::error::Result<SessionState> {
    use datafusion::execution::FunctionRegistry;
    // registered on the built state: the builder's with_scalar_functions replaces the defaults
    use ballista::prelude::SessionConfigExt;
    // through query::cache, as a local session: a prefix is listed once per command even when two
    // jobs plan scans of one table at the same moment (they share the one request), and the footers
    // planning reads are fetched once (a small cache: the scheduler reads no column data)
    let make = || {
        datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
            .with_object_store_registry(super::objects::cached_registry(16 << 20))
            .build_arc()
    };
    let runtime = match client_session(&config) {
        Some(key) => runtimes.get(key, make)?,
        None => make()?,
    };
    // see connect(): the static planner; a client's own setting travels with its job
    let config = super::correct_results(config.with_ballista_adaptive_query_planner(false));
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    for f in super::udf::scalar_udfs() {
        state.register_udf(Arc::new(f))?;
    }
    for f in super::udf::aggregate_udfs() {
        state.register_udaf(Arc::new(f))?;
    }
    Ok(state)
}

/// The executors' function registry: DataFusion's plus wirehunt's.
fn function_registry() -> Arc<BallistaFunctionRegistry> {
    let mut r = BallistaFunctionRegistry::default();
    // Ballista's default registry has DataFusion's core functions, not the array ones the
    // detectors use (make_array, array_slice, array_to_string, cardinality ...)
    for f in datafusion::functions_nested::all_default_nested_functions() {
        r.scalar_functions.insert(f.name().to_string(), f);
    }
    for f in super::udf::scalar_udfs() {
        r.scalar_functions.insert(f.name().to_string(), Arc::new(f));
    }
    for f in super::udf::aggregate_udfs() {
        r.aggregate_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    Arc::new(r)
}

/// Ballista's log records up to `log::max_level()`, one line each on stderr.
struct StderrLog;

static LOG: StderrLog = StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!(
                "{} {} {}: {}",
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                r.level(),
                r.target(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

/// Log Ballista's records to stderr: warnings and errors, or the level in `WIREHUNT_LOG`
/// (error, warn, info, debug, trace).
fn init_log() {
    let level = std::env::var("WIREHUNT_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(log::LevelFilter::Warn);
    if log::set_logger(&LOG).is_ok() {
        log::set_max_level(level);
    }
}

fn ballista_err(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::Cluster(e.to_string())
}

/// Run a scheduler on `bind` until the process ends.
pub fn scheduler(bind: std::net::SocketAddr, external_host: Option<String>) -> crate::Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    init_log();
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: external_host.unwrap_or_else(|| bind.ip().to_string()),
        override_session_builder: Some({
            let runtimes = PerCommand::new(SESSIONS);
            Arc::new(move |c| session_state(&runtimes, c))
        }),
        ..Default::default()
    };
    super::runtime()?.block_on(async move {
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(ballista_err)?;
        ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config))
            .await
            .map_err(ballista_err)
    })
}

/// How an executor is started.
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind_host: String,
    /// Arrow Flight port (shuffle data and results); the gRPC port is the next one when 0 is not
    /// asked for.
    pub port: u16,
    pub grpc_port: u16,
    pub work_dir: Option<String>,
    /// Tasks run at once (default: the cores this process may use).
    pub concurrent_tasks: Option<usize>,
    /// Memory for the tasks together (a spilling pool; default: Ballista's share of the host).
    pub memory_bytes: Option<u64>,
}

/// Run an executor registered with a scheduler until the process ends.
pub fn executor(o: ExecutorOptions) -> crate::Result<()> {
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    init_log();
    let mut config = ExecutorProcessConfig {
        scheduler_host: o.scheduler_host,
        scheduler_port: o.scheduler_port,
        bind_host: o.bind_host.clone(),
        external_host: Some(o.bind_host),
        port: o.port,
        grpc_port: o.grpc_port,
        work_dir: o.work_dir,
        memory_pool_size: o.memory_bytes,
        override_function_registry: Some(function_registry()),
        // the scheduler may still be starting: keep trying to register for a while
        scheduler_connect_timeout_seconds: 30,
        ..Default::default()
    };
    if let Some(n) = o.concurrent_tasks {
        config.vcores = n.max(1);
    }
    // tasks read `s3://` tables as well as local paths (super::objects); spills go to the work
    // directory when one is given, as in Ballista's own producer. Reads go through a block cache
    // (super::cache). Ballista 55 calls this producer for every task (to decode its plan, and the
    // plan reads through the registry it was decoded with), so a cache made here would live for one
    // task: counted for the demo dataset's `detect` over moto on two executors, 392 caches and
    // 619 object GETs. A wirehunt client names its jobs `wirehunt-<session>` (connect()), the
    // name travels with every task's settings, and the registry - with its cache - is shared by
    // the tasks of one client session (the last SESSIONS sessions are kept); the next command starts
    // empty and sees the dataset as it is then. Tasks of other clients get a registry of their own.
    // The caches kept stay within a quarter of the executor's memory.
    let memory = o
        .memory_bytes
        .map(|m| m as usize)
        .unwrap_or(super::Limits::current().memory_bytes);
    let cache_bytes = (memory / 4 / SESSIONS).min(256 << 20);
    let commands = PerCommand::new(SESSIONS);
    let spill_dir = config.work_dir.clone();
    config.override_runtime_producer = Some(Arc::new(move |config: &SessionConfig| {
        let registry = match client_session(config) {
            Some(key) => commands
                .get(key, || {
                    Ok::<_, std::convert::Infallible>(super::objects::cached_registry(cache_bytes))
                })
                .unwrap_or_else(|e| match e {}),
            None => super::objects::cached_registry(cache_bytes / 16),
        };
        let mut b = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
            .with_object_store_registry(registry);
        if let Some(d) = &spill_dir {
            b = b.with_temp_file_path(d.clone());
        }
        b.build_arc()
    }));
    super::runtime()?.block_on(async move {
        start_executor_process(Arc::new(config))
            .await
            .map_err(ballista_err)
    })
}

/// Wirehunt commands whose state a scheduler or an executor keeps (the last few; see [`PerCommand`]).
const SESSIONS: usize = 4;

/// What a scheduler (the runtime its planning lists tables through) or an executor (the object-store
/// registry with its read cache) keeps for each of the last few wirehunt commands, most recently
/// used last.
struct PerCommand<T> {
    kept: std::sync::Mutex<Vec<(String, T)>>,
    capacity: usize,
}

impl<T: Clone> PerCommand<T> {
    fn new(capacity: usize) -> PerCommand<T> {
        PerCommand {
            kept: std::sync::Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        }
    }

    /// The value kept for command `key`, made by `make` (and the least recently used one dropped)
    /// when the command is new.
    fn get<E>(&self, key: String, make: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let entry = match kept.iter().position(|(k, _)| *k == key) {
            Some(i) => kept.remove(i),
            None => {
                let v = make()?;
                if kept.len() >= self.capacity {
                    kept.remove(0);
                }
                (key, v)
            }
        };
        let v = entry.1.clone();
        kept.push(entry);
        Ok(v)
    }
}

/// The prefix of the job name a wirehunt client gives its jobs (`wirehunt-<pid>-<nanos>`): the key
/// by which executors share a read cache between one client session's tasks.
const JOB_PREFIX: &str = "wirehunt-";

/// The client session a task's settings name (its `ballista.job.name`, when a wirehunt client set
/// it), or None.
fn client_session(config: &SessionConfig) -> Option<String> {
    config
        .options()
        .entries()
        .into_iter()
        .find(|e| e.key == ballista_core::config::BALLISTA_JOB_NAME)
        .and_then(|e| e.value)
        .filter(|v| v.starts_with(JOB_PREFIX))
}

/// Seconds a client waits for the scheduler's port to accept a connection.
const CONNECT_TIMEOUT_S: u64 = 10;

/// Can the scheduler at `url` be reached? Ballista's client connects lazily, so without this look a
/// scheduler that is down (or a misspelt host) failed every query of a command separately, each
/// with a transport error dump, as bad data (exit 65); now it is one [`crate::Error::Cluster`]
/// (exit 69) before anything runs.
async fn reachable(url: &str) -> datafusion::error::Result<()> {
    let target = url.split_once("://").map_or(url, |(_, rest)| rest);
    let target = target.trim_end_matches('/');
    let unreachable = |why: String| {
        datafusion::error::DataFusionError::External(Box::new(crate::Error::Cluster(format!(
            "cannot reach the scheduler at {url}: {why}"
        ))))
    };
    match tokio::time::timeout(
        std::time::Duration::from_secs(CONNECT_TIMEOUT_S),
        tokio::net::TcpStream::connect(target),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable(format!(
            "no answer within {CONNECT_TIMEOUT_S} s"
        ))),
    }
}

/// A client session on the cluster at `url` (`df://HOST:PORT`), with wirehunt's functions.
pub async fn connect(url: &str) -> datafusion::error::Result<SessionContext> {
    use ballista::prelude::SessionConfigExt;
    let config = SessionConfig::new_with_ballista()
        .with_information_schema(true)
        .with_target_partitions(2)
        // Ballista 55's adaptive planner (on by default) loses task status updates on the
        // detectors' multi-stage plans ("task metrics array size 6 does not equal ... 7") and the
        // job never finishes; the static planner runs them all
        .with_ballista_adaptive_query_planner(false)
        // the executors share one read cache between this session's tasks (see executor())
        .with_ballista_job_name(&format!(
            "{JOB_PREFIX}{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
    let config = super::correct_results(config);
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_object_store_registry(super::objects::registry())
        .build_arc()?;
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    reachable(url).await?;
    let ctx = SessionContext::remote_with_state(url, state).await?;
    // after remote_with_state: upgrading the state for Ballista replaces its function list
    super::udf::register(&ctx);
    Ok(ctx)
}

/// `batch` as a view whose plan carries its rows (`VALUES`): a Ballista plan can name a view, not
/// an in-memory table. An empty batch is one row of typed NULLs filtered out.
pub fn values_view(
    batch: &arrow::record_batch::RecordBatch,
) -> datafusion::error::Result<Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{Expr, LogicalPlanBuilder, lit};
    let schema = batch.schema();
    let mut rows: Vec<Vec<Expr>> = Vec::new();
    for r in 0..batch.num_rows() {
        let mut row = Vec::with_capacity(batch.num_columns());
        for c in batch.columns() {
            row.push(lit(ScalarValue::try_from_array(c, r)?));
        }
        rows.push(row);
    }
    let empty = rows.is_empty();
    if empty {
        let mut row = Vec::new();
        for f in schema.fields() {
            row.push(lit(ScalarValue::try_from(f.data_type())?));
        }
        rows.push(row);
    }
    let mut b = LogicalPlanBuilder::values(rows)?;
    if empty {
        b = b.filter(lit(false))?;
    }
    // VALUES names its columns column1..; give them the table's names
    let cols: Vec<Expr> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| datafusion::prelude::col(format!("column{}", i + 1)).alias(f.name()))
        .collect();
    let plan = b.project(cols)?.build()?;
    Ok(Arc::new(datafusion::catalog::view::ViewTable::new(
        plan, None,
    )))
}

#[cfg(test)]
mod tests {
    use super::PerCommand;
    use std::sync::Arc;

    /// One value per command while it is remembered; the least recently used one is dropped when a
    /// new command comes past the capacity; a failed make keeps nothing.
    #[test]
    fn a_command_keeps_its_value_until_it_is_the_oldest() {
        let r: PerCommand<Arc<u32>> = PerCommand::new(2);
        let n = std::cell::Cell::new(0u32);
        let make = || -> Result<Arc<u32>, ()> {
            n.set(n.get() + 1);
            Ok(Arc::new(n.get()))
        };
        let get = |k: &str| r.get(k.to_string(), make).unwrap();
        let a = get("wirehunt-a");
        assert!(Arc::ptr_eq(&a, &get("wirehunt-a")));
        let b = get("wirehunt-b");
        assert!(!Arc::ptr_eq(&a, &b));
        // a used again, so b is the oldest when c comes
        get("wirehunt-a");
        get("wirehunt-c");
        assert!(Arc::ptr_eq(&a, &get("wirehunt-a")));
        assert!(!Arc::ptr_eq(&b, &get("wirehunt-b")));
        assert!(
            r.get("wirehunt-d".to_string(), || Err::<Arc<u32>, ()>(()))
                .is_err()
        );
        assert!(
            Arc::ptr_eq(&a, &get("wirehunt-a")),
            "a failed make dropped nothing"
        );
    }
}
