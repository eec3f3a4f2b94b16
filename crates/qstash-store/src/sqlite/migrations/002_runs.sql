
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
    