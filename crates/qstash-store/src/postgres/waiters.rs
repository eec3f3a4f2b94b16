//! Waiters (a run's waits for an event): registering one, listing them, releasing one under the
//! message's row lock.

use super::*;

pub(super) async fn register_waiter(
    tx: &Transaction<'_>,
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
    let outcome = insert_one(tx, m, now).await?;
    if outcome == InsertOutcome::Inserted {
        exec(
            tx,
            "INSERT INTO waiters (tenant, event_id, message_id) VALUES ($1, $2, $3)",
            &[&m.tenant, &event_id, &m.id],
        )
        .await?;
    }
    Ok(outcome)
}

pub(super) async fn list_waiters<C: GenericClient>(
    c: &C,
    tenant: &str,
    event_id: &str,
    run_id: Option<&str>,
) -> Result<Vec<Waiter>> {
    let sql = format!(
        "SELECT {MSG_COLS} FROM waiters w JOIN messages m ON m.id = w.message_id \
         WHERE w.tenant = $1 AND w.event_id = $2 AND m.tenant = w.tenant \
         AND m.state = 'PENDING' AND m.claim = 0 AND ($3::text IS NULL OR m.run_id = $3) \
         ORDER BY w.seq"
    );
    let found = rows(c, &sql, &[&tenant, &event_id, &run_id]).await?;
    found
        .iter()
        .map(|row| {
            Ok(Waiter {
                event_id: event_id.to_string(),
                message: decode_message(row, 0)?,
            })
        })
        .collect()
}

/// Releases a waiter; the message's row lock makes it exclude the claim of its timeout.
pub(super) async fn release_waiter(
    tx: &Transaction<'_>,
    tenant: &str,
    message_id: &str,
    body: &[u8],
    now: Millis,
) -> Result<bool> {
    let found = opt(
        tx,
        "SELECT m.seq, m.run_id FROM waiters w JOIN messages m ON m.id = w.message_id \
         WHERE w.tenant = $1 AND w.message_id = $2 AND m.tenant = w.tenant \
         AND m.state = 'PENDING' AND m.claim = 0 FOR UPDATE OF m",
        &[&tenant, &message_id],
    )
    .await?;
    let Some(row) = found else {
        return Ok(false);
    };
    let seq: i64 = col(&row, 0)?;
    let run_id: Option<String> = col(&row, 1)?;
    exec(
        tx,
        "UPDATE messages SET body = $2, due_at = $3 WHERE seq = $1",
        &[&seq, &body, &int(now)?],
    )
    .await?;
    if let Some(run_id) = run_id {
        exec(
            tx,
            "UPDATE run_steps SET body = $4 WHERE tenant = $1 AND run_id = $2 AND message_id = $3",
            &[&tenant, &run_id, &message_id, &body],
        )
        .await?;
    }
    exec(
        tx,
        "DELETE FROM waiters WHERE message_id = $1",
        &[&message_id],
    )
    .await?;
    Ok(true)
}
