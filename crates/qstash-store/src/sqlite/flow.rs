//! Flow control: a tenant's keys and their limits (`flow_keys`), the state of a key as a claim
//! sees it and saves it, and the reads of a key's counters.

use super::*;

/// Registers a tenant's flow-control key; with limits, they replace the key's limits (the most
/// recently stored message's limits apply). The open rate window is kept.
pub(super) fn register_flow_key(
    conn: &Connection,
    tenant: &str,
    key: &str,
    limits: Option<FlowLimits>,
) -> Result<()> {
    match limits {
        Some(l) => conn
            .prepare_cached(
                "INSERT INTO flow_keys (tenant, key, parallelism, rate, period_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, key) DO UPDATE SET \
                 parallelism = excluded.parallelism, rate = excluded.rate, \
                 period_ms = excluded.period_ms",
            )
            .db()?
            .execute(rusqlite::params![
                tenant,
                key,
                l.parallelism,
                l.rate,
                int(l.period_ms)?
            ])
            .db()?,
        None => conn
            .prepare_cached("INSERT OR IGNORE INTO flow_keys (tenant, key) VALUES (?1, ?2)")
            .db()?
            .execute([tenant, key])
            .db()?,
    };
    Ok(())
}

/// Reads a key's limits, window and attempts in flight at `now` (`None`: an unknown key).
pub(super) fn load_key(
    conn: &Connection,
    tenant: &str,
    key: &str,
    now: Millis,
) -> Result<Option<KeyState>> {
    type KeyRow = (Option<i64>, Option<i64>, i64, i64, i64);
    let row: Option<KeyRow> = conn
        .prepare_cached(
            "SELECT parallelism, rate, period_ms, window_start, window_count FROM flow_keys \
             WHERE tenant = ?1 AND key = ?2",
        )
        .db()?
        .query_row([tenant, key], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()
        .db()?;
    let Some((parallelism, rate, period_ms, window_start, window_count)) = row else {
        return Ok(None);
    };
    let in_flight: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
             AND state = 'PENDING' AND claim_open = 1 AND due_at > ?3",
        )
        .db()?
        .query_row(rusqlite::params![tenant, key, int(now)?], |row| row.get(0))
        .db()?;
    Ok(Some(KeyState {
        parallelism: opt_uint(parallelism)?,
        rate: opt_uint(rate)?,
        period_ms: uint(period_ms)?.max(1),
        window_start: uint(window_start)?,
        window_count: uint(window_count)?,
        in_flight: uint(in_flight)?,
        dirty: false,
    }))
}

/// The keys one transaction has looked at, by tenant and key (`None`: an unknown key).
#[derive(Default)]
pub(super) struct Keys(HashMap<String, HashMap<String, Option<KeyState>>>);

impl Keys {
    pub(super) fn get(
        &mut self,
        conn: &Connection,
        tenant: &str,
        key: &str,
        now: Millis,
    ) -> Result<Option<&mut KeyState>> {
        if !self
            .0
            .get(tenant)
            .is_some_and(|keys| keys.contains_key(key))
        {
            let state = load_key(conn, tenant, key, now)?;
            self.0
                .entry(tenant.to_string())
                .or_default()
                .insert(key.to_string(), state);
        }
        Ok(self
            .0
            .get_mut(tenant)
            .and_then(|keys| keys.get_mut(key))
            .and_then(Option::as_mut))
    }

    /// Writes the changed windows back.
    pub(super) fn save(self, conn: &Connection) -> Result<()> {
        let all = self
            .0
            .into_iter()
            .flat_map(|(tenant, keys)| keys.into_iter().map(move |(k, s)| (tenant.clone(), k, s)));
        for (tenant, key, state) in all {
            let Some(state) = state.filter(|s| s.dirty) else {
                continue;
            };
            conn.prepare_cached(
                "UPDATE flow_keys SET window_start = ?3, window_count = ?4 \
                 WHERE tenant = ?1 AND key = ?2",
            )
            .db()?
            .execute(rusqlite::params![
                tenant,
                key,
                int(state.window_start)?,
                int(state.window_count)?
            ])
            .db()?;
        }
        Ok(())
    }
}

pub(super) fn flow_info(
    conn: &Connection,
    tenant: &str,
    key: &str,
    now: Millis,
) -> Result<Option<FlowControlInfo>> {
    let Some(state) = load_key(conn, tenant, key, now)? else {
        return Ok(None);
    };
    let waiting: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
             AND state = 'PENDING' AND claim_open IN (0, 1) AND due_at <= ?3",
        )
        .db()?
        .query_row(rusqlite::params![tenant, key, int(now)?], |row| row.get(0))
        .db()?;
    let open = state.window_open(now);
    Ok(Some(FlowControlInfo {
        key: key.to_string(),
        wait_list_size: uint(waiting)?,
        parallelism_max: state
            .parallelism
            .map(|p| u32::try_from(p).unwrap_or(u32::MAX)),
        parallelism_count: state.in_flight,
        rate_max: state.rate.map(|r| u32::try_from(r).unwrap_or(u32::MAX)),
        rate_count: if open { state.window_count } else { 0 },
        rate_period_ms: state.period_ms,
        rate_period_start: open.then_some(state.window_start),
    }))
}

pub(super) fn list_flow_info(
    conn: &Connection,
    tenant: &str,
    now: Millis,
) -> Result<Vec<FlowControlInfo>> {
    let keys: Vec<String> = {
        let mut stmt = conn
            .prepare_cached("SELECT key FROM flow_keys WHERE tenant = ?1 ORDER BY key")
            .db()?;
        let rows = stmt.query_map([tenant], |row| row.get(0)).db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(info) = flow_info(conn, tenant, &key, now)? {
            out.push(info);
        }
    }
    Ok(out)
}
