//! A dataset as a reader finds it: its [`Location`] and one [`Listing`] of it, from which the layout
//! (single or shared), the manifest (or the run manifests merged), the tables and their part files
//! are read, and the whole is checked before a query engine opens it. The same code for a
//! directory and for object storage: a session opening a dataset lists it once.

use super::location::{Listing, Location};
use super::manifest::Manifest;
use super::runs::{self, RUNS_DIR};
use std::path::Path;

/// The file name of a single dataset's manifest.
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub location: Location,
    pub listing: Listing,
}

impl Snapshot {
    /// List the dataset at `p` (a directory or an `s3://` URL). A path that is not a directory is an
    /// empty snapshot (no dataset); an object-storage prefix that cannot be listed is an error.
    pub fn take(p: &Path) -> Result<Snapshot, String> {
        let location = Location::of(p)?;
        let listing = location.list()?;
        Ok(Snapshot { location, listing })
    }

    /// A manifest, or a shared dataset's run directory.
    pub fn is_dataset(&self) -> bool {
        self.listing.has_file(MANIFEST) || self.is_shared()
    }

    /// A shared dataset: run manifests (`runs/`), no single manifest.
    pub fn is_shared(&self) -> bool {
        self.listing.has_dir(RUNS_DIR) && !self.listing.has_file(MANIFEST)
    }

    /// The committed runs' names (`runs/NAME.json`), sorted.
    pub fn committed(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .listing
            .files_below(RUNS_DIR)
            .filter_map(|e| {
                let name = e.rel.strip_prefix(RUNS_DIR)?.strip_prefix('/')?;
                let run = name.strip_suffix(".json")?;
                runs::check_name(run).is_ok().then(|| run.to_string())
            })
            .collect();
        v.sort();
        v
    }

    /// The manifest: `manifest.json`, or the committed runs' manifests merged. `NotFound` when
    /// there is neither.
    pub fn manifest(&self) -> std::io::Result<Manifest> {
        if self.is_shared() {
            return runs::merge(&self.location, &self.committed());
        }
        Manifest::read(&self.location)
    }

    /// Does the dataset have the table `name` (its directory, or objects under its prefix)?
    pub fn has_table(&self, name: &str) -> bool {
        self.listing.has_dir(name)
    }

    /// After a query failed decoding data (a damaged page: `snappy: corrupt input`, which names no
    /// file), read every part file of a local dataset through and name the first one that does not
    /// decode, with its error. Footers are checked when a dataset is opened ([`Snapshot::check`]);
    /// pages only when they are read, so this runs on the failure path only. None when every file
    /// reads (or the dataset is on object storage).
    pub fn find_damaged(&self) -> Option<String> {
        let super::location::Location::Dir(dir) = &self.location else {
            return None;
        };
        for (name, _) in super::all_schemas() {
            for e in self.listing.files_below(name) {
                if !e.rel.ends_with(".parquet") {
                    continue;
                }
                let shown = self.location.name_of(&e.rel);
                if let Err(why) = read_through(&dir.join(&e.rel)) {
                    return Some(format!("{shown}: {why}"));
                }
            }
        }
        None
    }

    /// Check that the dataset's files are whole Parquet files and hold the rows its manifest
    /// accounts for (a table directory altered after ingest, a truncated copy, a file that is not
    /// Parquet), and that a shared dataset has no part file of a run without a manifest. A short
    /// or lying footer is caught before the Parquet reader sees it (parquet 59 panics on some).
    /// On object storage the footers are read by range requests.
    pub fn check(&self) -> Result<(), String> {
        let shown = self.location.name();
        let shared = self.is_shared();
        let manifest = self.manifest();
        if (shared || self.location.is_remote())
            && let Err(e) = &manifest
        {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "no manifest.json or run manifests (not a wirehunt dataset, or not all of it was copied)"
                    .to_string()
            } else {
                e.to_string()
            };
            return Err(format!("{shown}: {why}"));
        }
        let manifest = manifest.ok();
        let runs = self.committed();
        for (name, _) in super::all_schemas() {
            if !self.has_table(name) {
                continue;
            }
            let files: Vec<_> = self
                .listing
                .files_below(name)
                .filter(|e| e.rel.ends_with(".parquet"))
                .collect();
            let footers = self.location.footers(&files)?;
            let mut rows = 0u64;
            for (e, footer) in files.iter().zip(footers) {
                let p = self.location.name_of(&e.rel);
                if shared {
                    let fname = e.rel.rsplit('/').next().unwrap_or("");
                    let run = runs::run_of(fname);
                    if !run.is_some_and(|r| runs.iter().any(|c| c == r)) {
                        return Err(format!(
                            "{p}: a part file of run {} that has no manifest in {shown}/runs (an interrupted `ingest --run {}`, or one finishing right now): run that ingest again, which replaces its files, or open the dataset again in a moment",
                            run.unwrap_or("?"),
                            run.unwrap_or("NAME")
                        ));
                    }
                }
                let bad = |why: &str| {
                    format!(
                        "{p}: not a whole Parquet file ({why}); the dataset was altered or damaged after ingest"
                    )
                };
                let footer = footer.map_err(|e| bad(&e))?;
                let Some(metadata) = footer.metadata else {
                    return Err(bad("bad magic or footer length"));
                };
                let meta =
                    parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&metadata)
                        .map_err(|e| bad(&e.to_string()))?;
                rows += u64::try_from(meta.file_metadata().num_rows()).unwrap_or(0);
            }
            if let Some(expected) = manifest.as_ref().and_then(|m| m.tables.get(name).copied())
                && expected != rows
            {
                return Err(format!(
                    "{shown}: the manifest accounts for {expected} {name} rows but the table files hold {rows}; the dataset is inconsistent (re-ingest it)"
                ));
            }
        }
        Ok(())
    }
}

/// Decode every page of one Parquet file. The Parquet reader may panic on some damaged pages
/// (parquet 59): that is caught and reported as damage, without a panic message.
fn read_through(path: &Path) -> Result<(), String> {
    let read = || -> Result<(), String> {
        let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .and_then(|b| b.build())
            .map_err(|e| e.to_string())?;
        for batch in reader {
            batch.map_err(|e| e.to_string())?;
        }
        Ok(())
    };
    catch_quietly(read).unwrap_or_else(|_| Err("the Parquet reader could not decode it".into()))
}

thread_local! {
    /// This thread is inside [`catch_quietly`]: its panics are expected and caught.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `catch_unwind` whose panic prints nothing. The panic hook is process-wide, so it is not swapped
/// while reading (another thread's panic in that window would be lost): once, a hook is installed
/// that stays silent only for the thread inside this function and hands every other panic to the
/// hook that was there before.
fn catch_quietly<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::thread::Result<R> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let was = QUIET.with(|q| q.replace(true));
    let r = std::panic::catch_unwind(f);
    QUIET.with(|q| q.set(was));
    r
}
