//! The writes of messages (inside a transaction): appending an event, inserting messages with
//! deduplication and run steps, cancelling.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) async fn append_event(
    tx: &Transaction<'_>,
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
    let status = response_status.map(i32::from);
    exec(
        tx,
        "INSERT INTO events (tenant, time, message_id, state, url, labels, response_status, \
         error, next_delivery_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &tenant,
            &int(time)?,
            &message_id,
            &state,
            &url,
            &labels,
            &status,
            &error,
            &next,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn insert_one(
    tx: &Transaction<'_>,
    m: &NewMessage,
    now: Millis,
) -> Result<InsertOutcome> {
    let now_i = int(now)?;
    if let Some(dedup) = &m.dedup {
        let existing = opt(
            tx,
            "SELECT message_id, until FROM dedup WHERE tenant = $1 AND dedup_id = $2",
            &[&m.tenant, &dedup.id],
        )
        .await?;
        if let Some(row) = existing
            && uint(col(&row, 1)?)? > now
        {
            return Ok(InsertOutcome::Deduplicated {
                existing_id: col(&row, 0)?,
            });
        }
    }
    // A step is stored only while its run is started; the run's row lock orders its steps.
    let step_run = match &m.run {
        Some(link) if link.step => {
            let state = opt(
                tx,
                "SELECT state FROM runs WHERE tenant = $1 AND run_id = $2 FOR UPDATE",
                &[&m.tenant, &link.run_id],
            )
            .await?;
            let Some(row) = state else {
                return Ok(InsertOutcome::RunNotActive(None));
            };
            let state = RunState::from_name(col(&row, 0)?).ok_or_else(|| corrupt("run state"))?;
            if state != RunState::Started {
                return Ok(InsertOutcome::RunNotActive(Some(state)));
            }
            Some(link.run_id.as_str())
        }
        _ => None,
    };
    if let Some(dedup) = &m.dedup {
        // Forget a few expired ids on the way, so that the table stays small.
        exec(
            tx,
            "DELETE FROM dedup WHERE ctid = ANY(ARRAY(SELECT ctid FROM dedup WHERE until <= $1 \
             LIMIT 8 FOR UPDATE SKIP LOCKED))",
            &[&now_i],
        )
        .await?;
        // Another transaction may have taken the id since it was read: the upsert decides.
        let taken = opt(
            tx,
            "INSERT INTO dedup (tenant, dedup_id, message_id, until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, dedup_id) DO UPDATE \
             SET message_id = EXCLUDED.message_id, until = EXCLUDED.until \
             WHERE dedup.until <= $5 RETURNING 1",
            &[&m.tenant, &dedup.id, &m.id, &int(dedup.until)?, &now_i],
        )
        .await?;
        if taken.is_none() {
            let row = one(
                tx,
                "SELECT message_id FROM dedup WHERE tenant = $1 AND dedup_id = $2",
                &[&m.tenant, &dedup.id],
            )
            .await?;
            return Ok(InsertOutcome::Deduplicated {
                existing_id: col(&row, 0)?,
            });
        }
    }
    let labels = encode_labels(&m.labels)?;
    let run_id = m.run.as_ref().map(|r| r.run_id.as_str());
    let run_step = m.run.as_ref().is_some_and(|r| r.step);
    let flow = flow_columns(m.flow_limits)?;
    let inserted = opt(
        tx,
        "INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
         first_due_at, due_at, max_retries, state, lease_ms, labels, dedup_id, dedup_until, \
         flow_key, extra, run_id, run_step, flow_parallelism, flow_rate, flow_period_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, 'PENDING', $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19, $20) ON CONFLICT (id) DO NOTHING RETURNING 1",
        &[
            &m.tenant,
            &m.id,
            &m.destination,
            &m.method,
            &encode_headers(&m.headers),
            &m.body,
            &int(m.created_at)?,
            &int(m.due_at)?,
            &i64::from(m.max_retries),
            &int(m.lease_ms)?,
            &labels,
            &m.dedup.as_ref().map(|d| d.id.as_str()),
            &m.dedup.as_ref().map(|d| int(d.until)).transpose()?,
            &m.flow_key,
            &m.extra,
            &run_id,
            &run_step,
            &flow.0,
            &flow.1,
            &flow.2,
        ],
    )
    .await?;
    if inserted.is_none() {
        return Err(StoreError::Invalid(format!(
            "message id {} exists already",
            m.id
        )));
    }
    if let Some(key) = &m.flow_key {
        let mut keys = FlowKeys::default();
        keys.add(&m.tenant, key, m.flow_limits);
        keys.register(tx, now).await?;
    }
    if let Some(run_id) = step_run {
        let row = one(
            tx,
            "UPDATE runs SET steps = steps + 1 WHERE tenant = $1 AND run_id = $2 \
             RETURNING steps - 1",
            &[&m.tenant, &run_id],
        )
        .await?;
        let seq: i64 = col(&row, 0)?;
        exec(
            tx,
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&m.tenant, &run_id, &seq, &m.id, &m.body, &now_i],
        )
        .await?;
    }
    append_event(
        tx,
        &m.tenant,
        now,
        &m.id,
        "CREATED",
        &m.destination,
        &labels,
        None,
        None,
        None,
    )
    .await?;
    Ok(InsertOutcome::Inserted)
}

pub(super) async fn insert_all(
    tx: &Transaction<'_>,
    messages: &[NewMessage],
    now: Millis,
) -> Result<Vec<InsertOutcome>> {
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        out.push(insert_one(tx, m, now).await?);
    }
    Ok(out)
}

pub(super) async fn cancel(
    tx: &Transaction<'_>,
    tenant: &str,
    id: &str,
    now: Millis,
) -> Result<CancelOutcome> {
    // The key first (see `lock_flow_keys`).
    lock_flow_keys(tx, &[(tenant, id)], &[]).await?;
    let current = opt(
        tx,
        "SELECT state, destination, labels, flow_key, held FROM messages \
         WHERE id = $1 AND tenant = $2 FOR UPDATE",
        &[&id, &tenant],
    )
    .await?;
    let Some(row) = current else {
        return Ok(CancelOutcome::NotFound);
    };
    let state = MessageState::from_name(col(&row, 0)?).ok_or_else(|| corrupt("state"))?;
    if state.is_final() {
        return Ok(CancelOutcome::AlreadyFinal(state));
    }
    let url: String = col(&row, 1)?;
    let labels: String = col(&row, 2)?;
    exec(
        tx,
        "UPDATE messages SET state = 'CANCELLED', claim_open = FALSE, held = FALSE, \
         finished_at = $2 WHERE id = $1",
        &[&id, &int(now)?],
    )
    .await?;
    if let Some(key) = col::<Option<String>>(&row, 3)? {
        release(tx, &[(tenant.to_string(), key, col(&row, 4)?)], now).await?;
    }
    for event in ["CANCEL_REQUESTED", "CANCELLED"] {
        append_event(tx, tenant, now, id, event, &url, &labels, None, None, None).await?;
    }
    Ok(CancelOutcome::Cancelled)
}
