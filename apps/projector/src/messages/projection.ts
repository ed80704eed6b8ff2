import type { Names } from '@chat/contracts';
import type { PoolClient } from '@chat/postgres';
import { runs, type Projection } from '../projection';
import { messagesChanges, type MessageOp, type MessagesChange } from './evolve';
import { PROJECTION_TABLES } from '@chat/postgres';

export const MESSAGES_TABLES = PROJECTION_TABLES.messages;

type Of<K extends MessagesChange['kind']> = Extract<MessagesChange, { kind: K }>;

const jsonOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

async function writeConversations(tx: PoolClient, changes: Array<Of<'conversation'>>): Promise<void> {
  const c = changes.map((x) => x.conversation);
  // A direct conversation created again is the same conversation: keep the first.
  await tx.query(
    `INSERT INTO conversations (id, kind, title, created_by, created_at, description, avatar_url)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
     ON CONFLICT (id) DO NOTHING`,
    [
      c.map((r) => r.id),
      c.map((r) => r.kind),
      c.map((r) => r.title),
      c.map((r) => r.createdBy),
      c.map((r) => r.createdAt),
      c.map((r) => r.description),
      c.map((r) => r.avatarUrl),
    ],
  );
  await writeMembers(tx, changes.flatMap((x) => x.members));
}

async function writeMembers(tx: PoolClient, m: Array<Of<'join'>['members'][number]>): Promise<void> {
  if (m.length === 0) return;
  await tx.query(
    `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, joined_after_seq)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[])
     ON CONFLICT (conversation_id, user_id) DO NOTHING`,
    [m.map((r) => r.conversationId), m.map((r) => r.userId), m.map((r) => r.role), m.map((r) => r.joinedAt), m.map((r) => r.joinedAfterSeq)],
  );
}

async function writeParts(tx: PoolClient, changes: Array<Of<'part'>>): Promise<void> {
  await tx.query(
    `DELETE FROM conversation_members cm USING unnest($1::text[], $2::text[]) AS t (conversation_id, user_id)
      WHERE cm.conversation_id = t.conversation_id AND cm.user_id = t.user_id`,
    [changes.map((c) => c.conversationId), changes.map((c) => c.userId)],
  );
}

async function writeMessages(tx: PoolClient, changes: Array<Of<'message'>>): Promise<void> {
  const m = changes.map((x) => x.message);
  const conv = m.map((r) => r.conversationId);
  const seq = m.map((r) => r.seq);
  const streamSeq = m.map((r) => r.streamSeq);
  const mentions = m.map((r) => jsonOrNull(r.mentions));
  // Plain inserts: the checkpoint guarantees each event is applied once, so a conflict here
  // is a real inconsistency and must stop the projection rather than be papered over.
  // One statement (one round trip) for the rows, their inbox entries and the conversations' tips:
  // every member who sees a message gets an inbox row, the sender too (their other devices sync
  // from it), however big the groups. The parts do not read each other's rows (members are not
  // changed by this statement), so one snapshot serves them all.
  await tx.query(
    `WITH t AS (
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[], $9::timestamptz[], $10::bigint[],
                            $11::text[], $12::jsonb[], $13::jsonb[], $14::bool[], $15::text[])
         AS t (conversation_id, seq, message_id, sender_id, sender_device_id, client_msg_id, body, reply_to, sent_at, stream_seq,
               kind, system, mentions, forwarded, media_id)
     ), m AS (
       INSERT INTO messages (conversation_id, seq, message_id, sender_id, sender_device_id, client_msg_id, body, reply_to, sent_at, stream_seq,
                             kind, system, mentions, forwarded, media_id)
       SELECT t.conversation_id, t.seq, t.message_id, t.sender_id, t.sender_device_id, t.client_msg_id, t.body, t.reply_to, t.sent_at, t.stream_seq,
              t.kind, t.system, CASE WHEN t.mentions IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(t.mentions)) END, t.forwarded, t.media_id
         FROM t
     ), i AS (
       INSERT INTO inbox (user_id, stream_seq, conversation_id, seq, kind, mentioned)
       SELECT cm.user_id, t.stream_seq, t.conversation_id, t.seq, 'message', coalesce(t.mentions ? cm.user_id, false)
         FROM t JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.joined_after_seq < t.seq
     )
     UPDATE conversations c SET last_seq = tip.seq
       FROM (SELECT conversation_id, max(seq) AS seq FROM t GROUP BY conversation_id) tip
      WHERE c.id = tip.conversation_id AND c.last_seq < tip.seq`,
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
      m.map((r) => r.kind),
      m.map((r) => jsonOrNull(r.system)),
      mentions,
      m.map((r) => r.forwarded),
      m.map((r) => r.mediaId),
    ],
  );
}

async function writeRoles(tx: PoolClient, changes: Array<Of<'roles'>>): Promise<void> {
  // The last change per member wins (UPDATE … FROM picks an arbitrary row among duplicates).
  const last = new Map<string, { conversationId: string; userId: string; role: string }>();
  for (const c of changes) for (const r of c.changes) last.set(`${c.conversationId}\u0000${r.userId}`, { conversationId: c.conversationId, ...r });
  const rows = [...last.values()];
  await tx.query(
    `UPDATE conversation_members cm SET role = t.role
       FROM unnest($1::text[], $2::text[], $3::text[]) AS t (conversation_id, user_id, role)
      WHERE cm.conversation_id = t.conversation_id AND cm.user_id = t.user_id`,
    [rows.map((r) => r.conversationId), rows.map((r) => r.userId), rows.map((r) => r.role)],
  );
}

async function writeMeta(tx: PoolClient, changes: Array<Of<'meta'>>): Promise<void> {
  // Rare and tiny: one statement per event keeps "last one wins" obvious.
  for (const c of changes) {
    await tx.query(
      `UPDATE conversations SET
         title = CASE WHEN $2::bool THEN $3 ELSE title END,
         description = CASE WHEN $4::bool THEN $5 ELSE description END,
         avatar_url = CASE WHEN $6::bool THEN $7 ELSE avatar_url END
       WHERE id = $1`,
      [c.conversationId, c.title !== undefined, c.title ?? null, c.description !== undefined, c.description ?? null, c.avatarUrl !== undefined, c.avatarUrl ?? null],
    );
  }
}

async function writeOps(tx: PoolClient, changes: Array<Of<'op'>>): Promise<void> {
  const ops = changes.map((c) => c.op);
  const key = (o: MessageOp) => `${o.conversationId}\u0000${o.seq}`;
  // The newest edit of each message; deletes after edits (a deleted message stays deleted).
  const edits = new Map<string, Extract<MessageOp, { op: 'edit' }>>();
  for (const o of ops) if (o.op === 'edit') edits.set(key(o), o);
  const e = [...edits.values()];
  if (e.length) {
    await tx.query(
      // An edit replaces the text; a media message keeps its media (the edit's text is its caption).
      `UPDATE messages m SET body = coalesce(m.body, '{}'::jsonb) || t.body, edited_at = t.at
         FROM unnest($1::text[], $2::int[], $3::jsonb[], $4::timestamptz[]) AS t (conversation_id, seq, body, at)
        WHERE m.conversation_id = t.conversation_id AND m.seq = t.seq AND m.deleted_at IS NULL`,
      [e.map((o) => o.conversationId), e.map((o) => o.seq), e.map((o) => JSON.stringify(o.body)), e.map((o) => o.at)],
    );
  }
  const d = ops.filter((o): o is Extract<MessageOp, { op: 'delete' }> => o.op === 'delete');
  if (d.length) {
    await tx.query(
      `UPDATE messages m SET body = NULL, media_id = NULL, deleted_at = t.at
         FROM unnest($1::text[], $2::int[], $3::timestamptz[]) AS t (conversation_id, seq, at)
        WHERE m.conversation_id = t.conversation_id AND m.seq = t.seq AND m.deleted_at IS NULL`,
      [d.map((o) => o.conversationId), d.map((o) => o.seq), d.map((o) => o.at)],
    );
  }
  const h = ops.filter((o): o is Extract<MessageOp, { op: 'hide' }> => o.op === 'hide');
  if (h.length) {
    await tx.query(
      `INSERT INTO hidden_messages (user_id, conversation_id, seq, hidden_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[])
       ON CONFLICT DO NOTHING`,
      [h.map((o) => o.userId), h.map((o) => o.conversationId), h.map((o) => o.seq), h.map((o) => o.at)],
    );
    await tx.query(
      `INSERT INTO inbox (user_id, stream_seq, conversation_id, seq, kind)
       SELECT t.user_id, t.stream_seq, t.conversation_id, t.seq, 'hide'
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[]) AS t (user_id, stream_seq, conversation_id, seq)`,
      [h.map((o) => o.userId), h.map((o) => o.streamSeq), h.map((o) => o.conversationId), h.map((o) => o.seq)],
    );
  }
  // Edits and deletes: an inbox entry for every member who sees the target message.
  const shared = ops.filter((o) => o.op !== 'hide');
  if (shared.length) {
    await tx.query(
      `INSERT INTO inbox (user_id, stream_seq, conversation_id, seq, kind)
       SELECT cm.user_id, t.stream_seq, t.conversation_id, t.seq, t.kind
         FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[]) AS t (conversation_id, seq, stream_seq, kind)
         JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.joined_after_seq < t.seq`,
      [shared.map((o) => o.conversationId), shared.map((o) => o.seq), shared.map((o) => o.streamSeq), shared.map((o) => o.op)],
    );
  }
}

/**
 * proj-messages: conversations, members, messages, the inbox (the store-and-forward feed that
 * `sync` reads) and hidden messages. Its frames are routed live by the projector before the
 * commit (LiveRouter), not from here.
 */
export function messagesProjection(names: Names): Projection {
  return {
    name: names.consumers.projMessages,
    tables: MESSAGES_TABLES,
    async apply(tx, events) {
      const changes = events.flatMap(messagesChanges);
      // Runs of one kind become one multi-row statement each; membership only changes
      // between runs, so a message's inbox rows see exactly the members at that message.
      for (const run of runs(changes, (c) => c.kind)) {
        switch (run.key) {
          case 'conversation':
            await writeConversations(tx, run.items as Array<Of<'conversation'>>);
            break;
          case 'message':
            await writeMessages(tx, run.items as Array<Of<'message'>>);
            break;
          case 'join':
            await writeMembers(tx, (run.items as Array<Of<'join'>>).flatMap((c) => c.members));
            break;
          case 'part':
            await writeParts(tx, run.items as Array<Of<'part'>>);
            break;
          case 'roles':
            await writeRoles(tx, run.items as Array<Of<'roles'>>);
            break;
          case 'meta':
            await writeMeta(tx, run.items as Array<Of<'meta'>>);
            break;
          case 'op':
            await writeOps(tx, run.items as Array<Of<'op'>>);
            break;
          default: {
            const never: never = run.key;
            throw new Error(`unknown change ${String(never)}`);
          }
        }
      }
    },
  };
}
