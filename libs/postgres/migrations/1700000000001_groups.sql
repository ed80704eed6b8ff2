-- Up Migration

-- Group metadata.
ALTER TABLE conversations
  ADD COLUMN description text,
  ADD COLUMN avatar_url  text;

-- A member who leaves or is removed loses the row; `joined_after_seq` (already there) is the
-- last seq before they joined: they see seq > joined_after_seq.

-- Message kinds and operations. A deleted message keeps its row as a tombstone (body NULL).
ALTER TABLE messages
  ADD COLUMN kind       text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'system')),
  ADD COLUMN system     jsonb,
  ADD COLUMN mentions   text[],
  ADD COLUMN forwarded  boolean NOT NULL DEFAULT false,
  ADD COLUMN edited_at  timestamptz,
  ADD COLUMN deleted_at timestamptz;
ALTER TABLE messages ALTER COLUMN sender_device_id DROP NOT NULL;
ALTER TABLE messages ALTER COLUMN client_msg_id DROP NOT NULL;

-- The inbox is a per-user feed of timeline entries: a message ('message'), or a later edit or
-- delete of one ('edit', 'delete', 'hide'), each at the stream sequence of its event.
ALTER TABLE inbox
  ADD COLUMN kind      text NOT NULL DEFAULT 'message' CHECK (kind IN ('message', 'edit', 'delete', 'hide')),
  ADD COLUMN mentioned boolean NOT NULL DEFAULT false;

-- Delete for me.
CREATE TABLE hidden_messages (
  user_id         text NOT NULL,
  conversation_id text NOT NULL,
  seq             integer NOT NULL,
  hidden_at       timestamptz NOT NULL,
  PRIMARY KEY (user_id, conversation_id, seq)
);

-- Conversation list: metadata, roles and mentions.
ALTER TABLE user_conversations
  ADD COLUMN description   text,
  ADD COLUMN avatar_url    text,
  ADD COLUMN member_count  integer NOT NULL DEFAULT 0,
  ADD COLUMN mention_count integer NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE user_conversations DROP COLUMN description, DROP COLUMN avatar_url, DROP COLUMN member_count, DROP COLUMN mention_count;
DROP TABLE hidden_messages;
ALTER TABLE inbox DROP COLUMN kind, DROP COLUMN mentioned;
ALTER TABLE messages DROP COLUMN kind, DROP COLUMN system, DROP COLUMN mentions, DROP COLUMN forwarded, DROP COLUMN edited_at, DROP COLUMN deleted_at;
ALTER TABLE conversations DROP COLUMN description, DROP COLUMN avatar_url;
