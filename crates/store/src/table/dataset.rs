//! A dataset on disk is never half-written or silently replaced.
//!
//! Ingest writes into a staging directory beside the target (`.NAME.wirehunt-staging-PID-N`, same
//! filesystem, so the final step is a `rename`), manifest last; [`Staging::commit`] moves it into
//! place. Until then the previous dataset, if any, is untouched: an interrupted run (SIGINT, a full
//! disk, a crash) leaves it as it was, and the staging directory is removed (on drop, or by the
//! interrupt handler). What may be replaced:
//! - a missing target or an empty directory: always;
//! - an existing wirehunt dataset: only when asked ([`Existing::Replace`], `--force`), and only if it
//!   holds nothing wirehunt did not write (anything else is listed and the run refused);
//! - anything else (a non-empty directory without a manifest, a file): never.
//!
//! [`Existing::Share`] is the ingest cache's mode: two processes filling the same key each stage
//! their own copy; the first rename wins and the other discards its copy and uses the winner's.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What to do when the target already holds a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Refuse (the default for `ingest -d DIR`).
    #[default]
    Refuse,
    /// Replace it (`--force`), after checking it holds only wirehunt's files.
    Replace,
    /// Keep it and use it (cache fills: same key, same content).
    Share,
    /// Add to it (`--append`): the new dataset is the old one's files (hard links) plus this run's,
    /// swapped in when complete, like `Replace`.
    Append,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "{0} already holds a wirehunt dataset; --force replaces it (the old one stays until the new one is complete)"
    )]
    Exists(String),
    #[error(
        "{0} is not empty and is not a wirehunt dataset (no manifest.json); refusing to write into it"
    )]
    Foreign(String),
    #[error(
        "{path} holds files wirehunt did not write ({files}); move them away or choose another directory"
    )]
    ForeignFiles { path: String, files: String },
    #[error("{0} exists and is not a directory")]
    NotDir(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: p.display().to_string(),
        source,
    }
}

/// Is `p` a dataset directory (a manifest, or a shared dataset's run manifests)?
///
/// An object-storage URL (`s3://BUCKET/PREFIX`, see [`crate::table::remote`]) is one when it holds
/// `manifest.json` or run manifests, and also when it cannot be listed (a wrong endpoint or
/// credentials): opening it then says why, rather than "not a dataset".
pub fn is_dataset(p: &Path) -> bool {
    match crate::table::snapshot::Snapshot::take(p) {
        Ok(s) => s.is_dataset(),
        Err(_) => crate::table::remote::is_remote(p),
    }
}

/// Files under a dataset directory that wirehunt did not write (wirehunt writes `manifest.json` and
/// `<table>/[partition dirs/]part-NNNNN.parquet`).
pub fn foreign_files(dir: &Path) -> Result<Vec<String>, DatasetError> {
    let tables: Vec<&str> = crate::table::all_schemas()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    // the manifest says how deep the part files are (a dataset without one was refused before)
    let partition = crate::table::manifest::Manifest::load(dir)
        .map(|m| m.partition)
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        if name == "manifest.json" && p.is_file() {
            continue;
        }
        if name == crate::table::runs::RUNS_DIR && p.is_dir() && !p.is_symlink() {
            for f in std::fs::read_dir(&p).map_err(io(&p))? {
                let f = f.map_err(io(&p))?;
                let fname = f.file_name().to_string_lossy().into_owned();
                let run = fname
                    .strip_suffix(".json")
                    .map(crate::table::runs::check_name);
                let staging = fname.starts_with('.') && fname.contains(".wirehunt-staging-");
                if !(matches!(run, Some(Ok(()))) || staging) {
                    out.push(format!("{name}/{fname}"));
                }
            }
            continue;
        }
        if tables.contains(&name.as_str()) && p.is_dir() && !p.is_symlink() {
            let (_, foreign) =
                crate::table::partition::table_files(&p, partition).map_err(io(&p))?;
            out.extend(foreign.into_iter().map(|f| format!("{name}/{f}")));
            continue;
        }
        out.push(name);
    }
    out.sort();
    Ok(out)
}

/// Staging directories of this process, removed by the interrupt handler.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remove every staging directory of this process (the SIGINT handler calls this, then exits).
pub fn remove_live_staging() -> Vec<PathBuf> {
    let dirs = LIVE
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    for d in &dirs {
        // the ingest thread may still be adding a file: retry a few times
        for _ in 0..5 {
            if std::fs::remove_dir_all(d).is_ok() || !d.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    dirs
}

/// A dataset being written.
#[derive(Debug)]
pub struct Staging {
    tmp: PathBuf,
    target: PathBuf,
    existing: Existing,
    committed: bool,
}

/// What [`Staging::commit`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Committed {
    /// The new dataset is in place (`replaced`: an older one was there).
    Written { replaced: bool },
    /// Another process filled the same cache entry first; its dataset is kept.
    Shared,
}

impl Staging {
    /// Check the target and create the staging directory beside it.
    pub fn begin(target: &Path, existing: Existing) -> Result<Staging, DatasetError> {
        let shown = target.display().to_string();
        match std::fs::symlink_metadata(target) {
            Ok(m) if !m.is_dir() => return Err(DatasetError::NotDir(shown)),
            Ok(_) => {
                let empty = std::fs::read_dir(target)
                    .map_err(io(target))?
                    .next()
                    .is_none();
                if !empty {
                    if !is_dataset(target) {
                        return Err(DatasetError::Foreign(shown));
                    }
                    match existing {
                        Existing::Refuse => return Err(DatasetError::Exists(shown)),
                        Existing::Share => {}
                        Existing::Replace | Existing::Append => {
                            let f = foreign_files(target)?;
                            if !f.is_empty() {
                                let mut files =
                                    f.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
                                if f.len() > 5 {
                                    files.push_str(&format!(" and {} more", f.len() - 5));
                                }
                                return Err(DatasetError::ForeignFiles { path: shown, files });
                            }
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(target)(e)),
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|source| DatasetError::Io {
            path: format!(
                "{}: cannot create its directory {}",
                target.display(),
                parent.display()
            ),
            source,
        })?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dataset".into());
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mut tries = 0;
        let tmp = loop {
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let t = parent.join(format!(
                ".{name}.wirehunt-staging-{}-{n}",
                std::process::id()
            ));
            match std::fs::create_dir(&t) {
                Ok(()) => break t,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 100 => {
                    tries += 1
                }
                Err(e) => {
                    // the user named the dataset, not the staging directory beside it
                    return Err(DatasetError::Io {
                        path: format!(
                            "{}: cannot create a directory beside it in {}",
                            target.display(),
                            parent.display()
                        ),
                        source: e,
                    });
                }
            }
        };
        if let Ok(mut v) = LIVE.lock() {
            v.push(tmp.clone());
        }
        Ok(Staging {
            tmp,
            target: target.to_path_buf(),
            existing,
            committed: false,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    fn forget(&self) {
        if let Ok(mut v) = LIVE.lock() {
            v.retain(|p| p != &self.tmp);
        }
    }

    /// Move the finished dataset into place.
    pub fn commit(mut self) -> Result<Committed, DatasetError> {
        let had = is_dataset(&self.target);
        if had && self.existing == Existing::Share {
            // someone else's complete copy of the same content is already there
            self.committed = false;
            return Ok(Committed::Shared);
        }
        if had {
            // swap: old aside, new in, old removed (it holds only wirehunt's files: checked in begin)
            let old = self.tmp.with_extension("old");
            std::fs::rename(&self.target, &old).map_err(io(&self.target))?;
            if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
                let _ = std::fs::rename(&old, &self.target);
                return Err(io(&self.target)(e));
            }
            self.committed = true;
            self.forget();
            let _ = std::fs::remove_dir_all(&old);
            return Ok(Committed::Written { replaced: true });
        }
        // missing or empty target: rename(2) replaces an empty directory atomically
        match std::fs::rename(&self.tmp, &self.target) {
            Ok(()) => {
                self.committed = true;
                self.forget();
                Ok(Committed::Written { replaced: false })
            }
            Err(_) if self.existing == Existing::Share && is_dataset(&self.target) => {
                Ok(Committed::Shared)
            }
            Err(e) => Err(io(&self.target)(e)),
        }
    }
}

impl Staging {
    /// A shared dataset's run (`ingest --run NAME`): move the staged part files into `dir`'s table
    /// (and partition) directories, one rename each, then write the run's manifest; the staging
    /// directory is removed. The files' names carry the run's name, so no other run's are touched.
    pub fn commit_run(
        mut self,
        dir: &Path,
        name: &str,
        partition: crate::table::partition::Partition,
        manifest_json: &str,
    ) -> Result<(), DatasetError> {
        for (table, _) in crate::table::all_schemas() {
            let from = self.tmp.join(table);
            if !from.is_dir() {
                continue;
            }
            let (files, _) =
                crate::table::partition::table_files(&from, partition).map_err(io(&from))?;
            for (sub, f) in files {
                let to_dir = dir.join(table).join(sub);
                std::fs::create_dir_all(&to_dir).map_err(io(&to_dir))?;
                let Some(fname) = f.file_name() else { continue };
                let to = to_dir.join(fname);
                if to.exists() {
                    return Err(DatasetError::Io {
                        path: to.display().to_string(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "another run wrote a file of this name",
                        ),
                    });
                }
                std::fs::rename(&f, &to).map_err(io(&to))?;
            }
        }
        let runs = dir.join(crate::table::runs::RUNS_DIR);
        let tmp = runs.join(format!(".{name}.json.tmp"));
        std::fs::write(&tmp, manifest_json).map_err(io(&tmp))?;
        let fin = runs.join(format!("{name}.json"));
        std::fs::rename(&tmp, &fin).map_err(io(&fin))?;
        self.committed = true;
        self.forget();
        let _ = std::fs::remove_dir_all(&self.tmp);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
            self.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The live-staging registry is process-wide and one test empties it (the interrupt path):
    /// the tests that stage run one at a time, or that test would remove another's staging.
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
        SERIAL.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tmp(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(name).tempdir().unwrap()
    }

    fn fake_dataset(dir: &Path, marker: &str) {
        std::fs::create_dir_all(dir.join("conn")).unwrap();
        std::fs::write(dir.join("conn/part-00000.parquet"), marker).unwrap();
        std::fs::write(dir.join("manifest.json"), marker).unwrap();
    }

    #[test]
    fn refuses_foreign_and_existing_replaces_only_when_asked() {
        let _serial = serial();
        let root = tmp("ds");
        let target = root.path().join("ds");
        // a directory with someone else's file: never written into
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("notes.txt"), "mine").unwrap();
        for mode in [Existing::Refuse, Existing::Replace, Existing::Share] {
            assert!(matches!(
                Staging::begin(&target, mode),
                Err(DatasetError::Foreign(_))
            ));
        }
        assert_eq!(
            std::fs::read_to_string(target.join("notes.txt")).unwrap(),
            "mine"
        );
        std::fs::remove_file(target.join("notes.txt")).unwrap();
        // empty directory: fine
        let s = Staging::begin(&target, Existing::Refuse).unwrap();
        fake_dataset(s.path(), "one");
        assert_eq!(s.commit().unwrap(), Committed::Written { replaced: false });
        assert_eq!(
            std::fs::read_to_string(target.join("manifest.json")).unwrap(),
            "one"
        );
        // an existing dataset: refused without --force
        assert!(matches!(
            Staging::begin(&target, Existing::Refuse),
            Err(DatasetError::Exists(_))
        ));
        // replaced with it; nothing left beside it
        let s = Staging::begin(&target, Existing::Replace).unwrap();
        fake_dataset(s.path(), "two");
        assert_eq!(s.commit().unwrap(), Committed::Written { replaced: true });
        assert_eq!(
            std::fs::read_to_string(target.join("manifest.json")).unwrap(),
            "two"
        );
        let left: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "staging or old copies left behind");
        // a dataset holding a foreign file is not replaced, even with --force
        std::fs::write(target.join("conn/evidence.txt"), "keep").unwrap();
        let e = Staging::begin(&target, Existing::Replace).unwrap_err();
        assert!(e.to_string().contains("conn/evidence.txt"), "{e}");
    }

    #[test]
    fn an_abandoned_run_leaves_the_old_dataset_and_no_staging() {
        let _serial = serial();
        let root = tmp("ds");
        let target = root.path().join("ds");
        fake_dataset(&target, "old");
        {
            let s = Staging::begin(&target, Existing::Replace).unwrap();
            fake_dataset(s.path(), "half");
            // dropped without commit: an error or an interrupt mid-ingest
        }
        assert_eq!(
            std::fs::read_to_string(target.join("manifest.json")).unwrap(),
            "old"
        );
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
        // the interrupt handler's path: staging dirs of the process removed
        let s = Staging::begin(&target, Existing::Replace).unwrap();
        fake_dataset(s.path(), "half");
        let removed = remove_live_staging();
        assert_eq!(removed, vec![s.path().to_path_buf()]);
        assert!(!s.path().exists());
        drop(s);
        assert_eq!(
            std::fs::read_to_string(target.join("manifest.json")).unwrap(),
            "old"
        );
    }

    #[test]
    fn concurrent_cache_fills_share_the_first() {
        let _serial = serial();
        let root = tmp("cache");
        let target = root.path().join("key");
        let a = Staging::begin(&target, Existing::Share).unwrap();
        let b = Staging::begin(&target, Existing::Share).unwrap();
        fake_dataset(a.path(), "a");
        fake_dataset(b.path(), "b");
        assert_eq!(a.commit().unwrap(), Committed::Written { replaced: false });
        assert_eq!(b.commit().unwrap(), Committed::Shared);
        assert_eq!(
            std::fs::read_to_string(target.join("manifest.json")).unwrap(),
            "a"
        );
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
