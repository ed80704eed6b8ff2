import type { Pool } from '@chat/postgres';
import type { MemberMuteChanged } from '@chat/contracts';

/**
 * The notifier's SQL. It owns `notification_mutes`; `conversations`, `conversation_members`,
 * `messages` and `user_conversations` belong to the projector and are only read.
 */
export class NotifierStore {
  constructor(private readonly pool: Pool) {}

  /** Applies a mute change unless a newer one (higher stream sequence) is already there. */
  async applyMute(e: MemberMuteChanged, streamSeq: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO notification_mutes (user_id, conversation_id, muted, until, stream_seq) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (user_id, conversation_id) DO UPDATE
         SET muted = EXCLUDED.muted, until = EXCLUDED.until, stream_seq = EXCLUDED.stream_seq
       WHERE notification_mutes.stream_seq < EXCLUDED.stream_seq`,
      [e.userId, e.conversationId, e.muted, e.until ?? null, streamSeq],
    );
  }

  /** Of `userIds`, those who muted the conversation now. */
  async muted(conversationId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const { rows } = await this.pool.query<{ user_id: string }>(
      `SELECT user_id FROM notification_mutes
        WHERE conversation_id = $1 AND user_id = ANY($2::text[]) AND muted AND (until IS NULL OR until > now())`,
      [conversationId, userIds],
    );
    return new Set(rows.map((r) => r.user_id));
  }

  /**
   * The recipients of message `seq` (members who can see it, sender excluded), once the read
   * models have it: `null` while proj-messages has not stored the message or proj-conversations
   * has not counted it for every recipient (the badge would be stale).
   */
  /**
   * Who a message goes to (members who joined before it, not the sender), from the projected
   * membership. `stored: false` while proj-messages has not reached the message: membership
   * may then still miss someone added just before it.
   */
  async members(conversationId: string, seq: number, senderId: string): Promise<{ known: boolean; stored: boolean; userIds: string[]; kind?: 'direct' | 'group'; title?: string }> {
    const { rows } = await this.pool.query<{ kind: 'direct' | 'group'; title: string | null; user_id: string | null; stored: boolean }>(
      `SELECT c.kind, c.title, m.user_id, c.last_seq >= $2 AS stored
         FROM conversations c
         LEFT JOIN conversation_members m ON m.conversation_id = c.id AND m.joined_after_seq < $2 AND m.user_id <> $3
        WHERE c.id = $1`,
      [conversationId, seq, senderId],
    );
    const c = rows[0];
    if (!c) return { known: false, stored: false, userIds: [] };
    return {
      known: true,
      stored: c.stored,
      userIds: rows.flatMap((r) => (r.user_id ? [r.user_id] : [])),
      kind: c.kind,
      ...(c.title ? { title: c.title } : {}),
    };
  }

  /**
   * The lowest checkpoint of the named projections (0 until all of them exist): every event
   * at or below it is in their read models.
   */
  async projectionsPosition(names: readonly string[]): Promise<number> {
    const { rows } = await this.pool.query<{ p: string | number }>(
      `SELECT CASE WHEN count(*) = cardinality($1::text[]) THEN min(position) ELSE 0 END AS p
         FROM projection_checkpoints WHERE name = ANY($1::text[])`,
      [names],
    );
    return Number(rows[0]?.p ?? 0);
  }

  /** The badge: the user's total unread count over all conversations. */
  async totalUnread(userId: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: string | number }>(`SELECT COALESCE(SUM(unread_count), 0) AS n FROM user_conversations WHERE user_id = $1`, [userId]);
    return Number(rows[0]?.n ?? 0);
  }
}
