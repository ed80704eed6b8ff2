-- Up Migration

-- System messages get per-conversation ids (`sys-<seq>`): message ids are unique per
-- conversation, which is how every reader looks them up.
ALTER TABLE messages DROP CONSTRAINT messages_message_id_key;
ALTER TABLE messages ADD CONSTRAINT messages_conversation_message_id UNIQUE (conversation_id, message_id);

-- The stream sequence of the last event applied to a conversation-list row: the version the
-- Redis list cache compares, so concurrent writers (projector, an edge loading) never regress.
ALTER TABLE user_conversations ADD COLUMN version bigint NOT NULL DEFAULT 0;

-- Who each message mentions: keeps mention_count exact ("mentions of me after read_seq").
-- System messages have no row here: they count neither as unread nor as mentions.
ALTER TABLE conversation_senders ADD COLUMN mentions text[];

-- Down Migration
ALTER TABLE conversation_senders DROP COLUMN mentions;
ALTER TABLE user_conversations DROP COLUMN version;
ALTER TABLE messages DROP CONSTRAINT messages_conversation_message_id;
ALTER TABLE messages ADD CONSTRAINT messages_message_id_key UNIQUE (message_id);
