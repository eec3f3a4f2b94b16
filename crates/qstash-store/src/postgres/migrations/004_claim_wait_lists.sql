    ALTER TABLE messages ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE flow_keys ADD COLUMN waiting BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE flow_keys ADD COLUMN wake_at BIGINT;

    DROP INDEX messages_due;
    CREATE INDEX messages_due ON messages (due_at, seq) WHERE state = 'PENDING' AND NOT held;
    DROP INDEX messages_flow;
    CREATE INDEX messages_flow ON messages (tenant, flow_key, held, claim_open, due_at)
        WHERE state = 'PENDING' AND flow_key IS NOT NULL;
    CREATE INDEX messages_held ON messages (tenant, flow_key, due_at, seq)
        WHERE state = 'PENDING' AND held;
    CREATE INDEX flow_keys_wake ON flow_keys (wake_at) WHERE wake_at IS NOT NULL;
