//! Workflow runs: creating one with its first message (and copied steps), ending one (it cancels
//! its pending messages); the reads of a run's steps and of the list of runs.

use super::*;

/// The next step number of a started run, or (as the error) the state of a run that is not
/// started (`None`: no such run).
pub(super) fn next_step(
    conn: &Connection,
    tenant: &str,
    run_id: &str,
) -> Result<std::result::Result<i64, Option<RunState>>> {
    let run: Option<(String, Option<i64>)> = conn
        .prepare_cached(
            "SELECT r.state, (SELECT MAX(s.seq) FROM run_steps s \
             WHERE s.tenant = r.tenant AND s.run_id = r.run_id) \
             FROM runs r WHERE r.tenant = ?1 AND r.run_id = ?2",
        )
        .db()?
        .query_row([tenant, run_id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .db()?;
    let Some((state, last)) = run else {
        return Ok(Err(None));
    };
    let state = RunState::from_name(&state).ok_or_else(|| corrupt("run state"))?;
    if state != RunState::Started {
        return Ok(Err(Some(state)));
    }
    Ok(Ok(last.map_or(0, |seq| seq + 1)))
}

pub(super) fn create_run(
    conn: &Connection,
    run: &NewRun,
    first: &NewMessage,
    now: Millis,
) -> Result<CreateRunOutcome> {
    create_run_with_steps(conn, run, &[], first, now)
}

/// Stores the first message of a run just created.
pub(super) fn first_of_run(
    conn: &Connection,
    run: &NewRun,
    first: &NewMessage,
    now: Millis,
) -> Result<CreateRunOutcome> {
    match insert_one(conn, first, now)? {
        InsertOutcome::Inserted => Ok(CreateRunOutcome::Created),
        // Both or neither: the caller's savepoint rolls the run back with this error.
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

pub(super) fn create_run_with_steps(
    conn: &Connection,
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
    if let Some(existing) = get_run(conn, &run.tenant, &run.run_id)? {
        return Ok(CreateRunOutcome::Exists(existing));
    }
    conn.prepare_cached(
        "INSERT INTO runs (tenant, run_id, workflow_url, created_at, initial_body, labels, \
         config, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'RUN_STARTED')",
    )
    .db()?
    .execute(rusqlite::params![
        run.tenant,
        run.run_id,
        run.workflow_url,
        int(run.created_at)?,
        run.initial_body,
        encode_labels(&run.labels)?,
        run.config,
    ])
    .db()?;
    for (seq, step) in steps.iter().enumerate() {
        conn.prepare_cached(
            "INSERT INTO run_steps (tenant, run_id, seq, message_id, body, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .db()?
        .execute(rusqlite::params![
            run.tenant,
            run.run_id,
            i64::try_from(seq).map_err(|_| StoreError::Invalid("too many steps".into()))?,
            step.message_id,
            step.body,
            int(step.created_at)?
        ])
        .db()?;
    }
    first_of_run(conn, run, first, now)
}

/// Ends a started run and cancels its pending messages, except `except` (the message whose
/// finish ends the run).
pub(super) fn end_run(
    conn: &Connection,
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
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM runs WHERE tenant = ?1 AND run_id = ?2")
        .db()?
        .query_row([tenant, run_id], |row| row.get(0))
        .optional()
        .db()?;
    let Some(state) = state else {
        return Ok(EndRunOutcome::NotFound);
    };
    let state = RunState::from_name(&state).ok_or_else(|| corrupt("run state"))?;
    if state != RunState::Started {
        return Ok(EndRunOutcome::AlreadyEnded(state));
    }
    conn.prepare_cached(
        "UPDATE runs SET state = ?3, ended_at = ?4, response = ?5, reason = ?6 \
         WHERE tenant = ?1 AND run_id = ?2",
    )
    .db()?
    .execute(rusqlite::params![
        tenant,
        run_id,
        end.state.as_str(),
        int(now)?,
        end.response,
        end.reason,
    ])
    .db()?;
    type Pending = (i64, String, String, String, Option<String>, bool);
    let pending: Vec<Pending> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT rowid, id, destination, labels, flow_key, held FROM messages \
                 WHERE tenant = ?1 AND run_id = ?2 AND state = 'PENDING'",
            )
            .db()?;
        let rows = stmt
            .query_map([tenant, run_id], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })
            .db()?;
        rows.collect::<rusqlite::Result<_>>().db()?
    };
    for (rowid, id, url, labels, flow_key, held) in pending {
        if except == Some(id.as_str()) {
            continue;
        }
        conn.prepare_cached(
            "UPDATE messages SET state = 'CANCELLED', claim_open = 0, held = 0, finished_at = ?2 \
             WHERE rowid = ?1",
        )
        .db()?
        .execute([rowid, int(now)?])
        .db()?;
        if let Some(key) = &flow_key {
            release(conn, tenant, key, held, now)?;
        }
        append_event(
            conn,
            tenant,
            now,
            &id,
            "CANCELLED",
            &url,
            &labels,
            None,
            None,
            None,
        )?;
    }
    Ok(EndRunOutcome::Ended)
}

pub(super) fn run_steps(
    conn: &Connection,
    tenant: &str,
    run_id: &str,
    up_to: Option<&str>,
) -> Result<Vec<RunStep>> {
    let last = match up_to {
        Some(message_id) => {
            let seq: Option<i64> = conn
                .prepare_cached(
                    "SELECT seq FROM run_steps \
                     WHERE tenant = ?1 AND message_id = ?2 AND run_id = ?3",
                )
                .db()?
                .query_row([tenant, message_id, run_id], |row| row.get(0))
                .optional()
                .db()?;
            match seq {
                Some(seq) => seq,
                None => return Ok(Vec::new()),
            }
        }
        None => i64::MAX,
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, message_id, body, created_at FROM run_steps \
             WHERE tenant = ?1 AND run_id = ?2 AND seq <= ?3 ORDER BY seq",
        )
        .db()?;
    let mut rows = stmt.query(rusqlite::params![tenant, run_id, last]).db()?;
    let mut steps = Vec::new();
    while let Some(row) = rows.next().db()? {
        steps.push(RunStep {
            seq: uint(row.get(0).db()?)?,
            message_id: row.get(1).db()?,
            body: row.get(2).db()?,
            created_at: uint(row.get(3).db()?)?,
        });
    }
    Ok(steps)
}

pub(super) fn list_runs(
    conn: &Connection,
    tenant: &str,
    filter: &RunFilter,
    cursor: Option<u64>,
    count: usize,
) -> Result<Page<StoredRun>> {
    let count = count.max(1);
    let mut sql = format!("SELECT {RUN_COLS} FROM runs r WHERE r.tenant = :tenant");
    let cursor = cursor.map(|c| i64::try_from(c).unwrap_or(i64::MAX));
    let needle = filter.label.as_deref().map(label_needle);
    let state = filter.state.map(RunState::as_str);
    let limit = page_limit(count);
    let mut params: Vec<(&str, &dyn ToSql)> = vec![(":tenant", &tenant), (":limit", &limit)];
    if let Some(cursor) = &cursor {
        sql.push_str(" AND r.seq < :cursor");
        params.push((":cursor", cursor));
    }
    if let Some(run_id) = &filter.run_id {
        sql.push_str(" AND r.run_id = :run_id");
        params.push((":run_id", run_id));
    }
    if let Some(url) = &filter.workflow_url {
        sql.push_str(" AND r.workflow_url = :url");
        params.push((":url", url));
    }
    if let Some(state) = &state {
        sql.push_str(" AND r.state = :state");
        params.push((":state", state));
    }
    if let Some(needle) = &needle {
        sql.push_str(" AND instr(r.labels, :label) > 0");
        params.push((":label", needle));
    }
    sql.push_str(" ORDER BY r.seq DESC LIMIT :limit");
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt.query(params.as_slice()).db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        items.push(decode_run(row)?);
    }
    let next = if items.len() > count {
        items.truncate(count);
        items.last().map(|r| r.seq)
    } else {
        None
    };
    Ok(Page { items, next })
}
