-- Up Migration

-- Each projection's position in CHAT_EVENTS, committed in the same transaction as its writes.
CREATE TABLE projection_checkpoints (
  name        text PRIMARY KEY,
  position    bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- proj-messages
CREATE TABLE conversations (
  id          text PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('direct', 'group')),
  title       text,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL,
  last_seq    integer NOT NULL DEFAULT 0
);

CREATE TABLE conversation_members (
  conversation_id text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id         text NOT NULL,
  role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  joined_at       timestamptz NOT NULL,
  -- members see messages with seq > joined_after_seq
  joined_after_seq integer NOT NULL DEFAULT 0,
  PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_user ON conversation_members (user_id);

CREATE TABLE messages (
  conversation_id  text NOT NULL,
  seq              integer NOT NULL,
  message_id       text NOT NULL UNIQUE,
  sender_id        text NOT NULL,
  sender_device_id text NOT NULL,
  client_msg_id    text NOT NULL,
  body             jsonb,
  reply_to         text,
  sent_at          timestamptz NOT NULL,
  stream_seq       bigint NOT NULL,
  PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX messages_client_msg ON messages (conversation_id, sender_id, client_msg_id);

-- Store-and-forward feed: one row per recipient per message, ordered by stream sequence.
CREATE TABLE inbox (
  user_id         text NOT NULL,
  stream_seq      bigint NOT NULL,
  conversation_id text NOT NULL,
  seq             integer NOT NULL,
  PRIMARY KEY (user_id, stream_seq)
);

-- ---------------------------------------------------------------- proj-receipts
-- Watermarks, never per message: "who read seq 17" is read_seq >= 17.
CREATE TABLE member_receipts (
  conversation_id text NOT NULL,
  user_id         text NOT NULL,
  delivered_seq   integer NOT NULL DEFAULT 0,
  delivered_at    timestamptz,
  read_seq        integer NOT NULL DEFAULT 0,
  read_at         timestamptz,
  PRIMARY KEY (conversation_id, user_id)
);

-- ---------------------------------------------------------------- proj-conversations
-- Per-user conversation list.
CREATE TABLE user_conversations (
  user_id          text NOT NULL,
  conversation_id  text NOT NULL,
  kind             text NOT NULL,
  title            text,
  members          text[] NOT NULL,
  last_seq         integer NOT NULL DEFAULT 0,
  last_message     jsonb,
  last_activity_at timestamptz NOT NULL,
  read_seq         integer NOT NULL DEFAULT 0,
  unread_count     integer NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, conversation_id)
);
CREATE INDEX user_conversations_list ON user_conversations (user_id, last_activity_at DESC, conversation_id DESC);

-- Who sent each seq: lets the unread count stay exact ("after read_seq, not sent by me").
CREATE TABLE conversation_senders (
  conversation_id text NOT NULL,
  seq             integer NOT NULL,
  sender_id       text NOT NULL,
  PRIMARY KEY (conversation_id, seq)
);

-- Down Migration
DROP TABLE conversation_senders, user_conversations, member_receipts, inbox, messages,
  conversation_members, conversations, projection_checkpoints;
