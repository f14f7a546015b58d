//! Where sessions find a table's files: the local filesystem, and S3-compatible object storage for
//! `s3://` tables (a client for each bucket created the first time a plan names it, configured from
//! the environment: see [`crate::table::remote`]). Every session wirehunt builds uses this registry:
//! a local one, a cluster client's, the scheduler's (it lists a table's files when planning) and
//! each executor's (it reads them).

use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use std::sync::Arc;
use url::Url;

#[derive(Debug, Default)]
pub struct Stores {
    known: DefaultObjectStoreRegistry,
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
                let store = crate::table::remote::store_for(bucket)?;
                self.known.register_store(url, store.clone());
                Ok(store)
            }
            Err(e) => Err(e),
        }
    }
}

/// A registry for a new session's runtime.
pub fn registry() -> Arc<dyn ObjectStoreRegistry> {
    Arc::new(Stores::default())
}
