//! The signing keys in the PostgreSQL store: the store-wide pair and a tenant's own, two rows of
//! `settings` each (`signing_key_current:<tenant>`, `signing_key_next:<tenant>` for a tenant).
//! Writes run under the schema's signing-keys lock ([`lock_keys`]), so concurrent first uses in
//! several processes store one pair.

use deadpool_postgres::{GenericClient, Transaction};

use super::schema::{KEYS_LOCK, LOCK_KEY};
use super::{col, exec, rows};
use crate::codec::{KEY_CURRENT, KEY_NEXT, corrupt, tenant_key_names};
use crate::{Result, SigningKeys, StoreError};

/// The store-wide pair, if there is one.
pub(super) async fn read_keys<C: GenericClient>(c: &C) -> Result<Option<SigningKeys>> {
    read_pair(c, KEY_CURRENT, KEY_NEXT, "signing keys").await
}

/// Writes the store-wide pair.
pub(super) async fn write_keys(tx: &Transaction<'_>, keys: &SigningKeys) -> Result<()> {
    write_pair(tx, KEY_CURRENT, KEY_NEXT, keys).await
}

/// Serializes the transactions that read and write the signing keys of this schema.
pub(super) async fn lock_keys(tx: &Transaction<'_>) -> Result<()> {
    exec(
        tx,
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || ':keys') + $2)",
        &[&LOCK_KEY, &KEYS_LOCK],
    )
    .await?;
    Ok(())
}

/// The tenant's pair, if it has one (both rows in one statement, so one snapshot).
pub(super) async fn read<C: GenericClient>(c: &C, tenant: &str) -> Result<Option<SigningKeys>> {
    let (current_key, next_key) = tenant_key_names(tenant);
    read_pair(c, &current_key, &next_key, "tenant signing keys").await
}

/// The pair stored under the settings `current_key` and `next_key` (a tenant's, or the
/// store-wide pair; both rows in one statement, so one snapshot); `what` names it in a
/// corruption error.
pub(super) async fn read_pair<C: GenericClient>(
    c: &C,
    current_key: &str,
    next_key: &str,
    what: &str,
) -> Result<Option<SigningKeys>> {
    let found = rows(
        c,
        "SELECT key, value FROM settings WHERE key = $1 OR key = $2",
        &[&current_key, &next_key],
    )
    .await?;
    let (mut current, mut next) = (None, None);
    for row in &found {
        let key: &str = col(row, 0)?;
        let value: String = col(row, 1)?;
        if key == current_key {
            current = Some(value);
        } else {
            next = Some(value);
        }
    }
    match (current, next) {
        (Some(current), Some(next)) => Ok(Some(SigningKeys { current, next })),
        (None, None) => Ok(None),
        _ => Err(corrupt(what)),
    }
}

async fn write(tx: &Transaction<'_>, tenant: &str, keys: &SigningKeys) -> Result<()> {
    let (current_key, next_key) = tenant_key_names(tenant);
    write_pair(tx, &current_key, &next_key, keys).await
}

/// Stores `keys` under the settings `current_key` and `next_key`.
pub(super) async fn write_pair(
    tx: &Transaction<'_>,
    current_key: &str,
    next_key: &str,
    keys: &SigningKeys,
) -> Result<()> {
    for (key, value) in [(current_key, &keys.current), (next_key, &keys.next)] {
        exec(
            tx,
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&key, value],
        )
        .await?;
    }
    Ok(())
}

/// The tenant's pair, storing `proposed` first when it has none. Run it after
/// [`super::lock_keys`] in the same transaction.
pub(super) async fn or_init(
    tx: &Transaction<'_>,
    tenant: &str,
    proposed: &SigningKeys,
) -> Result<SigningKeys> {
    match read(tx, tenant).await? {
        Some(keys) => Ok(keys),
        None => {
            write(tx, tenant, proposed).await?;
            Ok(proposed.clone())
        }
    }
}

/// Next becomes current and `new_next` the next key. Run it after [`super::lock_keys`] in the
/// same transaction.
pub(super) async fn rotate(
    tx: &Transaction<'_>,
    tenant: &str,
    new_next: &str,
) -> Result<SigningKeys> {
    let old = read(tx, tenant).await?.ok_or_else(|| {
        StoreError::Invalid("the tenant has no signing keys to rotate yet".to_string())
    })?;
    let keys = SigningKeys {
        current: old.next,
        next: new_next.to_string(),
    };
    write(tx, tenant, &keys).await?;
    Ok(keys)
}
