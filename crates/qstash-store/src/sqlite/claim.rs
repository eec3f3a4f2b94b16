//! Claims: the scan of due messages page by page (skipping those a flow-control key holds
//! back), claiming them under a lease, and the next due time.

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
                     WHERE state = 'PENDING' AND due_at <= ?1 ORDER BY due_at, rowid LIMIT ?2",
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
                         WHERE state = 'PENDING' AND due_at = ?1 AND rowid > ?2 \
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
                         WHERE state = 'PENDING' AND due_at > ?2 AND due_at <= ?1 \
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
/// a store without held-back messages reads exactly what it claims).
pub(super) const MIN_SCAN_PAGE: usize = 1024;

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
    let mut after = None;
    let mut page_len = limit;
    'scan: loop {
        let page = due_page(conn, now, after, page_len)?;
        let full = page.len() == page_len;
        for row in &page {
            if let Some(key) = &row.flow_key
                && let Some(state) = keys.get(conn, &row.tenant, key, now)?
            {
                if state.hold(now) != Hold::Free {
                    continue;
                }
                state.start(now);
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
        // Held-back messages stay in the range: look further, past the last one seen.
        match page.last() {
            Some(last) if full => after = Some((last.due_at, last.rowid)),
            _ => break,
        }
        page_len = limit.max(MIN_SCAN_PAGE);
    }
    keys.save(conn)?;
    Ok(claimed)
}

/// [`Store::next_due`]: the earliest time a claim may find something, held-back messages
/// counted at the end of their rate window or not at all.
pub(super) fn next_due(conn: &Connection, now: Millis) -> Result<Option<Millis>> {
    let first: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT due_at, flow_key FROM messages WHERE state = 'PENDING' \
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
    // Something with a key is due: look for the first due message that is not held back.
    let mut best: Option<Millis> = conn
        .prepare_cached(
            "SELECT due_at FROM messages WHERE state = 'PENDING' AND due_at > ?1 \
             ORDER BY due_at LIMIT 1",
        )
        .db()?
        .query_row([int(now)?], |row| row.get(0))
        .optional()
        .db()?
        .map(uint)
        .transpose()?;
    let mut keys = Keys::default();
    let mut stmt = conn
        .prepare_cached(
            "SELECT due_at, tenant, flow_key FROM messages WHERE state = 'PENDING' \
             AND due_at <= ?1 ORDER BY due_at",
        )
        .db()?;
    let mut rows = stmt.query([int(now)?]).db()?;
    // A held-back backlog is read row by row: the text is borrowed, and a row of the same key
    // as the one before reuses its answer.
    let mut last: Option<(String, String, Hold)> = None;
    while let Some(row) = rows.next().db()? {
        let due = uint(row.get(0).db()?)?;
        let key = row.get_ref(2).db()?;
        let hold = if key == rusqlite::types::ValueRef::Null {
            Hold::Free
        } else {
            let key = key.as_str().map_err(|_| corrupt("flow key"))?;
            let tenant = row
                .get_ref(1)
                .db()?
                .as_str()
                .map_err(|_| corrupt("tenant"))?;
            match &last {
                Some((t, k, hold)) if t == tenant && k == key => *hold,
                _ => {
                    let hold = keys
                        .get(conn, tenant, key, now)?
                        .map_or(Hold::Free, |state| state.hold(now));
                    last = Some((tenant.to_string(), key.to_string(), hold));
                    hold
                }
            }
        };
        match hold {
            Hold::Free => return Ok(Some(due)),
            Hold::Parallelism => {}
            Hold::RateUntil(end) => best = Some(best.map_or(end, |b| b.min(end))),
        }
    }
    Ok(best)
}
