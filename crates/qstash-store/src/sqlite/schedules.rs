//! Schedules: storing, reading, pausing and deleting them, the due ones, and firing a tick (a
//! compare-and-set on the schedule's next tick that stores the tick's messages in the same
//! transaction).

use super::*;
use crate::{NewSchedule, ScheduleTick, StoredSchedule};

/// The columns [`decode_schedule`] reads, in order.
const SCHEDULE_COLS: &str = "tenant, id, cron, destination, method, headers, body, created_at, \
                             next_at, paused, last_at, last_message_ids";

fn decode_schedule(row: &Row<'_>) -> Result<StoredSchedule> {
    let headers: Vec<u8> = row.get(5).db()?;
    let ids: String = row.get(11).db()?;
    Ok(StoredSchedule {
        schedule: NewSchedule {
            tenant: row.get(0).db()?,
            id: row.get(1).db()?,
            cron: row.get(2).db()?,
            destination: row.get(3).db()?,
            method: row.get(4).db()?,
            headers: decode_headers(&headers)?,
            body: row.get(6).db()?,
            created_at: uint(row.get(7).db()?)?,
            next_at: opt_uint(row.get(8).db()?)?,
            paused: row.get::<_, i64>(9).db()? != 0,
        },
        last_at: opt_uint(row.get(10).db()?)?,
        last_message_ids: split_ids(&ids),
    })
}

/// The message ids of a tick, as kept in one text column (newline separated).
pub(super) fn split_ids(ids: &str) -> Vec<String> {
    ids.split('\n')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn put(conn: &Connection, s: &NewSchedule) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO schedules (tenant, id, cron, destination, method, headers, body, \
         created_at, next_at, paused, last_at, last_message_ids) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULL, '')",
    )
    .db()?
    .execute(rusqlite::params![
        s.tenant,
        s.id,
        s.cron,
        s.destination,
        s.method,
        encode_headers(&s.headers),
        s.body,
        int(s.created_at)?,
        s.next_at.map(int).transpose()?,
        i64::from(s.paused),
    ])
    .db()?;
    Ok(())
}

pub(super) fn get(conn: &Connection, tenant: &str, id: &str) -> Result<Option<StoredSchedule>> {
    let sql = format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE tenant = ?1 AND id = ?2");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query([tenant, id]).db()?;
    match rows.next().db()? {
        Some(row) => Ok(Some(decode_schedule(row)?)),
        None => Ok(None),
    }
}

pub(super) fn list(conn: &Connection, tenant: &str) -> Result<Vec<StoredSchedule>> {
    let sql =
        format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE tenant = ?1 ORDER BY created_at, id");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query([tenant]).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(decode_schedule(row)?);
    }
    Ok(out)
}

pub(super) fn delete(conn: &Connection, tenant: &str, id: &str) -> Result<bool> {
    let n = conn
        .prepare_cached("DELETE FROM schedules WHERE tenant = ?1 AND id = ?2")
        .db()?
        .execute([tenant, id])
        .db()?;
    Ok(n > 0)
}

pub(super) fn set_paused(
    conn: &Connection,
    tenant: &str,
    id: &str,
    paused: bool,
    next_at: Option<Millis>,
) -> Result<bool> {
    let n = if paused {
        conn.prepare_cached("UPDATE schedules SET paused = 1 WHERE tenant = ?1 AND id = ?2")
            .db()?
            .execute([tenant, id])
            .db()?
    } else {
        conn.prepare_cached(
            "UPDATE schedules SET paused = 0, next_at = ?3 WHERE tenant = ?1 AND id = ?2",
        )
        .db()?
        .execute(rusqlite::params![tenant, id, next_at.map(int).transpose()?])
        .db()?
    };
    Ok(n > 0)
}

pub(super) fn due(conn: &Connection, now: Millis, limit: usize) -> Result<Vec<StoredSchedule>> {
    let sql = format!(
        "SELECT {SCHEDULE_COLS} FROM schedules WHERE paused = 0 AND next_at IS NOT NULL \
         AND next_at <= ?1 ORDER BY next_at LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt
        .query(rusqlite::params![
            int(now)?,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ])
        .db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(decode_schedule(row)?);
    }
    Ok(out)
}

pub(super) fn next_at(conn: &Connection) -> Result<Option<Millis>> {
    let at: Option<i64> = conn
        .prepare_cached(
            "SELECT min(next_at) FROM schedules WHERE paused = 0 AND next_at IS NOT NULL",
        )
        .db()?
        .query_row([], |row| row.get(0))
        .db()?;
    opt_uint(at)
}

pub(super) fn fire(conn: &Connection, tick: &ScheduleTick, now: Millis) -> Result<bool> {
    let ids: Vec<&str> = tick.messages.iter().map(|m| m.id.as_str()).collect();
    let n = conn
        .prepare_cached(
            "UPDATE schedules SET next_at = ?4, last_at = ?5, last_message_ids = ?6 \
             WHERE tenant = ?1 AND id = ?2 AND next_at = ?3 AND paused = 0",
        )
        .db()?
        .execute(rusqlite::params![
            tick.tenant,
            tick.schedule_id,
            int(tick.expected_next_at)?,
            tick.next_at.map(int).transpose()?,
            int(tick.tick_at)?,
            ids.join("\n"),
        ])
        .db()?;
    if n == 0 {
        return Ok(false);
    }
    insert_all(conn, &tick.messages, now)?;
    Ok(true)
}
