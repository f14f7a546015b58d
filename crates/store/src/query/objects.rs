//! Where sessions find a table's files: the local filesystem, and S3-compatible object storage for
//! `s3://` tables (a client for each bucket created the first time a plan names it, configured from
//! the environment: see [`crate::table::remote`]). Every session wirehunt builds uses this registry:
//! a local one, a cluster client's, the scheduler's (it lists a table's files when planning) and
//! each executor's (it reads them). A local session's registry puts a read cache
//! ([`super::cache::BlockCache`]) in front of each bucket, and so does the registry an executor
//! shares between one wirehunt command's tasks ([`super::cluster::executor`]); the scheduler's and a
//! cluster client's have none.

use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use std::sync::Arc;
use url::Url;

#[derive(Debug, Default)]
pub struct Stores {
    known: DefaultObjectStoreRegistry,
    /// Bytes of blocks each bucket's read cache may keep (0: no cache).
    cache_bytes: usize,
}

impl ObjectStoreRegistry for Stores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        match self.known.get_store(url) {
            Ok(s) => Ok(s),
            Err(e) if url.scheme() == "s3" => {
                let Some(bucket) = url.host_str().filter(|b| !b.is_empty()) else {
                    return Err(e);
                };
                let mut store = crate::table::remote::store_for(bucket)?;
                if self.cache_bytes > 0 {
                    store = Arc::new(super::cache::BlockCache::new(store, self.cache_bytes));
                }
                self.known.register_store(url, store.clone());
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }
}

/// A registry for a new session's runtime, without a read cache (the scheduler, which lists a
/// table's files when it plans, and a cluster client).
pub fn registry() -> Arc<dyn ObjectStoreRegistry> {
    Arc::new(Stores::default())
}

/// A registry for one session (a local one, or one wirehunt command's tasks on an executor), whose
/// reads of object storage are cached up to `cache_bytes` per bucket for the session's life.
pub fn cached_registry(cache_bytes: usize) -> Arc<dyn ObjectStoreRegistry> {
    Arc::new(Stores {
        cache_bytes,
        ..Default::default()
    })
}
