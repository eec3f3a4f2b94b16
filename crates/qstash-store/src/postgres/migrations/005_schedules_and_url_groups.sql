    CREATE TABLE schedules (
        seq BIGINT GENERATED ALWAYS AS IDENTITY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        cron TEXT NOT NULL,
        destination TEXT NOT NULL,
        method TEXT NOT NULL,
        headers BYTEA NOT NULL,
        body BYTEA NOT NULL,
        created_at BIGINT NOT NULL,
        next_at BIGINT,
        paused BOOLEAN NOT NULL DEFAULT FALSE,
        last_at BIGINT,
        last_message_ids TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (tenant, id)
    );
    CREATE INDEX schedules_due ON schedules (next_at) WHERE NOT paused AND next_at IS NOT NULL;
    CREATE TABLE url_groups (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        endpoints BYTEA NOT NULL,
        PRIMARY KEY (tenant, name)
    );
