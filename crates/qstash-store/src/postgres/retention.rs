//! Retention for the PostgreSQL backend: [`Store::purge`](crate::Store::purge) removes
//! finished messages with their events, finished runs with their steps, old dead letters and
//! expired deduplication ids, a bounded batch of each per call, in one transaction.
//!
//! Rows are picked with `FOR UPDATE SKIP LOCKED`, so that processes purging the same store at
//! once take different rows and never wait for each other. Identity columns never reuse an id,
//! so event cursors stay valid whatever is removed. The space of removed rows is reclaimed by
//! autovacuum and reused by later writes.

use deadpool_postgres::Transaction;

use super::{col, int, one};
use crate::{PurgeCounts, PurgeCutoffs, Result};

/// Removes one batch (at most `limit` of each kind) of what `cutoffs` makes old, inside `tx`.
pub(super) async fn purge(
    tx: &Transaction<'_>,
    cutoffs: PurgeCutoffs,
    limit: usize,
) -> Result<PurgeCounts> {
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let finished_before = int(cutoffs.finished_before)?;
    // Dead letters first: a failed message whose dead letter goes may go in the same batch.
    let row = one(
        tx,
        "WITH d AS (DELETE FROM dlq WHERE seq IN \
         (SELECT seq FROM dlq WHERE created_at < $1 ORDER BY created_at LIMIT $2 \
          FOR UPDATE SKIP LOCKED) RETURNING 1) \
         SELECT count(*) FROM d",
        &[&int(cutoffs.dlq_before)?, &limit],
    )
    .await?;
    let mut counts = PurgeCounts {
        dead_letters: count(&row, 0)?,
        ..PurgeCounts::default()
    };

    // Finished messages without a dead letter, with their events and waiter rows.
    let row = one(
        tx,
        "WITH m AS (DELETE FROM messages WHERE seq IN \
         (SELECT seq FROM messages x WHERE x.finished_at < $1 \
          AND NOT EXISTS (SELECT 1 FROM dlq d WHERE d.message_id = x.id) \
          ORDER BY x.finished_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING tenant, id), \
         w AS (DELETE FROM waiters WHERE message_id IN (SELECT id FROM m)), \
         e AS (DELETE FROM events e USING m WHERE e.tenant = m.tenant AND e.message_id = m.id \
               RETURNING 1) \
         SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM e)",
        &[&finished_before, &limit],
    )
    .await?;
    counts.messages = count(&row, 0)?;
    counts.events = count(&row, 1)?;

    // Finished runs with their steps; a run stays while one of its messages has a dead letter
    // (resuming or restarting it needs the run).
    let row = one(
        tx,
        "WITH r AS (DELETE FROM runs WHERE seq IN \
         (SELECT seq FROM runs x WHERE x.ended_at < $1 AND x.state <> 'RUN_STARTED' \
          AND NOT EXISTS (SELECT 1 FROM messages m JOIN dlq d ON d.message_id = m.id \
                          WHERE m.tenant = x.tenant AND m.run_id = x.run_id) \
          ORDER BY x.ended_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING tenant, run_id), \
         s AS (DELETE FROM run_steps s USING r WHERE s.tenant = r.tenant AND s.run_id = r.run_id \
               RETURNING 1) \
         SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM s)",
        &[&finished_before, &limit],
    )
    .await?;
    counts.runs = count(&row, 0)?;
    counts.run_steps = count(&row, 1)?;

    // Expired deduplication ids: they no longer refuse anything.
    let row = one(
        tx,
        "WITH x AS (DELETE FROM dedup WHERE ctid = ANY(ARRAY( \
         SELECT ctid FROM dedup WHERE until <= $1 ORDER BY until LIMIT $2 \
         FOR UPDATE SKIP LOCKED)) RETURNING 1) \
         SELECT count(*) FROM x",
        &[&int(cutoffs.now)?, &limit],
    )
    .await?;
    counts.dedup_ids = count(&row, 0)?;
    Ok(counts)
}

fn count(row: &tokio_postgres::Row, at: usize) -> Result<u64> {
    crate::codec::uint(col::<i64>(row, at)?)
}
