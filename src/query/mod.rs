//! DataFusion over a dataset directory: one `SessionContext`, every table registered by name with its
//! declared schema, the security UDFs ([`udf`]), read-only SQL unless asked otherwise, and an ingest
//! cache so `sql`/`triage` on capture files reuse a dataset when the files' sha256 match.

pub mod shell;
pub mod udf;

use crate::table::all_schemas;
use arrow::record_batch::RecordBatch;
use datafusion::execution::options::ParquetReadOptions;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::DFParser;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A session with the dataset's tables and the UDFs registered.
pub async fn open_session(dataset: &Path) -> datafusion::error::Result<SessionContext> {
    let cfg = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(2);
    let ctx = SessionContext::new_with_config(cfg);
    udf::register(&ctx);
    for (name, schema) in all_schemas() {
        let dir = dataset.join(name);
        if !dir.is_dir() {
            continue;
        }
        let opts = ParquetReadOptions {
            schema: Some(&schema),
            ..Default::default()
        };
        ctx.register_parquet(name, dir.to_string_lossy().as_ref(), opts)
            .await?;
    }
    Ok(ctx)
}

/// SQL options: read-only unless `allow_write`.
pub fn sql_options(allow_write: bool) -> datafusion::execution::context::SQLOptions {
    datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(allow_write)
        .with_allow_dml(allow_write)
        .with_allow_statements(allow_write)
}

/// Run one statement and collect its batches.
pub async fn run_sql(
    ctx: &SessionContext,
    sql: &str,
    allow_write: bool,
) -> datafusion::error::Result<Vec<RecordBatch>> {
    let df = ctx.sql_with_options(sql, sql_options(allow_write)).await?;
    df.collect().await
}

/// Split a script into statements with DataFusion's own parser (quotes, comments and semicolons in
/// strings handled); each statement keeps its starting line for error messages.
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

/// Validate that a statement parses (gives a position-bearing error early).
pub fn check_syntax(sql: &str) -> Result<(), String> {
    DFParser::parse_sql(sql)
        .map(|_| ())
        .map_err(|e| e.to_string())
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
        let d = crate::capture::sha256_file_digest(f)?;
        h.update(d);
        each.insert(f.clone(), crate::capture::hex(&d));
    }
    Ok((crate::capture::hex(&h.finalize())[..24].to_string(), each))
}

/// Is `p` a dataset directory?
pub fn is_dataset(p: &Path) -> bool {
    p.is_dir() && p.join("manifest.json").is_file()
}
