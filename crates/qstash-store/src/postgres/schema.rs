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
    include_str!("migrations/001_initial.sql"),
    // Version 2: flow control and waiters.
    include_str!("migrations/002_flow_control_and_waiters.sql"),
    // Version 3: retention. A message keeps when it finished (delivered, failed, cancelled);
    // messages that finished before are taken as finished at their last due time. The indexes
    // find what is old enough to remove, and the dead letters of a message or a run.
    include_str!("migrations/003_retention.sql"),
    // Version 4: the claim path's wait lists (see `crate::flow`): a due message its key holds
    // back is `held` and leaves the due index; the key counts them (`waiting`) and keeps when
    // its full rate window ends (`wake_at`). Messages held back before are sorted out by the
    // first claims.
    include_str!("migrations/004_claim_wait_lists.sql"),
    // Version 5: schedules and URL groups: one schedule row per `(tenant, id)`, with the
    // request each tick publishes (the partial index finds the earliest tick of those not
    // paused); one URL group row per `(tenant, name)` with its endpoints.
    include_str!("migrations/005_schedules_and_url_groups.sql"),
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
