//! Workflow runs: creating one with its first message (and copied steps), ending one (it cancels
//! its pending messages); the reads of a run's steps and of the list of runs.

use super::*;

pub(super) async fn create_run(
    tx: &Transaction<'_>,
    run: &NewRun,
    steps: &[RunStep],
    first: &NewMessage,
    now: Millis,
) -> Result<CreateRunOutcome> {
    if first.tenant != run.tenant {
        return Err(StoreError::Invalid(format!(
            "the first message of run {} belongs to another tenant",
            run.run_id
        )));
    }
    let created = opt(
        tx,
        "INSERT INTO runs (tenant, run_id, workflow_url, created_at, initial_body, labels, \
         config, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'RUN_STARTED') \
         ON CONFLICT (tenant, run_id) DO NOTHING RETURNING 1",
        &[
            &run.tenant,
            &run.run_id,
            &run.workflow_url,
            &int(run.created_at)?,
            &run.initial_body,
            &encode_labels(&run.labels)?,
            &run.config,
        ],
    )
    .await?;
    if created.is_none() {
        return match get_run(tx, &run.tenant, &run.run_id).await? {
            Some(existing) => Ok(CreateRunOutcome::Exists(existing)),
            None => Err(closed("the run was removed while it was created")),
        };
    }
    if !steps.is_empty() {
        let count = i64::try_from(steps.len())
            .map_err(|_| StoreError::Invalid("too many steps".to_string()))?;
        let seqs: Vec<i64> = (0..count).collect();
        let ids: Vec<&str> = steps.iter().map(|s| s.message_id.as_str()).collect();
        let bodies: Vec<&[u8]> = steps.iter().map(|s| s.body.as_slice()).collect();
        let created_at = steps
            .iter()
            .map(|s| int(s.created_at))
            .collect::<Result<Vec<_>>>()?;
        exec(
            tx,
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             SELECT $1, $2, t.seq, t.message_id, t.body, t.created_at \
             FROM UNNEST($3::int8[], $4::text[], $5::bytea[], $6::int8[]) \
             AS t(seq, message_id, body, created_at)",
            &[&run.tenant, &run.run_id, &seqs, &ids, &bodies, &created_at],
        )
        .await?;
        exec(
            tx,
            "UPDATE runs SET steps = $3 WHERE tenant = $1 AND run_id = $2",
            &[&run.tenant, &run.run_id, &count],
        )
        .await?;
    }
    match insert_one(tx, first, now).await? {
        InsertOutcome::Inserted => Ok(CreateRunOutcome::Created),
        // Both or neither: the transaction rolls back with this error.
        InsertOutcome::Deduplicated { existing_id } => Err(StoreError::Invalid(format!(
            "the first message of run {} is a duplicate of {existing_id}",
            run.run_id
        ))),
        InsertOutcome::RunNotActive(_) => Err(StoreError::Invalid(format!(
            "the first message of run {} is a step of a run that is not started",
            run.run_id
        ))),
    }
}

/// Ends a started run and cancels its pending messages, except `except` (the message whose
/// finish ends the run).
pub(super) async fn end_run(
    tx: &Transaction<'_>,
    tenant: &str,
    run_id: &str,
    end: &EndRun,
    now: Millis,
    except: Option<&str>,
) -> Result<EndRunOutcome> {
    if end.state == RunState::Started {
        return Err(StoreError::Invalid(format!(
            "run {run_id} cannot end in state {}",
            RunState::Started.as_str()
        )));
    }
    let row = opt(
        tx,
        "SELECT state FROM runs WHERE tenant = $1 AND run_id = $2 FOR UPDATE",
        &[&tenant, &run_id],
    )
    .await?;
    let Some(row) = row else {
        return Ok(EndRunOutcome::NotFound);
    };
    let state = RunState::from_name(col(&row, 0)?).ok_or_else(|| corrupt("run state"))?;
    if state != RunState::Started {
        return Ok(EndRunOutcome::AlreadyEnded(state));
    }
    exec(
        tx,
        "UPDATE runs SET state = $3, ended_at = $4, response = $5, reason = $6 \
         WHERE tenant = $1 AND run_id = $2",
        &[
            &tenant,
            &run_id,
            &end.state.as_str(),
            &int(now)?,
            &end.response,
            &end.reason,
        ],
    )
    .await?;
    let cancelled = rows(
        tx,
        "WITH c AS (SELECT seq, held FROM messages WHERE tenant = $1 AND run_id = $2 \
         AND state = 'PENDING' AND id IS DISTINCT FROM $3 ORDER BY seq FOR UPDATE) \
         UPDATE messages m SET state = 'CANCELLED', claim_open = FALSE, held = FALSE, \
         finished_at = $4 FROM c WHERE m.seq = c.seq \
         RETURNING m.seq, m.id, m.destination, m.labels, m.flow_key, c.held",
        &[&tenant, &run_id, &except, &int(now)?],
    )
    .await?;
    // Their keys' places and wait lists (the keys were locked first, see `lock_flow_keys`).
    let mut left = Vec::new();
    for row in &cancelled {
        if let Some(key) = col::<Option<String>>(row, 4)? {
            left.push((tenant.to_string(), key, col::<bool>(row, 5)?));
        }
    }
    release(tx, &left, now).await?;
    let mut cancelled = cancelled
        .iter()
        .map(|row| {
            Ok((
                col::<i64>(row, 0)?,
                col::<String>(row, 1)?,
                col::<String>(row, 2)?,
                col::<String>(row, 3)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    cancelled.sort_by_key(|c| c.0);
    let mut ev = EventColumns::default();
    for (_, id, url, labels) in &cancelled {
        ev.push(tenant, now, id, "CANCELLED", url, labels, None, None, None)?;
    }
    ev.insert(tx).await?;
    Ok(EndRunOutcome::Ended)
}

pub(super) async fn run_steps<C: GenericClient>(
    c: &C,
    tenant: &str,
    run_id: &str,
    up_to: Option<&str>,
) -> Result<Vec<RunStep>> {
    let last = match up_to {
        Some(message_id) => {
            let seq = opt(
                c,
                "SELECT seq FROM run_steps WHERE tenant = $1 AND message_id = $2 AND run_id = $3",
                &[&tenant, &message_id, &run_id],
            )
            .await?;
            match seq {
                Some(row) => col::<i64>(&row, 0)?,
                None => return Ok(Vec::new()),
            }
        }
        None => i64::MAX,
    };
    let found = rows(
        c,
        "SELECT seq, message_id, body, created_at FROM run_steps \
         WHERE tenant = $1 AND run_id = $2 AND seq <= $3 ORDER BY seq",
        &[&tenant, &run_id, &last],
    )
    .await?;
    found
        .iter()
        .map(|row| {
            Ok(RunStep {
                seq: uint(col(row, 0)?)?,
                message_id: col(row, 1)?,
                body: col(row, 2)?,
                created_at: uint(col(row, 3)?)?,
            })
        })
        .collect()
}

pub(super) async fn list_runs<C: GenericClient>(
    c: &C,
    tenant: &str,
    filter: &RunFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<StoredRun>> {
    let count = count.max(1);
    let cursor = cursor_value(cursor);
    let limit = page_limit(count);
    let needle = filter.label.as_deref().map(label_needle);
    let state = filter.state.map(RunState::as_str);
    let mut p = Params::new();
    let mut sql = format!(
        "SELECT {RUN_COLS} FROM runs r WHERE r.tenant = {} AND r.seq < {}",
        p.add(&tenant),
        p.add(&cursor)
    );
    if let Some(run_id) = &filter.run_id {
        sql.push_str(&format!(" AND r.run_id = {}", p.add(run_id)));
    }
    if let Some(url) = &filter.workflow_url {
        sql.push_str(&format!(" AND r.workflow_url = {}", p.add(url)));
    }
    if let Some(state) = &state {
        sql.push_str(&format!(" AND r.state = {}", p.add(state)));
    }
    if let Some(needle) = &needle {
        sql.push_str(&format!(" AND strpos(r.labels, {}) > 0", p.add(needle)));
    }
    sql.push_str(&format!(" ORDER BY r.seq DESC LIMIT {}", p.add(&limit)));
    let found = rows(c, &sql, &p.values).await?;
    let mut items = found.iter().map(decode_run).collect::<Result<Vec<_>>>()?;
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}
