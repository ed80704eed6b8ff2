-- Up Migration

-- Owned by the projector's preferences projection: each user's own settings, folded from
-- PrivacyChanged / UserBlocked / UserUnblocked (chat.pref.user.<userId>). Read by the edge
-- (presence, typing, the settings and blocks endpoints, sends to a blocker's direct
-- conversation) and the notifier (no push from a blocked sender). `stream_seq`: the event
-- applied last, so a redelivered older event never overwrites a newer one.
CREATE TABLE user_settings (
  user_id    text PRIMARY KEY,
  last_seen  text NOT NULL CHECK (last_seen IN ('everyone', 'contacts', 'nobody')),
  stream_seq bigint NOT NULL
);

CREATE TABLE user_blocks (
  user_id         text NOT NULL,
  blocked_user_id text NOT NULL,
  at              timestamptz NOT NULL,
  PRIMARY KEY (user_id, blocked_user_id)
);
-- "Who blocks me?" (presence, typing, sends).
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_user_id);

-- Down Migration
DROP TABLE user_blocks;
DROP TABLE user_settings;
