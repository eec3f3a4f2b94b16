    CREATE TABLE schedules (
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        cron TEXT NOT NULL,
        destination TEXT NOT NULL,
        method TEXT NOT NULL,
        headers BLOB NOT NULL,
        body BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        next_at INTEGER,
        paused INTEGER NOT NULL DEFAULT 0,
        last_at INTEGER,
        last_message_ids TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX schedules_due ON schedules(next_at) WHERE paused = 0 AND next_at IS NOT NULL;
    CREATE TABLE url_groups (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        endpoints BLOB NOT NULL,
        PRIMARY KEY (tenant, name)
    );
