//! Claims: the scan of the due index page by page (moving the messages a flow-control key holds
//! back to its wait list, once), claiming them under a lease, and the next due time. The design
//! is in [`crate::flow`]'s documentation.

use super::*;

/// A due message as the claim scan sees it.
pub(super) struct DueRow {
    rowid: i64,
    due_at: i64,
    tenant: String,
    flow_key: Option<String>,
}

/// A page of due messages, earliest due first, after `(due_at, rowid)` when given.
pub(super) fn due_page(
    conn: &Connection,
    now: Millis,
    after: Option<(i64, i64)>,
    limit: usize,
) -> Result<Vec<DueRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let map = |row: &Row<'_>| {
        Ok(DueRow {
            rowid: row.get(0)?,
            due_at: row.get(1)?,
            tenant: row.get(2)?,
            flow_key: row.get(3)?,
        })
    };
    match after {
        None => {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT rowid, due_at, tenant, flow_key FROM messages \
                     WHERE state = 'PENDING' AND held = 0 AND due_at <= ?1 \
                     ORDER BY due_at, rowid LIMIT ?2",
                )
                .db()?;
            let rows = stmt
                .query_map(rusqlite::params![int(now)?, limit], map)
                .db()?;
            rows.collect::<rusqlite::Result<_>>().db()
        }
        // In two steps, each an index seek (a row-value comparison would scan the rows due
        // at `due` from the first one on every page): the rest of the rows due at `due`, then
        // the rows due later.
        Some((due, rowid)) => {
            let mut page: Vec<DueRow> = {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT rowid, due_at, tenant, flow_key FROM messages \
                         WHERE state = 'PENDING' AND held = 0 AND due_at = ?1 AND rowid > ?2 \
                         ORDER BY rowid LIMIT ?3",
                    )
                    .db()?;
                let rows = stmt
                    .query_map(rusqlite::params![due, rowid, limit], map)
                    .db()?;
                rows.collect::<rusqlite::Result<_>>().db()?
            };
            let rest = limit - i64::try_from(page.len()).unwrap_or(limit);
            if rest > 0 {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT rowid, due_at, tenant, flow_key FROM messages \
                         WHERE state = 'PENDING' AND held = 0 AND due_at > ?2 AND due_at <= ?1 \
                         ORDER BY due_at, rowid LIMIT ?3",
                    )
                    .db()?;
                let rows = stmt
                    .query_map(rusqlite::params![int(now)?, due, rest], map)
                    .db()?;
                for row in rows {
                    page.push(row.db()?);
                }
            }
            Ok(page)
        }
    }
}

/// The smallest page the claim scan reads after the first one (which is `limit` long, so that
/// a store with nothing newly held back reads exactly what it claims).
pub(super) const MIN_SCAN_PAGE: usize = 1024;

/// The most messages one claim moves to wait lists: a backlog that became due at once is
/// sorted by several claims (each a bounded transaction; `next_due` is now meanwhile).
pub(super) const HOLD_MAX: usize = 16_384;

/// The most keys one claim wakes (whose rate window ended while messages wait); the others
/// are woken by the next claims.
const WAKE_MAX: i64 = 256;

/// Promotes from the keys whose `wake_at` has come: their rate window ended, or their limits
/// changed, while messages wait.
fn wake(
    conn: &Connection,
    now: Millis,
    keys: &mut Keys,
    promoted: &mut HashSet<i64>,
) -> Result<()> {
    let woken: Vec<(String, String)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT tenant, key FROM flow_keys WHERE wake_at <= ?1 ORDER BY wake_at LIMIT ?2",
            )
            .db()?;
        let rows = stmt
            .query_map(rusqlite::params![int(now)?, WAKE_MAX], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    for (tenant, key) in woken {
        if let Some(state) = keys.get(conn, &tenant, &key, now)? {
            promote(conn, &tenant, &key, state, now, promoted)?;
            // Its wake time is written again, whatever the promotion did.
            state.dirty = true;
        }
    }
    Ok(())
}

/// What a claim does with a due keyed message.
enum Gate {
    Start,
    Hold,
}

/// Decides whether a due message of `key` starts now or joins the key's wait list: it starts
/// when it was promoted for this claim, or when the key has a place and no held message due
/// before it. A key with held messages due before it and free places promotes them first.
#[allow(clippy::too_many_arguments)]
fn gate(
    conn: &Connection,
    tenant: &str,
    key: &str,
    state: &mut KeyState,
    row: (i64, i64),
    now: Millis,
    promoted: &mut HashSet<i64>,
    promoted_now: &mut bool,
) -> Result<Gate> {
    if promoted.remove(&row.1) {
        // Its place was reserved when it was promoted.
        state.promoted = state.promoted.saturating_sub(1);
    } else if state.waiting > 0
        && let Some(first) = head(conn, tenant, key)?
        && first < row
    {
        if promote(conn, tenant, key, state, now, promoted)? > 0 {
            *promoted_now = true;
        }
        if state.waiting > 0 || state.hold(now) != Hold::Free {
            return Ok(Gate::Hold);
        }
    }
    Ok(if state.hold(now) == Hold::Free {
        Gate::Start
    } else {
        Gate::Hold
    })
}

pub(super) fn claim_due(conn: &Connection, now: Millis, limit: usize) -> Result<Vec<Claimed>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE messages SET claim = claim + 1, claim_open = 1, due_at = ?1 + lease_ms \
             WHERE rowid = ?2 \
             RETURNING {}",
            MSG_COLS.replace("m.", "")
        )
    });
    let sql: &str = &SQL;
    let mut claimed = Vec::with_capacity(limit.min(1024));
    let mut keys = Keys::default();
    let mut promoted = HashSet::new();
    let mut held = 0;
    wake(conn, now, &mut keys, &mut promoted)?;
    'scan: loop {
        let mut after = None;
        let mut page_len = limit;
        // Messages promoted during this pass are due before where it is: one more pass.
        let mut promoted_now = false;
        loop {
            let page = due_page(conn, now, after, page_len)?;
            let full = page.len() == page_len;
            for row in &page {
                if let Some(key) = &row.flow_key
                    && let Some(state) = keys.get(conn, &row.tenant, key, now)?
                {
                    let at = (row.due_at, row.rowid);
                    match gate(
                        conn,
                        &row.tenant,
                        key,
                        state,
                        at,
                        now,
                        &mut promoted,
                        &mut promoted_now,
                    )? {
                        Gate::Start => state.start(now),
                        Gate::Hold => {
                            hold_message(conn, state, row.rowid)?;
                            held += 1;
                            if held == HOLD_MAX {
                                break 'scan;
                            }
                            continue;
                        }
                    }
                }
                let message = {
                    let mut stmt = conn.prepare_cached(sql).db()?;
                    let mut rows = stmt.query(rusqlite::params![int(now)?, row.rowid]).db()?;
                    let row = rows.next().db()?.ok_or_else(|| corrupt("message"))?;
                    decode_message(row, 0)?
                };
                let labels = encode_labels(&message.message.labels)?;
                append_event(
                    conn,
                    &message.message.tenant,
                    now,
                    &message.message.id,
                    "ACTIVE",
                    &message.message.destination,
                    &labels,
                    None,
                    None,
                    None,
                )?;
                claimed.push(Claimed {
                    claim: message.claim,
                    lease_until: message.due_at,
                    message,
                });
                if claimed.len() == limit {
                    break 'scan;
                }
            }
            match page.last() {
                Some(last) if full => after = Some((last.due_at, last.rowid)),
                _ => break,
            }
            page_len = limit.max(MIN_SCAN_PAGE);
        }
        if !promoted_now {
            break;
        }
    }
    keys.save(conn, now)?;
    Ok(claimed)
}

/// How many due entries [`next_due`] sorts out at most before it answers `now` (a claim is
/// then due to sort them out).
const NEXT_DUE_SCAN: usize = 256;

/// [`Store::next_due`]: the earliest time a claim may find something: the first entry of the due
/// index that a claim would start (due entries a claim would hold are skipped), or the
/// earliest end of a full rate window with messages waiting.
pub(super) fn next_due(conn: &Connection, now: Millis) -> Result<Option<Millis>> {
    let wake: Option<Millis> = conn
        .prepare_cached("SELECT min(wake_at) FROM flow_keys WHERE wake_at IS NOT NULL")
        .db()?
        .query_row([], |row| row.get::<_, Option<i64>>(0))
        .db()?
        .map(uint)
        .transpose()?;
    let due = due_entry(conn, now)?;
    Ok(match (due, wake) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// The first entry of the due index a claim would start (or sort out).
fn due_entry(conn: &Connection, now: Millis) -> Result<Option<Millis>> {
    let first: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT due_at, flow_key FROM messages WHERE state = 'PENDING' AND held = 0 \
             ORDER BY due_at LIMIT 1",
        )
        .db()?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .db()?;
    let Some((due, key)) = first else {
        return Ok(None);
    };
    let due = uint(due)?;
    if due > now || key.is_none() {
        return Ok(Some(due));
    }
    // Keyed messages are due: those a claim would hold are skipped (they became due since the
    // last claim, so they are few; past `NEXT_DUE_SCAN` of them a claim is due to sort them).
    let mut best: Option<Millis> = conn
        .prepare_cached(
            "SELECT due_at FROM messages WHERE state = 'PENDING' AND held = 0 AND due_at > ?1 \
             ORDER BY due_at LIMIT 1",
        )
        .db()?
        .query_row([int(now)?], |row| row.get(0))
        .optional()
        .db()?
        .map(uint)
        .transpose()?;
    let mut keys = Keys::default();
    let page = due_page(conn, now, None, NEXT_DUE_SCAN)?;
    if page.len() == NEXT_DUE_SCAN {
        return Ok(Some(now));
    }
    for row in &page {
        let hold = match &row.flow_key {
            None => Hold::Free,
            Some(key) => match keys.get(conn, &row.tenant, key, now)? {
                None => Hold::Free,
                Some(state) => {
                    let behind = state.waiting > 0
                        && head(conn, &row.tenant, key)?
                            .is_some_and(|first| first < (row.due_at, row.rowid));
                    match state.hold(now) {
                        // A claim would promote the held ones: something starts now.
                        Hold::Free => Hold::Free,
                        _ if behind => Hold::Parallelism,
                        hold => hold,
                    }
                }
            },
        };
        match hold {
            Hold::Free => return Ok(Some(uint(row.due_at)?)),
            Hold::Parallelism => {}
            Hold::RateUntil(end) => best = Some(best.map_or(end, |b| b.min(end))),
        }
    }
    Ok(best)
}
