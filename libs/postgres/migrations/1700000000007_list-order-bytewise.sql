-- Up Migration

-- The conversation list orders ties (same last activity) by conversation id, bytewise: the
-- order the Redis copy of the list uses, whatever this database's default collation is. The
-- list query compares and sorts `conversation_id COLLATE "C"`, served by this index.
DROP INDEX user_conversations_list;
CREATE INDEX user_conversations_list ON user_conversations (user_id, last_activity_at DESC, (conversation_id COLLATE "C") DESC);

-- Down Migration

DROP INDEX user_conversations_list;
CREATE INDEX user_conversations_list ON user_conversations (user_id, last_activity_at DESC, conversation_id DESC);
