import { listEntriesAt, toCachedConversation, USER_CONVERSATION_COLUMNS, type Pool, type UserConversationRow } from '@chat/postgres';
import { ChatError, encodeCursor, type MessageBody, type MessageNew, type SyncedFrame } from '@chat/contracts';

interface MessageRow {
  conversation_id: string;
  seq: number;
  message_id: string;
  sender_id: string;
  body: MessageNew['body'] | null;
  reply_to: string | null;
  sent_at: Date;
  stream_seq: number;
  kind: 'text' | 'system';
  system: MessageNew['system'] | null;
  mentions: string[] | null;
  forwarded: boolean;
  edited_at: Date | null;
  deleted_at: Date | null;
  expunged_at: Date | null;
}

const MESSAGE_COLUMNS = `m.conversation_id, m.seq, m.message_id, m.sender_id, m.body, m.reply_to, m.sent_at, m.stream_seq,
  m.kind, m.system, m.mentions, m.forwarded, m.edited_at, m.deleted_at, m.expunged_at`;

/** A live message as a `message.new` frame; `cursor` is the inbox position it came from. */
export function toMessageFrame(r: MessageRow, cursor = encodeCursor(r.stream_seq)): MessageNew {
  return {
    type: 'message.new',
    conversationId: r.conversation_id,
    messageId: r.message_id,
    seq: r.seq,
    senderId: r.sender_id,
    body: r.body ?? { text: '' },
    sentAt: r.sent_at.toISOString(),
    ...(r.reply_to ? { replyTo: r.reply_to } : {}),
    cursor,
    ...(r.mentions?.length ? { mentions: r.mentions } : {}),
    ...(r.forwarded ? { forwarded: true as const } : {}),
    ...(r.system ? { system: r.system } : {}),
    ...(r.edited_at ? { editedAt: r.edited_at.toISOString() } : {}),
  };
}

const deletedFrame = (r: MessageRow, scope: 'everyone' | 'me', at: Date, cursor: string): SyncedFrame => ({
  type: 'message.deleted',
  conversationId: r.conversation_id,
  messageId: r.message_id,
  seq: r.seq,
  scope,
  deletedAt: at.toISOString(),
  cursor,
});

type InboxRow = MessageRow & { entry: 'message' | 'edit' | 'delete' | 'hide'; position: number; hidden_at: Date | null };

/**
 * One inbox entry as the frame a device should get now: the message (as it is now), its
 * edit, or its deletion. A message deleted (or hidden for this user) since is sent as
 * `message.deleted`, so the device keeps the seq as a tombstone and sees no gap.
 */
export function toSyncedFrame(r: InboxRow): SyncedFrame {
  const cursor = encodeCursor(r.position);
  if (r.hidden_at) return deletedFrame(r, 'me', r.hidden_at, cursor);
  if (r.deleted_at) return deletedFrame(r, 'everyone', r.deleted_at, cursor);
  switch (r.entry) {
    case 'message':
      return toMessageFrame(r, cursor);
    case 'edit':
      return {
        type: 'message.edited',
        conversationId: r.conversation_id,
        messageId: r.message_id,
        seq: r.seq,
        body: r.body ?? { text: '' },
        editedAt: (r.edited_at ?? r.sent_at).toISOString(),
        cursor,
      };
    case 'delete':
    case 'hide':
      // Only reached if the row that caused it has not been projected as deleted/hidden yet.
      return deletedFrame(r, r.entry === 'hide' ? 'me' : 'everyone', r.sent_at, cursor);
  }
}

export type Membership = { status: 'member'; joinedAfterSeq: number; role: string } | { status: 'not_member' } | { status: 'no_conversation' };

/** Read-side queries over the Postgres read models (owned by the projector). */
export class ReadModels {
  constructor(private readonly pool: Pool) {}

  async membership(conversationId: string, userId: string): Promise<Membership> {
    const { rows } = await this.pool.query<{ joined_after_seq: number | null; role: string | null }>(
      `SELECT cm.joined_after_seq, cm.role
         FROM conversations c LEFT JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $2
        WHERE c.id = $1`,
      [conversationId, userId],
    );
    const row = rows[0];
    if (!row) return { status: 'no_conversation' };
    if (row.role === null) return { status: 'not_member' };
    return { status: 'member', joinedAfterSeq: row.joined_after_seq ?? 0, role: row.role };
  }

  /** Membership or the matching ChatError (404 unknown conversation, 403 not a member). */
  async requireMember(conversationId: string, userId: string): Promise<{ joinedAfterSeq: number; role: string }> {
    const m = await this.membership(conversationId, userId);
    if (m.status === 'no_conversation') throw new ChatError('not_found', 'no such conversation');
    if (m.status === 'not_member') throw new ChatError('forbidden', 'not a member of this conversation');
    return m;
  }

  /** A projection's checkpoint (null before it ever ran). */
  async checkpoint(name: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ position: number }>('SELECT position FROM projection_checkpoints WHERE name = $1', [name]);
    return rows[0]?.position ?? null;
  }

  /**
   * A user's inbox after a stream position, oldest first, with the checkpoint of the projection
   * that writes it (`checkpointName`), read in the same statement (one snapshot): every event up
   * to `checkpoint` is in what was read.
   */
  async inboxAfter(
    userId: string,
    afterStreamSeq: number,
    limit: number,
    checkpointName: string,
  ): Promise<{ frames: SyncedFrame[]; hasMore: boolean; checkpoint: number }> {
    const { rows } = await this.pool.query<InboxRow & { checkpoint: number | null; position: number | null }>(
      `SELECT cp.position AS checkpoint, r.*
         FROM (SELECT coalesce((SELECT position FROM projection_checkpoints WHERE name = $4), 0) AS position) cp
         LEFT JOIN LATERAL (
           SELECT ${MESSAGE_COLUMNS}, i.kind AS entry, i.stream_seq AS position, h.hidden_at
             FROM inbox i
             JOIN messages m ON m.conversation_id = i.conversation_id AND m.seq = i.seq
             LEFT JOIN hidden_messages h ON h.user_id = i.user_id AND h.conversation_id = i.conversation_id AND h.seq = i.seq
            WHERE i.user_id = $1 AND i.stream_seq > $2
            ORDER BY i.stream_seq
            LIMIT $3) r ON true`,
      [userId, afterStreamSeq, limit + 1, checkpointName],
    );
    const checkpoint = Number(rows[0]?.checkpoint ?? 0);
    const found = rows.filter((r) => r.position !== null) as InboxRow[];
    return { frames: found.slice(0, limit).map(toSyncedFrame), hasMore: found.length > limit, checkpoint };
  }

  /**
   * A page of history the user may see (from their join on, without what they hid), oldest
   * first. `afterSeq` pages forward; otherwise the page ends just before `beforeSeq` (or at the
   * newest message). Messages deleted for everyone stay as tombstones: `body: null`, `deletedAt`.
   * Messages whose body left the read models (CHAT_RETENTION=ephemeral, once every recipient
   * device acknowledged them): `body: null`, `expired: true`, `expiredAt`.
   */
  async history(conversationId: string, userId: string, joinedAfterSeq: number, q: { beforeSeq?: number; afterSeq?: number; limit: number }) {
    const forward = q.afterSeq !== undefined;
    const bound = forward ? Math.max(q.afterSeq!, joinedAfterSeq) : (q.beforeSeq ?? 2 ** 31 - 1);
    const { rows } = await this.pool.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m
        WHERE m.conversation_id = $1 AND m.seq > $4 AND ${forward ? 'm.seq > $2' : 'm.seq < $2'}
          AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $5 AND h.conversation_id = m.conversation_id AND h.seq = m.seq)
        ORDER BY m.seq ${forward ? 'ASC' : 'DESC'} LIMIT $3`,
      [conversationId, bound, q.limit + 1, joinedAfterSeq, userId],
    );
    const page = rows.slice(0, q.limit);
    if (!forward) page.reverse();
    return {
      messages: page.map((r) =>
        r.deleted_at
          ? { ...toMessageFrame(r), body: null, deletedAt: r.deleted_at.toISOString() }
          : r.expunged_at && r.body === null
            ? { ...toMessageFrame(r), body: null, expired: true as const, expiredAt: r.expunged_at.toISOString() }
            : toMessageFrame(r),
      ),
      hasMore: rows.length > q.limit,
    };
  }

  /** The body of a text message the user can see now (to forward it), else a ChatError. */
  async forwardable(userId: string, conversationId: string, messageId: string): Promise<MessageBody> {
    const { joinedAfterSeq } = await this.requireMember(conversationId, userId);
    const { rows } = await this.pool.query<{ body: MessageBody | null; kind: string }>(
      `SELECT m.body, m.kind FROM messages m
        WHERE m.conversation_id = $1 AND m.message_id = $2 AND m.seq > $3 AND m.deleted_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = $4 AND h.conversation_id = m.conversation_id AND h.seq = m.seq)`,
      [conversationId, messageId, joinedAfterSeq, userId],
    );
    const row = rows[0];
    if (!row || !row.body || row.kind !== 'text') throw new ChatError('not_found', 'no such message to forward');
    return row.body;
  }

  /** A page of the user's conversation list straight from Postgres (the source of the Redis list). */
  async conversations(userId: string, q: { limit: number; before?: { at: string; id: string } }) {
    const params: unknown[] = [userId, q.limit + 1];
    let after = '';
    if (q.before) {
      params.push(q.before.at, q.before.id);
      after = 'AND (last_activity_at, conversation_id) < ($3::timestamptz, $4)';
    }
    const { rows } = await this.pool.query<UserConversationRow>(
      `SELECT ${USER_CONVERSATION_COLUMNS}
         FROM user_conversations WHERE user_id = $1 ${after}
        ORDER BY last_activity_at DESC, conversation_id DESC LIMIT $2`,
      params,
    );
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      conversations: page.map(toCachedConversation),
      next: rows.length > q.limit && last ? { at: last.last_activity_at.toISOString(), id: last.conversation_id } : null,
    };
  }

  /** Every list entry of the user with its row version, to load their Redis list. */
  listEntriesAt(userId: string, checkpointName: string) {
    return listEntriesAt(this.pool, userId, checkpointName);
  }

  /** Who has a message delivered / read / pending, from the members' watermarks. */
  /** Null when there is no such message or the asking member joined after it. */
  async receipts(conversationId: string, messageId: string, joinedAfterSeq: number) {
    const msg = await this.pool.query<{ seq: number; sender_id: string }>(
      'SELECT seq, sender_id FROM messages WHERE conversation_id = $1 AND message_id = $2 AND seq > $3',
      [conversationId, messageId, joinedAfterSeq],
    );
    const m = msg.rows[0];
    if (!m) return null;
    const { rows } = await this.pool.query<{
      user_id: string;
      delivered_seq: number | null;
      delivered_at: Date | null;
      read_seq: number | null;
      read_at: Date | null;
      devices_delivered: number;
      devices_total: number;
    }>(
      `SELECT cm.user_id, r.delivered_seq, r.delivered_at, r.read_seq, r.read_at,
              (SELECT count(*) FROM device_receipts d
                WHERE d.conversation_id = cm.conversation_id AND d.user_id = cm.user_id AND d.delivered_seq >= $3)::int AS devices_delivered,
              (SELECT count(*) FROM user_devices u WHERE u.user_id = cm.user_id)::int AS devices_total
         FROM conversation_members cm
         LEFT JOIN member_receipts r ON r.conversation_id = cm.conversation_id AND r.user_id = cm.user_id
        WHERE cm.conversation_id = $1 AND cm.user_id <> $2 AND cm.joined_after_seq < $3
        ORDER BY cm.user_id`,
      [conversationId, m.sender_id, m.seq],
    );
    // devices: how many of the member's known devices (user_devices) acknowledged the message.
    const delivered: Array<{ userId: string; at: string | null; devices: { delivered: number; total: number } }> = [];
    const read: Array<{ userId: string; at: string | null }> = [];
    const pending: string[] = [];
    for (const r of rows) {
      if ((r.delivered_seq ?? 0) >= m.seq) {
        const devices = { delivered: r.devices_delivered, total: Math.max(r.devices_total, r.devices_delivered) };
        delivered.push({ userId: r.user_id, at: r.delivered_at?.toISOString() ?? null, devices });
      }
      else pending.push(r.user_id);
      if ((r.read_seq ?? 0) >= m.seq) read.push({ userId: r.user_id, at: r.read_at?.toISOString() ?? null });
    }
    return { delivered, read, pending };
  }
}
