
    CREATE TABLE waiters (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        event_id TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE
    );
    CREATE INDEX waiters_event ON waiters(tenant, event_id, seq);
    