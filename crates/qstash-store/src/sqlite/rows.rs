//! Errors of the driver mapped to [`StoreError`]s, and the decoding of rows into the model's
//! values (messages, events, dead letters, runs).

use super::*;

pub(super) trait Db<T> {
    fn db(self) -> Result<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(map_error)
    }
}

pub(super) fn map_error(e: rusqlite::Error) -> StoreError {
    StoreError::backend(sqlite_kind(&e), e.to_string(), e)
}

/// A driver error with what was being done.
pub(super) fn driver_error(doing: &str, e: rusqlite::Error) -> StoreError {
    StoreError::backend(sqlite_kind(&e), format!("{doing}: {e}"), e)
}

/// The kind of an SQLite error, from its result code.
pub(super) fn sqlite_kind(e: &rusqlite::Error) -> StoreErrorKind {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreErrorKind::Corrupt,
            ErrorCode::ConstraintViolation => StoreErrorKind::Invalid,
            ErrorCode::DiskFull => StoreErrorKind::Full,
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreErrorKind::Busy,
            _ => StoreErrorKind::Unavailable,
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..) => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Unavailable,
    }
}

pub(super) fn status(v: Option<i64>) -> Result<Option<u16>> {
    v.map(|s| u16::try_from(s).map_err(|_| corrupt("status")))
        .transpose()
}

pub(super) fn decode_message(row: &Row<'_>, at: usize) -> Result<StoredMessage> {
    let get_u64 = |i: usize| -> Result<u64> { uint(row.get::<_, i64>(at + i).db()?) };
    let dedup_id: Option<String> = row.get(at + 15).db()?;
    let dedup_until: Option<i64> = row.get(at + 16).db()?;
    let dedup = match (dedup_id, dedup_until) {
        (Some(id), Some(until)) => Some(Dedup {
            id,
            until: uint(until)?,
        }),
        (None, _) => None,
        (Some(_), None) => return Err(corrupt("deduplication id")),
    };
    let state: String = row.get(at + 11).db()?;
    let state = MessageState::from_name(&state).ok_or_else(|| corrupt("state"))?;
    let labels: String = row.get(at + 14).db()?;
    let headers: Vec<u8> = row.get(at + 4).db()?;
    let last_headers: Option<Vec<u8>> = row.get(at + 20).db()?;
    let last_response = match last_headers {
        Some(h) => Some(AttemptResponse {
            status: status(row.get(at + 19).db()?)?,
            headers: decode_headers(&h)?,
            body: row
                .get::<_, Option<Vec<u8>>>(at + 21)
                .db()?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let run_id: Option<String> = row.get(at + 22).db()?;
    let run = match run_id {
        Some(run_id) => Some(RunLink {
            run_id,
            step: row.get::<_, i64>(at + 23).db()? != 0,
        }),
        None => None,
    };
    let flow_limits = match row.get::<_, Option<i64>>(at + 26).db()? {
        Some(period_ms) => Some(FlowLimits {
            parallelism: opt_u32(row.get(at + 24).db()?, "flow parallelism")?,
            rate: opt_u32(row.get(at + 25).db()?, "flow rate")?,
            period_ms: uint(period_ms)?,
        }),
        None => None,
    };
    let max_retries = u32::try_from(get_u64(9)?).map_err(|_| corrupt("max retries"))?;
    let retried = u32::try_from(get_u64(10)?).map_err(|_| corrupt("retried"))?;
    Ok(StoredMessage {
        message: NewMessage {
            tenant: row.get(at).db()?,
            id: row.get(at + 1).db()?,
            destination: row.get(at + 2).db()?,
            method: row.get(at + 3).db()?,
            headers: decode_headers(&headers)?,
            body: row.get(at + 5).db()?,
            created_at: get_u64(6)?,
            due_at: get_u64(7)?,
            max_retries,
            lease_ms: get_u64(13)?,
            labels: decode_labels(&labels)?,
            dedup,
            flow_key: row.get(at + 17).db()?,
            flow_limits,
            extra: row.get(at + 18).db()?,
            run,
        },
        state,
        retried,
        due_at: get_u64(8)?,
        claim: get_u64(12)?,
        last_response,
    })
}

pub(super) fn decode_event(row: &Row<'_>) -> Result<Event> {
    let labels: String = row.get(5).db()?;
    Ok(Event {
        id: uint(row.get(0).db()?)?,
        time: uint(row.get(1).db()?)?,
        message_id: row.get(2).db()?,
        state: row.get(3).db()?,
        url: row.get(4).db()?,
        labels: decode_labels(&labels)?,
        response_status: status(row.get(6).db()?)?,
        error: row.get(7).db()?,
        next_delivery_time: opt_uint(row.get(8).db()?)?,
    })
}

pub(super) fn decode_dlq(row: &Row<'_>) -> Result<DlqEntry> {
    let headers: Vec<u8> = row.get(4).db()?;
    Ok(DlqEntry {
        seq: uint(row.get(0).db()?)?,
        dlq_id: row.get(1).db()?,
        created_at: uint(row.get(2).db()?)?,
        response: AttemptResponse {
            status: status(row.get(3).db()?)?,
            headers: decode_headers(&headers)?,
            body: row.get(5).db()?,
        },
        failure_callback: row.get(6).db()?,
        failure_callback_state: row.get(7).db()?,
        message: decode_message(row, DLQ_NCOLS)?,
    })
}

pub(super) fn decode_run(row: &Row<'_>) -> Result<StoredRun> {
    let labels: String = row.get(6).db()?;
    let state: String = row.get(8).db()?;
    Ok(StoredRun {
        seq: uint(row.get(0).db()?)?,
        run: NewRun {
            tenant: row.get(1).db()?,
            run_id: row.get(2).db()?,
            workflow_url: row.get(3).db()?,
            created_at: uint(row.get(4).db()?)?,
            initial_body: row.get(5).db()?,
            labels: decode_labels(&labels)?,
            config: row.get(7).db()?,
        },
        state: RunState::from_name(&state).ok_or_else(|| corrupt("run state"))?,
        ended_at: opt_uint(row.get(9).db()?)?,
        response: row.get(10).db()?,
        reason: row.get(11).db()?,
    })
}

pub(super) fn get_run(conn: &Connection, tenant: &str, run_id: &str) -> Result<Option<StoredRun>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {RUN_COLS} FROM runs r WHERE r.tenant = ?1 AND r.run_id = ?2")
    });
    let mut stmt = conn.prepare_cached(&SQL).db()?;
    let mut rows = stmt.query([tenant, run_id]).db()?;
    match rows.next().db()? {
        Some(row) => Ok(Some(decode_run(row)?)),
        None => Ok(None),
    }
}
