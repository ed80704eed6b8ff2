-- Up Migration

-- Owned by the edge's media endpoints (docs/media.md): one row per upload. Not a read model:
-- media records are not events (the bytes live in object storage; a message carries the
-- media's description in its own event). `pending` until `POST /v1/media/{id}/complete` has
-- checked the stored object against the declared size and SHA-256; then `ready`, and the
-- bytes are stored once per SHA-256 (content-addressed), however many uploads had them.
CREATE TABLE media (
  media_id      text PRIMARY KEY,
  owner_id      text NOT NULL,
  content_type  text NOT NULL,
  size          bigint NOT NULL,
  sha256        text NOT NULL,
  status        text NOT NULL CHECK (status IN ('pending', 'ready')),
  width         integer,
  height        integer,
  duration_ms   integer,
  thumb_width   integer,
  thumb_height  integer,
  created_at    timestamptz NOT NULL DEFAULT now(),
  ready_at      timestamptz,
  -- When a message first carried it (the edge, as it sends): the clean-up's clock for media
  -- no message carries any more; never-sent uploads wait CHAT_MEDIA_UNSENT_TTL from ready_at.
  sent_at       timestamptz
);
CREATE INDEX media_sha256 ON media (sha256);
CREATE INDEX media_pending ON media (created_at) WHERE status = 'pending';

-- Owned by proj-messages: which media a message carries (set from MessageSent, cleared when
-- the message is deleted for everyone; the row goes at max age). Who may download a media
-- object, and whether its bytes are still needed, are both read from here.
ALTER TABLE messages ADD COLUMN media_id text;
CREATE INDEX messages_media ON messages (media_id) WHERE media_id IS NOT NULL;

-- Down Migration
DROP INDEX messages_media;
ALTER TABLE messages DROP COLUMN media_id;
DROP TABLE media;
