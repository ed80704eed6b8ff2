-- Up Migration

-- Owned by proj-receipts. Per-device delivered watermark (a read counts as delivered): never
-- decreases. member_receipts stays the per-member watermark ("delivered ✓✓" = at least one
-- device of the member acknowledged).
CREATE TABLE device_receipts (
  conversation_id text NOT NULL,
  user_id         text NOT NULL,
  device_id       text NOT NULL,
  delivered_seq   integer NOT NULL DEFAULT 0,
  delivered_at    timestamptz,
  PRIMARY KEY (conversation_id, user_id, device_id)
);

-- Owned by proj-receipts. The devices known for a user: every device that ever acknowledged
-- anything (in any conversation). first/last_seen_at are event times.
CREATE TABLE user_devices (
  user_id       text NOT NULL,
  device_id     text NOT NULL,
  first_seen_at timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- Ephemeral retention (CHAT_RETENTION=ephemeral): proj-receipts nulls messages.body once every
-- recipient device acknowledged the message and records when (expunged_at, the event time of
-- the receipt) and which CHAT_EVENTS sequence caused it (expunged_stream_seq); the sweeper
-- does the same at max age (expunged_stream_seq NULL).
ALTER TABLE messages
  ADD COLUMN expunged_at         timestamptz,
  ADD COLUMN expunged_stream_seq bigint;

-- The sweeper deletes messages by age in small chunks, and with each message the rows that
-- point at it (inbox entries of any kind, hidden_messages, conversation_senders).
CREATE INDEX messages_sent_at ON messages (sent_at);
CREATE INDEX inbox_target ON inbox (conversation_id, seq);
CREATE INDEX hidden_messages_target ON hidden_messages (conversation_id, seq);
CREATE INDEX user_devices_last_seen ON user_devices (last_seen_at);
CREATE INDEX device_receipts_delivered_at ON device_receipts (delivered_at);

-- Down Migration
DROP INDEX hidden_messages_target;
DROP INDEX inbox_target;
DROP INDEX messages_sent_at;
ALTER TABLE messages DROP COLUMN expunged_stream_seq, DROP COLUMN expunged_at;
DROP TABLE user_devices;
DROP TABLE device_receipts;
