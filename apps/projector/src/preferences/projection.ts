import type { MemberPreferenceEvent, Names } from '@chat/contracts';
import type { Projection } from '../projection';
import { PROJECTION_TABLES } from '@chat/postgres';

export const PREFERENCES_TABLES = PROJECTION_TABLES.preferences;

/**
 * proj-preferences (chat.pref.>): each member's mute of each conversation, newest change wins
 * (`notification_mutes`, read by the notifier before every push).
 */
export function preferencesProjection(names: Names): Projection<unknown, MemberPreferenceEvent> {
  return {
    name: names.consumers.projPreferences,
    reads: 'preferences',
    tables: PREFERENCES_TABLES,
    async apply(tx, events) {
      // The last change per member and conversation, in one statement.
      const last = new Map<string, { e: MemberPreferenceEvent; streamSeq: number }>();
      for (const { event: e, streamSeq } of events) last.set(`${e.conversationId}\u0000${e.userId}`, { e, streamSeq });
      const rows = [...last.values()];
      await tx.query(
        `INSERT INTO notification_mutes (user_id, conversation_id, muted, until, stream_seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::timestamptz[], $5::bigint[])
         ON CONFLICT (user_id, conversation_id) DO UPDATE
           SET muted = EXCLUDED.muted, until = EXCLUDED.until, stream_seq = EXCLUDED.stream_seq
         WHERE notification_mutes.stream_seq < EXCLUDED.stream_seq`,
        [rows.map((r) => r.e.userId), rows.map((r) => r.e.conversationId), rows.map((r) => r.e.muted), rows.map((r) => r.e.until ?? null), rows.map((r) => r.streamSeq)],
      );
    },
  };
}
