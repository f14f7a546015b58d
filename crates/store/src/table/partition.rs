//! Hive-style time partitions: `DIR/<table>/date=YYYY-MM-DD/part-*.parquet`, or with `hour=HH` below
//! the date for large volumes, so an engine reading the dataset (DataFusion here, DuckDB or Spark with
//! hive partitioning) skips whole directories for a time filter on `date`/`hour`. A row's partition
//! is its `ts` (the table's first column) in UTC; a row without a time goes to Hive's default partition.

use serde::{Deserialize, Serialize};

/// How a dataset's tables are split into directories (`ingest --partition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Partition {
    /// One directory per table (the default: a capture of hours needs no pruning).
    #[default]
    None,
    /// `date=YYYY-MM-DD`.
    Day,
    /// `date=YYYY-MM-DD/hour=HH`.
    Hour,
}

/// Hive's directory name for a partition value that is missing.
pub const HIVE_DEFAULT: &str = "__HIVE_DEFAULT_PARTITION__";

impl Partition {
    /// Its `--partition` value.
    pub fn name(&self) -> &'static str {
        match self {
            Partition::None => "none",
            Partition::Day => "day",
            Partition::Hour => "hour",
        }
    }

    pub fn is_none(&self) -> bool {
        *self == Partition::None
    }

    /// The partition columns readers add to every table, outermost first.
    pub fn columns(&self) -> &'static [&'static str] {
        match self {
            Partition::None => &[],
            Partition::Day => &["date"],
            Partition::Hour => &["date", "hour"],
        }
    }

    /// The partition's number of a row at `ts_us` (rows of one partition share it; None: no time).
    pub fn bucket(&self, ts_us: Option<i64>) -> Option<i64> {
        let width = match self {
            Partition::None => return Some(0),
            Partition::Day => 86_400_000_000i64,
            Partition::Hour => 3_600_000_000,
        };
        ts_us.map(|t| t.div_euclid(width))
    }

    /// The directory (relative to the table's) of a row at `ts_us` (UTC microseconds); "" unpartitioned.
    pub fn dir_of(&self, ts_us: Option<i64>) -> String {
        let t = ts_us.and_then(chrono::DateTime::from_timestamp_micros);
        match (self, t) {
            (Partition::None, _) => String::new(),
            (Partition::Day, Some(t)) => format!("date={}", t.format("%Y-%m-%d")),
            (Partition::Hour, Some(t)) => {
                format!("date={}/hour={}", t.format("%Y-%m-%d"), t.format("%H"))
            }
            (Partition::Day, None) => format!("date={HIVE_DEFAULT}"),
            (Partition::Hour, None) => format!("date={HIVE_DEFAULT}/hour={HIVE_DEFAULT}"),
        }
    }
}

/// Is `dir` a directory name of column `col` (`col=VALUE`)?
fn names_column(dir: &str, col: &str) -> bool {
    dir.strip_prefix(col)
        .and_then(|v| v.strip_prefix('='))
        .is_some_and(|v| !v.is_empty())
}

impl std::str::FromStr for Partition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Partition::None),
            "day" | "date" => Ok(Partition::Day),
            "hour" => Ok(Partition::Hour),
            _ => Err(format!("unknown partitioning {s:?} (none, day, hour)")),
        }
    }
}

/// A table's part files with their partition directories, and the entries that do not belong.
pub type TableFiles = (Vec<(String, std::path::PathBuf)>, Vec<String>);

/// The part files of one table directory of a dataset partitioned by `p`, with their partition
/// directories (relative, e.g. `date=2026-12-04`); and the entries that do not belong there (anything
/// but `part-*.parquet` files at the partition depth), relative to the table directory.
pub fn table_files(table_dir: &std::path::Path, p: Partition) -> std::io::Result<TableFiles> {
    let mut files = Vec::new();
    let mut foreign = Vec::new();
    walk(table_dir, &mut Vec::new(), p, &mut files, &mut foreign)?;
    files.sort();
    foreign.sort();
    Ok((files, foreign))
}

fn walk(
    dir: &std::path::Path,
    rel: &mut Vec<String>,
    p: Partition,
    files: &mut Vec<(String, std::path::PathBuf)>,
    foreign: &mut Vec<String>,
) -> std::io::Result<()> {
    let depth = p.columns().len();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ty = e.file_type()?;
        let shown = || {
            let mut v = rel.clone();
            v.push(name.clone());
            v.join("/")
        };
        if rel.len() == depth {
            if ty.is_file() && name.starts_with("part-") && name.ends_with(".parquet") {
                files.push((rel.join("/"), e.path()));
            } else {
                foreign.push(shown());
            }
        } else if ty.is_dir() {
            rel.push(name.clone());
            // the column of this depth (rel.len() - 1 < depth here)
            let ok = p
                .columns()
                .get(rel.len() - 1)
                .is_some_and(|c| names_column(&name, c));
            if ok {
                walk(&e.path(), rel, p, files, foreign)?;
            } else {
                foreign.push(rel.join("/"));
            }
            rel.pop();
        } else {
            foreign.push(shown());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_to_their_utc_day_and_hour() {
        // 2026-12-04T23:59:59.999999Z and one microsecond later
        let t = 1_796_428_799_999_999i64;
        assert_eq!(Partition::Day.dir_of(Some(t)), "date=2026-12-04");
        assert_eq!(Partition::Day.dir_of(Some(t + 1)), "date=2026-12-05");
        assert_eq!(Partition::Hour.dir_of(Some(t)), "date=2026-12-04/hour=23");
        assert_eq!(
            Partition::Hour.dir_of(Some(t + 1)),
            "date=2026-12-05/hour=00"
        );
        assert_eq!(Partition::None.dir_of(Some(t)), "");
        assert_eq!(
            Partition::Day.dir_of(None),
            "date=__HIVE_DEFAULT_PARTITION__"
        );
        assert_eq!(Partition::Day.dir_of(Some(-1)), "date=1969-12-31");
        assert!(names_column("date=2026-12-04", "date"));
        assert!(!names_column("date=", "date"));
        assert!(!names_column("day=2026-12-04", "date"));
        assert_eq!("hour".parse::<Partition>(), Ok(Partition::Hour));
        assert!("week".parse::<Partition>().is_err());
    }

    #[test]
    fn table_files_finds_parts_at_the_partition_depth_only() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path();
        std::fs::create_dir_all(t.join("date=2026-12-04/hour=07")).unwrap();
        std::fs::write(t.join("date=2026-12-04/hour=07/part-00000.parquet"), "x").unwrap();
        std::fs::write(t.join("date=2026-12-04/hour=07/notes.txt"), "x").unwrap();
        std::fs::write(t.join("date=2026-12-04/part-00000.parquet"), "x").unwrap();
        std::fs::create_dir_all(t.join("elsewhere")).unwrap();
        let (files, foreign) = table_files(t, Partition::Hour).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "date=2026-12-04/hour=07");
        assert_eq!(
            foreign,
            vec![
                "date=2026-12-04/hour=07/notes.txt".to_string(),
                "date=2026-12-04/part-00000.parquet".into(),
                "elsewhere".into()
            ]
        );
        // read as unpartitioned, every directory is foreign
        let (files, foreign) = table_files(t, Partition::None).unwrap();
        assert!(files.is_empty());
        assert_eq!(
            foreign,
            vec!["date=2026-12-04".to_string(), "elsewhere".into()]
        );
    }
}
