//! wirehunt's store: from records to answers.
//!
//! [`table`] declares each table once (schema, builders, docs, the record that fills it) and writes
//! the Parquet dataset with its manifest; [`ingest`] runs the wire layers (`wirehunt-wire`) over the
//! inputs into that writer, on one thread or sharded over several. [`query`] opens a dataset in
//! DataFusion under a memory pool with wirehunt's UDFs (locally or on a Ballista cluster);
//! [`detect`] runs the SQL detectors of `queries/` and turns their rows into findings; [`report`]
//! writes results and findings (terminal table, CSV, JSON, JSON lines, Parquet, HTML); [`extract`]
//! goes back from `conn` rows to the captures' frames.
//!
//! Errors are typed per module (`thiserror`); the binary maps them to exit codes.

pub mod detect;
pub mod extract;
pub mod ingest;
pub mod query;
pub mod report;
pub mod table;

/// The cores this process may run on (its CPU affinity mask and cgroup quota), at least 1: the
/// default of ingest's flow workers and of the query threads.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What can go wrong in the query, detect and report layers, by what the user can do about it (the
/// binary maps each variant to an exit code).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query, a detector or the dataset's files failed: bad SQL, a corrupt Parquet file, the
    /// memory limit.
    #[error(transparent)]
    Query(#[from] datafusion::error::DataFusionError),
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Writing a result, a report or a findings file failed (or the runtime could not start).
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Asked for something that cannot be done as asked (Parquet output without a file, an HTML
    /// query result, a table that does not exist).
    #[error("{0}")]
    Usage(String),
    /// The Ballista scheduler or executor could not start or serve.
    #[error("cluster: {0}")]
    Cluster(String),
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
