//! A read cache in front of object storage, for one session: byte ranges are fetched in aligned
//! blocks of [`BLOCK`] bytes and kept, least recently used evicted first, up to a byte budget. A
//! run's detectors read the same footers and column chunks again and again (11 detectors over the
//! demo dataset made 609 requests); with the cache each block is asked for once.
//!
//! Only plain range reads are cached (DataFusion's Parquet reader asks for nothing else); a read
//! with a condition (ETag, date, version), a whole-object or suffix read, and writes go straight to
//! the store. A prefix is listed once per session: DataFusion plans a query's scans concurrently, and
//! two scans of one table (a self-join, a table read by two CTEs) both missed its listing cache and
//! listed the same prefix at the same moment; here they share one request. Any write through the
//! cache forgets the listings. The cache lives as long as the session that made it (one command, or
//! one shell): a dataset is read as it was when the session first read each block. Executors of a
//! cluster, which live across jobs, keep one per wirehunt command (its tasks share it).

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

/// The unit of fetching and caching: DataFusion merges Parquet range reads less than 1 MiB apart
/// into one request already, so fetching whole MiBs costs little more on a first read.
pub const BLOCK: u64 = 1 << 20;

#[derive(Default)]
struct State {
    /// (object, block number) -> the block's bytes (shorter for an object's last block) and when
    /// it was last used.
    blocks: HashMap<(Path, u64), (Bytes, u64)>,
    /// Each object's metadata, from the first answer about it.
    metas: HashMap<Path, ObjectMeta>,
    used: usize,
    clock: u64,
}

/// One prefix's listing, shared by everyone who asks for it in the session (filled by the first).
type SharedListing = Arc<tokio::sync::OnceCell<Arc<Vec<ObjectMeta>>>>;

#[derive(Debug)]
pub struct BlockCache {
    inner: Arc<dyn ObjectStore>,
    budget: usize,
    state: Mutex<State>,
    listings: Mutex<HashMap<Option<Path>, SharedListing>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} blocks, {} bytes", self.blocks.len(), self.used)
    }
}

impl std::fmt::Display for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BlockCache({}, {} bytes)", self.inner, self.budget)
    }
}

impl BlockCache {
    /// A cache of at most `budget` bytes of blocks in front of `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>, budget: usize) -> BlockCache {
        BlockCache {
            inner,
            budget,
            state: Mutex::new(State::default()),
            listings: Mutex::new(HashMap::new()),
        }
    }

    /// Forget every listing (something was written through the cache).
    fn forget_listings(&self) {
        self.listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // a panic while holding the lock leaves whole entries only: the state stays usable
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The bytes of `range` of `location`, from cached blocks where they are, the rest fetched
    /// as one request of whole blocks. `range.end` past the object's end reads to its end.
    async fn read(&self, location: &Path, range: Range<u64>) -> Result<(Bytes, ObjectMeta)> {
        let first = range.start / BLOCK;
        let last = (range.end - 1) / BLOCK;
        let (missing, meta) = {
            let mut st = self.lock();
            st.clock += 1;
            let now = st.clock;
            let mut missing = Vec::new();
            for b in first..=last {
                match st.blocks.get_mut(&(location.clone(), b)) {
                    Some(e) => e.1 = now,
                    None => missing.push(b),
                }
            }
            (missing, st.metas.get(location).cloned())
        };
        let mut fetched: HashMap<u64, Bytes> = HashMap::new();
        let meta = match (missing.first(), missing.last(), meta) {
            (Some(&lo), Some(&hi), _) => {
                let opts = GetOptions {
                    range: Some(GetRange::Bounded(lo * BLOCK..(hi + 1) * BLOCK)),
                    ..Default::default()
                };
                let r = self.inner.get_opts(location, opts).await?;
                let meta = r.meta.clone();
                let start = r.range.start;
                let all = r.bytes().await?;
                let mut off = 0u64;
                let mut b = start / BLOCK;
                while off < all.len() as u64 {
                    let n = BLOCK.min(all.len() as u64 - off);
                    fetched.insert(b, all.slice(off as usize..(off + n) as usize));
                    off += n;
                    b += 1;
                }
                meta
            }
            (_, _, Some(meta)) => meta,
            // every block cached but no metadata: cannot happen (both are stored together)
            (_, _, None) => {
                return Err(object_store::Error::Generic {
                    store: "BlockCache",
                    source: "cached blocks without metadata".into(),
                });
            }
        };
        let end = range.end.min(meta.size);
        if range.start >= end {
            return Err(object_store::Error::Generic {
                store: "BlockCache",
                source: format!(
                    "{location}: wanted bytes from {} but the object is {} bytes long",
                    range.start, meta.size
                )
                .into(),
            });
        }
        // the answer, block by block (a read within one block is a slice, no copy)
        let mut parts = Vec::new();
        {
            let mut st = self.lock();
            st.metas.insert(location.clone(), meta.clone());
            for b in first..=last {
                let block = match fetched.get(&b) {
                    Some(x) => Some(x.clone()),
                    None => st.blocks.get(&(location.clone(), b)).map(|e| e.0.clone()),
                };
                let Some(block) = block else {
                    // evicted between the two looks: fetch the whole range directly
                    parts.clear();
                    break;
                };
                let lo = if b == first {
                    range.start - b * BLOCK
                } else {
                    0
                };
                let hi = (end - b * BLOCK).min(block.len() as u64);
                if lo < hi {
                    parts.push(block.slice(lo as usize..hi as usize));
                }
            }
            let now = st.clock;
            for (b, bytes) in fetched {
                let key = (location.clone(), b);
                if !st.blocks.contains_key(&key) && bytes.len() <= self.budget {
                    st.used += bytes.len();
                    st.blocks.insert(key, (bytes, now));
                }
            }
            while st.used > self.budget {
                let Some(oldest) = st
                    .blocks
                    .iter()
                    .min_by_key(|(_, (_, t))| *t)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                if let Some((bytes, _)) = st.blocks.remove(&oldest) {
                    st.used -= bytes.len();
                }
            }
        }
        let want = (end - range.start) as usize;
        let bytes = match parts.len() {
            1 => parts.pop().unwrap_or_default(),
            _ => {
                let mut out = BytesMut::with_capacity(want);
                for p in &parts {
                    out.extend_from_slice(p);
                }
                out.freeze()
            }
        };
        if bytes.len() != want {
            // blocks evicted under us (a budget smaller than one read): read it from the store
            let opts = GetOptions {
                range: Some(GetRange::Bounded(range.start..end)),
                ..Default::default()
            };
            let r = self.inner.get_opts(location, opts).await?;
            let meta = r.meta.clone();
            return Ok((r.bytes().await?, meta));
        }
        Ok((bytes, meta))
    }
}

#[async_trait::async_trait]
impl ObjectStore for BlockCache {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.forget_listings();
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.forget_listings();
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let plain = options.if_match.is_none()
            && options.if_none_match.is_none()
            && options.if_modified_since.is_none()
            && options.if_unmodified_since.is_none()
            && options.version.is_none()
            && !options.head;
        let range = match &options.range {
            Some(GetRange::Bounded(r)) if plain && r.start < r.end => r.clone(),
            _ => return self.inner.get_opts(location, options).await,
        };
        let (bytes, meta) = self.read(location, range.clone()).await?;
        let returned = range.start..range.start + bytes.len() as u64;
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
            meta,
            range: returned,
            attributes: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.forget_listings();
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let shared = self
            .listings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(prefix.cloned())
            .or_default()
            .clone();
        let inner = self.inner.clone();
        let prefix = prefix.cloned();
        // the first asker lists; the others wait for its answer (an error is not kept: the next
        // asker tries again)
        futures::stream::once(async move {
            shared
                .get_or_try_init(|| async {
                    inner
                        .list(prefix.as_ref())
                        .try_collect::<Vec<ObjectMeta>>()
                        .await
                        .map(Arc::new)
                })
                .await
                .cloned()
        })
        .flat_map(|r| match r {
            Ok(v) => futures::stream::iter(v.iter().cloned().map(Ok).collect::<Vec<_>>()).boxed(),
            Err(e) => futures::stream::once(async { Err(e) }).boxed(),
        })
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.forget_listings();
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An in-memory store that counts the range reads that reach it.
    #[derive(Debug, Default)]
    struct Counting {
        inner: InMemory,
        gets: AtomicUsize,
        lists: AtomicUsize,
    }

    impl std::fmt::Display for Counting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Counting")
        }
    }

    #[async_trait::async_trait]
    impl ObjectStore for Counting {
        async fn put_opts(&self, l: &Path, p: PutPayload, o: PutOptions) -> Result<PutResult> {
            self.inner.put_opts(l, p, o).await
        }
        async fn put_multipart_opts(
            &self,
            l: &Path,
            o: PutMultipartOptions,
        ) -> Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(l, o).await
        }
        async fn get_opts(&self, l: &Path, o: GetOptions) -> Result<GetResult> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            self.inner.get_opts(l, o).await
        }
        fn delete_stream(
            &self,
            l: BoxStream<'static, Result<Path>>,
        ) -> BoxStream<'static, Result<Path>> {
            self.inner.delete_stream(l)
        }
        fn list(&self, p: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            self.inner.list(p)
        }
        async fn list_with_delimiter(&self, p: Option<&Path>) -> Result<ListResult> {
            self.inner.list_with_delimiter(p).await
        }
        async fn copy_opts(&self, f: &Path, t: &Path, o: CopyOptions) -> Result<()> {
            self.inner.copy_opts(f, t, o).await
        }
    }

    #[test]
    fn ranges_read_through_the_cache_equal_the_object_and_repeat_reads_stay_local() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let counting = Arc::new(Counting::default());
            // 3.5 blocks of bytes that differ at every offset
            let len = (3 * BLOCK + BLOCK / 2) as usize;
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let key = Path::from("ds/conn/part-00000.parquet");
            counting
                .put(&key, PutPayload::from(data.clone()))
                .await
                .unwrap();
            let cache = BlockCache::new(counting.clone(), 8 * BLOCK as usize);
            // within a block, across blocks, the last short block, past the end, tiny and whole
            let ranges: Vec<Range<u64>> = vec![
                10..20,
                BLOCK - 5..BLOCK + 5,
                0..len as u64,
                3 * BLOCK + 100..len as u64 + 1000,
                len as u64 - 1..len as u64,
                2 * BLOCK..3 * BLOCK,
            ];
            for r in &ranges {
                let got = cache.get_range(&key, r.clone()).await.unwrap();
                let end = (r.end as usize).min(len);
                assert_eq!(&got[..], &data[r.start as usize..end], "{r:?}");
            }
            // the first read fetched block 0, the second block 1, the third blocks 2-3: 3 requests
            assert_eq!(counting.gets.load(Ordering::SeqCst), 3);
            let before = counting.gets.load(Ordering::SeqCst);
            let again = cache.get_ranges(&key, &ranges[..2]).await.unwrap();
            assert_eq!(&again[0][..], &data[10..20]);
            assert_eq!(
                counting.gets.load(Ordering::SeqCst),
                before,
                "served from the cache"
            );
            // reading past the end is an error, as from the store itself
            assert!(
                cache
                    .get_range(&key, len as u64 + 5..len as u64 + 10)
                    .await
                    .is_err()
            );
            // a conditional read goes to the store
            let opts = GetOptions {
                if_match: Some("no-such-etag".into()),
                range: Some(GetRange::Bounded(0..10)),
                ..Default::default()
            };
            assert!(cache.get_opts(&key, opts).await.is_err());
        });
    }

    #[test]
    fn a_prefix_is_listed_once_until_something_is_written() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let counting = Arc::new(Counting::default());
            for name in [
                "ds/conn/part-00000.parquet",
                "ds/conn/part-00001.parquet",
                "ds/dns/part-00000.parquet",
            ] {
                counting
                    .put(&Path::from(name), PutPayload::from(vec![1u8; 10]))
                    .await
                    .unwrap();
            }
            let cache = Arc::new(BlockCache::new(counting.clone(), 8 * BLOCK as usize));
            let names = |v: Vec<ObjectMeta>| {
                let mut n: Vec<String> = v.into_iter().map(|m| m.location.to_string()).collect();
                n.sort();
                n
            };
            let conn = Path::from("ds/conn");
            // two scans of one table planned at the same moment
            let (a, b) = tokio::join!(
                cache.list(Some(&conn)).try_collect::<Vec<_>>(),
                cache.list(Some(&conn)).try_collect::<Vec<_>>()
            );
            let want = vec![
                "ds/conn/part-00000.parquet".to_string(),
                "ds/conn/part-00001.parquet".to_string(),
            ];
            assert_eq!(names(a.unwrap()), want);
            assert_eq!(names(b.unwrap()), want);
            assert_eq!(
                counting.lists.load(Ordering::SeqCst),
                1,
                "one request for both"
            );
            // another prefix is its own listing
            let dns = cache
                .list(Some(&Path::from("ds/dns")))
                .try_collect::<Vec<_>>()
                .await;
            assert_eq!(
                names(dns.unwrap()),
                vec!["ds/dns/part-00000.parquet".to_string()]
            );
            assert_eq!(counting.lists.load(Ordering::SeqCst), 2);
            // a write through the cache: the next listing asks the store and sees it
            cache
                .put(
                    &Path::from("ds/conn/part-00002.parquet"),
                    PutPayload::from(vec![2u8; 3]),
                )
                .await
                .unwrap();
            let again = cache
                .list(Some(&conn))
                .try_collect::<Vec<_>>()
                .await
                .unwrap();
            assert_eq!(again.len(), 3);
            assert_eq!(counting.lists.load(Ordering::SeqCst), 3);
        });
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let counting = Arc::new(Counting::default());
            let len = (4 * BLOCK) as usize;
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let key = Path::from("o");
            counting
                .put(&key, PutPayload::from(data.clone()))
                .await
                .unwrap();
            // room for two blocks
            let cache = BlockCache::new(counting.clone(), 2 * BLOCK as usize);
            for b in 0..4u64 {
                let r = b * BLOCK + 1..b * BLOCK + 9;
                let got = cache.get_range(&key, r.clone()).await.unwrap();
                assert_eq!(&got[..], &data[r.start as usize..r.end as usize]);
            }
            assert!(cache.lock().used <= 2 * BLOCK as usize);
            assert_eq!(cache.lock().blocks.len(), 2);
            // block 3 is kept (most recent), block 0 was evicted and is fetched again
            let n = counting.gets.load(Ordering::SeqCst);
            cache
                .get_range(&key, 3 * BLOCK..3 * BLOCK + 4)
                .await
                .unwrap();
            assert_eq!(counting.gets.load(Ordering::SeqCst), n);
            cache.get_range(&key, 0..4).await.unwrap();
            assert_eq!(counting.gets.load(Ordering::SeqCst), n + 1);
            // a budget smaller than a block keeps nothing and still answers right
            let tiny = BlockCache::new(counting.clone(), 100);
            let got = tiny.get_range(&key, 5..BLOCK + 5).await.unwrap();
            assert_eq!(&got[..], &data[5..BLOCK as usize + 5]);
            assert_eq!(tiny.lock().used, 0);
        });
    }
}
