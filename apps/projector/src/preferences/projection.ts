import type { MemberMuteChanged, MemberPreferenceEvent, Names, PrivacyChanged, UserSettingsEvent } from '@chat/contracts';
import type { Projection } from '../projection';
import { PROJECTION_TABLES } from '@chat/postgres';

export const PREFERENCES_TABLES = PROJECTION_TABLES.preferences;

/**
 * proj-preferences (chat.pref.>): each member's mute of each conversation, newest change wins
 * (`notification_mutes`, read by the notifier before every push); each user's last-seen
 * privacy (`user_settings`, a row for a user whose setting is not the default) and blocks (`user_blocks`), read by the edge and the notifier.
 */
export function preferencesProjection(names: Names): Projection<unknown, MemberPreferenceEvent> {
  return {
    name: names.consumers.projPreferences,
    reads: 'preferences',
    tables: PREFERENCES_TABLES,
    async apply(tx, events) {
      // The last change per member and conversation, and per user, each in one statement.
      const mutes = new Map<string, { e: MemberMuteChanged; streamSeq: number }>();
      const privacy = new Map<string, { e: PrivacyChanged; streamSeq: number }>();
      const blocks: Array<Extract<UserSettingsEvent, { type: 'UserBlocked' | 'UserUnblocked' }>> = [];
      for (const { event: e, streamSeq } of events) {
        if (e.type === 'MemberMuteChanged') mutes.set(`${e.conversationId}\u0000${e.userId}`, { e, streamSeq });
        else if (e.type === 'PrivacyChanged') privacy.set(e.userId, { e, streamSeq });
        else blocks.push(e);
      }
      if (mutes.size) {
        const rows = [...mutes.values()];
        await tx.query(
          `INSERT INTO notification_mutes (user_id, conversation_id, muted, until, stream_seq)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::timestamptz[], $5::bigint[])
           ON CONFLICT (user_id, conversation_id) DO UPDATE
             SET muted = EXCLUDED.muted, until = EXCLUDED.until, stream_seq = EXCLUDED.stream_seq
           WHERE notification_mutes.stream_seq < EXCLUDED.stream_seq`,
          [rows.map((r) => r.e.userId), rows.map((r) => r.e.conversationId), rows.map((r) => r.e.muted), rows.map((r) => r.e.until ?? null), rows.map((r) => r.streamSeq)],
        );
      }
      // A row only for a setting other than the default (everyone): the rebuild seeds the same
      // from the snapshots. stream_seq keeps a replayed older event from undoing a newer one.
      const [defaults, others] = [[...privacy.values()].filter((r) => r.e.lastSeen === 'everyone'), [...privacy.values()].filter((r) => r.e.lastSeen !== 'everyone')];
      if (defaults.length) {
        await tx.query(
          `DELETE FROM user_settings s USING unnest($1::text[], $2::bigint[]) AS d(user_id, stream_seq) WHERE s.user_id = d.user_id AND s.stream_seq < d.stream_seq`,
          [defaults.map((r) => r.e.userId), defaults.map((r) => r.streamSeq)],
        );
      }
      if (others.length) {
        const rows = others;
        await tx.query(
          `INSERT INTO user_settings (user_id, last_seen, stream_seq)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
           ON CONFLICT (user_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, stream_seq = EXCLUDED.stream_seq
           WHERE user_settings.stream_seq < EXCLUDED.stream_seq`,
          [rows.map((r) => r.e.userId), rows.map((r) => r.e.lastSeen), rows.map((r) => r.streamSeq)],
        );
      }
      // Blocks in order: the aggregate decided each against the one before (a block of someone
      // blocked already is never stored), so applying them in stream order is the state.
      for (const e of blocks) {
        if (e.type === 'UserBlocked')
          await tx.query('INSERT INTO user_blocks (user_id, blocked_user_id, at) VALUES ($1, $2, $3) ON CONFLICT (user_id, blocked_user_id) DO NOTHING', [e.userId, e.blockedUserId, e.at]);
        else await tx.query('DELETE FROM user_blocks WHERE user_id = $1 AND blocked_user_id = $2', [e.userId, e.blockedUserId]);
      }
    },
  };
}
