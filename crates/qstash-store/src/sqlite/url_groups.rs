//! URL groups: one row per `(tenant, name)` holding the endpoints (name, URL pairs); adding
//! and removing endpoints read and rewrite the row on the writer thread.

use super::*;
use crate::{EndpointMatch, UrlGroup, UrlGroupEndpoint};

/// Endpoints as kept in one column: (name, URL) pairs, an empty name for none.
pub(super) fn encode_endpoints(endpoints: &[UrlGroupEndpoint]) -> Vec<u8> {
    let pairs: Vec<(String, String)> = endpoints
        .iter()
        .map(|e| (e.name.clone().unwrap_or_default(), e.url.clone()))
        .collect();
    encode_headers(&pairs)
}

pub(super) fn decode_endpoints(bytes: &[u8]) -> Result<Vec<UrlGroupEndpoint>> {
    Ok(decode_headers(bytes)?
        .into_iter()
        .map(|(name, url)| UrlGroupEndpoint {
            name: (!name.is_empty()).then_some(name),
            url,
        })
        .collect())
}

fn decode_group(row: &Row<'_>) -> Result<UrlGroup> {
    let endpoints: Vec<u8> = row.get(4).db()?;
    Ok(UrlGroup {
        tenant: row.get(0).db()?,
        name: row.get(1).db()?,
        created_at: uint(row.get(2).db()?)?,
        updated_at: uint(row.get(3).db()?)?,
        endpoints: decode_endpoints(&endpoints)?,
    })
}

pub(super) fn get(conn: &Connection, tenant: &str, name: &str) -> Result<Option<UrlGroup>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT tenant, name, created_at, updated_at, endpoints FROM url_groups \
             WHERE tenant = ?1 AND name = ?2",
        )
        .db()?;
    let mut rows = stmt.query([tenant, name]).db()?;
    match rows.next().db()? {
        Some(row) => Ok(Some(decode_group(row)?)),
        None => Ok(None),
    }
}

pub(super) fn list(conn: &Connection, tenant: &str) -> Result<Vec<UrlGroup>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT tenant, name, created_at, updated_at, endpoints FROM url_groups \
             WHERE tenant = ?1 ORDER BY name",
        )
        .db()?;
    let mut rows = stmt.query([tenant]).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(decode_group(row)?);
    }
    Ok(out)
}

fn write(conn: &Connection, g: &UrlGroup) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO url_groups (tenant, name, created_at, updated_at, endpoints) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .db()?
    .execute(rusqlite::params![
        g.tenant,
        g.name,
        int(g.created_at)?,
        int(g.updated_at)?,
        encode_endpoints(&g.endpoints),
    ])
    .db()?;
    Ok(())
}

pub(super) fn add(
    conn: &Connection,
    tenant: &str,
    name: &str,
    endpoints: Vec<UrlGroupEndpoint>,
    now: Millis,
) -> Result<UrlGroup> {
    let mut g = get(conn, tenant, name)?.unwrap_or_else(|| UrlGroup {
        tenant: tenant.to_owned(),
        name: name.to_owned(),
        created_at: now,
        updated_at: now,
        endpoints: Vec::new(),
    });
    g.add(endpoints, now);
    write(conn, &g)?;
    Ok(g)
}

pub(super) fn remove(
    conn: &Connection,
    tenant: &str,
    name: &str,
    matches: &[EndpointMatch],
    now: Millis,
) -> Result<Option<UrlGroup>> {
    let Some(mut g) = get(conn, tenant, name)? else {
        return Ok(None);
    };
    g.remove(matches, now);
    write(conn, &g)?;
    Ok(Some(g))
}

pub(super) fn delete(conn: &Connection, tenant: &str, name: &str) -> Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM url_groups WHERE tenant = ?1 AND name = ?2")
        .db()?
        .execute([tenant, name])
        .db()?;
    Ok(n > 0)
}
