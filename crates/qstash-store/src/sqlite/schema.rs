//! The SQLite schema: its version ([`SCHEMA_VERSION`], SQLite's `user_version`), the numbered
//! migrations and how they are applied when a file opens.

use super::*;

/// The schema version this code writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
///
/// Event ids are rowids without `AUTOINCREMENT`: SQLite then gives each new row the largest id
/// plus one, which increases as long as the newest event is never deleted (retention keeps it,
/// see `retention`). Dead letters are deleted in any order, so their sequence uses `AUTOINCREMENT` and is
/// never reused.
///
/// A run is identified by `(tenant, run_id)` (a unique key); its `seq` (the rowid, never reused)
/// orders the list of runs. A run's steps are keyed by `(tenant, run_id, seq)`, step `seq`
/// counting from 0. The index on the messages' run is partial (`run_id IS NOT NULL`), so that
/// messages outside runs do not pay for it.
///
/// Flow control (version 3) keeps one row per `(tenant, key)` in `flow_keys`: the limits of the
/// key's most recently stored message and the open rate window (`window_start`,
/// `window_count`). Attempts in flight are counted from the messages (claimed, lease not
/// ended), through a partial index that holds only pending messages with a key.
pub(super) const MIGRATIONS: &[&str] = &[
    // Version 1.
    include_str!("migrations/001_initial.sql"),
    // Version 2: workflow runs, their step lists, and the run each message belongs to.
    include_str!("migrations/002_runs.sql"),
    // Version 3: flow control.
    include_str!("migrations/003_flow_control.sql"),
    // Version 4: waiters (a run's wait for an event). A row lives until its waiter is released;
    // one whose message was claimed (timed out) or ended is ignored by the queries.
    include_str!("migrations/004_waiters.sql"),
    // Version 5: retention. A message keeps when it finished (delivered, failed, cancelled);
    // messages that finished before are taken as finished at their last due time. The indexes
    // find what is old enough to remove, and the dead letters of a message or a run.
    include_str!("migrations/005_retention.sql"),
    // Version 6: the claim path's wait lists (see `crate::flow`). A due message its key holds
    // back is `held` and leaves the due index; the key counts them (`waiting`) and keeps when
    // its full rate window ends (`wake_at`). Messages held back before are sorted out by the
    // first claims (they are in the due index, not held).
    include_str!("migrations/006_claim_wait_lists.sql"),
    // Version 7: schedules and URL groups: one schedule row per `(tenant, id)`, with the
    // request each tick publishes (the partial index finds the earliest tick of those not
    // paused); one URL group row per `(tenant, name)` with its endpoints.
    include_str!("migrations/007_schedules_and_url_groups.sql"),
];

pub(super) fn migrate(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").db()?;
    let out = (|| {
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .db()?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this server's {SCHEMA_VERSION}"
            )));
        }
        if version < 0 {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is not valid"
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            conn.execute_batch(sql).db()?;
            conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                .db()?;
        }
        Ok(())
    })();
    match out {
        Ok(()) => conn.execute_batch("COMMIT").db(),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
