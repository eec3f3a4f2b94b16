//! The PostgreSQL schema: its version ([`SCHEMA_VERSION`]), the numbered migrations
//! ([`MIGRATIONS`]) and how they are applied, under a session advisory lock of the schema, when a
//! store connects.

use super::*;

/// The schema version this code writes and understands.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
///
/// Every table has an identity column (`seq` or `id`) that orders it and is never reused. The
/// partial index `messages_due` holds the pending messages only, by due time, so that claims
/// and the next due time read only its first entries. A run counts its steps (`steps`), and a
/// step takes the run's row lock to number itself, so that concurrent steps get 0, 1, 2, …
/// without gaps. Labels are stored as one text, each label between two U+001F separators, so
/// that a whole-label filter is a substring search.
///
/// Flow control (version 2) keeps one row per `(tenant, key)` in `flow_keys`: the limits of the
/// key's most recently stored message and the open rate window. A claim locks the rows of the
/// keys it meets (`FOR UPDATE SKIP LOCKED`: a key another claim holds is left for the next
/// claim), so that the keys' limits hold across processes; attempts in flight are counted from
/// the messages through the partial index `messages_flow`. Waiters (version 2) live in
/// `waiters` until they are released.
pub const MIGRATIONS: &[&str] = &[
    // Version 1.
    "
    CREATE TABLE messages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL UNIQUE,
        destination TEXT NOT NULL,
        method TEXT NOT NULL,
        headers BYTEA NOT NULL,
        body BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        first_due_at BIGINT NOT NULL,
        due_at BIGINT NOT NULL,
        max_retries BIGINT NOT NULL,
        retried BIGINT NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        claim BIGINT NOT NULL DEFAULT 0,
        claim_open BOOLEAN NOT NULL DEFAULT FALSE,
        lease_ms BIGINT NOT NULL,
        labels TEXT NOT NULL,
        dedup_id TEXT,
        dedup_until BIGINT,
        flow_key TEXT,
        extra BYTEA NOT NULL,
        last_status INTEGER,
        last_headers BYTEA,
        last_body BYTEA,
        run_id TEXT,
        run_step BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX messages_due ON messages (due_at, seq) WHERE state = 'PENDING';
    CREATE INDEX messages_run ON messages (tenant, run_id, state) WHERE run_id IS NOT NULL;

    CREATE TABLE events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        time BIGINT NOT NULL,
        message_id TEXT NOT NULL,
        state TEXT NOT NULL,
        url TEXT NOT NULL,
        labels TEXT NOT NULL,
        response_status INTEGER,
        error TEXT,
        next_delivery_time BIGINT
    );
    CREATE INDEX events_tenant ON events (tenant, id);
    CREATE INDEX events_message ON events (tenant, message_id, id);

    CREATE TABLE dedup (
        tenant TEXT NOT NULL,
        dedup_id TEXT NOT NULL,
        message_id TEXT NOT NULL,
        until BIGINT NOT NULL,
        PRIMARY KEY (tenant, dedup_id)
    );
    CREATE INDEX dedup_until ON dedup (until);

    CREATE TABLE dlq (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dlq_id TEXT NOT NULL UNIQUE,
        tenant TEXT NOT NULL,
        message_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        response_status INTEGER,
        response_headers BYTEA NOT NULL,
        response_body BYTEA NOT NULL,
        failure_callback TEXT,
        failure_callback_state TEXT
    );
    CREATE INDEX dlq_tenant ON dlq (tenant, seq);

    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        workflow_url TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        initial_body BYTEA NOT NULL,
        labels TEXT NOT NULL,
        config BYTEA NOT NULL,
        state TEXT NOT NULL,
        ended_at BIGINT,
        response BYTEA,
        reason TEXT,
        steps BIGINT NOT NULL DEFAULT 0,
        UNIQUE (tenant, run_id)
    );
    CREATE INDEX runs_tenant ON runs (tenant, seq);

    CREATE TABLE run_steps (
        tenant TEXT NOT NULL,
        run_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        message_id TEXT NOT NULL,
        body BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, run_id, seq)
    );
    CREATE INDEX run_steps_message ON run_steps (tenant, message_id);
    ",
    // Version 2: flow control and waiters.
    "
    ALTER TABLE messages ADD COLUMN flow_parallelism BIGINT;
    ALTER TABLE messages ADD COLUMN flow_rate BIGINT;
    ALTER TABLE messages ADD COLUMN flow_period_ms BIGINT;

    CREATE TABLE flow_keys (
        tenant TEXT NOT NULL,
        key TEXT NOT NULL,
        parallelism BIGINT,
        rate BIGINT,
        period_ms BIGINT NOT NULL DEFAULT 1000,
        window_start BIGINT NOT NULL DEFAULT 0,
        window_count BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, key)
    );
    INSERT INTO flow_keys (tenant, key)
        SELECT DISTINCT tenant, flow_key FROM messages WHERE flow_key IS NOT NULL
        ON CONFLICT DO NOTHING;
    CREATE INDEX messages_flow ON messages (tenant, flow_key, claim_open, due_at)
        WHERE state = 'PENDING' AND flow_key IS NOT NULL;

    CREATE TABLE waiters (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant TEXT NOT NULL,
        event_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE
    );
    CREATE INDEX waiters_event ON waiters (tenant, event_id, seq);
    ",
    // Version 3: retention. A message keeps when it finished (delivered, failed, cancelled);
    // messages that finished before are taken as finished at their last due time. The indexes
    // find what is old enough to remove, and the dead letters of a message or a run.
    "
    ALTER TABLE messages ADD COLUMN finished_at BIGINT;
    UPDATE messages SET finished_at = due_at WHERE state <> 'PENDING';
    CREATE INDEX messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
    CREATE INDEX dlq_created ON dlq (created_at);
    CREATE INDEX dlq_message ON dlq (message_id);
    ",
];

/// The first key of the advisory locks this store takes (`qsth`); the second is the schema's.
pub(super) const LOCK_KEY: i32 = 0x7173_7468;
/// The second key of the transaction lock around the signing keys.
pub(super) const KEYS_LOCK: i32 = 1;

/// Applies the missing migrations under a session advisory lock of the schema, on a connection
/// of its own (closing it releases the lock whatever happens).
pub(super) async fn migrate(
    config: &Config,
    tls: &tls::MakeRustls,
    schema: Option<&str>,
) -> Result<()> {
    let (client, connection) = config.connect(tls.clone()).await.map_err(pg)?;
    let driver = tokio::spawn(connection);
    let out = async {
        client
            .query(
                "SELECT pg_advisory_lock($1, hashtext(coalesce($2, current_schema(), '')))",
                &[&LOCK_KEY, &schema],
            )
            .await
            .map_err(pg)?;
        if let Some(schema) = schema {
            client
                .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .await
                .map_err(pg)?;
        }
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS qstash_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(pg)?;
        let row = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM qstash_migrations",
                &[],
            )
            .await
            .map_err(pg)?;
        let version: i32 = col(&row, 0)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "schema version {version} is newer than this server's {SCHEMA_VERSION}"
            )));
        }
        let applied = usize::try_from(version)
            .map_err(|_| StoreError::Corrupt(format!("schema version {version} is not valid")))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
            client
                .batch_execute(&format!(
                    "BEGIN; {sql}; INSERT INTO qstash_migrations (version) VALUES ({}); COMMIT;",
                    i + 1
                ))
                .await
                .map_err(pg)?;
        }
        Ok(())
    }
    .await;
    drop(client);
    let _ = driver.await;
    out
}
