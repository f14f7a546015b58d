//! `-- materialize: a, b`: a detector's common table expressions computed once each.
//!
//! DataFusion plans a CTE inline at every reference to it: the beaconing detector's event series
//! (`ev`, built from `conn`, `tls` and `http` through an aggregate, a join and an unnest) is read by a
//! dozen later CTEs, so its physical plan scanned `conn` 48 times, `tls` 50 and `http` 74. Here each
//! named CTE, in the query's order, is run once (`WITH <the CTEs up to it> SELECT * FROM it`, with
//! the earlier materialized ones already replaced), its rows are streamed into a temporary Arrow IPC
//! file (bounded memory: nothing is held but the batch in flight; the file is deleted when the
//! detector ends), the file is registered as a table under a private name, and the CTE's body becomes
//! `SELECT * FROM` that table. The query keeps its text otherwise: it is rewritten on its parsed
//! statement, never by splicing strings, and parameters are bound as before, on every part.
//!
//! The rows are the same either way (a CTE is a value; where its order matters the query says
//! `ORDER BY`), which the tests check by comparing findings with and without it. On a Ballista
//! cluster nothing is materialized: an executor cannot read this machine's temporary file.

use super::spec::Detector;
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::options::ArrowReadOptions;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Query, Statement};
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The tables and files of a detector's materialized CTEs: deregisters the tables and deletes the
/// files when dropped (after the detector's rows are read).
pub(crate) struct Materialized {
    ctx: SessionContext,
    tables: Vec<String>,
    /// deleted after the tables are deregistered (fields drop after `drop`)
    _files: Vec<tempfile::NamedTempFile>,
}

impl Drop for Materialized {
    fn drop(&mut self) {
        for t in &self.tables {
            let _ = self.ctx.deregister_table(t.as_str());
        }
    }
}

/// An error in the header's `materialize:` line (the caller names the file and line).
fn usage(what: String) -> crate::Error {
    crate::Error::Usage(format!("materialize: {what}"))
}

/// `sql` parsed as the session parses it (`SessionContext::sql` would: same dialect, same errors).
fn parse(ctx: &SessionContext, sql: &str) -> crate::Result<DfStatement> {
    let state = ctx.state();
    let dialect = state.config().options().sql_parser.dialect;
    Ok(state.sql_to_statement(sql, &dialect)?)
}

/// `SELECT * FROM <table>` as a query (the name is ours: letters, digits and `_`).
fn select_all(ctx: &SessionContext, table: &str) -> crate::Result<Box<Query>> {
    match parse(ctx, &format!("SELECT * FROM {table}"))? {
        DfStatement::Statement(s) => match *s {
            Statement::Query(q) => Ok(q),
            _ => Err(usage(format!("SELECT * FROM {table} is not a query"))),
        },
        _ => Err(usage(format!("SELECT * FROM {table} is not a query"))),
    }
}

/// A plan for `statement`, checked read-only as every detector's SQL is, with the parameters bound.
pub(crate) async fn plan(
    ctx: &SessionContext,
    statement: DfStatement,
    params: &[(String, ScalarValue)],
) -> crate::Result<DataFrame> {
    let plan = ctx.state().statement_to_plan(statement).await?;
    crate::query::sql_options(false).verify_plan(&plan)?;
    let df = ctx.execute_logical_plan(plan).await?;
    Ok(if params.is_empty() {
        df
    } else {
        df.with_param_values(params.to_vec())?
    })
}

/// The detector's statement, each CTE `d.materialize` names computed into its file first and read
/// from it (none when it names none, or on a cluster's session), and the guard of those files.
pub(crate) async fn prepare(
    ctx: &SessionContext,
    d: &Detector,
    params: &[(String, ScalarValue)],
) -> crate::Result<(DfStatement, Materialized)> {
    let mut done = Materialized {
        ctx: ctx.clone(),
        tables: Vec::new(),
        _files: Vec::new(),
    };
    let statement = parse(ctx, &d.sql)?;
    if d.materialize.is_empty() || crate::query::is_cluster() {
        return Ok((statement, done));
    }
    let DfStatement::Statement(s) = statement else {
        return Err(usage("the SQL is not a query".into()));
    };
    let Statement::Query(mut query) = *s else {
        return Err(usage("the SQL is not a query".into()));
    };
    for name in &d.materialize {
        let Some(with) = query.with.as_mut() else {
            return Err(usage(format!("no WITH clause to find {name:?} in")));
        };
        let Some(i) = with
            .cte_tables
            .iter()
            .position(|c| c.alias.name.value.eq_ignore_ascii_case(name))
        else {
            return Err(usage(format!("no common table expression named {name:?}")));
        };
        // WITH <every CTE up to this one> SELECT * FROM it
        let mut part = select_all(ctx, name)?;
        let mut prefix = with.clone();
        prefix.cte_tables.truncate(i + 1);
        part.with = Some(prefix);
        let df = plan(
            ctx,
            DfStatement::Statement(Box::new(Statement::Query(part))),
            params,
        )
        .await?;
        let file = tempfile::Builder::new()
            .prefix("wirehunt-cte-")
            .suffix(".arrow")
            .tempfile()?;
        let mut stream = df.execute_stream().await?;
        let schema = stream.schema();
        let mut w = arrow::ipc::writer::FileWriter::try_new(
            std::io::BufWriter::new(file.as_file().try_clone()?),
            &schema,
        )?;
        while let Some(batch) = stream.next().await {
            w.write(&batch?)?;
        }
        w.finish()?;
        drop(w);
        let table = format!(
            "wirehunt_materialized_{}_{name}",
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = file
            .path()
            .to_str()
            .ok_or_else(|| usage("the temporary directory's path is not UTF-8".into()))?
            .to_string();
        ctx.register_arrow(table.as_str(), &path, ArrowReadOptions::default())
            .await?;
        done.tables.push(table.clone());
        done._files.push(file);
        with.cte_tables[i].query = select_all(ctx, &table)?;
    }
    Ok((
        DfStatement::Statement(Box::new(Statement::Query(query))),
        done,
    ))
}
