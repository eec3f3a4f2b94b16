
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
    