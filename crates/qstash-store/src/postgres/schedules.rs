//! Schedules: storing, reading, pausing and deleting them, the due ones, and firing a tick (a
//! compare-and-set on the schedule's next tick, under its row lock, that stores the tick's
//! messages in the same transaction).

use super::*;
use crate::{NewSchedule, ScheduleTick, StoredSchedule};

/// The columns [`decode_schedule`] reads, in order.
const SCHEDULE_COLS: &str = "tenant, id, cron, destination, method, headers, body, created_at, \
                             next_at, paused, last_at, last_message_ids";

fn decode_schedule(row: &Row) -> Result<StoredSchedule> {
    let headers: &[u8] = col(row, 5)?;
    let ids: &str = col(row, 11)?;
    Ok(StoredSchedule {
        schedule: NewSchedule {
            tenant: col(row, 0)?,
            id: col(row, 1)?,
            cron: col(row, 2)?,
            destination: col(row, 3)?,
            method: col(row, 4)?,
            headers: decode_headers(headers)?,
            body: col(row, 6)?,
            created_at: uint(col(row, 7)?)?,
            next_at: opt_uint(col(row, 8)?)?,
            paused: col(row, 9)?,
        },
        last_at: opt_uint(col(row, 10)?)?,
        last_message_ids: ids
            .split('\n')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

pub(super) async fn put(tx: &Transaction<'_>, shared: &Shared, s: &NewSchedule) -> Result<()> {
    let next_at = s.next_at.map(int).transpose()?;
    exec(
        tx,
        "INSERT INTO schedules (tenant, id, cron, destination, method, headers, body, \
         created_at, next_at, paused, last_at, last_message_ids) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, '') \
         ON CONFLICT (tenant, id) DO UPDATE SET cron = EXCLUDED.cron, \
         destination = EXCLUDED.destination, method = EXCLUDED.method, \
         headers = EXCLUDED.headers, body = EXCLUDED.body, created_at = EXCLUDED.created_at, \
         next_at = EXCLUDED.next_at, paused = EXCLUDED.paused, last_at = NULL, \
         last_message_ids = ''",
        &[
            &s.tenant,
            &s.id,
            &s.cron,
            &s.destination,
            &s.method,
            &encode_headers(&s.headers),
            &s.body,
            &int(s.created_at)?,
            &next_at,
            &s.paused,
        ],
    )
    .await?;
    if let (Some(at), false) = (s.next_at, s.paused) {
        // Other processes' schedulers learn of the new tick.
        notify_due(tx, shared, at).await?;
    }
    Ok(())
}

pub(super) async fn get<C: GenericClient>(
    c: &C,
    tenant: &str,
    id: &str,
) -> Result<Option<StoredSchedule>> {
    let sql = format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE tenant = $1 AND id = $2");
    match opt(c, &sql, &[&tenant, &id]).await? {
        Some(row) => Ok(Some(decode_schedule(&row)?)),
        None => Ok(None),
    }
}

pub(super) async fn list<C: GenericClient>(c: &C, tenant: &str) -> Result<Vec<StoredSchedule>> {
    let sql =
        format!("SELECT {SCHEDULE_COLS} FROM schedules WHERE tenant = $1 ORDER BY created_at, id");
    rows(c, &sql, &[&tenant])
        .await?
        .iter()
        .map(decode_schedule)
        .collect()
}

pub(super) async fn delete<C: GenericClient>(c: &C, tenant: &str, id: &str) -> Result<bool> {
    let n = exec(
        c,
        "DELETE FROM schedules WHERE tenant = $1 AND id = $2",
        &[&tenant, &id],
    )
    .await?;
    Ok(n > 0)
}

pub(super) async fn set_paused(
    tx: &Transaction<'_>,
    shared: &Shared,
    tenant: &str,
    id: &str,
    paused: bool,
    next_at: Option<Millis>,
) -> Result<bool> {
    let n = if paused {
        exec(
            tx,
            "UPDATE schedules SET paused = TRUE WHERE tenant = $1 AND id = $2",
            &[&tenant, &id],
        )
        .await?
    } else {
        let at = next_at.map(int).transpose()?;
        exec(
            tx,
            "UPDATE schedules SET paused = FALSE, next_at = $3 WHERE tenant = $1 AND id = $2",
            &[&tenant, &id, &at],
        )
        .await?
    };
    if let (true, false, Some(at)) = (n > 0, paused, next_at) {
        notify_due(tx, shared, at).await?;
    }
    Ok(n > 0)
}

pub(super) async fn due<C: GenericClient>(
    c: &C,
    now: Millis,
    limit: usize,
) -> Result<Vec<StoredSchedule>> {
    let sql = format!(
        "SELECT {SCHEDULE_COLS} FROM schedules WHERE NOT paused AND next_at IS NOT NULL \
         AND next_at <= $1 ORDER BY next_at LIMIT $2"
    );
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    rows(c, &sql, &[&int(now)?, &limit])
        .await?
        .iter()
        .map(decode_schedule)
        .collect()
}

pub(super) async fn next_at<C: GenericClient>(c: &C) -> Result<Option<Millis>> {
    let row = one(
        c,
        "SELECT min(next_at) FROM schedules WHERE NOT paused AND next_at IS NOT NULL",
        &[],
    )
    .await?;
    opt_uint(col(&row, 0)?)
}

/// Fires a tick when the schedule's row, locked, still has the expected next tick: a second
/// process firing the same tick waits for the first one's lock, then finds the row changed.
pub(super) async fn fire(
    tx: &Transaction<'_>,
    shared: &Shared,
    tick: &ScheduleTick,
    now: Millis,
) -> Result<bool> {
    let ids: Vec<&str> = tick.messages.iter().map(|m| m.id.as_str()).collect();
    let n = exec(
        tx,
        "UPDATE schedules SET next_at = $4, last_at = $5, last_message_ids = $6 \
         WHERE tenant = $1 AND id = $2 AND next_at = $3 AND NOT paused",
        &[
            &tick.tenant,
            &tick.schedule_id,
            &int(tick.expected_next_at)?,
            &tick.next_at.map(int).transpose()?,
            &int(tick.tick_at)?,
            &ids.join("\n"),
        ],
    )
    .await?;
    if n == 0 {
        return Ok(false);
    }
    let outcomes = insert_all(tx, &tick.messages, now).await?;
    let earliest = tick
        .messages
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| **o == InsertOutcome::Inserted)
        .map(|(m, _)| m.due_at)
        .min();
    if let Some(due) = earliest {
        notify_due(tx, shared, due).await?;
    }
    Ok(true)
}
