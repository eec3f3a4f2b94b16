//! URL groups: one row per `(tenant, name)` holding the endpoints (name, URL pairs); adding
//! and removing endpoints rewrite the row under its lock.

use super::*;
use crate::{EndpointMatch, UrlGroup, UrlGroupEndpoint};

fn encode_endpoints(endpoints: &[UrlGroupEndpoint]) -> Vec<u8> {
    let pairs: Vec<(String, String)> = endpoints
        .iter()
        .map(|e| (e.name.clone().unwrap_or_default(), e.url.clone()))
        .collect();
    encode_headers(&pairs)
}

fn decode_group(row: &Row) -> Result<UrlGroup> {
    let endpoints: &[u8] = col(row, 4)?;
    Ok(UrlGroup {
        tenant: col(row, 0)?,
        name: col(row, 1)?,
        created_at: uint(col(row, 2)?)?,
        updated_at: uint(col(row, 3)?)?,
        endpoints: decode_headers(endpoints)?
            .into_iter()
            .map(|(name, url)| UrlGroupEndpoint {
                name: (!name.is_empty()).then_some(name),
                url,
            })
            .collect(),
    })
}

const GROUP_COLS: &str = "tenant, name, created_at, updated_at, endpoints";

pub(super) async fn get<C: GenericClient>(
    c: &C,
    tenant: &str,
    name: &str,
) -> Result<Option<UrlGroup>> {
    let sql = format!("SELECT {GROUP_COLS} FROM url_groups WHERE tenant = $1 AND name = $2");
    opt(c, &sql, &[&tenant, &name])
        .await?
        .map(|r| decode_group(&r))
        .transpose()
}

async fn get_locked(tx: &Transaction<'_>, tenant: &str, name: &str) -> Result<Option<UrlGroup>> {
    let sql =
        format!("SELECT {GROUP_COLS} FROM url_groups WHERE tenant = $1 AND name = $2 FOR UPDATE");
    opt(tx, &sql, &[&tenant, &name])
        .await?
        .map(|r| decode_group(&r))
        .transpose()
}

pub(super) async fn list<C: GenericClient>(c: &C, tenant: &str) -> Result<Vec<UrlGroup>> {
    let sql = format!("SELECT {GROUP_COLS} FROM url_groups WHERE tenant = $1 ORDER BY name");
    rows(c, &sql, &[&tenant])
        .await?
        .iter()
        .map(decode_group)
        .collect()
}

async fn write(tx: &Transaction<'_>, g: &UrlGroup) -> Result<()> {
    exec(
        tx,
        "UPDATE url_groups SET updated_at = $3, endpoints = $4 WHERE tenant = $1 AND name = $2",
        &[
            &g.tenant,
            &g.name,
            &int(g.updated_at)?,
            &encode_endpoints(&g.endpoints),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn add(
    tx: &Transaction<'_>,
    tenant: &str,
    name: &str,
    endpoints: &[UrlGroupEndpoint],
    now: Millis,
) -> Result<UrlGroup> {
    exec(
        tx,
        "INSERT INTO url_groups (tenant, name, created_at, updated_at, endpoints) \
         VALUES ($1, $2, $3, $3, $4) ON CONFLICT (tenant, name) DO NOTHING",
        &[&tenant, &name, &int(now)?, &encode_endpoints(&[])],
    )
    .await?;
    let mut g = get_locked(tx, tenant, name)
        .await?
        .ok_or_else(|| corrupt("URL group"))?;
    g.add(endpoints.to_vec(), now);
    write(tx, &g).await?;
    Ok(g)
}

pub(super) async fn remove(
    tx: &Transaction<'_>,
    tenant: &str,
    name: &str,
    matches: &[EndpointMatch],
    now: Millis,
) -> Result<Option<UrlGroup>> {
    let Some(mut g) = get_locked(tx, tenant, name).await? else {
        return Ok(None);
    };
    g.remove(matches, now);
    write(tx, &g).await?;
    Ok(Some(g))
}

pub(super) async fn delete<C: GenericClient>(c: &C, tenant: &str, name: &str) -> Result<bool> {
    let n = exec(
        c,
        "DELETE FROM url_groups WHERE tenant = $1 AND name = $2",
        &[&tenant, &name],
    )
    .await?;
    Ok(n > 0)
}
