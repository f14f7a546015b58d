//! `wirehunt sql`: one-shot queries (`-c`), script files (`-f`), scripts on stdin, and an interactive
//! shell (rustyline) with history, multi-line statements ending in `;` and dot-commands.

use crate::cli::{Exit, SqlArgs, code, exit};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use wirehunt_store::query::runtime;
use wirehunt_store::report::{self, Format};

/// A dataset to query, and the private temporary directory holding it when it is not cached
/// (removed when this is dropped).
pub struct Resolved {
    pub path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// Resolve `wirehunt sql`/`triage` sources to a dataset directory (ingesting captures when needed).
pub fn resolve_dataset(
    sources: &[String],
    no_cache: bool,
    flow: &crate::cli::FlowArgs,
    quiet: bool,
) -> Result<Resolved, Exit> {
    if sources.len() == 1
        && crate::commands::look_at_dataset(&wirehunt_wire::capture::name_path(&sources[0]), quiet)
    {
        return Ok(Resolved {
            path: wirehunt_wire::capture::name_path(&sources[0]),
            _tmp: None,
        });
    }
    if sources.len() == 1 {
        let p = wirehunt_wire::capture::name_path(&sources[0]);
        let p = p.as_path();
        if p.is_dir()
            && wirehunt_store::table::dataset::foreign_files(p).is_ok_and(|f| {
                f.iter().all(|n| {
                    wirehunt_store::table::all_schemas()
                        .iter()
                        .any(|(t, _)| n == t)
                })
            })
            && wirehunt_store::table::all_schemas()
                .iter()
                .any(|(t, _)| p.join(t).is_dir())
        {
            return Err(exit(
                code::NO_INPUT,
                anyhow::anyhow!(
                    "{} looks like a wirehunt dataset without its manifest.json (an interrupted or foreign copy?); \
                     wirehunt only reads datasets whose manifest accounts for their tables: ingest the captures again",
                    report::sanitize_terminal(&p.display().to_string())
                ),
            ));
        }
    }
    let files = crate::cli::expand(sources, quiet)?;
    if files.is_empty() {
        return Err(exit(
            code::NO_INPUT,
            anyhow::anyhow!(
                "no capture files in {}",
                report::sanitize_terminal(&sources.join(", "))
            ),
        ));
    }
    // streams (stdin, pipes, FIFOs) cannot be hashed for a cache key without consuming them
    if no_cache
        || !files
            .iter()
            .all(|f| wirehunt_wire::capture::is_rereadable(f))
    {
        let tmp = tempfile::Builder::new()
            .prefix("wirehunt-")
            .tempdir()
            .map_err(|e| {
                exit(
                    code::IO,
                    anyhow::anyhow!("cannot create a temporary directory: {e}"),
                )
            })?;
        let dir = tmp.path().join("dataset");
        let rep = crate::cli::run_ingest(
            &files,
            &dir,
            flow,
            wirehunt_store::ingest::InputHashes::Compute,
            wirehunt_store::table::dataset::Existing::Refuse,
            Default::default(),
            quiet,
        )?;
        if rep.failed == files.len() {
            return Err(exit(
                code::NO_INPUT,
                anyhow::anyhow!("no input could be read"),
            ));
        }
        return Ok(Resolved {
            path: dir,
            _tmp: Some(tmp),
        });
    }
    let extra = format!("{:?}", flow.config());
    let (key, each) =
        wirehunt_store::query::cache_key(&files, &extra).map_err(|e| exit(code::NO_INPUT, e))?;
    let dir = wirehunt_store::query::cache_root().join(key);
    if wirehunt_store::query::is_dataset(&dir) {
        if !quiet && std::io::stderr().is_terminal() {
            eprintln!(
                "using cached dataset {}",
                report::sanitize_terminal(&dir.display().to_string())
            );
        }
        return Ok(Resolved {
            path: dir,
            _tmp: None,
        });
    }
    // a cache fill is staged and renamed into place: a concurrent run of the same key either
    // finds the finished dataset or fills its own copy, and the first rename wins
    let rep = crate::cli::run_ingest(
        &files,
        &dir,
        flow,
        wirehunt_store::ingest::InputHashes::Known(each),
        wirehunt_store::table::dataset::Existing::Share,
        Default::default(),
        quiet,
    )?;
    if rep.failed == files.len() {
        return Err(exit(
            code::NO_INPUT,
            anyhow::anyhow!("no input could be read"),
        ));
    }
    if !quiet && std::io::stderr().is_terminal() {
        eprintln!(
            "dataset cached at {}",
            report::sanitize_terminal(&dir.display().to_string())
        );
    }
    Ok(Resolved {
        path: dir,
        _tmp: None,
    })
}

struct Shell {
    ctx: datafusion::prelude::SessionContext,
    format: Format,
    timer: bool,
    allow_write: bool,
    maxrows: usize,
    output: Option<PathBuf>,
    errors: usize,
    /// The dataset, read through once, after the first error that looks like damaged data.
    dataset: Option<PathBuf>,
}

impl Shell {
    async fn statement(
        &mut self,
        sql: &str,
        origin: &str,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let t0 = std::time::Instant::now();
        // Ctrl-C cancels the running query (the SIGINT handler sets the flag while the shell runs)
        let cancelled = async {
            loop {
                if crate::cli::CANCEL.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        };
        let res = tokio::select! {
            r = self.stream(sql, out) => r,
            () = cancelled => Err(anyhow::anyhow!("query cancelled (Ctrl-C)")),
        };
        match res {
            Ok(()) => {
                if self.timer {
                    eprintln!("time: {:.3}s", t0.elapsed().as_secs_f64());
                }
            }
            Err(e) => {
                self.errors += 1;
                let text = wirehunt_store::query::explain_error(e.as_ref());
                eprintln!("{}: error: {}", origin, report::sanitize_terminal(&text));
                if let Some(d) = &self.dataset
                    && wirehunt_store::query::is_damaged_data(e.as_ref())
                {
                    crate::commands::name_damaged_file(d);
                    self.dataset = None;
                }
            }
        }
        Ok(())
    }

    /// Plan, execute and write one statement batch by batch (bounded memory whatever the result size).
    async fn stream(&mut self, sql: &str, out: &mut dyn Write) -> anyhow::Result<()> {
        use futures::StreamExt;
        let df = wirehunt_store::query::dataframe(&self.ctx, sql, self.allow_write).await?;
        let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
        let mut stream = df.execute_stream().await?;
        // a result file appears whole or not at all (report::OutputFile)
        let mut file = match (&self.output, self.format) {
            (Some(_), Format::Parquet) | (None, _) => None,
            (Some(p), _) => Some(std::io::BufWriter::new(report::OutputFile::create(p)?)),
        };
        let sink: &mut dyn Write = match file.as_mut() {
            Some(f) => f,
            None => out,
        };
        let maxrows = if self.output.is_some() {
            0
        } else {
            self.maxrows
        };
        let mut w =
            report::BatchWriter::new(self.format, sink, maxrows, schema, self.output.as_deref())?;
        while let Some(b) = stream.next().await {
            w.write(&b?)?;
        }
        w.finish()?;
        if let Some(f) = file {
            f.into_inner().map_err(|e| e.into_error())?.commit()?;
        }
        Ok(())
    }

    async fn dot(&mut self, line: &str, out: &mut dyn Write) -> anyhow::Result<bool> {
        let mut parts = line.split_whitespace();
        let cmd = parts.next().unwrap_or("");
        let arg = parts.next();
        match cmd {
            ".tables" => {
                for (n, _) in wirehunt_store::table::all_schemas() {
                    writeln!(out, "{n}")?;
                }
            }
            ".schema" => report::print_schema(out, arg, false, false)?,
            ".functions" => report::print_schema(out, None, true, false)?,
            ".format" | ".mode" => match arg.and_then(|a| a.parse::<Format>().ok()) {
                Some(f) => self.format = f,
                None => writeln!(
                    out,
                    "formats: table line csv jsonl json parquet (now {:?})",
                    self.format
                )?,
            },
            ".timer" => self.timer = arg != Some("off"),
            ".help" => writeln!(
                out,
                ".tables            list tables\n.schema [TABLE]    columns, types and meanings\n.functions         wirehunt SQL functions\n.format FORMAT     table line csv jsonl json (.mode too)\n.timer on|off      print query time\n.quit              leave\nStatements end with ';' and may span lines."
            )?,
            ".quit" | ".exit" => return Ok(false),
            other => writeln!(
                out,
                "unknown command {} (.help)",
                report::sanitize_terminal(other)
            )?,
        }
        Ok(true)
    }

    /// Run a script: dot-commands on their own lines, SQL statements ending with ';', in order (a
    /// `.format` between two statements applies to the second).
    async fn script(&mut self, text: &str, name: &str, out: &mut dyn Write) -> anyhow::Result<()> {
        // `sql` keeps one line per line read (consumed ones blank), so statements keep their numbers
        let mut sql = String::new();
        for line in text.lines() {
            let pending_done = sql.trim().is_empty() || sql.trim_end().ends_with(';');
            if pending_done && line.trim_start().starts_with('.') {
                self.statements(&sql, name, out).await?;
                sql = "\n".repeat(sql.lines().count());
                if !self.dot(line.trim(), out).await? {
                    return Ok(());
                }
                sql.push('\n');
                continue;
            }
            sql.push_str(line);
            sql.push('\n');
        }
        self.statements(&sql, name, out).await
    }

    async fn statements(
        &mut self,
        sql: &str,
        name: &str,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        for (l, stmt) in wirehunt_store::query::split_statements(sql) {
            let origin = format!("{name}:{l}");
            self.statement(&stmt, &origin, out).await?;
        }
        Ok(())
    }

    async fn interactive(&mut self) -> anyhow::Result<()> {
        let mut rl = rustyline::Editor::<Completion, rustyline::history::DefaultHistory>::new()?;
        rl.set_helper(Some(Completion::new(&self.ctx)));
        crate::cli::install_interrupt_handler();
        crate::cli::INTERACTIVE.store(true, std::sync::atomic::Ordering::SeqCst);
        let hist = wirehunt_store::query::cache_root().join("history");
        let _ = std::fs::create_dir_all(wirehunt_store::query::cache_root());
        let _ = rl.load_history(&hist);
        let tables: Vec<&str> = wirehunt_store::table::all_schemas()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        eprintln!(
            "wirehunt sql — tables: {}. .help for commands; statements end with ';'",
            tables.join(" ")
        );
        let mut buf = String::new();
        loop {
            let prompt = if buf.is_empty() {
                "wirehunt> "
            } else {
                "     ...> "
            };
            match rl.readline(prompt) {
                Ok(line) => {
                    // nothing typed here ends the shell but .quit / Ctrl-D: errors print and the
                    // prompt returns; history is appended per entry, so a crash loses nothing
                    if buf.is_empty() && line.trim_start().starts_with('.') {
                        let _ = rl.add_history_entry(line.as_str());
                        let _ = rl.append_history(&hist);
                        let mut out = std::io::stdout().lock();
                        match self.dot(line.trim(), &mut out).await {
                            Ok(true) => {}
                            Ok(false) => break,
                            Err(e) => {
                                eprintln!("error: {}", report::sanitize_terminal(&format!("{e:#}")))
                            }
                        }
                        continue;
                    }
                    buf.push_str(&line);
                    buf.push('\n');
                    if line.trim_end().ends_with(';') {
                        let _ = rl.add_history_entry(buf.trim());
                        let _ = rl.append_history(&hist);
                        let stmts = wirehunt_store::query::split_statements(&buf);
                        buf.clear();
                        let mut out = std::io::stdout().lock();
                        for (_, s) in stmts {
                            if let Err(e) = self.statement(&s, "query", &mut out).await {
                                eprintln!(
                                    "error: {}",
                                    report::sanitize_terminal(&format!("{e:#}"))
                                );
                            }
                        }
                    }
                }
                Err(rustyline::error::ReadlineError::Interrupted) => buf.clear(),
                Err(_) => break,
            }
        }
        Ok(())
    }
}

pub fn run_sql_command(mut a: SqlArgs, quiet: bool) -> Result<i32, Exit> {
    // `wirehunt sql SOURCE... "QUERY"`: a last positional that is not an existing path is the query
    if a.query.is_none()
        && a.source.len() > 1
        && let Some(last) = a.source.last()
        && last != "-"
        && !wirehunt_wire::capture::name_path(last).exists()
        && let Ok(q) = String::from_utf8(wirehunt_wire::capture::name::unescape_name(last))
        && q.contains(char::is_whitespace)
    {
        // the arguments arrive as input names (escaped); the query gets its exact text back
        a.source.pop();
        a.query = Some(q);
    }
    crate::commands::load_intel(&a.intel, quiet)?;
    let dataset = resolve_dataset(
        &a.source,
        a.no_cache,
        &crate::cli::FlowArgs::default(),
        quiet,
    )?;
    let dataset_dir = dataset.path.clone();
    let rt = runtime()?;
    let stdout_tty = std::io::stdout().is_terminal();
    // an output file's extension decides first; then a terminal gets a table, a pipe gets CSV
    // a query result is never HTML: any other extension means CSV
    let by_extension = a
        .output
        .as_deref()
        .map(|p| match Format::from_extension(p) {
            Some(Format::Html) | None => Format::Csv,
            Some(f) => f,
        });
    let format = a.format.or(by_extension).unwrap_or(if stdout_tty {
        Format::Table
    } else {
        Format::Csv
    });
    if format == Format::Html {
        return Err(exit(
            code::USAGE,
            anyhow::anyhow!(
                "--format html is the triage report (triage --html FILE), not a query result format"
            ),
        ));
    }
    if format == Format::Parquet && a.output.is_none() {
        return Err(exit(
            code::USAGE,
            anyhow::anyhow!("--format parquet needs -o FILE"),
        ));
    }
    rt.block_on(async {
        let ctx = wirehunt_store::query::open_session(&dataset_dir)
            .await
            .map_err(crate::cli::query_failed)?;
        let mut sh = Shell {
            ctx,
            format,
            timer: false,
            allow_write: a.allow_write,
            maxrows: a.maxrows,
            output: a.output.clone(),
            errors: 0,
            dataset: Some(dataset_dir.clone()),
        };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        if let Some(q) = &a.query {
            sh.script(q, "query", &mut out).await?;
        } else if let Some(f) = &a.file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| exit(code::NO_INPUT, anyhow::anyhow!("{}: {e}", f.display())))?;
            sh.script(&text, &f.display().to_string(), &mut out).await?;
        } else if std::io::stdin().is_terminal() {
            drop(out);
            sh.interactive().await?;
            return Ok(0);
        } else {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            sh.script(&text, "stdin", &mut out).await?;
        }
        out.flush()?;
        Ok(if sh.errors > 0 { code::DATA } else { 0 })
    })
}

/// Tab completion in the shell: dot-commands at the start of an entry, table names after
/// FROM/JOIN, `table.column` after a table name and a dot, else columns, functions, tables and
/// keywords (case-insensitive prefix; a keyword or function is offered in the case typed).
struct Completion {
    tables: Vec<String>,
    /// (table, column)
    columns: Vec<(String, String)>,
    functions: Vec<String>,
}

const DOT_COMMANDS: &[&str] = &[
    ".tables",
    ".schema",
    ".functions",
    ".format",
    ".mode",
    ".timer",
    ".help",
    ".quit",
    ".exit",
];

const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "JOIN",
    "LEFT JOIN",
    "ON",
    "USING",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS NULL",
    "IS NOT NULL",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "DISTINCT",
    "COUNT",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "DESC",
    "ASC",
    "WITH",
    "UNION ALL",
    "OVER",
    "PARTITION BY",
    "EXPLAIN",
];

impl Completion {
    fn new(ctx: &datafusion::prelude::SessionContext) -> Completion {
        let mut tables = Vec::new();
        let mut columns = Vec::new();
        for (t, schema) in wirehunt_store::table::all_schemas() {
            tables.push(t.to_string());
            for f in schema.fields() {
                columns.push((t.to_string(), f.name().clone()));
            }
        }
        tables.extend(["ssl".to_string(), "intel".to_string()]);
        let state = ctx.state();
        let mut functions: Vec<String> = state
            .scalar_functions()
            .keys()
            .chain(state.aggregate_functions().keys())
            .chain(state.window_functions().keys())
            .cloned()
            .collect();
        functions.sort();
        functions.dedup();
        Completion {
            tables,
            columns,
            functions,
        }
    }

    /// The start of the word before `pos` and its candidates.
    fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let head = &line[..pos];
        let start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_' || *c == '.')
            .last()
            .map_or(pos, |(i, _)| i);
        let word = &head[start..];
        let lower = word.to_lowercase();
        let fits = |c: &str| c.to_lowercase().starts_with(&lower) && c.len() > word.len();
        if head.trim_start().starts_with('.') && !head.trim_start().contains(' ') {
            let w = head.trim_start();
            let s = pos - w.len();
            return (
                s,
                DOT_COMMANDS
                    .iter()
                    .filter(|c| c.starts_with(w))
                    .map(|c| c.to_string())
                    .collect(),
            );
        }
        // table.column
        if let Some((t, col)) = word.split_once('.') {
            let col = col.to_lowercase();
            let table = match t.to_lowercase().as_str() {
                "ssl" => "tls".to_string(),
                other => other.to_string(),
            };
            let mut v: Vec<String> = self
                .columns
                .iter()
                .filter(|(tt, c)| *tt == table && c.to_lowercase().starts_with(&col))
                .map(|(_, c)| format!("{t}.{c}"))
                .collect();
            v.dedup();
            return (start, v);
        }
        let before: Vec<String> = head[..start]
            .split_whitespace()
            .rev()
            .take(1)
            .map(|w| w.to_ascii_uppercase())
            .collect();
        if matches!(before.first().map(String::as_str), Some("FROM" | "JOIN")) {
            return (
                start,
                self.tables.iter().filter(|t| fits(t)).cloned().collect(),
            );
        }
        let upper = word.chars().next().is_some_and(char::is_uppercase);
        let mut v: Vec<String> = Vec::new();
        let mut cols: Vec<&String> = self.columns.iter().map(|(_, c)| c).collect();
        cols.sort();
        cols.dedup();
        v.extend(cols.into_iter().filter(|c| fits(c)).cloned());
        v.extend(self.tables.iter().filter(|t| fits(t)).cloned());
        v.extend(
            self.functions
                .iter()
                .filter(|f| fits(f))
                .map(|f| if upper { f.to_uppercase() } else { f.clone() }),
        );
        v.extend(KEYWORDS.iter().filter(|k| fits(k)).map(|k| {
            if upper {
                k.to_string()
            } else {
                k.to_lowercase()
            }
        }));
        let mut seen = std::collections::HashSet::new();
        v.retain(|c| seen.insert(c.to_lowercase()));
        (start, v)
    }
}

impl rustyline::completion::Completer for Completion {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.candidates(line, pos))
    }
}
impl rustyline::hint::Hinter for Completion {
    type Hint = String;
}
impl rustyline::highlight::Highlighter for Completion {}
impl rustyline::validate::Validator for Completion {}
impl rustyline::Helper for Completion {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_offers_what_fits_where_the_cursor_is() {
        let ctx = datafusion::prelude::SessionContext::new();
        wirehunt_store::query::udf::register(&ctx);
        let c = Completion::new(&ctx);
        let at = |l: &str| c.candidates(l, l.len());
        assert_eq!(
            at("SELECT count(*) FROM con"),
            (21, vec!["conn".to_string()])
        );
        assert_eq!(at(".sch"), (0, vec![".schema".to_string()]));
        let (s, v) = at("SELECT dns.TT");
        assert_eq!((s, v), (7, vec!["dns.TTLs".to_string()]));
        let (_, v) = at("SELECT qtype_n");
        assert_eq!(v, vec!["qtype_name".to_string()]);
        let (_, v) = at("SELECT registered_dom");
        assert!(v.contains(&"registered_domain".to_string()), "{v:?}");
        let (_, v) = at("SELECT x FROM conn WHE");
        assert_eq!(v, vec!["WHERE".to_string(), "WHEN".to_string()]);
        let (_, v) = at("select shannon_en");
        assert_eq!(v, vec!["shannon_entropy".to_string()]);
    }
}
