//! The multi-row insert of plain messages (no deduplication id, no workflow run) and their
//! `CREATED` events: a batch of 1 000 takes a few dozen statements instead of 2 000.

use rusqlite::types::ToSql;

use super::*;

/// The rows of one multi-row statement, largest first; a batch takes as many of the largest
/// as fit, then the smaller ones (so that few statement texts are cached).
const CHUNKS: [usize; 4] = [64, 16, 4, 1];

/// Whether `m` can go through [`insert_plain`]: nothing of it is read back before it is
/// inserted (no deduplication id, no workflow run).
pub(super) fn is_plain(m: &NewMessage) -> bool {
    m.dedup.is_none() && m.run.is_none()
}

/// Inserts `messages` (all [`is_plain`]) with multi-row statements, the `CREATED` event of
/// each after its row, in order: the same rows as [`insert_one`] for each message.
pub(super) fn insert_plain(
    conn: &Connection,
    messages: &[NewMessage],
    now: Millis,
) -> Result<Vec<InsertOutcome>> {
    let mut rest = messages;
    while !rest.is_empty() {
        let size = CHUNKS.into_iter().find(|&c| c <= rest.len()).unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        insert_chunk(conn, chunk, now)?;
        rest = tail;
    }
    Ok(vec![InsertOutcome::Inserted; messages.len()])
}

/// The text of a multi-row statement: `head` then `row` `n` times, comma-separated.
fn multi_row(head: &str, row: &str, n: usize) -> String {
    let mut sql = String::with_capacity(head.len() + n * (row.len() + 1));
    sql.push_str(head);
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(row);
    }
    sql
}

fn insert_chunk(conn: &Connection, chunk: &[NewMessage], now: Millis) -> Result<()> {
    let n = chunk.len();
    let labels = chunk
        .iter()
        .map(|m| encode_labels(&m.labels))
        .collect::<Result<Vec<_>>>()?;
    let sql = multi_row(
        "INSERT INTO messages (tenant, id, destination, method, headers, body, created_at, \
         first_due_at, due_at, max_retries, retried, state, claim, lease_ms, labels, dedup_id, \
         dedup_until, flow_key, extra, run_id, run_step, flow_parallelism, flow_rate, \
         flow_period_ms) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 'PENDING', 0, ?, ?, NULL, NULL, ?, ?, NULL, 0, ?, ?, ?)",
        n,
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut at = 1;
    let mut bind = |v: &dyn ToSql| -> Result<()> {
        stmt.raw_bind_parameter(at, v).db()?;
        at += 1;
        Ok(())
    };
    let headers: Vec<Vec<u8>> = chunk.iter().map(|m| encode_headers(&m.headers)).collect();
    for ((m, labels), headers) in chunk.iter().zip(&labels).zip(&headers) {
        let due = int(m.due_at)?;
        bind(&m.tenant)?;
        bind(&m.id)?;
        bind(&m.destination)?;
        bind(&m.method)?;
        bind(headers)?;
        bind(&m.body)?;
        bind(&int(m.created_at)?)?;
        bind(&due)?;
        bind(&due)?;
        bind(&m.max_retries)?;
        bind(&int(m.lease_ms)?)?;
        bind(labels)?;
        bind(&m.flow_key)?;
        bind(&m.extra)?;
        bind(&m.flow_limits.and_then(|l| l.parallelism))?;
        bind(&m.flow_limits.and_then(|l| l.rate))?;
        bind(&m.flow_limits.map(|l| int(l.period_ms)).transpose()?)?;
    }
    match stmt.raw_execute() {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::ConstraintViolation => {
            // The statement inserted nothing: one by one, to name the id that exists.
            drop(stmt);
            for m in chunk {
                insert_one(conn, m, now)?;
            }
            return Ok(());
        }
        Err(e) => return Err(map_error(e)),
    }
    drop(stmt);
    for m in chunk {
        if let Some(key) = &m.flow_key {
            register_flow_key(conn, &m.tenant, key, m.flow_limits)?;
        }
    }
    let sql = multi_row(
        "INSERT INTO events (tenant, time, message_id, state, url, labels) VALUES ",
        "(?, ?, ?, 'CREATED', ?, ?)",
        n,
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let time = int(now)?;
    let mut at = 1;
    for (m, labels) in chunk.iter().zip(&labels) {
        for v in [
            &m.tenant as &dyn ToSql,
            &time,
            &m.id,
            &m.destination,
            labels,
        ] {
            stmt.raw_bind_parameter(at, v).db()?;
            at += 1;
        }
    }
    stmt.raw_execute().db()?;
    Ok(())
}
