
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
    