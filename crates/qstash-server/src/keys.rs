//! Which keys sign a tenant's deliveries (SERVER.md §11.1): one pair shared by every tenant
//! (given by configuration, as `qstash dev` and the signing-key flags of `qstash serve` do),
//! or each tenant's own pair, made on its first use and kept in the store. A tenant's pair
//! read from the store is kept for [`DeliveryConfig::keys_refresh`](crate::DeliveryConfig)
//! and then read again, so that a rotation made through another process sharing the store
//! reaches this one within seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qstash_signature::{Signer, generate_signing_key};
use qstash_store::{SigningKeys, Store};

/// The signing keys of every tenant.
pub(crate) enum KeySource {
    /// One pair for every tenant; a rotation changes it in this process only.
    Shared(Mutex<(SigningKeys, Arc<Signer>)>),
    /// Each tenant's own pair, from the store.
    PerTenant {
        cache: Mutex<HashMap<String, Cached>>,
        refresh: Duration,
    },
}

/// A tenant's pair as last read from the store.
pub(crate) struct Cached {
    signer: Arc<Signer>,
    read_at: Instant,
    /// Whether an attempt is reading the pair again now (the others sign with this one
    /// meanwhile).
    refreshing: bool,
}

/// A fresh pair, proposed for a tenant's first use (stored only when the tenant has none).
fn proposal() -> SigningKeys {
    SigningKeys {
        current: generate_signing_key(),
        next: generate_signing_key(),
    }
}

impl KeySource {
    /// One pair for every tenant.
    pub(crate) fn shared(keys: SigningKeys) -> KeySource {
        let signer = Arc::new(Signer::new(keys.current.clone()));
        KeySource::Shared(Mutex::new((keys, signer)))
    }

    /// Each tenant's own pair from the store, read again after `refresh`.
    pub(crate) fn per_tenant(refresh: Duration) -> KeySource {
        KeySource::PerTenant {
            cache: Mutex::new(HashMap::new()),
            refresh,
        }
    }

    fn remember(&self, tenant: &str, keys: &SigningKeys) -> Arc<Signer> {
        let signer = Arc::new(Signer::new(keys.current.clone()));
        if let KeySource::PerTenant { cache, .. } = self {
            cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
                tenant.to_string(),
                Cached {
                    signer: signer.clone(),
                    read_at: Instant::now(),
                    refreshing: false,
                },
            );
        }
        signer
    }

    /// The signer of `tenant`'s next attempt. A pair in hand older than the refresh period is
    /// read again (by one attempt at a time); when that read fails the pair in hand signs. A
    /// tenant whose pair was never read and cannot be read now is an error: the attempt is not
    /// made (its lease ends and it is made later).
    pub(crate) async fn signer(
        &self,
        store: &dyn Store,
        tenant: &str,
    ) -> qstash_store::Result<Arc<Signer>> {
        let (cache, refresh) = match self {
            KeySource::Shared(pair) => {
                return Ok(pair.lock().unwrap_or_else(|p| p.into_inner()).1.clone());
            }
            KeySource::PerTenant { cache, refresh } => (cache, *refresh),
        };
        let in_hand = {
            let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
            match guard.get_mut(tenant) {
                Some(c) if c.read_at.elapsed() < refresh || c.refreshing => {
                    return Ok(c.signer.clone());
                }
                Some(c) => {
                    c.refreshing = true;
                    Some(c.signer.clone())
                }
                None => None,
            }
        };
        match store.tenant_signing_keys_or_init(tenant, proposal()).await {
            Ok(keys) => Ok(self.remember(tenant, &keys)),
            Err(e) => {
                let mut guard = cache.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = guard.get_mut(tenant) {
                    c.refreshing = false;
                }
                match in_hand {
                    Some(signer) => {
                        tracing::warn!(error = %e, "re-reading a tenant's signing keys failed; signing with the keys in hand");
                        Ok(signer)
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// `tenant`'s pair now (read from the store, not from the cache, for `GET /v2/keys`).
    pub(crate) async fn keys(
        &self,
        store: &dyn Store,
        tenant: &str,
    ) -> qstash_store::Result<SigningKeys> {
        match self {
            KeySource::Shared(pair) => Ok(pair.lock().unwrap_or_else(|p| p.into_inner()).0.clone()),
            KeySource::PerTenant { .. } => {
                let keys = store
                    .tenant_signing_keys_or_init(tenant, proposal())
                    .await?;
                self.remember(tenant, &keys);
                Ok(keys)
            }
        }
    }

    /// Rotates `tenant`'s pair (next becomes current, a new next is made) and returns the new
    /// pair. With a shared pair, the shared pair rotates (in this process).
    pub(crate) async fn rotate(
        &self,
        store: &dyn Store,
        tenant: &str,
    ) -> qstash_store::Result<SigningKeys> {
        let new_next = generate_signing_key();
        match self {
            KeySource::Shared(pair) => {
                let mut guard = pair.lock().unwrap_or_else(|p| p.into_inner());
                let keys = SigningKeys {
                    current: guard.0.next.clone(),
                    next: new_next,
                };
                *guard = (keys.clone(), Arc::new(Signer::new(keys.current.clone())));
                Ok(keys)
            }
            KeySource::PerTenant { .. } => {
                // A tenant's first use may be its rotation.
                store
                    .tenant_signing_keys_or_init(tenant, proposal())
                    .await?;
                let keys = store.rotate_tenant_signing_keys(tenant, new_next).await?;
                self.remember(tenant, &keys);
                Ok(keys)
            }
        }
    }
}
