//! Retention for the SQLite backend: [`Store::purge`](crate::Store::purge) removes finished
//! messages with their events, finished runs with their steps, old dead letters and expired
//! deduplication ids, a bounded batch of each per call.
//!
//! Event ids are rowids without `AUTOINCREMENT` (the largest id plus one), so the newest event
//! of the log is never removed: the next event's id stays above every id a client may hold as
//! a cursor. The space of removed rows is reused by later writes (SQLite keeps freed pages in
//! its free list), so a store under steady load with retention stops growing.

use rusqlite::{Connection, params};

use super::Db;
use crate::codec::int;
use crate::{PurgeCounts, PurgeCutoffs, Result};

/// Removes one batch (at most `limit` of each kind) of what `cutoffs` makes old, inside the
/// caller's transaction.
pub(super) fn purge(conn: &Connection, cutoffs: PurgeCutoffs, limit: usize) -> Result<PurgeCounts> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    // Dead letters first: a failed message whose dead letter goes may go in the same batch.
    let dead_letters = conn
        .prepare_cached(
            "DELETE FROM dlq WHERE seq IN \
             (SELECT seq FROM dlq WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)",
        )
        .db()?
        .execute(params![int(cutoffs.dlq_before)?, limit])
        .db()? as u64;
    let mut counts = PurgeCounts {
        dead_letters,
        ..PurgeCounts::default()
    };

    // Finished messages without a dead letter, with their events and waiter rows.
    let newest_event: i64 = conn
        .prepare_cached("SELECT max(id) FROM events")
        .db()?
        .query_row([], |row| row.get::<_, Option<i64>>(0))
        .db()?
        .unwrap_or(0);
    let finished: Vec<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT m.rowid, m.tenant, m.id FROM messages m \
             WHERE m.finished_at < ?1 \
             AND NOT EXISTS (SELECT 1 FROM dlq d WHERE d.message_id = m.id) \
             ORDER BY m.finished_at LIMIT ?2",
        )
        .db()?
        .query_map(params![int(cutoffs.finished_before)?, limit], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for (rowid, tenant, id) in &finished {
        counts.events += conn
            .prepare_cached("DELETE FROM events WHERE tenant = ?1 AND message_id = ?2 AND id < ?3")
            .db()?
            .execute(params![tenant, id, newest_event])
            .db()? as u64;
        conn.prepare_cached("DELETE FROM waiters WHERE message_id = ?1")
            .db()?
            .execute([id])
            .db()?;
        counts.messages += conn
            .prepare_cached("DELETE FROM messages WHERE rowid = ?1")
            .db()?
            .execute([rowid])
            .db()? as u64;
    }

    // Finished runs with their steps; a run stays while one of its messages has a dead letter
    // (resuming or restarting it needs the run).
    let runs: Vec<(i64, String, String)> = conn
        .prepare_cached(
            "SELECT r.seq, r.tenant, r.run_id FROM runs r \
             WHERE r.ended_at < ?1 AND r.state <> 'RUN_STARTED' \
             AND NOT EXISTS (SELECT 1 FROM messages m JOIN dlq d ON d.message_id = m.id \
                             WHERE m.tenant = r.tenant AND m.run_id = r.run_id) \
             ORDER BY r.ended_at LIMIT ?2",
        )
        .db()?
        .query_map(params![int(cutoffs.finished_before)?, limit], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .db()?
        .collect::<rusqlite::Result<_>>()
        .db()?;
    for (seq, tenant, run_id) in &runs {
        counts.run_steps += conn
            .prepare_cached("DELETE FROM run_steps WHERE tenant = ?1 AND run_id = ?2")
            .db()?
            .execute(params![tenant, run_id])
            .db()? as u64;
        counts.runs += conn
            .prepare_cached("DELETE FROM runs WHERE seq = ?1")
            .db()?
            .execute([seq])
            .db()? as u64;
    }

    // Expired deduplication ids: they no longer refuse anything.
    counts.dedup_ids = conn
        .prepare_cached(
            "DELETE FROM dedup WHERE rowid IN \
             (SELECT rowid FROM dedup WHERE until <= ?1 ORDER BY until LIMIT ?2)",
        )
        .db()?
        .execute(params![int(cutoffs.now)?, limit])
        .db()? as u64;
    Ok(counts)
}
