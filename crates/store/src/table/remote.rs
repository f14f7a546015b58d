//! Datasets on S3-compatible object storage: `s3://BUCKET/PREFIX` names a dataset whose objects are
//! laid out as a directory dataset's files (`PREFIX/manifest.json`, `PREFIX/conn/part-00000.parquet`,
//! `PREFIX/conn/date=2024-01-01/...`, `PREFIX/runs/NAME.json`), for example after
//! `aws s3 sync DIR s3://BUCKET/PREFIX`. wirehunt reads such a dataset (sql, detect, triage, report;
//! locally or on a cluster whose executors read the same bucket); it does not write one.
//!
//! The client is object_store's S3 client, configured from the environment as the AWS tools are:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` (an S3-compatible server: MinIO, Ceph, moto ...), `AWS_ALLOW_HTTP=true` for a
//! plain-HTTP endpoint. Paths are path-style (`ENDPOINT/BUCKET/KEY`) unless
//! `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`.
//!
//! The calls here are blocking (the dataset checks, the manifest, the table list are synchronous
//! like their directory counterparts): each runs on a thread of its own with a private
//! current-thread runtime, so it may be called from inside an async session as well.

use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::path::Path;
use std::sync::Arc;

/// The URL scheme of an object-storage dataset.
pub const SCHEME: &str = "s3://";

/// A dataset (or a table of one) on object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (empty: the bucket's root).
    pub prefix: String,
}

/// Is `p` an object-storage URL (`s3://...`)?
pub fn is_remote(p: &Path) -> bool {
    p.to_str().is_some_and(|s| s.starts_with(SCHEME))
}

/// `p` as an object-storage dataset, when it names one; an `s3://` URL without a bucket is an
/// error.
pub fn parse(p: &Path) -> Option<Result<Remote, String>> {
    let s = p.to_str()?;
    let rest = s.strip_prefix(SCHEME)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Some(Err(format!("{s}: no bucket name (s3://BUCKET/PREFIX)")));
    }
    let prefix = prefix.trim_matches('/').to_string();
    if prefix.split('/').any(|c| c == "." || c == "..") {
        return Some(Err(format!(
            "{s}: a dataset prefix has no `.` or `..` components"
        )));
    }
    Some(Ok(Remote {
        bucket: bucket.to_string(),
        prefix,
    }))
}

/// An S3 client for `bucket`, configured from the environment (see the module's text).
pub fn store_for(bucket: &str) -> object_store::Result<Arc<dyn ObjectStore>> {
    // a wrong endpoint fails in seconds, not after object_store's default 3 minutes of retries
    let retry = object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    };
    let s = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .build()?;
    Ok(Arc::new(s))
}

/// Run `f` to completion on a new thread with its own runtime (usable from sync and async code).
fn blocking<T, F, Fut>(f: F) -> Result<T, String>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("object storage: cannot start a runtime: {e}"))?;
            rt.block_on(f())
        })
        .join()
        .unwrap_or_else(|_| Err("object storage: the request thread failed".to_string()))
    })
}

/// One object of a dataset: its path relative to the dataset's prefix and its size.
pub use super::location::Entry as Object;

impl Remote {
    /// `s3://BUCKET/PREFIX` (no trailing `/`).
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("{SCHEME}{}", self.bucket)
        } else {
            format!("{SCHEME}{}/{}", self.bucket, self.prefix)
        }
    }

    /// The URL of the dataset's directory `rel` as a collection (`s3://BUCKET/PREFIX/rel/`), the
    /// form DataFusion lists as a table.
    pub fn dir_url(&self, rel: &str) -> String {
        format!("{}/{}/", self.url(), rel.trim_matches('/'))
    }

    fn key(&self, rel: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(rel)
        } else {
            ObjPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn store(&self) -> Result<Arc<dyn ObjectStore>, String> {
        store_for(&self.bucket).map_err(|e| format!("{}: {e}", self.url()))
    }

    /// Every object below the prefix, sorted by path.
    pub fn list(&self) -> Result<Vec<Object>, String> {
        let url = self.url();
        blocking(|| async move {
            let store = self.store()?;
            let base = if self.prefix.is_empty() {
                None
            } else {
                Some(ObjPath::from(self.prefix.as_str()))
            };
            let mut out = Vec::new();
            let mut s = store.list(base.as_ref());
            while let Some(m) = s.next().await {
                let m = m.map_err(|e| format!("{url}: cannot list: {e}"))?;
                let full = m.location.as_ref();
                let rel = match &base {
                    None => full,
                    Some(b) => full
                        .strip_prefix(b.as_ref())
                        .and_then(|r| r.strip_prefix('/'))
                        .unwrap_or(full),
                };
                out.push(Object {
                    rel: rel.to_string(),
                    size: m.size,
                    meta: Some(m.clone()),
                });
            }
            out.sort_by(|a, b| a.rel.cmp(&b.rel));
            Ok(out)
        })
    }

    /// The object `rel`'s bytes; `None` when it does not exist.
    pub fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, String> {
        let url = self.url();
        blocking(|| async move {
            let store = self.store()?;
            match store.get(&self.key(rel)).await {
                Ok(r) => {
                    let b = r.bytes().await.map_err(|e| format!("{url}/{rel}: {e}"))?;
                    Ok(Some(b.to_vec()))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(format!("{url}/{rel}: {e}")),
            }
        })
    }

    /// For each object, its first 4 bytes and the Parquet footer (the metadata and the last 8
    /// bytes), read by range requests (a few at a time); what cannot be read is an error string
    /// for that object. Lengths are the listing's, checked before a range is asked for.
    pub fn footers(&self, objects: &[&Object]) -> Result<Vec<Result<Footer, String>>, String> {
        blocking(|| async move {
            let store = self.store()?;
            let store = &store;
            let out = futures::stream::iter(objects.iter().map(|o| async move {
                read_footer(store.as_ref(), &self.key(&o.rel), o.size).await
            }))
            .buffered(8)
            .collect::<Vec<_>>()
            .await;
            Ok(out)
        })
    }
}

/// A Parquet file's magic bytes and footer, as read from object storage.
#[derive(Debug, Clone)]
pub struct Footer {
    pub head: [u8; 4],
    /// The last 8 bytes: the metadata length (little-endian u32) and `PAR1`.
    pub tail: [u8; 8],
    /// The metadata (Thrift), when its length was plausible.
    pub metadata: Option<Vec<u8>>,
}

/// Where a Parquet file of `size` bytes keeps its metadata, when its magic bytes are right and the
/// footer's length fits the file (a short or lying footer is refused before a reader sees it).
pub fn metadata_range(head: &[u8; 4], tail: &[u8; 8], size: u64) -> Option<std::ops::Range<u64>> {
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    (head == b"PAR1" && &tail[4..] == b"PAR1" && len + 12 <= size).then(|| size - 8 - len..size - 8)
}

async fn read_footer(store: &dyn ObjectStore, key: &ObjPath, size: u64) -> Result<Footer, String> {
    if size < 12 {
        return Err("too short".to_string());
    }
    let r = store
        .get_ranges(key, &[0..4, size - 8..size])
        .await
        .map_err(|e| e.to_string())?;
    let (Some(h), Some(t)) = (r.first(), r.get(1)) else {
        return Err("short read".to_string());
    };
    let head: [u8; 4] = h
        .as_ref()
        .try_into()
        .map_err(|_| "short read".to_string())?;
    let tail: [u8; 8] = t
        .as_ref()
        .try_into()
        .map_err(|_| "short read".to_string())?;
    let metadata = match metadata_range(&head, &tail, size) {
        Some(r) => Some(
            store
                .get_range(key, r)
                .await
                .map_err(|e| e.to_string())?
                .to_vec(),
        ),
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
    fn urls() {
        let r = parse(Path::new("s3://bkt/cases/ir-7/")).unwrap().unwrap();
        assert_eq!(r.bucket, "bkt");
        assert_eq!(r.prefix, "cases/ir-7");
        assert_eq!(r.url(), "s3://bkt/cases/ir-7");
        assert_eq!(r.dir_url("conn"), "s3://bkt/cases/ir-7/conn/");
        let root = parse(Path::new("s3://bkt")).unwrap().unwrap();
        assert_eq!(root.prefix, "");
        assert_eq!(root.dir_url("dns"), "s3://bkt/dns/");
        assert!(parse(Path::new("s3:///x")).unwrap().is_err());
        assert!(parse(Path::new("s3://b/a/../c")).unwrap().is_err());
        assert!(parse(Path::new("/data/ds")).is_none());
        assert!(is_remote(Path::new("s3://b/x")));
        assert!(!is_remote(Path::new("./s3:/b")));
    }
}
