//! Flow control: a tenant's keys and their limits (`flow_keys`), the state of a key as a claim
//! sees it and saves it, the key's wait list (holding a message back, promoting the first held
//! ones when a place frees) and the reads of a key's counters. The design is in
//! [`crate::flow`]'s documentation.

use super::*;

/// Registers a tenant's flow-control key; with limits, they replace the key's limits (the most
/// recently stored message's limits apply). The open rate window is kept; a key whose limits
/// change while messages wait is looked at by the next claim (`wake_at`).
pub(super) fn register_flow_key(
    conn: &Connection,
    tenant: &str,
    key: &str,
    limits: Option<FlowLimits>,
    now: Millis,
) -> Result<()> {
    match limits {
        Some(l) => conn
            .prepare_cached(
                "INSERT INTO flow_keys (tenant, key, parallelism, rate, period_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant, key) DO UPDATE SET \
                 parallelism = excluded.parallelism, rate = excluded.rate, \
                 period_ms = excluded.period_ms, \
                 wake_at = CASE WHEN waiting > 0 AND (parallelism IS NOT excluded.parallelism \
                 OR rate IS NOT excluded.rate OR period_ms <> excluded.period_ms) THEN ?6 \
                 ELSE wake_at END",
            )
            .db()?
            .execute(rusqlite::params![
                tenant,
                key,
                l.parallelism,
                l.rate,
                int(l.period_ms)?,
                int(now)?
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
    type KeyRow = (Option<i64>, Option<i64>, i64, i64, i64, i64);
    let row: Option<KeyRow> = conn
        .prepare_cached(
            "SELECT parallelism, rate, period_ms, window_start, window_count, waiting \
             FROM flow_keys WHERE tenant = ?1 AND key = ?2",
        )
        .db()?
        .query_row([tenant, key], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
            ))
        })
        .optional()
        .db()?;
    let Some((parallelism, rate, period_ms, window_start, window_count, waiting)) = row else {
        return Ok(None);
    };
    // The claims whose lease has not ended: at most `parallelism` rows of the key's index.
    let in_flight: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
             AND state = 'PENDING' AND held = 0 AND claim_open = 1 AND due_at > ?3",
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
        waiting: uint(waiting)?,
        promoted: 0,
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

    /// Writes the changed windows, wait list counts and wake times back.
    pub(super) fn save(self, conn: &Connection, now: Millis) -> Result<()> {
        let all = self
            .0
            .into_iter()
            .flat_map(|(tenant, keys)| keys.into_iter().map(move |(k, s)| (tenant.clone(), k, s)));
        for (tenant, key, state) in all {
            let Some(state) = state.filter(|s| s.dirty) else {
                continue;
            };
            conn.prepare_cached(
                "UPDATE flow_keys SET window_start = ?3, window_count = ?4, waiting = ?5, \
                 wake_at = ?6 WHERE tenant = ?1 AND key = ?2",
            )
            .db()?
            .execute(rusqlite::params![
                tenant,
                key,
                int(state.window_start)?,
                int(state.window_count)?,
                int(state.waiting)?,
                state.wake_at(now).map(int).transpose()?
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
    // The wait list, and the due messages no claim has sorted out yet (few: those that became
    // due since the last claim) and those whose lease ended.
    let unsorted: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
             AND state = 'PENDING' AND held = 0 AND claim_open IN (0, 1) AND due_at <= ?3",
        )
        .db()?
        .query_row(rusqlite::params![tenant, key, int(now)?], |row| row.get(0))
        .db()?;
    let waiting = i64::try_from(state.waiting).unwrap_or(i64::MAX) + unsorted;
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

/// The most messages one promotion moves; a longer wait list with free places is looked at
/// again by the next claim (`wake_at` is now).
pub(super) const PROMOTE_MAX: u64 = 1024;

/// The first held message of a key, as `(due_at, rowid)`.
pub(super) fn head(conn: &Connection, tenant: &str, key: &str) -> Result<Option<(i64, i64)>> {
    conn.prepare_cached(
        "SELECT due_at, rowid FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
         AND state = 'PENDING' AND held = 1 ORDER BY due_at, rowid LIMIT 1",
    )
    .db()?
    .query_row([tenant, key], |row| Ok((row.get(0)?, row.get(1)?)))
    .optional()
    .db()
}

/// Moves a due message to its key's wait list.
pub(super) fn hold_message(conn: &Connection, state: &mut KeyState, rowid: i64) -> Result<()> {
    conn.prepare_cached("UPDATE messages SET held = 1 WHERE rowid = ?1")
        .db()?
        .execute([rowid])
        .db()?;
    state.waiting += 1;
    state.dirty = true;
    Ok(())
}

/// Moves the key's first held messages back into the due index, as many as it has places for
/// at `now`; their places are reserved in `state` and their rowids added to `promoted`.
pub(super) fn promote(
    conn: &Connection,
    tenant: &str,
    key: &str,
    state: &mut KeyState,
    now: Millis,
    promoted: &mut HashSet<i64>,
) -> Result<u64> {
    let n = state.free_places(now).min(state.waiting).min(PROMOTE_MAX);
    if n == 0 {
        return Ok(0);
    }
    let rowids: Vec<i64> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT rowid FROM messages WHERE tenant = ?1 AND flow_key = ?2 \
                 AND state = 'PENDING' AND held = 1 ORDER BY due_at, rowid LIMIT ?3",
            )
            .db()?;
        let rows = stmt
            .query_map(rusqlite::params![tenant, key, int(n)?], |row| row.get(0))
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    for rowid in &rowids {
        conn.prepare_cached("UPDATE messages SET held = 0 WHERE rowid = ?1")
            .db()?
            .execute([rowid])
            .db()?;
        promoted.insert(*rowid);
    }
    let moved = rowids.len() as u64;
    state.waiting = state.waiting.saturating_sub(moved);
    state.promoted += moved;
    state.dirty = true;
    Ok(moved)
}

/// After a keyed message left its place or its wait list (a finish, a cancel): counts it out of
/// the wait list when it was held, and promotes the key's first held messages into the freed
/// places, in the same transaction.
pub(super) fn release(
    conn: &Connection,
    tenant: &str,
    key: &str,
    was_held: bool,
    now: Millis,
) -> Result<()> {
    let mut keys = Keys::default();
    if let Some(state) = keys.get(conn, tenant, key, now)? {
        if was_held {
            state.waiting = state.waiting.saturating_sub(1);
            state.dirty = true;
        }
        promote(conn, tenant, key, state, now, &mut HashSet::new())?;
        // The wake time is written again either way (a place may have come back).
        state.dirty = true;
    }
    keys.save(conn, now)
}
