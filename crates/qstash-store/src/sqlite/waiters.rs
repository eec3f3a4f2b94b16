//! Waiters (a run's waits for an event): registering one, listing them, releasing one.

use super::*;

pub(super) fn register_waiter(
    conn: &Connection,
    event_id: &str,
    m: &NewMessage,
    now: Millis,
) -> Result<InsertOutcome> {
    if !m.run.as_ref().is_some_and(|r| r.step) {
        return Err(StoreError::Invalid(format!(
            "waiter message {} is not a step of a run",
            m.id
        )));
    }
    let outcome = insert_one(conn, m, now)?;
    if outcome == InsertOutcome::Inserted {
        conn.prepare_cached(
            "INSERT INTO waiters (tenant, event_id, message_id) VALUES (?1, ?2, ?3)",
        )
        .db()?
        .execute([m.tenant.as_str(), event_id, m.id.as_str()])
        .db()?;
    }
    Ok(outcome)
}

pub(super) fn list_waiters(
    conn: &Connection,
    tenant: &str,
    event_id: &str,
    run_id: Option<&str>,
) -> Result<Vec<Waiter>> {
    let sql = format!(
        "SELECT {MSG_COLS} FROM waiters w JOIN messages m ON m.id = w.message_id \
         WHERE w.tenant = ?1 AND w.event_id = ?2 AND m.tenant = w.tenant \
         AND m.state = 'PENDING' AND m.claim = 0 AND (?3 IS NULL OR m.run_id = ?3) \
         ORDER BY w.seq"
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt
        .query(rusqlite::params![tenant, event_id, run_id])
        .db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        out.push(Waiter {
            event_id: event_id.to_string(),
            message: decode_message(row, 0)?,
        });
    }
    Ok(out)
}

pub(super) fn release_waiter(
    conn: &Connection,
    tenant: &str,
    message_id: &str,
    body: &[u8],
    now: Millis,
) -> Result<bool> {
    let found: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT m.rowid, m.run_id FROM waiters w JOIN messages m ON m.id = w.message_id \
             WHERE w.tenant = ?1 AND w.message_id = ?2 AND m.tenant = w.tenant \
             AND m.state = 'PENDING' AND m.claim = 0",
        )
        .db()?
        .query_row([tenant, message_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .db()?;
    let Some((rowid, run_id)) = found else {
        return Ok(false);
    };
    conn.prepare_cached("UPDATE messages SET body = ?2, due_at = ?3 WHERE rowid = ?1")
        .db()?
        .execute(rusqlite::params![rowid, body, int(now)?])
        .db()?;
    if let Some(run_id) = run_id {
        conn.prepare_cached(
            "UPDATE run_steps SET body = ?4 WHERE tenant = ?1 AND run_id = ?2 AND message_id = ?3",
        )
        .db()?
        .execute(rusqlite::params![tenant, run_id, message_id, body])
        .db()?;
    }
    conn.prepare_cached("DELETE FROM waiters WHERE message_id = ?1")
        .db()?
        .execute([message_id])
        .db()?;
    Ok(true)
}
