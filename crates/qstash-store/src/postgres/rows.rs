//! Errors of the driver mapped to [`StoreError`]s, statement helpers, and the decoding of rows
//! into the model's values (messages, events, dead letters, runs).

use super::*;

pub(super) fn pg(e: tokio_postgres::Error) -> StoreError {
    let (kind, message) = match e.as_db_error() {
        Some(db) => {
            let code = db.code();
            (
                sqlstate_kind(code),
                format!("{} ({})", db.message(), code.code()),
            )
        }
        None => (StoreErrorKind::Unavailable, e.to_string()),
    };
    StoreError::backend(kind, message, e)
}

/// The kind of a PostgreSQL error, from its SQLSTATE code.
pub(super) fn sqlstate_kind(code: &SqlState) -> StoreErrorKind {
    let class = code.code().get(..2).unwrap_or("");
    if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE {
        StoreErrorKind::Busy
    } else if *code == SqlState::DISK_FULL {
        StoreErrorKind::Full
    } else if *code == SqlState::DATA_CORRUPTED || *code == SqlState::INDEX_CORRUPTED {
        StoreErrorKind::Corrupt
    } else if class == "23" || class == "22" {
        StoreErrorKind::Invalid
    } else {
        StoreErrorKind::Unavailable
    }
}

pub(super) fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg(e),
        other => StoreError::Unavailable(format!("no database connection: {other}")),
    }
}

pub(super) fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T> {
    row.try_get(i)
        .map_err(|e| StoreError::Corrupt(format!("column {i}: {e}")))
}

/// The flow-limit columns of a message: parallelism, rate, period (all `None` without limits).
#[allow(clippy::type_complexity)]
pub(super) fn flow_columns(
    limits: Option<FlowLimits>,
) -> Result<(Option<i64>, Option<i64>, Option<i64>)> {
    Ok(match limits {
        Some(l) => (
            l.parallelism.map(i64::from),
            l.rate.map(i64::from),
            Some(int(l.period_ms)?),
        ),
        None => (None, None, None),
    })
}

pub(super) fn status(v: Option<i32>) -> Result<Option<u16>> {
    v.map(|s| u16::try_from(s).map_err(|_| corrupt("status")))
        .transpose()
}

pub(super) fn cursor_value(cursor: Option<u64>) -> i64 {
    cursor.map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX))
}

pub(super) async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query(&stmt, params).await.map_err(pg)
}

pub(super) async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_opt(&stmt, params).await.map_err(pg)
}

pub(super) async fn one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.query_one(&stmt, params).await.map_err(pg)
}

pub(super) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(pg)?;
    c.execute(&stmt, params).await.map_err(pg)
}

pub(super) fn decode_message(row: &Row, at: usize) -> Result<StoredMessage> {
    let get_u64 = |i: usize| -> Result<u64> { uint(col::<i64>(row, at + i)?) };
    let dedup_id: Option<String> = col(row, at + 15)?;
    let dedup_until: Option<i64> = col(row, at + 16)?;
    let dedup = match (dedup_id, dedup_until) {
        (Some(id), Some(until)) => Some(Dedup {
            id,
            until: uint(until)?,
        }),
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("deduplication id")),
    };
    let state: &str = col(row, at + 11)?;
    let state = MessageState::from_name(state).ok_or_else(|| corrupt("state"))?;
    let labels: &str = col(row, at + 14)?;
    let headers: &[u8] = col(row, at + 4)?;
    let last_headers: Option<&[u8]> = col(row, at + 20)?;
    let last_response = match last_headers {
        Some(h) => Some(AttemptResponse {
            status: status(col(row, at + 19)?)?,
            headers: decode_headers(h)?,
            body: col::<Option<Vec<u8>>>(row, at + 21)?.unwrap_or_default(),
        }),
        None => None,
    };
    let run_id: Option<String> = col(row, at + 22)?;
    let run = match run_id {
        Some(run_id) => Some(RunLink {
            run_id,
            step: col(row, at + 23)?,
        }),
        None => None,
    };
    let flow_limits = match col::<Option<i64>>(row, at + 26)? {
        Some(period_ms) => Some(FlowLimits {
            parallelism: opt_u32(col(row, at + 24)?, "flow parallelism")?,
            rate: opt_u32(col(row, at + 25)?, "flow rate")?,
            period_ms: uint(period_ms)?,
        }),
        None => None,
    };
    let max_retries = u32::try_from(get_u64(9)?).map_err(|_| corrupt("max retries"))?;
    let retried = u32::try_from(get_u64(10)?).map_err(|_| corrupt("retried"))?;
    Ok(StoredMessage {
        message: NewMessage {
            tenant: col(row, at)?,
            id: col(row, at + 1)?,
            destination: col(row, at + 2)?,
            method: col(row, at + 3)?,
            headers: decode_headers(headers)?,
            body: col(row, at + 5)?,
            created_at: get_u64(6)?,
            due_at: get_u64(7)?,
            max_retries,
            lease_ms: get_u64(13)?,
            labels: decode_labels(labels)?,
            dedup,
            flow_key: col(row, at + 17)?,
            flow_limits,
            extra: col(row, at + 18)?,
            run,
        },
        state,
        retried,
        due_at: get_u64(8)?,
        claim: get_u64(12)?,
        last_response,
    })
}

pub(super) const EVENT_COLS: &str = "id, time, message_id, state, url, labels, response_status, error, \
     next_delivery_time";

pub(super) fn decode_event(row: &Row) -> Result<Event> {
    let labels: &str = col(row, 5)?;
    Ok(Event {
        id: uint(col(row, 0)?)?,
        time: uint(col(row, 1)?)?,
        message_id: col(row, 2)?,
        state: col(row, 3)?,
        url: col(row, 4)?,
        labels: decode_labels(labels)?,
        response_status: status(col(row, 6)?)?,
        error: col(row, 7)?,
        next_delivery_time: opt_uint(col(row, 8)?)?,
    })
}

pub(super) fn decode_dlq(row: &Row) -> Result<DlqEntry> {
    let headers: &[u8] = col(row, 4)?;
    Ok(DlqEntry {
        seq: uint(col(row, 0)?)?,
        dlq_id: col(row, 1)?,
        created_at: uint(col(row, 2)?)?,
        response: AttemptResponse {
            status: status(col(row, 3)?)?,
            headers: decode_headers(headers)?,
            body: col(row, 5)?,
        },
        failure_callback: col(row, 6)?,
        failure_callback_state: col(row, 7)?,
        message: decode_message(row, DLQ_NCOLS)?,
    })
}

pub(super) fn decode_run(row: &Row) -> Result<StoredRun> {
    let labels: &str = col(row, 6)?;
    let state: &str = col(row, 8)?;
    Ok(StoredRun {
        seq: uint(col(row, 0)?)?,
        run: NewRun {
            tenant: col(row, 1)?,
            run_id: col(row, 2)?,
            workflow_url: col(row, 3)?,
            created_at: uint(col(row, 4)?)?,
            initial_body: col(row, 5)?,
            labels: decode_labels(labels)?,
            config: col(row, 7)?,
        },
        state: RunState::from_name(state).ok_or_else(|| corrupt("run state"))?,
        ended_at: opt_uint(col(row, 9)?)?,
        response: col(row, 10)?,
        reason: col(row, 11)?,
    })
}

pub(super) async fn get_run<C: GenericClient>(
    c: &C,
    tenant: &str,
    run_id: &str,
) -> Result<Option<StoredRun>> {
    let sql = format!("SELECT {RUN_COLS} FROM runs r WHERE r.tenant = $1 AND r.run_id = $2");
    match opt(c, &sql, &[&tenant, &run_id]).await? {
        Some(row) => Ok(Some(decode_run(&row)?)),
        None => Ok(None),
    }
}

/// Builds a statement's parameters as it grows.
pub(super) struct Params<'a> {
    pub(super) values: Vec<&'a (dyn ToSql + Sync)>,
}

impl<'a> Params<'a> {
    pub(super) fn new() -> Self {
        Params { values: Vec::new() }
    }

    /// Adds a value and returns its placeholder (`$n`).
    pub(super) fn add(&mut self, value: &'a (dyn ToSql + Sync)) -> String {
        self.values.push(value);
        format!("${}", self.values.len())
    }
}
