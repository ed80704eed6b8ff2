-- Up Migration

-- Owned by the notifier (apps/notifier): each member's push mute per conversation, folded from
-- MemberMuteChanged events (chat.pref.<conversationId>.<userId>). `stream_seq` is the
-- CHAT_EVENTS sequence of the event applied last: an older (redelivered) event never overwrites
-- a newer one. Muted = muted AND (until IS NULL OR until > now()).
CREATE TABLE notification_mutes (
  user_id         text NOT NULL,
  conversation_id text NOT NULL,
  muted           boolean NOT NULL,
  until           timestamptz,
  stream_seq      bigint NOT NULL,
  PRIMARY KEY (user_id, conversation_id)
);

-- Down Migration
DROP TABLE notification_mutes;
