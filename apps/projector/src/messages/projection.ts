import type { Names } from '@chat/contracts';
import type { PoolClient } from '@chat/postgres';
import { runs, type Projection, type StoredEvent } from '../projection';
import type { Route, Router } from '../routing';
import { messageRoutes, messagesChange, type MessagesChange, type RouteMember } from './evolve';

export const MESSAGES_TABLES = ['conversations', 'conversation_members', 'messages', 'inbox'] as const;

type Of<K extends MessagesChange['kind']> = Extract<MessagesChange, { kind: K }>;

async function writeConversations(tx: PoolClient, changes: Array<Of<'conversation'>>): Promise<void> {
  const c = changes.map((x) => x.conversation);
  // A direct conversation created again is the same conversation: keep the first.
  await tx.query(
    `INSERT INTO conversations (id, kind, title, created_by, created_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
     ON CONFLICT (id) DO NOTHING`,
    [c.map((r) => r.id), c.map((r) => r.kind), c.map((r) => r.title), c.map((r) => r.createdBy), c.map((r) => r.createdAt)],
  );
  const m = changes.flatMap((x) => x.members);
  await tx.query(
    `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
     ON CONFLICT (conversation_id, user_id) DO NOTHING`,
    [m.map((r) => r.conversationId), m.map((r) => r.userId), m.map((r) => r.role), m.map((r) => r.joinedAt)],
  );
}

async function writeMessages(tx: PoolClient, changes: Array<Of<'message'>>): Promise<void> {
  const m = changes.map((x) => x.message);
  const conv = m.map((r) => r.conversationId);
  const seq = m.map((r) => r.seq);
  const streamSeq = m.map((r) => r.streamSeq);
  // Plain inserts: the checkpoint guarantees each event is applied once, so a conflict here
  // is a real inconsistency and must stop the projection rather than be papered over.
  await tx.query(
    `INSERT INTO messages (conversation_id, seq, message_id, sender_id, sender_device_id, client_msg_id, body, reply_to, sent_at, stream_seq)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::timestamptz[], $10::bigint[])`,
    [
      conv,
      seq,
      m.map((r) => r.messageId),
      m.map((r) => r.senderId),
      m.map((r) => r.senderDeviceId),
      m.map((r) => r.clientMsgId),
      m.map((r) => JSON.stringify(r.body)),
      m.map((r) => r.replyTo),
      m.map((r) => r.sentAt),
      streamSeq,
    ],
  );
  // Every member gets an inbox row, the sender too: their other devices sync from it.
  await tx.query(
    `INSERT INTO inbox (user_id, stream_seq, conversation_id, seq)
     SELECT cm.user_id, t.stream_seq, t.conversation_id, t.seq
       FROM unnest($1::text[], $2::int[], $3::bigint[]) AS t (conversation_id, seq, stream_seq)
       JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.joined_after_seq < t.seq`,
    [conv, seq, streamSeq],
  );
  await tx.query(
    `UPDATE conversations c SET last_seq = t.seq
       FROM (SELECT conversation_id, max(seq) AS seq FROM unnest($1::text[], $2::int[]) AS u (conversation_id, seq) GROUP BY conversation_id) t
      WHERE c.id = t.conversation_id AND c.last_seq < t.seq`,
    [conv, seq],
  );
}

/** Members (with the seq they joined after) of the given conversations. */
export async function membersOf(q: PoolClient, conversationIds: readonly string[]): Promise<Map<string, RouteMember[]>> {
  const out = new Map<string, RouteMember[]>();
  if (conversationIds.length === 0) return out;
  const { rows } = await q.query<{ conversation_id: string; user_id: string; joined_after_seq: number }>(
    'SELECT conversation_id, user_id, joined_after_seq FROM conversation_members WHERE conversation_id = ANY($1::text[])',
    [[...new Set(conversationIds)]],
  );
  for (const r of rows) {
    const list = out.get(r.conversation_id) ?? [];
    list.push({ userId: r.user_id, joinedAfterSeq: r.joined_after_seq });
    out.set(r.conversation_id, list);
  }
  return out;
}

/**
 * proj-messages (chat.evt.conv.*): conversations, members, messages and the inbox; after
 * commit, routes message.new and conversation.updated frames to the members' edges.
 */
export function messagesProjection(names: Names, router: Router | null): Projection<Route[]> {
  return {
    name: names.consumers.projMessages,
    tables: MESSAGES_TABLES,
    async apply(tx, events) {
      const changes = events.map(messagesChange).filter((c): c is MessagesChange => c !== null);
      // Runs of one kind become one multi-row statement each; membership only changes
      // between runs, so a message's inbox rows see exactly the members before it.
      for (const run of runs(changes, (c) => c.kind)) {
        if (run.key === 'conversation') await writeConversations(tx, run.items as Array<Of<'conversation'>>);
        else await writeMessages(tx, run.items as Array<Of<'message'>>);
      }
    },
    async plan(tx, batch: readonly StoredEvent[]) {
      if (!router) return [];
      const convs = batch.flatMap((e) => (e.event.type === 'MessageSent' ? [e.event.conversationId] : []));
      return messageRoutes(batch, await membersOf(tx, convs));
    },
    async afterCommit(routes) {
      if (router) await router.route(routes);
    },
  };
}
