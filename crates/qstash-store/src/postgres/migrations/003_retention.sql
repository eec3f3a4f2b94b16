
    ALTER TABLE messages ADD COLUMN finished_at BIGINT;
    UPDATE messages SET finished_at = due_at WHERE state <> 'PENDING';
    CREATE INDEX messages_finished ON messages (finished_at) WHERE finished_at IS NOT NULL;
    CREATE INDEX runs_ended ON runs (ended_at) WHERE ended_at IS NOT NULL;
    CREATE INDEX dlq_created ON dlq (created_at);
    CREATE INDEX dlq_message ON dlq (message_id);
    