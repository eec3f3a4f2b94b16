//! The writes of messages (run on the writer thread, inside a savepoint): appending an event,
//! inserting messages with deduplication and run steps, cancelling.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) fn append_event(
    conn: &Connection,
    tenant: &str,
    time: Millis,
    message_id: &str,
    state: &str,
    url: &str,
    labels: &str,
    response_status: Option<u16>,
    error: Option<&str>,
    next_delivery_time: Option<Millis>,
) -> Result<()> {
    let next = next_delivery_time.map(int).transpose()?;
    conn.prepare_cached(
        "INSERT INTO events (tenant, time, message_id, state, url, labels, response_status, \
         error, next_delivery_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .db()?
    .execute(rusqlite::params![
        tenant,
        int(time)?,
        message_id,
        state,
        url,
        labels,
        response_status,
        error,
        next
    ])
    .db()?;
    Ok(())
}

pub(super) fn insert_one(conn: &Connection, m: &NewMessage, now: Millis) -> Result<InsertOutcome> {
    if let Some(dedup) = &m.dedup {
        let existing: Option<(String, i64)> = conn
            .prepare_cached(
                "SELECT message_id, until FROM dedup WHERE tenant = ?1 AND dedup_id = ?2",
            )
            .db()?
            .query_row(rusqlite::params![m.tenant, dedup.id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .db()?;
        if let Some((existing_id, until)) = existing
            && uint(until)? > now
        {
            return Ok(InsertOutcome::Deduplicated { existing_id });
        }
    }
    // A step is stored only while its run is started; it takes the run's next step number.
    let step_seq = match &m.run {
        Some(link) if link.step => match next_step(conn, &m.tenant, &link.run_id)? {
            Ok(seq) => Some(seq),
            Err(state) => return Ok(InsertOutcome::RunNotActive(state)),
        },
        _ => None,
    };
    if let Some(dedup) = &m.dedup {
        // Forget a few expired ids on the way, so that the table stays small.
        conn.prepare_cached(
            "DELETE FROM dedup WHERE rowid IN (SELECT rowid FROM dedup WHERE until <= ?1 LIMIT 8)",
        )
        .db()?
        .execute([int(now)?])
        .db()?;
        conn.prepare_cached(
            "INSERT OR REPLACE INTO dedup (tenant, dedup_id, message_id, until) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .db()?
        .execute(rusqlite::params![
            m.tenant,
            dedup.id,
            m.id,
            int(dedup.until)?
        ])
        .db()?;
    }
    let labels = encode_labels(&m.labels)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
             first_due_at, due_at, max_retries, retried, state, claim, lease_ms, labels, dedup_id, \
             dedup_until, flow_key, extra, run_id, run_step, flow_parallelism, flow_rate, \
             flow_period_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, 0, 'PENDING', 0, \
             ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
        )
        .db()?
        .execute(rusqlite::params![
            m.tenant,
            m.id,
            m.destination,
            m.method,
            encode_headers(&m.headers),
            m.body,
            int(m.created_at)?,
            int(m.due_at)?,
            m.max_retries,
            int(m.lease_ms)?,
            labels,
            m.dedup.as_ref().map(|d| d.id.as_str()),
            m.dedup.as_ref().map(|d| int(d.until)).transpose()?,
            m.flow_key,
            m.extra,
            m.run.as_ref().map(|r| r.run_id.as_str()),
            m.run.as_ref().is_some_and(|r| r.step),
            m.flow_limits.and_then(|l| l.parallelism),
            m.flow_limits.and_then(|l| l.rate),
            m.flow_limits.map(|l| int(l.period_ms)).transpose()?,
        ]);
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::ConstraintViolation => {
            return Err(StoreError::Invalid(format!(
                "message id {} exists already",
                m.id
            )));
        }
        Err(e) => return Err(map_error(e)),
    }
    if let Some(key) = &m.flow_key {
        register_flow_key(conn, &m.tenant, key, m.flow_limits)?;
    }
    if let (Some(seq), Some(link)) = (step_seq, &m.run) {
        conn.prepare_cached(
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .db()?
        .execute(rusqlite::params![
            m.tenant,
            link.run_id,
            seq,
            m.id,
            m.body,
            int(now)?
        ])
        .db()?;
    }
    append_event(
        conn,
        &m.tenant,
        now,
        &m.id,
        "CREATED",
        &m.destination,
        &labels,
        None,
        None,
        None,
    )?;
    Ok(InsertOutcome::Inserted)
}

pub(super) fn insert_all(
    conn: &Connection,
    messages: &[NewMessage],
    now: Millis,
) -> Result<Vec<InsertOutcome>> {
    messages.iter().map(|m| insert_one(conn, m, now)).collect()
}

pub(super) fn cancel(
    conn: &Connection,
    tenant: &str,
    id: &str,
    now: Millis,
) -> Result<CancelOutcome> {
    let current: Option<(i64, String, String, String)> = conn
        .prepare_cached(
            "SELECT rowid, state, destination, labels FROM messages WHERE id = ?1 AND tenant = ?2",
        )
        .db()?
        .query_row(rusqlite::params![id, tenant], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .optional()
        .db()?;
    let Some((rowid, state, url, labels)) = current else {
        return Ok(CancelOutcome::NotFound);
    };
    let state = MessageState::from_name(&state).ok_or_else(|| corrupt("state"))?;
    if state.is_final() {
        return Ok(CancelOutcome::AlreadyFinal(state));
    }
    conn.prepare_cached(
        "UPDATE messages SET state = 'CANCELLED', claim_open = 0, finished_at = ?2 WHERE rowid = ?1",
    )
    .db()?
    .execute([rowid, int(now)?])
    .db()?;
    for event in ["CANCEL_REQUESTED", "CANCELLED"] {
        append_event(
            conn, tenant, now, id, event, &url, &labels, None, None, None,
        )?;
    }
    Ok(CancelOutcome::Cancelled)
}
