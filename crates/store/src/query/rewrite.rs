//! Two habits from duckdb and Zeek that DataFusion's planner does not share, mended on the parsed
//! statement (never on SQL text) before it is planned:
//!
//! - Zeek's mixed-case dns columns (`AA`, `TC`, `RD`, `RA`, `Z`, `TTLs`) answer to unquoted names in
//!   any case (`SELECT aa, ttls FROM dns`), as in duckdb. DataFusion folds unquoted names to lower
//!   case, so an unquoted identifier whose folded name is such a column (and is not an alias the
//!   statement defines with `AS`) is given that column's exact, quoted name.
//! - A timestamp column compared with a minute-precision literal (`ts > '2026-12-02 09:10'`, also
//!   `...T09:10` and with BETWEEN) works: Arrow's cast wants seconds, so `:00` is added to such a
//!   literal when the other side is a `ts` column (`ts`, `first_ts`, ...).

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, Ident, Value, ValueWithSpan, visit_expressions_mut,
};
use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

/// Column names that are not all lower case, by their folded name.
fn mixed_case_columns() -> &'static HashMap<String, String> {
    static M: std::sync::OnceLock<HashMap<String, String>> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let mut m = HashMap::new();
        for (_, schema) in crate::table::all_schemas() {
            for f in schema.fields() {
                let lower = f.name().to_lowercase();
                if &lower != f.name() {
                    m.insert(lower, f.name().clone());
                }
            }
        }
        m
    })
}

/// Names the statement defines with `AS` (column and table aliases), folded.
fn aliases(sql: &str) -> HashSet<String> {
    let words: Vec<&str> = sql
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .filter(|w| w[0].eq_ignore_ascii_case("as"))
        .map(|w| w[1].to_lowercase())
        .collect()
}

fn fix_ident(id: &mut Ident, aliases: &HashSet<String>) {
    if id.quote_style.is_some() {
        return;
    }
    let lower = id.value.to_lowercase();
    if aliases.contains(&lower) {
        return;
    }
    if let Some(exact) = mixed_case_columns().get(&lower) {
        id.value = exact.clone();
        id.quote_style = Some('"');
    }
}

fn is_ts_column(e: &Expr) -> bool {
    let name = match e {
        Expr::Identifier(id) => &id.value,
        Expr::CompoundIdentifier(ids) => match ids.last() {
            Some(id) => &id.value,
            None => return false,
        },
        _ => return false,
    };
    let n = name.to_ascii_lowercase();
    n == "ts" || n.ends_with("_ts")
}

/// `YYYY-MM-DD HH:MM` (or with `T`) gets `:00`.
fn fix_minute_literal(e: &mut Expr) {
    if let Expr::Value(ValueWithSpan {
        value: Value::SingleQuotedString(s),
        ..
    }) = e
    {
        let b = s.as_bytes();
        let shape = b.len() == 16
            && b.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b' ' || *c == b'T',
                13 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        if shape {
            s.push_str(":00");
        }
    }
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

/// Apply both mends to a parsed statement; `sql` is its text (for the aliases it defines).
pub fn mend(stmt: &mut DfStatement, sql: &str) {
    let aliases = aliases(sql);
    let mut visit = |e: &mut Expr| {
        match e {
            Expr::Identifier(id) => fix_ident(id, &aliases),
            Expr::CompoundIdentifier(ids) => {
                if let Some(id) = ids.last_mut() {
                    fix_ident(id, &aliases);
                }
            }
            Expr::BinaryOp { left, op, right } if is_comparison(op) => {
                if is_ts_column(left) {
                    fix_minute_literal(right);
                } else if is_ts_column(right) {
                    fix_minute_literal(left);
                }
            }
            Expr::Between {
                expr, low, high, ..
            } if is_ts_column(expr) => {
                fix_minute_literal(low);
                fix_minute_literal(high);
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    };
    match stmt {
        DfStatement::Statement(s) => {
            let _ = visit_expressions_mut(&mut **s, &mut visit);
        }
        DfStatement::Explain(x) => mend(&mut x.statement, sql),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    fn mended(sql: &str) -> String {
        let ctx = SessionContext::new();
        let state = ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let mut st = state.sql_to_statement(sql, &dialect).unwrap();
        mend(&mut st, sql);
        st.to_string()
    }

    #[test]
    fn mixed_case_columns_answer_to_any_case() {
        assert_eq!(
            mended("SELECT AA, tc, dns.TTLs FROM dns WHERE rd"),
            "SELECT \"AA\", \"TC\", dns.\"TTLs\" FROM dns WHERE \"RD\""
        );
        // quoted names and aliases are left alone
        assert_eq!(
            mended("SELECT count(*) AS z FROM dns ORDER BY z"),
            "SELECT count(*) AS z FROM dns ORDER BY z"
        );
        assert_eq!(mended("SELECT \"aa\" FROM dns"), "SELECT \"aa\" FROM dns");
    }

    #[test]
    fn minute_literals_against_ts_columns_get_seconds() {
        assert_eq!(
            mended(
                "SELECT 1 FROM conn WHERE ts > '2026-12-02 09:10' AND '2026-12-02T10:00' >= c.ts"
            ),
            "SELECT 1 FROM conn WHERE ts > '2026-12-02 09:10:00' AND '2026-12-02T10:00:00' >= c.ts"
        );
        assert_eq!(
            mended(
                "SELECT 1 FROM tls WHERE first_ts BETWEEN '2026-12-02 09:10' AND '2026-12-02 09:20'"
            ),
            "SELECT 1 FROM tls WHERE first_ts BETWEEN '2026-12-02 09:10:00' AND '2026-12-02 09:20:00'"
        );
        // other strings, and other columns, are not touched
        assert_eq!(
            mended("SELECT 1 FROM http WHERE uri = '2026-12-02 09:10'"),
            "SELECT 1 FROM http WHERE uri = '2026-12-02 09:10'"
        );
    }
}
