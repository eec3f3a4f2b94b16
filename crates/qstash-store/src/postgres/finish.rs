//! Finishing an attempt: the transition of the message, its event, the messages it spawns, its
//! dead letter and the end of its run, all or none.

use super::*;

/// Applies one finish; in the second place, when other processes should look for due work:
/// the earliest due time of the pending messages it stored (a retry, a spawned one), or `now`
/// when it freed a flow-control key's place.
pub(super) async fn finish_one(
    tx: &Transaction<'_>,
    f: &Finish,
) -> Result<(FinishOutcome, Option<Millis>)> {
    // Lock order: the run before its messages, as `end_run` takes them.
    if let Some((run_id, _)) = &f.end_run {
        opt(
            tx,
            "SELECT 1 FROM runs WHERE tenant = $1 AND run_id = $2 FOR UPDATE",
            &[&f.tenant, run_id],
        )
        .await?;
    }
    let (state, retried, due_at) = match f.transition {
        Transition::Delivered => ("DELIVERED", 0i64, None),
        Transition::Failed => ("FAILED", 0, None),
        Transition::Retry { at } => ("PENDING", 1, Some(int(at)?)),
    };
    let (has_response, last_status, last_headers, last_body) = match &f.response {
        Some(r) => (
            true,
            r.status.map(i32::from),
            Some(encode_headers(&r.headers)),
            Some(r.body.as_slice()),
        ),
        None => (false, None, None, None),
    };
    let next = f.event.next_delivery_time.map(int).transpose()?;
    // Whether the message is in its key's wait list (an attempt whose lease ended and that a
    // claim held back): read under the key's lock (`lock_flow_keys`), which every mover takes.
    let was_held = opt(
        tx,
        "SELECT held FROM messages WHERE id = $1 AND tenant = $2",
        &[&f.message_id, &f.tenant],
    )
    .await?
    .map(|row| col::<bool>(&row, 0))
    .transpose()?
    .unwrap_or(false);
    let event_status = f.event.response_status.map(i32::from);
    // A claim is finished at most once: a finish closes it. The event is appended by the same
    // statement, only when the update applies.
    let updated = opt(
        tx,
        "WITH u AS (UPDATE messages SET state = $4, retried = retried + $5, \
         due_at = coalesce($6, due_at), claim_open = FALSE, held = FALSE, \
         finished_at = CASE WHEN $4 = 'PENDING' THEN NULL ELSE $11::BIGINT END, \
         last_status = CASE WHEN $7 THEN $8 ELSE last_status END, \
         last_headers = CASE WHEN $7 THEN $9 ELSE last_headers END, \
         last_body = CASE WHEN $7 THEN $10 ELSE last_body END \
         WHERE id = $1 AND tenant = $2 AND claim = $3 AND claim_open AND state = 'PENDING' \
         RETURNING destination, labels, flow_key, $16::BOOLEAN AS was_held), \
         e AS (INSERT INTO events (tenant, time, message_id, state, url, labels, \
         response_status, error, next_delivery_time) \
         SELECT $2, $11, $1, $12, u.destination, u.labels, $13, $14, $15 FROM u) \
         SELECT flow_key, was_held FROM u",
        &[
            &f.message_id,
            &f.tenant,
            &int(f.claim)?,
            &state,
            &retried,
            &due_at,
            &has_response,
            &last_status,
            &last_headers,
            &last_body,
            &int(f.now)?,
            &f.event.state,
            &event_status,
            &f.event.error,
            &next,
            &was_held,
        ],
    )
    .await?;
    let Some(updated) = updated else {
        return Ok((FinishOutcome::Stale, None));
    };
    // A finished attempt of a key frees its place (or its place in the wait list, for one
    // whose lease had ended): the key's first held messages take it, and other processes may
    // claim them.
    let key = col::<Option<String>>(&updated, 0)?;
    let keyed = key.is_some();
    if let Some(key) = key {
        release(tx, &[(f.tenant.clone(), key, col(&updated, 1)?)], f.now).await?;
    }
    // A run has one ending: when it had ended already, what this finish would spawn for its
    // end (the failure callback) is not inserted.
    let spawn = match &f.end_run {
        Some((run_id, end)) => !matches!(
            end_run(tx, &f.tenant, run_id, end, f.now, Some(&f.message_id)).await?,
            EndRunOutcome::AlreadyEnded(_)
        ),
        None => true,
    };
    let mut wake = match f.transition {
        Transition::Retry { at } => Some(at),
        _ => None,
    };
    if keyed {
        wake = earliest(wake, Some(f.now));
    }
    if spawn {
        for message in &f.spawn {
            if insert_one(tx, message, f.now).await? == InsertOutcome::Inserted {
                wake = earliest(wake, Some(message.due_at));
            }
        }
    }
    if let Some(dlq) = &f.dlq {
        insert_dlq(tx, &f.tenant, &f.message_id, dlq).await?;
    }
    if let Some((dlq_id, state)) = &f.dlq_callback_state {
        exec(
            tx,
            "UPDATE dlq SET failure_callback_state = $3 WHERE dlq_id = $1 AND tenant = $2",
            &[dlq_id, &f.tenant, state],
        )
        .await?;
    }
    Ok((FinishOutcome::Applied, wake))
}
