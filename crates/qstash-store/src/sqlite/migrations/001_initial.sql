
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
    