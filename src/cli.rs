//! Command-line interface: clap definitions and the wiring of library parts. No analysis logic here.
//!
//! Exit codes: [`code`] (and the README) lists them; [`classify`] and the `From` impl below are
//! the one place an error becomes one.

use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use wirehunt_store::report::{self, Format};

#[derive(Parser, Debug)]
#[command(
    name = "wirehunt",
    version,
    about = "Offline pcap forensics: Zeek-style Parquet tables, SQL detectors for exfiltration, DNS tunnelling and beaconing",
    after_help = "Examples:\n  wirehunt triage capture.pcap.gz\n  wirehunt ingest sensor/ -d ds && wirehunt detect ds --fail-on high\n  wirehunt sql ds \"SELECT query, count(*) FROM dns GROUP BY 1 ORDER BY 2 DESC LIMIT 20\"\n\nExit codes: 0 success (findings included), 1 a finding at or above --fail-on (and nothing else),\n2 usage, 65 a query, detector, dataset or indicator file failed, 66 an input could not be read,\n69 the cluster could not be reached, 70 internal error, 73 the output exists (no --force) or holds\nforeign files, 74 the dataset or an output could not be written, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
    /// No progress or summaries on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Memory for a query (sorts, aggregates and joins spill to disk past it; a query that still
    /// does not fit fails with a message): 4G, 512M, 25% of RAM. Default: a quarter of the memory the
    /// process may use.
    #[arg(long, global = true, env = "WIREHUNT_MEMORY_LIMIT", value_name = "SIZE", value_parser = parse_memory)]
    pub memory_limit: Option<usize>,
    /// Threads (and DataFusion partitions) a query runs on; the memory limit is shared by all of
    /// them. Findings and results are the same for every value. Default (0): one per core this
    /// process may use.
    #[arg(long, global = true, env = "WIREHUNT_QUERY_THREADS", value_name = "N")]
    pub query_threads: Option<usize>,
    /// MaxMind DB files (GeoLite2-Country/City, GeoLite2-ASN, DB-IP lite; repeatable) for
    /// geo_country(ip), geo_asn(ip), geo_as_org(ip) and the report's country and ASN panels.
    #[arg(long, global = true, value_name = "FILE.mmdb")]
    pub geoip: Vec<PathBuf>,
    /// Run the queries (sql, detect, triage, report) on a DataFusion Ballista cluster
    /// (`wirehunt cluster scheduler`); every executor must read the dataset at the same path.
    #[arg(
        long,
        global = true,
        env = "WIREHUNT_CLUSTER",
        value_name = "df://HOST:PORT"
    )]
    pub cluster: Option<String>,
}

/// Input paths as names (`capture::name`): any bytes the OS allows, escaped so they are safe to print
/// and store, and turned back into the exact path when a file is opened.
fn input_name() -> impl clap::builder::TypedValueParser<Value = String> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new()
        .map(|s| wirehunt_wire::capture::path_name(std::path::Path::new(&s)))
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn parse_severity(s: &str) -> Result<wirehunt_store::detect::Severity, String> {
    s.parse()
}

fn parse_memory(s: &str) -> Result<usize, String> {
    wirehunt_store::query::parse_size(s)
}

fn parse_bytes(s: &str) -> Result<u64, String> {
    wirehunt_store::query::parse_size(s).map(|n| n as u64)
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Read captures (pcap, pcapng; gzip/zstd ok; directories recurse; - is stdin) into a Parquet dataset.
    Ingest(IngestArgs),
    /// Run SQL over a dataset (or over captures, ingested into a cache first).
    Sql(SqlArgs),
    /// Run the SQL detectors over a dataset.
    Detect(DetectArgs),
    /// Ingest (cached) + every detector + a summary: the main job.
    Triage(TriageArgs),
    /// Write a labelled scenario capture (and OUT.truth.json).
    Simulate(SimulateArgs),
    /// Print table schemas (or the SQL functions).
    Schema(SchemaArgs),
    /// List the detectors: id, category, severity thresholds, parameters and their defaults.
    Detectors(DetectorsArgs),
    /// Write the original frames of chosen connections to a pcap or pcapng (a row or a finding's
    /// uids, opened in Wireshark).
    Extract(ExtractArgs),
    /// Render the HTML report of an existing dataset (the detectors run again; nothing is ingested).
    Report(ReportArgs),
    /// Run a DataFusion Ballista scheduler or executor that knows wirehunt's functions (for
    /// --cluster).
    Cluster(ClusterArgs),
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt cluster scheduler --bind 0.0.0.0:50050\n  wirehunt cluster executor --scheduler sched-host:50050 --bind 0.0.0.0:50051 --work-dir /scratch/wh\n  wirehunt --cluster df://sched-host:50050 triage -d /shared/ds"
)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub role: ClusterRole,
}

#[derive(Subcommand, Debug)]
pub enum ClusterRole {
    /// The scheduler: plans queries into stages and hands tasks to executors.
    #[command(
        after_help = "Examples:\n  wirehunt cluster scheduler\n  wirehunt cluster scheduler --bind 0.0.0.0:50050 --external-host sched.example.net"
    )]
    Scheduler {
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:50050", value_name = "ADDR:PORT")]
        bind: std::net::SocketAddr,
        /// The name executors and clients reach this scheduler by (default: the bind address).
        #[arg(long, value_name = "HOST")]
        external_host: Option<String>,
    },
    /// An executor: runs tasks and serves their results (Arrow Flight on PORT, gRPC on PORT+1
    /// unless --grpc-port).
    #[command(
        after_help = "Examples:\n  wirehunt cluster executor --scheduler 127.0.0.1:50050\n  wirehunt cluster executor --scheduler sched:50050 --bind 10.0.0.5:50051 --concurrent-tasks 8 --work-dir /scratch/wh"
    )]
    Executor {
        /// The scheduler's address.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Address and Flight port to listen on (the address is also what others reach it by).
        #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDR:PORT")]
        bind: std::net::SocketAddr,
        /// gRPC port (default: the Flight port + 1).
        #[arg(long, value_name = "PORT")]
        grpc_port: Option<u16>,
        /// Directory for shuffle files (default: a temporary directory).
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Tasks at once (default: the cores this process may use).
        #[arg(long, value_name = "N")]
        concurrent_tasks: Option<usize>,
    },
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt report ds --html report.html\n  wirehunt report ds --html report.html --min-severity low --suppress benign.csv"
)]
pub struct ReportArgs {
    /// The dataset directory (from ingest, or triage -d DIR).
    pub dataset: PathBuf,
    /// The page to write (self-contained; replaced atomically).
    #[arg(long, value_name = "FILE", required = true)]
    pub html: PathBuf,
    /// Hide findings below this severity.
    #[arg(long, value_parser = parse_severity, default_value = "medium", value_name = "SEVERITY")]
    pub min_severity: wirehunt_store::detect::Severity,
    #[command(flatten)]
    pub detectors: DetectorOpts,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt extract ds --uid CzyJbY9ZDBu6FUzqs1 -o beacon.pcap\n  wirehunt extract ds --finding 1 -o finding-1.pcapng\n  wirehunt extract ds --query \"SELECT uid FROM conn WHERE resp_h = '203.0.113.7'\" -o - | tshark -r -"
)]
pub struct ExtractArgs {
    /// A dataset directory, or the capture files to ingest first (cached, as for sql).
    #[arg(required = true, num_args = 1.., value_parser = input_name())]
    pub source: Vec<String>,
    /// A connection uid (repeatable): conn.uid, or the uid of any row or finding.
    #[arg(long = "uid", value_name = "UID")]
    pub uids: Vec<String>,
    /// A read-only query whose `uid` column names the connections (added to --uid).
    #[arg(long, value_name = "SQL")]
    pub query: Option<String>,
    /// Finding N as `triage` numbers it with the same detector options (--queries, --param,
    /// --suppress, --intel, --min-severity): all the connections in its evidence (added to --uid).
    #[arg(long, value_name = "N")]
    pub finding: Option<usize>,
    /// With --finding: hide findings below this severity, as triage does.
    #[arg(long, value_parser = parse_severity, default_value = "medium", value_name = "SEVERITY")]
    pub min_severity: wirehunt_store::detect::Severity,
    #[command(flatten)]
    pub detectors: DetectorOpts,
    /// The capture to write: a .pcapng name writes pcapng (any mix of link types), anything else
    /// classic pcap; - writes pcap to stdout.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Read these captures instead of the paths the manifest names (the captures were moved).
    #[arg(long = "input", value_name = "FILE", value_parser = input_name())]
    pub inputs: Vec<String>,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Do not use or fill the ingest cache (when SOURCE is captures).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt detectors\n  wirehunt detectors --queries my-detectors/"
)]
pub struct DetectorsArgs {
    /// Extra or replacement detector directory (as for detect/triage).
    #[arg(long)]
    pub queries: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct FlowArgs {
    /// TCP inactivity timeout, seconds.
    #[arg(long, default_value_t = 300)]
    pub tcp_timeout: u64,
    /// UDP inactivity timeout, seconds.
    #[arg(long, default_value_t = 60)]
    pub udp_timeout: u64,
    /// Maximum concurrent flows (the least recently active are evicted past it).
    #[arg(long, default_value_t = 200_000)]
    pub max_flows: usize,
    /// Flow worker threads for ingest (0 = one per core this process may use; 1 = no workers).
    /// The tables are the same for every value.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

impl Default for FlowArgs {
    /// The flag defaults (sql and extract ingest captures with them).
    fn default() -> Self {
        FlowArgs {
            tcp_timeout: 300,
            udp_timeout: 60,
            max_flows: 200_000,
            threads: 0,
        }
    }
}

impl FlowArgs {
    pub fn config(&self) -> wirehunt_wire::flow::FlowConfig {
        wirehunt_wire::flow::FlowConfig {
            tcp_timeout_us: self.tcp_timeout as i64 * 1_000_000,
            udp_timeout_us: self.udp_timeout as i64 * 1_000_000,
            icmp_timeout_us: self.udp_timeout as i64 * 1_000_000,
            max_flows: self.max_flows.max(1),
            ..Default::default()
        }
    }
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt ingest capture.pcap.gz -d ds\n  wirehunt ingest sensor/ -d ds --force\n  wirehunt ingest new.pcap -d ds --append\n  wirehunt ingest web.pcap -d ds --extract-files carved/\n  wirehunt ingest sensor/ -d ds --partition hour\n  wirehunt ingest share-a/ -d /shared/ds --partition day --run host_a"
)]
pub struct IngestArgs {
    /// Capture files, directories (recursive) or globs; - is stdin.
    #[arg(required = true, value_parser = input_name())]
    pub inputs: Vec<String>,
    /// Dataset directory to write (as `-d` everywhere a dataset is meant; `-o` names result files).
    #[arg(
        short = 'd',
        long = "dataset",
        value_name = "DIR",
        required_unless_present = "output"
    )]
    pub dataset: Option<PathBuf>,
    /// The old spelling of --dataset, still read (with a note on stderr).
    #[arg(short = 'o', long = "output", hide = true, conflicts_with = "dataset")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub flow: FlowArgs,
    /// Skip the inputs' sha256 (the manifest records null): for evidence already hashed elsewhere.
    /// Hashing runs on a second core when there is one, else it costs about 0.55 s per GB.
    #[arg(long)]
    pub no_hash: bool,
    /// Replace an existing dataset in DIR (it stays intact until the new one is complete; a
    /// directory holding files wirehunt did not write is never replaced).
    #[arg(long, conflicts_with = "append")]
    pub force: bool,
    /// Add the inputs to the existing dataset in DIR (an input whose sha256 is already in its
    /// manifest is skipped and said so); the old dataset stays intact until the new one is complete.
    #[arg(long)]
    pub append: bool,
    /// Write every HTTP body (decoded) to DIR as FUID-SHA256 (FUID-partial when cut), mode 0600;
    /// names never come from the wire. The `files` table's `extracted` column names each one.
    #[arg(long, value_name = "DIR")]
    pub extract_files: Option<PathBuf>,
    /// Bytes written per extracted file at most (the hashes still cover the whole body).
    #[arg(long, value_name = "SIZE", default_value = "100MiB", value_parser = parse_bytes)]
    pub extract_max_bytes: u64,
    /// Split every table into Hive-style time directories, `TABLE/date=YYYY-MM-DD/` (day) or
    /// `TABLE/date=YYYY-MM-DD/hour=HH/` (hour), UTC by each row's ts, so that filters on the `date`
    /// and `hour` columns skip whole directories (DataFusion, DuckDB, Spark). `--append` keeps the
    /// dataset's partitioning. Default: none.
    #[arg(long, value_name = "none|day|hour")]
    pub partition: Option<wirehunt_store::table::partition::Partition>,
    /// Write this run into a shared dataset beside other runs (one per machine or share of the
    /// files, at the same time or not): its part files carry NAME, its manifest is DIR/runs/NAME.json,
    /// and readers merge the runs. NAME: letters, digits, _.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["force", "append"])]
    pub run: Option<String>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt sql ds \"SELECT query, count(*) FROM dns GROUP BY 1 ORDER BY 2 DESC LIMIT 20\"\n  wirehunt sql capture.pcap -c \"SELECT * FROM conn LIMIT 5\" --format csv\n  wirehunt sql ds -f hunt.sql -o out.parquet\n  wirehunt sql ds                      (an interactive shell on a terminal)"
)]
pub struct SqlArgs {
    /// A dataset directory, or capture files to ingest first; a last argument that is not a path is
    /// the query (`wirehunt sql DIR "SELECT ..."`).
    #[arg(required = true, num_args = 1.., value_parser = input_name())]
    pub source: Vec<String>,
    /// The query (omit for an interactive shell when stdin is a terminal, else it is read from stdin).
    #[arg(short = 'c', long = "command")]
    pub query: Option<String>,
    /// Read statements from a file.
    #[arg(short, long)]
    pub file: Option<PathBuf>,
    #[arg(long, value_parser = parse_format, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Write the result to a file (required for parquet).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Do not use or fill the ingest cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Allow DDL, DML and COPY.
    #[arg(long)]
    pub allow_write: bool,
    /// Indicator files to query as the `intel` table (repeatable; formats as for triage --intel).
    #[arg(long, value_name = "FILE")]
    pub intel: Vec<PathBuf>,
    /// Maximum rows printed in table format (0 = all).
    #[arg(long, default_value_t = 200)]
    pub maxrows: usize,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt detect ds\n  wirehunt detect ds --fail-on high --format jsonl\n  wirehunt detect ds -o findings.parquet --param beaconing.min_events=20"
)]
pub struct DetectArgs {
    pub dataset: PathBuf,
    /// Findings format (default: by the output file's extension, a table on a terminal, else JSON lines).
    #[arg(long, value_parser = parse_format, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Write the findings to a file (required for parquet and html).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Hide findings below this severity.
    #[arg(long, value_parser = parse_severity, default_value = "low", value_name = "SEVERITY")]
    pub min_severity: wirehunt_store::detect::Severity,
    #[command(flatten)]
    pub detectors: DetectorOpts,
}

/// What detect and triage share: which detectors, their parameters, suppressions, the failing severity.
#[derive(Args, Debug)]
pub struct DetectorOpts {
    /// Extra or replacement detector directory (files with the same id override the built-ins).
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Override a parameter: DETECTOR.NAME=VALUE (repeatable).
    #[arg(long = "param", value_name = "ID.NAME=VALUE")]
    pub params: Vec<String>,
    /// Silence known-benign (source, peer) pairs: lines `source,peer,reason[,detector]` (source an
    /// address, CIDR or *; peer a domain, *.domain, address, address:port or *; CSV quoting for a
    /// reason with a comma). Suppressed findings are listed last with their reason and do not count
    /// for --fail-on.
    #[arg(long, value_name = "FILE")]
    pub suppress: Option<PathBuf>,
    /// Indicators to match (repeatable): CSV `type,value,source,note` (or a header naming them, or one
    /// value per line), JSON lines with those keys, or a STIX 2.1 bundle. The `intel` table in SQL;
    /// the intel_match detector reports hits at high and raises other findings on the same host or peer.
    #[arg(long, value_name = "FILE")]
    pub intel: Vec<PathBuf>,
    /// Exit 1 when a finding (not suppressed) has at least this severity.
    #[arg(long, value_parser = parse_severity, value_name = "SEVERITY")]
    pub fail_on: Option<wirehunt_store::detect::Severity>,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt triage capture.pcap.gz\n  wirehunt triage sensor/ -d ds --html report.html -o findings.jsonl\n  wirehunt triage capture.pcap --suppress benign.csv --intel iocs.csv --min-severity low"
)]
pub struct TriageArgs {
    /// Capture files or directories.
    #[arg(required = true, value_parser = input_name())]
    pub inputs: Vec<String>,
    /// Dataset directory to ingest into and keep (default: the cache).
    #[arg(short = 'd', long = "dataset", value_name = "DIR")]
    pub dataset: Option<PathBuf>,
    /// Findings format on stdout (default: a summary and a table on a terminal, JSON lines
    /// otherwise); parquet and html need a file (-o).
    #[arg(long, value_parser = parse_format, value_name = "FORMAT")]
    pub format: Option<Format>,
    /// Also write a self-contained HTML report.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Also write the findings to a file (as -o does for sql and detect), in the format its
    /// extension names (.jsonl, .json, .csv, .parquet, .html) or --findings-format.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "findings",
        value_name = "FILE"
    )]
    pub findings: Option<PathBuf>,
    /// Format of the --findings file when its extension does not say.
    #[arg(long, value_parser = parse_format, value_name = "FORMAT")]
    pub findings_format: Option<Format>,
    /// Do not use or fill the ingest cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Replace an existing dataset given with -d (see `ingest --force`).
    #[arg(long)]
    pub force: bool,
    /// Hide findings below this severity (the hidden ones are counted).
    #[arg(long, value_parser = parse_severity, default_value = "medium", value_name = "SEVERITY")]
    pub min_severity: wirehunt_store::detect::Severity,
    #[command(flatten)]
    pub detectors: DetectorOpts,
    #[command(flatten)]
    pub flow: FlowArgs,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt simulate --seed 7 -o scenario.pcap\n  wirehunt simulate --seed 7 --hours 6 --attacks all -o six-hours.pcap\n  wirehunt simulate --flood syn --packets 1000000 -o syn-flood.pcap"
)]
pub struct SimulateArgs {
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(short, long)]
    pub output: PathBuf,
    /// Simulated duration in hours.
    #[arg(long, default_value_t = 1.0)]
    pub hours: f64,
    /// Internal hosts.
    #[arg(long, default_value_t = 20)]
    pub hosts: usize,
    /// dns_tunnel,beaconing,http_exfil,tls_exfil,dropper,reverse_shell,stealer | all | none
    #[arg(long, default_value = "all")]
    pub attacks: String,
    /// Grow the background until the capture reaches this many bytes (benchmark captures).
    #[arg(long)]
    pub size: Option<u64>,
    /// Multiply background download sizes (the embedded demo capture uses 0.03 to stay small).
    #[arg(long, default_value_t = 1.0)]
    pub background_scale: f64,
    /// Fill TLS application data with compressible filler (keeps demo captures small when gzipped).
    #[arg(long)]
    pub compressible: bool,
    /// Write a hostile flood instead of a scenario (memory checks, benches/memcheck.sh):
    /// syn, pipeline, fragment, hole, seqjump.
    #[arg(long, value_name = "KIND")]
    pub flood: Option<String>,
    /// Packets (or connections, for seqjump) in the flood.
    #[arg(long, default_value_t = 1_000_000)]
    pub packets: u64,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  wirehunt schema\n  wirehunt schema dns\n  wirehunt schema --functions"
)]
pub struct SchemaArgs {
    pub table: Option<String>,
    /// List the SQL functions instead.
    #[arg(long)]
    pub functions: bool,
    /// Markdown output (the README's table reference).
    #[arg(long)]
    pub markdown: bool,
}

/// An error with its exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub err: anyhow::Error,
}

/// The one place errors become exit codes (README "Exit codes"): each error type the commands can
/// meet, variant by variant. Anything else is given its code where it happens (`exit(code, e)`).
pub mod code {
    /// A finding at or above `--fail-on` (the only meaning of 1).
    pub const FINDINGS: i32 = 1;
    /// Usage: clap, a bad `--param`, `--memory-limit`, `--suppress` file or option combination.
    pub const USAGE: i32 = 2;
    /// A query, detector, dataset file or indicator file failed (EX_DATAERR).
    pub const DATA: i32 = 65;
    /// An input could not be read at all (EX_NOINPUT).
    pub const NO_INPUT: i32 = 66;
    /// The cluster could not be reached or started (EX_UNAVAILABLE).
    pub const UNAVAILABLE: i32 = 69;
    /// An internal error: a bug or the process's resources (EX_SOFTWARE).
    pub const INTERNAL: i32 = 70;
    /// The output exists and would be replaced (EX_CANTCREAT).
    pub const EXISTS: i32 = 73;
    /// Writing the dataset or an output failed (EX_IOERR).
    pub const IO: i32 = 74;
    /// Interrupted by SIGINT.
    pub const INTERRUPTED: i32 = 130;
}

fn io_code(e: &std::io::Error) -> i32 {
    // a closed pipe (`| head`) is a reader that has seen enough: success
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        0
    } else {
        code::IO
    }
}

/// The exit code of an error that reached a command's boundary with no code of its own: the first
/// error in its chain whose type says what went wrong decides (store, DataFusion, Arrow, Parquet,
/// simulator, I/O errors, variant by variant); anything else is internal (70), never 1.
pub fn classify(err: &anyhow::Error) -> i32 {
    for c in err.chain() {
        if let Some(e) = c.downcast_ref::<wirehunt_store::Error>() {
            use wirehunt_store::Error as E;
            return match e {
                E::Query(d) => datafusion_code(d),
                E::Arrow(_) | E::Parquet(_) | E::Json(_) => code::DATA,
                E::Io(io) => io_code(io),
                E::Usage(_) => code::USAGE,
                E::Cluster(_) => code::UNAVAILABLE,
            };
        }
        if let Some(d) = c.downcast_ref::<datafusion::error::DataFusionError>() {
            return datafusion_code(d);
        }
        if c.is::<arrow::error::ArrowError>() || c.is::<parquet::errors::ParquetError>() {
            return code::DATA;
        }
        if let Some(e) = c.downcast_ref::<wirehunt_sim::SimError>() {
            use wirehunt_sim::SimError as E;
            return match e {
                E::Unknown(_) => code::USAGE,
                E::Io(io) => io_code(io),
                E::Json(_) => code::IO,
            };
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io_code(io);
        }
    }
    code::INTERNAL
}

/// A query, a detector or a dataset file failed (65), unless it failed writing (an I/O error at
/// its root: 74, or 0 for a closed pipe).
fn datafusion_code(d: &datafusion::error::DataFusionError) -> i32 {
    match d.find_root() {
        datafusion::error::DataFusionError::IoError(io) => io_code(io),
        datafusion::error::DataFusionError::External(e)
            if matches!(
                e.downcast_ref::<wirehunt_store::Error>(),
                Some(wirehunt_store::Error::Cluster(_))
            ) =>
        {
            code::UNAVAILABLE
        }
        _ => code::DATA,
    }
}

/// A command's queries failed as a whole: bad data (65), unless the cluster could not be reached
/// (69).
pub fn query_failed(e: impl Into<anyhow::Error>) -> Exit {
    let err = e.into();
    let code = if classify(&err) == code::UNAVAILABLE {
        code::UNAVAILABLE
    } else {
        code::DATA
    };
    exit(code, err)
}

impl<E: Into<anyhow::Error>> From<E> for Exit {
    fn from(e: E) -> Self {
        let err = e.into();
        Exit {
            code: classify(&err),
            err,
        }
    }
}

pub fn exit(code: i32, err: impl Into<anyhow::Error>) -> Exit {
    Exit {
        code,
        err: err.into(),
    }
}

/// A progress bar on a terminal: bytes of the inputs read, rate and ETA (a spinner with bytes and
/// rate when the total is unknown: stdin, pipes).
fn progress(quiet: bool, total: Option<u64>) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let (pb, template) = match total {
        Some(t) => (
            indicatif::ProgressBar::new(t),
            "{spinner} [{elapsed}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {wide_msg}",
        ),
        None => (
            indicatif::ProgressBar::no_length(),
            "{spinner} [{elapsed}] {bytes} {binary_bytes_per_sec} {wide_msg}",
        ),
    };
    if let Ok(st) = indicatif::ProgressStyle::with_template(template) {
        pb.set_style(st);
    }
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// What only `wirehunt ingest` asks of an ingest (the cache fills of sql/triage leave it default).
#[derive(Debug, Default)]
pub struct IngestExtras {
    /// `--extract-files`.
    pub extract: Option<wirehunt_wire::proto::files::Extract>,
    /// `--partition`.
    pub partition: Option<wirehunt_store::table::partition::Partition>,
    /// `--run`.
    pub run: Option<String>,
}

/// Ingest with progress and summary; returns the report. Exit 66 is decided by the caller.
/// Expand the inputs (directories, globs), saying on stderr which files of a directory were left
/// out as not captures (unless `quiet`).
pub fn expand(inputs: &[String], quiet: bool) -> Result<Vec<String>, Exit> {
    let e = wirehunt_wire::capture::expand_inputs(inputs).map_err(|e| exit(code::NO_INPUT, e))?;
    if !quiet && !e.skipped.is_empty() {
        let shown: Vec<String> = e
            .skipped
            .iter()
            .take(5)
            .map(|p| report::sanitize_terminal(p))
            .collect();
        eprintln!(
            "wirehunt: left out {} file(s) found in directories that are not captures (.{}): {}{}",
            e.skipped.len(),
            wirehunt_wire::capture::NOT_CAPTURES.join(" ."),
            shown.join(", "),
            if e.skipped.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        );
    }
    Ok(e.files)
}

pub fn run_ingest(
    inputs: &[String],
    out: &Path,
    flow: &FlowArgs,
    hashes: wirehunt_store::ingest::InputHashes,
    existing: wirehunt_store::table::dataset::Existing,
    extras: IngestExtras,
    quiet: bool,
) -> Result<wirehunt_store::ingest::IngestReport, Exit> {
    let files = expand(inputs, quiet)?;
    if files.is_empty() {
        return Err(exit(
            code::NO_INPUT,
            anyhow::anyhow!("no input files found in {}", inputs.join(", ")),
        ));
    }
    // the total is known when every input is a file with a size (not stdin or a pipe)
    let total: Option<u64> = files
        .iter()
        .map(|f| {
            (f != "-")
                .then(|| std::fs::metadata(wirehunt_wire::capture::name_path(f)).ok())
                .flatten()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        })
        .sum();
    let pb = progress(quiet, total);
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let opts = wirehunt_store::ingest::IngestOptions {
        flow: flow.config(),
        progress: pb.as_ref().map(|_| read.clone()),
        hashes,
        existing,
        extract: extras.extract,
        threads: flow.threads,
        partition: extras.partition,
        run: extras.run,
    };
    install_interrupt_handler();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = pb.clone().map(|pb| {
        let (read, done) = (read.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                pb.set_position(read.load(std::sync::atomic::Ordering::Relaxed));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        })
    });
    let n = files.len();
    let rep = wirehunt_store::ingest::ingest(&files, out, &opts, |i, f| {
        if let Some(pb) = &pb {
            pb.set_message(format!("{}/{n} {}", i + 1, report::sanitize_terminal(f)));
        }
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    let rep = rep.map_err(|e| match e {
        // refusing to touch an existing or foreign directory is a usage matter, not an I/O failure
        wirehunt_store::ingest::IngestError::Dataset(
            d @ (wirehunt_store::table::dataset::DatasetError::Exists(_)
            | wirehunt_store::table::dataset::DatasetError::Foreign(_)
            | wirehunt_store::table::dataset::DatasetError::ForeignFiles { .. }
            | wirehunt_store::table::dataset::DatasetError::NotDir(_)),
        ) => exit(code::EXISTS, d),
        // --append --partition asking for another partitioning than the dataset's, --run misused
        e @ wirehunt_store::ingest::IngestError::Usage(_) => exit(code::USAGE, e),
        e @ wirehunt_store::ingest::IngestError::RunExists(_) => exit(code::EXISTS, e),
        e => exit(code::IO, e),
    })?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    if !quiet && std::io::stderr().is_terminal() {
        eprint!("{}", report::ingest_summary(&rep));
    } else {
        // no summary (-q, or not a terminal), but damaged or unreadable inputs are always reported:
        // they set the exit status (66), which must not come without a word (this run's inputs:
        // an --append does not repeat the earlier runs')
        for i in &rep.run.inputs {
            if let Some(e) = &i.error {
                eprintln!(
                    "wirehunt: warning: {}: {}",
                    report::sanitize_terminal(&i.path),
                    report::sanitize_terminal(e)
                );
            }
        }
    }
    Ok(rep)
}

/// Set while the interactive shell runs: SIGINT then cancels the running query instead of exiting.
pub static INTERACTIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Raised by SIGINT in the shell; the running query polls it.
pub static CANCEL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// SIGINT (Ctrl-C) while a dataset is being written: remove the staging directory, say that the
/// previous dataset (if any) is untouched, exit 130. In the interactive shell it cancels the query.
pub fn install_interrupt_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERACTIVE.load(std::sync::atomic::Ordering::SeqCst) {
                CANCEL.store(true, std::sync::atomic::Ordering::SeqCst);
                return;
            }
            let removed = wirehunt_store::table::dataset::remove_live_staging();
            if removed.is_empty() {
                eprintln!("wirehunt: interrupted");
            } else {
                eprintln!(
                    "wirehunt: interrupted; the unfinished dataset was removed and any previous dataset is intact"
                );
            }
            std::process::exit(code::INTERRUPTED);
        });
    });
}

pub fn run(cli: Cli) -> Result<i32, Exit> {
    let quiet = cli.quiet;
    if let Some(m) = cli.memory_limit {
        wirehunt_store::query::Limits { memory_bytes: m }.set();
    }
    if let Some(n) = cli.query_threads {
        wirehunt_store::query::set_query_threads(n);
    }
    if !cli.geoip.is_empty() {
        let kinds = wirehunt_store::query::geo::load(&cli.geoip)
            .map_err(|e| exit(code::NO_INPUT, anyhow::anyhow!(e)))?;
        if !quiet && std::io::stderr().is_terminal() {
            eprintln!("geoip: {}", report::sanitize_terminal(&kinds.join(", ")));
        }
    }
    wirehunt_store::query::set_cluster(cli.cluster.clone());
    match cli.cmd {
        Cmd::Cluster(a) => run_cluster(a.role).map(|()| 0),
        Cmd::Ingest(a) => {
            if a.output.is_some() && !quiet {
                eprintln!(
                    "wirehunt: ingest -o DIR is read as -d/--dataset DIR (in the other commands -o names a result file)"
                );
            }
            let Some(dir) = a.dataset.as_ref().or(a.output.as_ref()) else {
                return Err(exit(code::USAGE, anyhow::anyhow!("ingest needs -d DIR")));
            };
            let rep = run_ingest(
                &a.inputs,
                dir,
                &a.flow,
                if a.no_hash {
                    wirehunt_store::ingest::InputHashes::Skip
                } else {
                    wirehunt_store::ingest::InputHashes::Compute
                },
                if a.force {
                    wirehunt_store::table::dataset::Existing::Replace
                } else if a.append {
                    wirehunt_store::table::dataset::Existing::Append
                } else {
                    wirehunt_store::table::dataset::Existing::Refuse
                },
                IngestExtras {
                    extract: a
                        .extract_files
                        .map(|dir| wirehunt_wire::proto::files::Extract {
                            dir,
                            max_bytes: a.extract_max_bytes,
                        }),
                    partition: a.partition,
                    run: a.run,
                },
                quiet,
            )?;
            for p in &rep.already_present {
                eprintln!(
                    "wirehunt: {}: already in the dataset (same sha256), skipped",
                    report::sanitize_terminal(p)
                );
            }
            Ok(if rep.failed > 0 { code::NO_INPUT } else { 0 })
        }
        Cmd::Schema(a) => {
            let mut out = std::io::stdout().lock();
            report::print_schema(&mut out, a.table.as_deref(), a.functions, a.markdown)?;
            Ok(0)
        }
        Cmd::Detectors(a) => {
            let dets = wirehunt_store::detect::load_detectors(a.queries.as_deref())
                .map_err(|e| exit(code::DATA, anyhow::anyhow!(e)))?;
            let mut out = std::io::stdout().lock();
            use std::io::Write;
            for d in &dets {
                let th: Vec<String> = d
                    .thresholds
                    .iter()
                    .map(|(s, t)| format!("{} >= {t}", s.as_str()))
                    .collect();
                writeln!(out, "{} ({}) - {}", d.id, d.category, d.title)?;
                writeln!(out, "  file: {}", report::sanitize_terminal(&d.path))?;
                writeln!(out, "  severity: {}", th.join(", "))?;
                for p in &d.params {
                    writeln!(
                        out,
                        "  --param {}.{}={}   ({})",
                        d.id, p.name, p.value, p.kind
                    )?;
                }
                writeln!(out)?;
            }
            Ok(0)
        }
        Cmd::Sql(a) => crate::shell::run_sql_command(a, quiet),
        Cmd::Detect(a) => crate::commands::run_detect_command(a, quiet),
        Cmd::Triage(a) => crate::commands::run_triage_command(a, quiet),
        Cmd::Extract(a) => crate::commands::run_extract_command(a, quiet),
        Cmd::Report(a) => crate::commands::run_report_command(a, quiet),
        Cmd::Simulate(a) if a.flood.is_some() => {
            let kind = a.flood.as_deref().unwrap_or_default();
            if !wirehunt_sim::flood::KINDS.contains(&kind) {
                return Err(exit(
                    code::USAGE,
                    anyhow::anyhow!(
                        "--flood {kind:?}: one of {}",
                        wirehunt_sim::flood::KINDS.join(", ")
                    ),
                ));
            }
            let f = std::fs::File::create(&a.output).map_err(|e| exit(code::IO, e))?;
            wirehunt_sim::flood::flood(
                kind,
                a.packets,
                std::io::BufWriter::with_capacity(1 << 20, f),
            )?;
            Ok(0)
        }
        Cmd::Simulate(a) => {
            let attacks =
                wirehunt_sim::parse_attacks(&a.attacks).map_err(|e| exit(code::USAGE, e))?;
            let cfg = wirehunt_sim::SimConfig {
                seed: a.seed,
                hours: a.hours,
                hosts: a.hosts.max(2),
                attacks,
                size: a.size,
                background_scale: a.background_scale,
                compressible: a.compressible,
            };
            let truth = wirehunt_sim::simulate_to_file(&cfg, &a.output)?;
            if !quiet {
                eprintln!(
                    "wrote {} ({} packets, {} bytes) and {}",
                    a.output.display(),
                    truth.packets,
                    truth.bytes,
                    wirehunt_sim::truth_path(&a.output).display()
                );
            }
            Ok(0)
        }
    }
}

#[cfg(feature = "cluster")]
fn run_cluster(role: ClusterRole) -> Result<(), Exit> {
    use wirehunt_store::query::cluster;
    match role {
        ClusterRole::Scheduler {
            bind,
            external_host,
        } => cluster::scheduler(bind, external_host).map_err(|e| exit(code::UNAVAILABLE, e)),
        ClusterRole::Executor {
            scheduler,
            bind,
            grpc_port,
            work_dir,
            concurrent_tasks,
        } => {
            let (host, port) = scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                .ok_or_else(|| {
                    exit(
                        code::USAGE,
                        anyhow::anyhow!("--scheduler {scheduler}: expected HOST:PORT"),
                    )
                })?;
            cluster::executor(cluster::ExecutorOptions {
                scheduler_host: host,
                scheduler_port: port,
                bind_host: bind.ip().to_string(),
                port: bind.port(),
                grpc_port: grpc_port.unwrap_or(bind.port().saturating_add(1)),
                work_dir: work_dir.map(|d| d.to_string_lossy().into_owned()),
                concurrent_tasks,
                memory_bytes: None,
            })
            .map_err(|e| exit(code::UNAVAILABLE, e))
        }
    }
}

#[cfg(not(feature = "cluster"))]
fn run_cluster(_: ClusterRole) -> Result<(), Exit> {
    Err(exit(
        code::USAGE,
        anyhow::anyhow!("this wirehunt was built without the `cluster` feature"),
    ))
}
