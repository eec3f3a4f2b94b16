//! Finishing an attempt: the transition of the message, its event, the messages it spawns, its
//! dead letter and the end of its run, all or none.

use super::*;

pub(super) fn finish_one(conn: &Connection, f: &Finish) -> Result<FinishOutcome> {
    type Current = (i64, String, i64, bool, String, String, Option<String>, bool);
    let current: Option<Current> = conn
        .prepare_cached(
            "SELECT rowid, state, claim, claim_open, destination, labels, flow_key, held \
             FROM messages WHERE id = ?1 AND tenant = ?2",
        )
        .db()?
        .query_row(rusqlite::params![f.message_id, f.tenant], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
            ))
        })
        .optional()
        .db()?;
    let Some((rowid, state, claim, open, url, labels, flow_key, held)) = current else {
        return Ok(FinishOutcome::Stale);
    };
    // A claim is finished at most once: a finish closes it.
    if state != MessageState::Pending.as_str() || !open || uint(claim)? != f.claim {
        return Ok(FinishOutcome::Stale);
    }
    let changed = match f.transition {
        Transition::Delivered => conn
            .prepare_cached(
                "UPDATE messages SET state = 'DELIVERED', claim_open = 0, held = 0, finished_at = ?2 \
                 WHERE rowid = ?1",
            )
            .db()?
            .execute([rowid, int(f.now)?]),
        Transition::Failed => conn
            .prepare_cached(
                "UPDATE messages SET state = 'FAILED', claim_open = 0, held = 0, finished_at = ?2 \
                 WHERE rowid = ?1",
            )
            .db()?
            .execute([rowid, int(f.now)?]),
        Transition::Retry { at } => conn
            .prepare_cached(
                "UPDATE messages SET retried = retried + 1, due_at = ?2, claim_open = 0, held = 0 \
                 WHERE rowid = ?1",
            )
            .db()?
            .execute([rowid, int(at)?]),
    }
    .db()?;
    if changed != 1 {
        return Err(corrupt("message"));
    }
    // The attempt's place (or its place in the wait list, for one whose lease had ended) goes
    // to the key's first held messages.
    if let Some(key) = &flow_key {
        release(conn, &f.tenant, key, held, f.now)?;
    }
    if let Some(response) = &f.response {
        conn.prepare_cached(
            "UPDATE messages SET last_status = ?2, last_headers = ?3, last_body = ?4 \
             WHERE rowid = ?1",
        )
        .db()?
        .execute(rusqlite::params![
            rowid,
            response.status,
            encode_headers(&response.headers),
            response.body
        ])
        .db()?;
    }
    append_event(
        conn,
        &f.tenant,
        f.now,
        &f.message_id,
        &f.event.state,
        &url,
        &labels,
        f.event.response_status,
        f.event.error.as_deref(),
        f.event.next_delivery_time,
    )?;
    // A run has one ending: when it had ended already, what this finish would spawn for its
    // end (the failure callback) is not inserted.
    let spawn = match &f.end_run {
        Some((run_id, end)) => !matches!(
            end_run(conn, &f.tenant, run_id, end, f.now, Some(&f.message_id))?,
            EndRunOutcome::AlreadyEnded(_)
        ),
        None => true,
    };
    for message in f.spawn.iter().filter(|_| spawn) {
        insert_one(conn, message, f.now)?;
    }
    if let Some(dlq) = &f.dlq {
        insert_dlq(conn, &f.tenant, &f.message_id, dlq)?;
    }
    if let Some((dlq_id, state)) = &f.dlq_callback_state {
        conn.prepare_cached(
            "UPDATE dlq SET failure_callback_state = ?3 WHERE dlq_id = ?1 AND tenant = ?2",
        )
        .db()?
        .execute(rusqlite::params![dlq_id, f.tenant, state])
        .db()?;
    }
    Ok(FinishOutcome::Applied)
}
