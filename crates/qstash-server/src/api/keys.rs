//! `GET /v2/keys` and `POST /v2/keys/rotate`.

use axum::Json;
use axum::extract::State;
use qstash_protocol::SigningKeysResponse;
use qstash_signature::{Signer, generate_signing_key};
use qstash_store::SigningKeys;

use super::{AppState, Tenant};
use crate::error::ApiResult;

pub(crate) async fn get(
    State(state): State<AppState>,
    _tenant: Tenant,
) -> ApiResult<Json<SigningKeysResponse>> {
    let mut keys = state
        .inner
        .keys
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if state.inner.keys_in_store {
        // Another process sharing the store may have rotated them.
        let stored = state
            .engine()
            .store
            .signing_keys_or_init(keys.clone())
            .await?;
        if stored.current != keys.current {
            state
                .engine()
                .set_signer(Signer::new(stored.current.clone()));
        }
        keys = stored;
        *state.inner.keys.lock().unwrap_or_else(|p| p.into_inner()) = keys.clone();
    }
    Ok(Json(SigningKeysResponse::new(keys.current, keys.next)))
}

pub(crate) async fn rotate(
    State(state): State<AppState>,
    _tenant: Tenant,
) -> ApiResult<Json<SigningKeysResponse>> {
    let old = state
        .inner
        .keys
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let new_next = generate_signing_key();
    let keys = if state.inner.keys_in_store {
        // The store holds the pair every process signs with: rotate it there.
        state.engine().store.rotate_signing_keys(new_next).await?
    } else {
        // Keys given by configuration win over the store's; they rotate in this process.
        SigningKeys {
            current: old.next,
            next: new_next,
        }
    };
    state.engine().set_signer(Signer::new(keys.current.clone()));
    *state.inner.keys.lock().unwrap_or_else(|p| p.into_inner()) = keys.clone();
    Ok(Json(SigningKeysResponse::new(keys.current, keys.next)))
}
