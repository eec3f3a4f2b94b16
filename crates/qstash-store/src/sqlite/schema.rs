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
    "
    CREATE TABLE messages (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        destination TEXT NOT NULL,
        method TEXT NOT NULL,
        headers BLOB NOT NULL,
        body BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        first_due_at INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        max_retries INTEGER NOT NULL,
        retried INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        claim INTEGER NOT NULL DEFAULT 0,
        claim_open INTEGER NOT NULL DEFAULT 0,
        lease_ms INTEGER NOT NULL,
        labels TEXT NOT NULL,
        dedup_id TEXT,
        dedup_until INTEGER,
        flow_key TEXT,
        extra BLOB NOT NULL,
        last_status INTEGER,
        last_headers BLOB,
        last_body BLOB
    );
    CREATE INDEX messages_due ON messages(due_at) WHERE state = 'PENDING';

    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        time INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        state TEXT NOT NULL,
        url TEXT NOT NULL,
        labels TEXT NOT NULL,
        response_status INTEGER,
        error TEXT,
        next_delivery_time INTEGER
    );
    CREATE INDEX events_tenant ON events(tenant, id);
    CREATE INDEX events_message ON events(tenant, message_id, id);

    CREATE TABLE dedup (
        tenant TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        until INTEGER NOT NULL,
        PRIMARY KEY (tenant, dedup_id)
    );
    CREATE INDEX dedup_until ON dedup(until);

    CREATE TABLE dlq (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        dlq_id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        message_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        response_status INTEGER,
        response_headers BLOB NOT NULL,
        response_body BLOB NOT NULL,
        failure_callback TEXT,
        failure_callback_state TEXT
    );
    CREATE INDEX dlq_tenant ON dlq(tenant, seq);

    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // Version 2: workflow runs, their step lists, and the run each message belongs to.
    "
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        workflow_url TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        initial_body BLOB NOT NULL,
        labels TEXT NOT NULL,
        config BLOB NOT NULL,
        state TEXT NOT NULL,
        ended_at INTEGER,
        response BLOB,
        reason TEXT,
        UNIQUE (tenant, run_id)
    );
    CREATE INDEX runs_tenant ON runs(tenant, seq);

    CREATE TABLE run_steps (
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        body BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, run_id, seq)
    );
    CREATE INDEX run_steps_message ON run_steps(tenant, message_id);

    ALTER TABLE messages ADD COLUMN run_id TEXT;
    ALTER TABLE messages ADD COLUMN run_step INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX messages_run ON messages(tenant, run_id, state) WHERE run_id IS NOT NULL;
    ",
    // Version 3: flow control.
    "
    ALTER TABLE messages ADD COLUMN flow_parallelism INTEGER;
    ALTER TABLE messages ADD COLUMN flow_rate INTEGER;
    ALTER TABLE messages ADD COLUMN flow_period_ms INTEGER;

    CREATE TABLE flow_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        parallelism INTEGER,
        rate INTEGER,
        period_ms INTEGER NOT NULL DEFAULT 1000,
        window_start INTEGER NOT NULL DEFAULT 0,
        window_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, key)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO flow_keys (tenant, key)
        SELECT DISTINCT tenant, flow_key FROM messages WHERE flow_key IS NOT NULL;

    CREATE INDEX messages_flow ON messages(tenant, flow_key, claim_open, due_at)
        WHERE state = 'PENDING' AND flow_key IS NOT NULL;
    ",
    // Version 4: waiters (a run's wait for an event). A row lives until its waiter is released;
    // one whose message was claimed (timed out) or ended is ignored by the queries.
    "
    CREATE TABLE waiters (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        event_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE
    );
    CREATE INDEX waiters_event ON waiters(tenant, event_id, seq);
    ",
    // Version 5: retention. A message keeps when it finished (delivered, failed, cancelled);
    // messages that finished before are taken as finished at their last due time. The indexes
    // find what is old enough to remove, and the dead letters of a message or a run.
    "
    ALTER TABLE messages ADD COLUMN finished_at INTEGER;
    UPDATE messages SET finished_at = due_at WHERE state <> 'PENDING';
    CREATE INDEX messages_finished ON messages(finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX runs_ended ON runs(ended_at) WHERE ended_at IS NOT NULL;
    CREATE INDEX dlq_created ON dlq(created_at);
    CREATE INDEX dlq_message ON dlq(message_id);
    ",
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
