//! Shared datasets: one dataset directory that several ingest runs write into, one run per machine
//! or per share of the files (`ingest -o DIR --run NAME`), none of them waiting for the others.
//!
//! Each run stages its tables in `DIR/runs/.NAME.wirehunt-staging-*` (same filesystem), with part files
//! named `part-NAME-...` (so no two runs' names collide), moves them into the table (and partition)
//! directories one rename each, and writes its manifest `DIR/runs/NAME.json` last. Readers merge the
//! run manifests (in name order) into one; a part file whose run has no manifest is an interrupted
//! run's (or one committing at that instant), and a reader refuses the dataset naming that run
//! rather than reading rows no manifest accounts for. Running the same `--run NAME` again after an
//! interruption first removes that run's files.

use super::location::Location;
use super::manifest::Manifest;
use super::snapshot::Snapshot;
use std::path::Path;

/// The directory of the run manifests.
pub const RUNS_DIR: &str = "runs";

/// A run name: 1-64 of `[A-Za-z0-9_]` (it becomes part of file names; `-` separates it there).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--run {:?}: a run name is 1-64 letters, digits or _",
            name.escape_debug().to_string()
        ))
    }
}

/// Is `dir` a shared dataset (run manifests, no single manifest)?
pub fn is_shared(dir: &Path) -> bool {
    Snapshot::take(dir).is_ok_and(|s| s.is_shared())
}

/// The runs' manifests merged into one (inputs in run-name order, counts added).
pub fn load_merged(dir: &Path) -> std::io::Result<Manifest> {
    let s = Snapshot::take(dir).map_err(std::io::Error::other)?;
    merge(&s.location, &s.committed())
}

/// The manifests of `runs` (committed run names, sorted) merged into one.
pub fn merge(location: &Location, runs: &[String]) -> std::io::Result<Manifest> {
    let mut merged: Option<Manifest> = None;
    for r in runs {
        let rel = format!("{RUNS_DIR}/{r}.json");
        let text = location
            .read(&rel)
            .map_err(std::io::Error::other)?
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("{rel}: gone"))
            })?;
        let mut m: Manifest = serde_json::from_slice(&text).map_err(std::io::Error::other)?;
        if let Some(prev) = merged.take() {
            if prev.partition != m.partition {
                return Err(std::io::Error::other(format!(
                    "run {r} is partitioned {} but earlier runs {}",
                    m.partition.name(),
                    prev.partition.name()
                )));
            }
            m.follow(prev);
        }
        merged = Some(m);
    }
    merged.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{}: no run has finished yet", location.name()),
        )
    })
}

/// The run a part file belongs to (`part-NAME-...`).
pub fn run_of(file_name: &str) -> Option<&str> {
    let rest = file_name.strip_prefix("part-")?;
    let (run, _) = rest.split_once('-')?;
    check_name(run).ok().map(|()| run)
}

/// The first input ordinal of a run (uids include it): a hash of the name in the high half, so two
/// runs' connections never share a uid (unlike two runs both counting from 0).
pub fn ordinal_base(name: &str) -> u64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(name.as_bytes());
    let mut b = [0u8; 4];
    b.copy_from_slice(&d[..4]);
    u64::from(u32::from_be_bytes(b)) << 32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_their_files() {
        assert!(check_name("sensor_a1").is_ok());
        for bad in ["", "a-b", "a/b", "..", "a b", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(run_of("part-host_a-s0-00000.parquet"), Some("host_a"));
        assert_eq!(run_of("part-00000.parquet"), None);
        assert_eq!(run_of("part-r2-s0-00000.parquet"), Some("r2"));
        assert_ne!(ordinal_base("a"), ordinal_base("b"));
        assert_eq!(ordinal_base("a") & 0xffff_ffff, 0);
    }
}
