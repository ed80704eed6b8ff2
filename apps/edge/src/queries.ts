import type { Pool } from '@chat/postgres';
import { encodeCursor, type MessageNew } from '@chat/contracts';

interface MessageRow {
  conversation_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  body: MessageNew['body'];
  reply_to: string | null;
  sent_at: Date;
  stream_seq: number;
}

const MESSAGE_COLUMNS = 'm.conversation_id, m.seq, m.message_id, m.sender_id, m.body, m.reply_to, m.sent_at, m.stream_seq';

export function toMessageFrame(r: MessageRow): MessageNew {
  return {
    type: 'message.new',
    conversationId: r.conversation_id,
    messageId: r.message_id,
    seq: r.seq,
    senderId: r.sender_id,
    body: r.body,
    sentAt: r.sent_at.toISOString(),
    ...(r.reply_to ? { replyTo: r.reply_to } : {}),
    cursor: encodeCursor(r.stream_seq),
  };
}

export type Membership = 'member' | 'not_member' | 'no_conversation';

/** Read-side queries over the Postgres read models (owned by the projector). */
export class ReadModels {
  constructor(private readonly pool: Pool) {}

  async membership(conversationId: string, userId: string): Promise<Membership> {
    const { rows } = await this.pool.query<{ member: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2) AS member
         FROM conversations WHERE id = $1`,
      [conversationId, userId],
    );
    if (rows.length === 0) return 'no_conversation';
    return rows[0]!.member ? 'member' : 'not_member';
  }

  /** The user's inbox after a stream position, oldest first; one extra row tells hasMore. */
  async inboxAfter(userId: string, afterStreamSeq: number, limit: number): Promise<{ frames: MessageNew[]; hasMore: boolean }> {
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS}
         FROM inbox i JOIN messages m ON m.conversation_id = i.conversation_id AND m.seq = i.seq
        WHERE i.user_id = $1 AND i.stream_seq > $2
        ORDER BY i.stream_seq
        LIMIT $3`,
      [userId, afterStreamSeq, limit + 1],
    );
    return { frames: rows.slice(0, limit).map(toMessageFrame), hasMore: rows.length > limit };
  }

  /**
   * A page of history, returned oldest first. `afterSeq` pages forward; otherwise the page ends
   * just before `beforeSeq` (or at the newest message).
   */
  async history(conversationId: string, q: { beforeSeq?: number; afterSeq?: number; limit: number }): Promise<{ messages: MessageNew[]; hasMore: boolean }> {
    const forward = q.afterSeq !== undefined;
    const { rows } = await this.pool.query<MessageRow>(
      forward
        ? `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 AND m.seq > $2 ORDER BY m.seq ASC LIMIT $3`
        : `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3`,
      [conversationId, forward ? q.afterSeq : (q.beforeSeq ?? 2 ** 31 - 1), q.limit + 1],
    );
    const page = rows.slice(0, q.limit);
    if (!forward) page.reverse();
    return { messages: page.map(toMessageFrame), hasMore: rows.length > q.limit };
  }

  async conversations(userId: string, q: { limit: number; cursor?: { at: string; id: string } }) {
    const params: unknown[] = [userId, q.limit + 1];
    let after = '';
    if (q.cursor) {
      params.push(q.cursor.at, q.cursor.id);
      after = 'AND (last_activity_at, conversation_id) < ($3::timestamptz, $4)';
    }
    const { rows } = await this.pool.query<{
      conversation_id: string;
      kind: 'direct' | 'group';
      title: string | null;
      members: string[];
      last_message: unknown;
      unread_count: number;
      last_activity_at: Date;
    }>(
      `SELECT conversation_id, kind, title, members, last_message, unread_count, last_activity_at
         FROM user_conversations WHERE user_id = $1 ${after}
        ORDER BY last_activity_at DESC, conversation_id DESC LIMIT $2`,
      params,
    );
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      conversations: page.map((r) => ({
        conversationId: r.conversation_id,
        kind: r.kind,
        title: r.title,
        members: r.members,
        lastMessage: r.last_message,
        unreadCount: r.unread_count,
        lastActivityAt: r.last_activity_at.toISOString(),
      })),
      next: rows.length > q.limit && last ? { at: last.last_activity_at.toISOString(), id: last.conversation_id } : null,
    };
  }

  /** Who has a message delivered / read / pending, from the members' watermarks. */
  async receipts(conversationId: string, messageId: string) {
    const msg = await this.pool.query<{ seq: number; sender_id: string }>(
      'SELECT seq, sender_id FROM messages WHERE conversation_id = $1 AND message_id = $2',
      [conversationId, messageId],
    );
    const m = msg.rows[0];
    if (!m) return null;
    const { rows } = await this.pool.query<{
      user_id: string;
      delivered_seq: number | null;
      delivered_at: Date | null;
      read_seq: number | null;
      read_at: Date | null;
    }>(
      `SELECT cm.user_id, r.delivered_seq, r.delivered_at, r.read_seq, r.read_at
         FROM conversation_members cm
         LEFT JOIN member_receipts r ON r.conversation_id = cm.conversation_id AND r.user_id = cm.user_id
        WHERE cm.conversation_id = $1 AND cm.user_id <> $2
        ORDER BY cm.user_id`,
      [conversationId, m.sender_id],
    );
    const delivered: Array<{ userId: string; at: string | null }> = [];
    const read: Array<{ userId: string; at: string | null }> = [];
    const pending: string[] = [];
    for (const r of rows) {
      if ((r.delivered_seq ?? 0) >= m.seq) delivered.push({ userId: r.user_id, at: r.delivered_at?.toISOString() ?? null });
      else pending.push(r.user_id);
      if ((r.read_seq ?? 0) >= m.seq) read.push({ userId: r.user_id, at: r.read_at?.toISOString() ?? null });
    }
    return { delivered, read, pending };
  }
}
