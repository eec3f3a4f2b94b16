//! The signing keys in the SQLite store: the store-wide pair and a tenant's own, two rows of
//! `settings` each (`signing_key_current:<tenant>`, `signing_key_next:<tenant>` for a tenant),
//! written by the writer thread.

use rusqlite::{Connection, OptionalExtension};

use super::Db;
use crate::codec::{KEY_CURRENT, KEY_NEXT, corrupt, tenant_key_names};
use crate::{Result, SigningKeys, StoreError};

/// The store-wide pair, if there is one.
pub(super) fn read_keys(conn: &Connection) -> Result<Option<SigningKeys>> {
    read_pair(conn, KEY_CURRENT, KEY_NEXT, "signing keys")
}

/// Writes the store-wide pair.
pub(super) fn write_keys(conn: &Connection, keys: &SigningKeys) -> Result<()> {
    write_pair(conn, KEY_CURRENT, KEY_NEXT, keys)
}

/// The tenant's pair, if it has one.
pub(super) fn read(conn: &Connection, tenant: &str) -> Result<Option<SigningKeys>> {
    let (current_key, next_key) = tenant_key_names(tenant);
    read_pair(conn, &current_key, &next_key, "tenant signing keys")
}

/// The pair stored under the settings `current_key` and `next_key` (a tenant's, or the
/// store-wide pair); `what` names it in a corruption error.
pub(super) fn read_pair(
    conn: &Connection,
    current_key: &str,
    next_key: &str,
    what: &str,
) -> Result<Option<SigningKeys>> {
    let mut stmt = conn
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .db()?;
    let current: Option<String> = stmt
        .query_row([current_key], |row| row.get(0))
        .optional()
        .db()?;
    let next: Option<String> = stmt
        .query_row([next_key], |row| row.get(0))
        .optional()
        .db()?;
    match (current, next) {
        (Some(current), Some(next)) => Ok(Some(SigningKeys { current, next })),
        (None, None) => Ok(None),
        _ => Err(corrupt(what)),
    }
}

fn write(conn: &Connection, tenant: &str, keys: &SigningKeys) -> Result<()> {
    let (current_key, next_key) = tenant_key_names(tenant);
    write_pair(conn, &current_key, &next_key, keys)
}

/// Stores `keys` under the settings `current_key` and `next_key`.
pub(super) fn write_pair(
    conn: &Connection,
    current_key: &str,
    next_key: &str,
    keys: &SigningKeys,
) -> Result<()> {
    let mut stmt = conn
        .prepare_cached("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)")
        .db()?;
    stmt.execute([current_key, keys.current.as_str()]).db()?;
    stmt.execute([next_key, keys.next.as_str()]).db()?;
    Ok(())
}

/// The tenant's pair, storing `proposed` first when it has none (on the writer thread, so
/// two first uses cannot store two pairs).
pub(super) fn or_init(
    conn: &Connection,
    tenant: &str,
    proposed: SigningKeys,
) -> Result<SigningKeys> {
    match read(conn, tenant)? {
        Some(keys) => Ok(keys),
        None => {
            write(conn, tenant, &proposed)?;
            Ok(proposed)
        }
    }
}

/// Next becomes current and `new_next` the next key.
pub(super) fn rotate(conn: &Connection, tenant: &str, new_next: String) -> Result<SigningKeys> {
    let old = read(conn, tenant)?.ok_or_else(|| {
        StoreError::Invalid("the tenant has no signing keys to rotate yet".to_string())
    })?;
    let keys = SigningKeys {
        current: old.next,
        next: new_next,
    };
    write(conn, tenant, &keys)?;
    Ok(keys)
}
