//! Where a dataset lives: a directory, or a prefix on S3-compatible object storage
//! ([`super::remote`]). Everything that reads a dataset's layout (is it a dataset, is it shared, its
//! manifest or run manifests, its part files and their footers, the URL a session reads a table
//! from) goes through the three operations here - list, read one file, read footers - so the
//! dataset code has no branch per backend, and another backend (GCS, Azure) is one more variant
//! of [`Location`], not a branch in every function.
//!
//! A [`Listing`] is one look at the dataset: for a directory, the top level, `runs/` and the table
//! directories at any depth (the parts a dataset consists of), so listing a directory
//! that is not a dataset (a home directory, `/`) stays one `read_dir`; for object storage, one LIST
//! of the prefix.

use super::remote::{Footer, Remote};
use std::path::{Path, PathBuf};

/// A dataset's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    Objects(Remote),
}

/// A file of a dataset: its path relative to the dataset (`/`-separated) and its size; on object
/// storage also the object's metadata as listed (a session's query engine is given this listing
/// instead of listing the table prefixes again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub rel: String,
    pub size: u64,
    pub meta: Option<object_store::ObjectMeta>,
}

/// What a dataset held when it was listed: its files, and its directories (for object storage,
/// the prefixes that hold objects).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    files: Vec<Entry>,
    dirs: Vec<String>,
}

impl Listing {
    fn new(mut files: Vec<Entry>, mut dirs: Vec<String>) -> Listing {
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        for f in &files {
            let mut rest = f.rel.as_str();
            while let Some((parent, _)) = rest.rsplit_once('/') {
                dirs.push(parent.to_string());
                rest = parent;
            }
        }
        dirs.sort();
        dirs.dedup();
        Listing { files, dirs }
    }

    pub fn has_file(&self, rel: &str) -> bool {
        self.files
            .binary_search_by(|e| e.rel.as_str().cmp(rel))
            .is_ok()
    }

    pub fn has_dir(&self, rel: &str) -> bool {
        self.dirs.binary_search_by(|d| d.as_str().cmp(rel)).is_ok()
    }

    /// The files below directory `dir`, at any depth, sorted.
    pub fn files_below<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        let prefix = format!("{}/", dir.trim_matches('/'));
        self.files
            .iter()
            .filter(move |e| e.rel.starts_with(&prefix))
    }
}

impl Location {
    /// `p` as a location: an `s3://` URL (an error when it names no bucket) or a directory path.
    pub fn of(p: &Path) -> Result<Location, String> {
        match super::remote::parse(p) {
            Some(r) => r.map(Location::Objects),
            None => Ok(Location::Dir(p.to_path_buf())),
        }
    }

    /// The path or URL, for messages.
    pub fn name(&self) -> String {
        match self {
            Location::Dir(d) => d.display().to_string(),
            Location::Objects(r) => r.url(),
        }
    }

    /// The path or URL of the dataset's file `rel`, for messages.
    pub fn name_of(&self, rel: &str) -> String {
        match self {
            Location::Dir(d) => d.join(rel).display().to_string(),
            Location::Objects(r) => format!("{}/{rel}", r.url()),
        }
    }

    /// Is this object storage (whose listing can fail for reasons of transport or credentials)?
    pub fn is_remote(&self) -> bool {
        matches!(self, Location::Objects(_))
    }

    /// One look at the dataset. A path that is not a directory lists as empty.
    pub fn list(&self) -> Result<Listing, String> {
        match self {
            Location::Objects(r) => Ok(Listing::new(r.list()?, Vec::new())),
            Location::Dir(d) => list_dir(d),
        }
    }

    /// The file `rel`'s bytes; `None` when it does not exist.
    pub fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, String> {
        match self {
            Location::Objects(r) => r.get(rel),
            Location::Dir(d) => match std::fs::read(d.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("{}: {e}", d.join(rel).display())),
            },
        }
    }

    /// Each file's magic bytes and Parquet footer (or why they could not be read), in order.
    pub fn footers(&self, files: &[&Entry]) -> Result<Vec<Result<Footer, String>>, String> {
        match self {
            Location::Objects(r) => r.footers(files),
            Location::Dir(d) => Ok(files
                .iter()
                .map(|e| local_footer(&d.join(&e.rel)))
                .collect()),
        }
    }

    /// Where a query engine reads the table directory `name` from: the directory's path (absolute
    /// when `absolute`: a cluster's executors open files by the path in the plan) or the prefix's URL.
    pub fn table_url(&self, name: &str, absolute: bool) -> std::io::Result<String> {
        Ok(match self {
            Location::Objects(r) => r.dir_url(name),
            Location::Dir(d) if absolute => std::fs::canonicalize(d.join(name))?
                .to_string_lossy()
                .into_owned(),
            Location::Dir(d) => d.join(name).to_string_lossy().into_owned(),
        })
    }
}

/// The directory's top level, `runs/` and the table directories at any depth (symbolic links to
/// directories are not followed).
fn list_dir(root: &Path) -> Result<Listing, String> {
    let tables: Vec<&str> = super::all_schemas().into_iter().map(|(n, _)| n).collect();
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut todo = vec![String::new()];
    while let Some(rel) = todo.pop() {
        let dir = root.join(&rel);
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            // the root not being a directory is "no dataset here"; a subdirectory that went away
            // between two calls lists as empty
            Err(_) if !rel.is_empty() || !dir.is_dir() => continue,
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        };
        for e in rd.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let child = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            // at the top, a link to a directory counts as one (a table directory kept elsewhere);
            // below, links to directories are not followed
            let is_dir = if rel.is_empty() {
                e.path().is_dir()
            } else {
                e.file_type().is_ok_and(|t| t.is_dir())
            };
            if !is_dir {
                let size = std::fs::metadata(e.path()).map(|m| m.len()).unwrap_or(0);
                files.push(Entry {
                    rel: child,
                    size,
                    meta: None,
                });
                continue;
            }
            // the run manifests are `runs/NAME.json`: what is below runs/ (a run's staging
            // directory) is not walked; a table directory is, at any depth
            let top = child.split('/').next().unwrap_or_default();
            let walk = if rel.is_empty() {
                name == super::runs::RUNS_DIR || tables.contains(&top)
            } else {
                tables.contains(&top)
            };
            if walk {
                dirs.push(child.clone());
                todo.push(child);
            }
        }
    }
    Ok(Listing::new(files, dirs))
}

fn local_footer(p: &Path) -> Result<Footer, String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(p).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    if len < 12 {
        return Err("too short".to_string());
    }
    let mut head = [0u8; 4];
    let mut tail = [0u8; 8];
    f.read_exact(&mut head).map_err(|e| e.to_string())?;
    f.seek(SeekFrom::End(-8)).map_err(|e| e.to_string())?;
    f.read_exact(&mut tail).map_err(|e| e.to_string())?;
    let metadata = match super::remote::metadata_range(&head, &tail, len) {
        Some(r) => {
            f.seek(SeekFrom::Start(r.start))
                .map_err(|e| e.to_string())?;
            let mut m = vec![0u8; usize::try_from(r.end - r.start).map_err(|e| e.to_string())?];
            f.read_exact(&mut m).map_err(|e| e.to_string())?;
            Some(m)
        }
        None => None,
    };
    Ok(Footer {
        head,
        tail,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_lists_its_dataset_parts_only() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("manifest.json"), "{}").unwrap();
        std::fs::create_dir_all(d.join("conn/date=2024-01-01")).unwrap();
        std::fs::write(d.join("conn/date=2024-01-01/part-00000.parquet"), b"x").unwrap();
        std::fs::create_dir_all(d.join("dns")).unwrap();
        std::fs::create_dir_all(d.join("runs")).unwrap();
        std::fs::write(d.join("runs/a.json"), b"{}").unwrap();
        std::fs::create_dir_all(d.join("runs/.b.wirehunt-staging-1/conn")).unwrap();
        std::fs::write(
            d.join("runs/.b.wirehunt-staging-1/conn/part-b-0.parquet"),
            b"x",
        )
        .unwrap();
        // not a dataset part: listed at the top, not walked
        std::fs::create_dir_all(d.join("photos/2024")).unwrap();
        std::fs::write(d.join("photos/2024/p.jpg"), b"x").unwrap();
        let l = Location::of(d).unwrap().list().unwrap();
        assert!(l.has_file("manifest.json"));
        assert!(l.has_file("runs/a.json"));
        assert!(l.has_dir("conn") && l.has_dir("conn/date=2024-01-01"));
        assert!(
            l.has_dir("dns"),
            "an empty table directory is still a table"
        );
        assert!(!l.has_dir("photos") && !l.has_file("photos/2024/p.jpg"));
        assert!(
            !l.has_dir("runs/.b.wirehunt-staging-1"),
            "a run's staging is not walked"
        );
        // a table directory kept elsewhere and linked in is a table, with its files
        let elsewhere = t.path().join("photos/http-elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("part-00000.parquet"), b"xy").unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.join("http")).unwrap();
        let l = Location::of(d).unwrap().list().unwrap();
        assert!(l.has_dir("http") && l.has_file("http/part-00000.parquet"));
        let conn: Vec<_> = l.files_below("conn").map(|e| e.rel.as_str()).collect();
        assert_eq!(conn, ["conn/date=2024-01-01/part-00000.parquet"]);
        assert_eq!(l.files_below("conn").next().map(|e| e.size), Some(1));
        // a file, or nothing at all, is an empty listing
        let f = Location::of(&d.join("manifest.json")).unwrap();
        assert!(!f.list().unwrap().has_file("manifest.json"));
        assert!(
            Location::of(&d.join("nothing"))
                .unwrap()
                .list()
                .unwrap()
                .files
                .is_empty()
        );
        assert_eq!(Location::of(d).unwrap().read("missing.json").unwrap(), None);
    }

    #[test]
    fn object_listings_imply_their_directories() {
        let l = Listing::new(
            vec![
                Entry {
                    rel: "conn/part-0.parquet".into(),
                    size: 3,
                    meta: None,
                },
                Entry {
                    rel: "manifest.json".into(),
                    size: 2,
                    meta: None,
                },
            ],
            Vec::new(),
        );
        assert!(l.has_dir("conn") && !l.has_dir("dns"));
        assert!(l.has_file("manifest.json") && !l.has_file("conn"));
        assert!(Location::of(Path::new("s3:///x")).is_err());
        assert!(Location::of(Path::new("s3://b/x")).unwrap().is_remote());
    }
}
