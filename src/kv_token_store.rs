//! Workers KV as the shared token cache. Every failure is a cache miss: KV is
//! an optimisation, never the truth (and reads can be up to 60 s stale,
//! which `TokenCache` accounts for).

use flowgate_core::entra::TokenStore;
use worker::kv::KvStore;

use crate::log;

#[derive(Clone)]
pub(crate) struct KvTokenStore(pub(crate) Option<KvStore>);

impl TokenStore for KvTokenStore {
    async fn get(&self, key: &str) -> Option<String> {
        let kv = self.0.as_ref()?;
        match kv.get(key).text().await {
            Ok(v) => v,
            Err(e) => {
                log::warn("kv_get_failed", &e.to_string());
                None
            }
        }
    }

    async fn put(&self, key: &str, value: String, ttl_secs: u64) {
        let Some(kv) = self.0.as_ref() else { return };
        let result = match kv.put(key, value) {
            Ok(b) => b.expiration_ttl(ttl_secs).execute().await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            log::warn("kv_put_failed", &e.to_string());
        }
    }

    async fn delete(&self, key: &str) {
        let Some(kv) = self.0.as_ref() else { return };
        if let Err(e) = kv.delete(key).await {
            log::warn("kv_delete_failed", &e.to_string());
        }
    }
}
