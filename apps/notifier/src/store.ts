import type { Pool } from '@chat/postgres';

/** The notifier's SQL: it only reads what the projector writes (mutes, messages, unread counts, checkpoints). */
export class NotifierStore {
  constructor(private readonly pool: Pool) {}

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

  /** The text of a message for a push preview (none once deleted or expired). */
  async messageText(conversationId: string, seq: number): Promise<{ text?: string }> {
    const { rows } = await this.pool.query<{ text: string | null }>("SELECT body->>'text' AS text FROM messages WHERE conversation_id = $1 AND seq = $2", [conversationId, seq]);
    const text = rows[0]?.text;
    return typeof text === 'string' ? { text } : {};
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
