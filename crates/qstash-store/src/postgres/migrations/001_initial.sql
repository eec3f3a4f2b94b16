
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
    