import { beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '@nats-io/jetstream';
import { ConversationActivityFrame, ConversationUpdatedFrame, DeliveryEnvelope, MessageNewFrame, ReceiptBatchFrame, type ChatEvent } from '@chat/contracts';
import { listEntries, listEntriesAt } from '@chat/postgres';
import { ConnectionRegistry, ConversationListCache } from '@chat/redis';
import { publisherFor } from '@chat/nats';
import { edgeConsumerConfig, ensureConsumer } from '@chat/streams';
import { messagesProjection } from './messages/projection';
import { receiptsProjection } from './receipts/projection';
import { conversationsProjection } from './conversations/projection';
import { rebuildProjections, PROJECTION_KEYS } from './rebuild';
import { LiveRouter } from './live/liveRouter';
import { MembershipCache } from './live/membership';
import { Router } from './routing';
import {
  added,
  created,
  deleted,
  edited,
  hidden,
  left,
  publishEvents,
  readModelSnapshot,
  receipt,
  removed,
  rolesChanged,
  sent,
  sentWith,
  startProjections,
  updated,
  waitFor,
  waitForCheckpoint,
  useTestEnv,
} from './testing/env';

const t = useTestEnv();
let registry: ConnectionRegistry;
let cache: ConversationListCache;
const edges: Record<string, Consumer> = {};

beforeAll(async () => {
  for (const id of ['eA', 'eB']) {
    const { stream, config } = edgeConsumerConfig(t.env.names, id);
    await ensureConsumer(t.env.nats.jsm, stream, config);
    edges[id] = await t.env.nats.js.consumers.get(stream, config.durable_name);
  }
  registry = new ConnectionRegistry(t.env.redis, 600_000);
  cache = new ConversationListCache(t.env.redis);
}, 60_000);

/** Every publish on an edge's delivery subject so far: each is an array of envelopes. */
async function drain(edgeId: string): Promise<DeliveryEnvelope[][]> {
  const edge = edges[edgeId]!;
  const out: DeliveryEnvelope[][] = [];
  for (;;) {
    const info = await edge.info(false);
    if (info.num_pending === 0) return out;
    for await (const m of await edge.fetch({ max_messages: info.num_pending, expires: 1000 })) {
      const body = m.json<unknown>();
      out.push((Array.isArray(body) ? body : [body]).map((e) => DeliveryEnvelope.parse(e)));
      m.ack();
    }
  }
}

const routers = () => ({
  msg: new Router(publisherFor(t.env.nats.nc), t.env.names, registry),
  rcpt: new Router(publisherFor(t.env.nats.nc), t.env.names, registry),
  conv: new Router(publisherFor(t.env.nats.nc), t.env.names, registry),
});

let running: ReturnType<typeof startProjections> | undefined;

function startAll(r: ReturnType<typeof routers>, opts: { batchSize?: number; lingerMs?: number } = {}) {
  let receipts: ReturnType<typeof receiptsProjection> | undefined;
  running = startProjections(
    t.env,
    (n) => [messagesProjection(n), (receipts = receiptsProjection(n, r.rcpt, { coalesceMs: 250 })), conversationsProjection(n, { router: r.conv, cache })],
    { ...opts, live: new LiveRouter({ router: r.msg, membership: new MembershipCache(100_000), publisher: publisherFor(t.env.nats.nc), names: t.env.names }) },
  );
  return { ...running, coalescer: receipts!.coalescer! };
}

/** Applied, routed live and its side effects done (the projector's position moves after them). */
async function waitAll(last: number): Promise<void> {
  await waitFor(async () => (running?.projector.stats.position ?? 0) >= last, `the projector to reach ${last}`);
}

const rows = async (sql: string, params: unknown[] = []) => (await t.env.pool.query(sql, params)).rows;

/** What an edge does when a user's list is not cached: read it from Postgres with the projection's position, cache it. */
async function loadLikeAnEdge(userId: string): Promise<void> {
  const { entries, position } = await listEntriesAt(t.env.pool, userId, t.env.names.consumers.projConversations);
  expect(await cache.load(userId, entries, position)).toBe(true);
}

describe('groups: read side', () => {
  it('projects joins, removals, leaves, mentions, edits, deletes and hides', async () => {
    await registry.register('alice', 'a-phone', 'eA');
    await registry.register('carol', 'c-phone', 'eA');
    await registry.register('dave', 'd-phone', 'eB');
    await drain('eA');
    await drain('eB');
    const r = routers();
    // Lists cached before the changes (empty): the projector must drop them.
    for (const u of ['alice', 'carol', 'dave']) expect(await cache.load(u, [], 0)).toBe(true);
    const run = startAll(r, { batchSize: 5 });
    try {
      const events: ChatEvent[] = [
        created('g1', ['alice', 'bob', 'carol']),
        sentWith('g1', 1, 'alice', { mentions: ['bob'] }),
        added('g1', 2, 'alice', ['dave']),
        sent('g1', 3, 'bob'),
        edited('g1', 1, 'alice', 'edited one'),
        removed('g1', 4, 'alice', 'carol'),
        sentWith('g1', 5, 'alice', { mentions: ['bob', 'dave'] }),
        rolesChanged('g1', 'alice', [{ userId: 'bob', role: 'admin' }]),
        updated('g1', 'alice', { title: 'Renamed', description: 'About' }),
        deleted('g1', 3, 'bob'),
        hidden('g1', 5, 'dave'),
        left('g1', 6, 'bob'),
        sent('g1', 7, 'dave'),
      ];
      const seqs = await publishEvents(t.env.nats.js, t.env.names, events);
      const S = (i: number) => seqs[i]!;
      await waitAll(S(events.length - 1));

      // Dense timeline: text and system messages share the seq space.
      const msgs = await rows('SELECT seq, message_id, kind, sender_id, body, system, mentions, edited_at IS NOT NULL AS edited, deleted_at IS NOT NULL AS deleted FROM messages ORDER BY seq');
      expect(msgs.map((m) => [m.seq, m.message_id, m.kind])).toEqual([
        [1, 'm-g1-1', 'text'],
        [2, 'sys-2', 'system'],
        [3, 'm-g1-3', 'text'],
        [4, 'sys-4', 'system'],
        [5, 'm-g1-5', 'text'],
        [6, 'sys-6', 'system'],
        [7, 'm-g1-7', 'text'],
      ]);
      expect(msgs[0]).toMatchObject({ body: { text: 'edited one' }, edited: true, mentions: ['bob'] });
      expect(msgs[1]).toMatchObject({ sender_id: 'alice', body: { text: 'alice added dave' }, system: { event: 'members_added', by: 'alice', userIds: ['dave'] } });
      expect(msgs[2]).toMatchObject({ body: null, deleted: true });
      expect(msgs[5]).toMatchObject({ body: { text: 'bob left' } });

      const inbox = async (user: string) =>
        (await rows('SELECT stream_seq, seq, kind, mentioned FROM inbox WHERE user_id = $1 ORDER BY stream_seq', [user])).map((x) => `${x.kind}:${x.seq}${x.mentioned ? '@' : ''}`);
      // carol: everything up to her removal, nothing after (not even the removal's system message).
      expect(await inbox('carol')).toEqual(['message:1', 'message:2', 'message:3', 'edit:1']);
      expect((await rows('SELECT count(*)::int AS n FROM inbox WHERE user_id = $1 AND stream_seq >= $2', ['carol', S(5)]))[0].n).toBe(0);
      // dave: from his join on; no edit of a message from before it; his hide.
      expect(await inbox('dave')).toEqual(['message:2', 'message:3', 'message:4', 'message:5@', 'delete:3', 'hide:5', 'message:6', 'message:7']);
      expect(await inbox('bob')).toEqual(['message:1@', 'message:2', 'message:3', 'edit:1', 'message:4', 'message:5@', 'delete:3']);
      expect(await inbox('alice')).toEqual(['message:1', 'message:2', 'message:3', 'edit:1', 'message:4', 'message:5', 'delete:3', 'message:6', 'message:7']);
      expect(await rows('SELECT user_id, seq FROM hidden_messages')).toEqual([{ user_id: 'dave', seq: 5 }]);
      expect(await rows('SELECT user_id, role, joined_after_seq FROM conversation_members ORDER BY user_id')).toEqual([
        { user_id: 'alice', role: 'owner', joined_after_seq: 0 },
        { user_id: 'dave', role: 'member', joined_after_seq: 1 },
      ]);
      expect(await rows('SELECT title, description FROM conversations')).toEqual([{ title: 'Renamed', description: 'About' }]);

      // The conversation list: rows of the members only, metadata, counts, last message.
      const uc = await rows(
        'SELECT user_id, title, description, members, member_count, unread_count, mention_count, last_message, version FROM user_conversations ORDER BY user_id',
      );
      expect(uc.map((x) => x.user_id)).toEqual(['alice', 'dave']);
      const last = S(events.length - 1);
      expect(uc[0]).toMatchObject({ title: 'Renamed', description: 'About', members: ['alice', 'dave'], member_count: 2, unread_count: 1, mention_count: 0, version: last });
      expect(uc[0].last_message).toMatchObject({ messageId: 'm-g1-7', seq: 7, senderId: 'dave' });
      // dave: 5 (mentioned) and 7 is his; 3 was deleted; system messages do not count.
      expect(uc[1]).toMatchObject({ unread_count: 1, mention_count: 1 });

      // Live: one publish per edge per batch, removed carol got conversation.updated member:false.
      await waitFor(async () => r.conv.stats.batches > 0 && r.msg.stats.batches > 0, 'routing');
      const a = (await drain('eA')).flat();
      const toCarol = a.filter((e) => e.users.includes('carol')).map((e) => e.frame);
      const carolUpdate = toCarol.filter((f) => f['type'] === 'conversation.updated').map((f) => ConversationUpdatedFrame.parse(f));
      expect(carolUpdate.at(-1)).toMatchObject({ changed: ['member_removed'], member: false, userIds: ['carol'], by: 'alice' });
      const carolAfter = toCarol.filter((f) => f['type'] === 'message.new' && (f['seq'] as number) >= 4);
      expect(carolAfter).toEqual([]);
      const sys = a.map((e) => e.frame).filter((f) => f['type'] === 'message.new' && f['system']).map((f) => MessageNewFrame.parse(f));
      expect(sys.map((f) => f.seq)).toEqual([2, 4, 6]);
      // Activity frames come with changes other than messages and reads (here: membership, roles,
      // metadata, edits, deletes), carrying the row as the batch left it.
      const activity = a.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'conversation.activity' && e.users[0] === 'alice').map((e) => ConversationActivityFrame.parse(e.frame));
      expect(activity.length).toBeGreaterThan(0);
      expect(activity.some((f) => f.conversationId === 'g1' && (f.lastMessage?.seq ?? 0) >= 6)).toBe(true);
      const d = (await drain('eB')).flat();
      expect(d.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'message.deleted').map((e) => [(e.frame as Record<string, unknown>)['seq'], (e.frame as Record<string, unknown>)['scope']])).toEqual([
        [3, 'everyone'],
        [5, 'me'],
      ]);

      // Redis list cache: the lists the batches changed were dropped (loaded before, now not);
      // loaded again as an edge does, they hold the rows; carol's row is gone.
      for (const u of ['alice', 'carol', 'dave']) expect(await cache.isLoaded(u)).toBe(false);
      for (const u of ['alice', 'carol', 'dave']) await loadLikeAnEdge(u);
      const alicePage = (await cache.page('alice', { limit: 10 }))!;
      expect(alicePage.conversations).toEqual((await listEntries(t.env.pool, 'alice')).map((x) => x.entry));
      expect((await cache.page('carol', { limit: 10 }))?.conversations).toEqual([]);
      expect(await cache.unreadCounts('dave')).toEqual({ g1: 1 });

      // Reading resets unread and mentions, exactly, whichever device read.
      const [rs] = await publishEvents(t.env.nats.js, t.env.names, [receipt('MessagesRead', 'g1', 'dave', 7, { device: 'd-laptop' })]);
      await waitAll(rs!);
      expect(await rows("SELECT unread_count, mention_count FROM user_conversations WHERE user_id = 'dave'")).toEqual([{ unread_count: 0, mention_count: 0 }]);
      expect(await cache.isLoaded('dave')).toBe(false);
      await loadLikeAnEdge('dave');
      expect(await cache.unreadCounts('dave')).toEqual({ g1: 0 });
      // dave's phone hears of the read made on his laptop as a `receipt` (no activity frame for a read).
      const toDave = (await drain('eB')).flat();
      expect(toDave.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'conversation.activity')).toEqual([]);
      expect(toDave.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'receipt').map((e) => [e.users, e.exceptDevice, (e.frame as Record<string, unknown>)['status'], (e.frame as Record<string, unknown>)['upToSeq']])).toEqual([
        [['dave'], { userId: 'dave', deviceId: 'd-laptop' }, 'read', 7],
      ]);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('a 1,024-member group: inbox rows in batches, one publish per edge per batch', async () => {
    const members = Array.from({ length: 1024 }, (_, i) => `m${String(i).padStart(4, '0')}`);
    await registry.refresh(members.map((u, i) => ({ userId: u, deviceId: `${u}-d`, edgeId: i % 2 ? 'eA' : 'eB' })));
    await drain('eA');
    await drain('eB');
    const r = routers();
    const events = [created('big', members), sent('big', 1, members[0]!, { device: `${members[0]}-d` }), sent('big', 2, members[1]!, { device: `${members[1]}-d` })];
    const seqs = await publishEvents(t.env.nats.js, t.env.names, events);
    // One batch: it waits (lingers) until everything stored before the start has arrived, however
    // it trickles into the buffer (the backlog may also start with an earlier test's last event,
    // read again because reading resumes after the lowest side-effects position, not checkpoint).
    const run = startAll(r, { batchSize: 100, lingerMs: 3_000 });
    try {
      await waitAll(seqs[2]!);
      expect((await rows("SELECT count(*)::int AS n FROM inbox WHERE conversation_id = 'big'"))[0].n).toBe(2048);
      // Published before the projector started: one batch (3 events) → one live publish per
      // edge; same for the activity frames (the creation makes them due).
      expect(running!.projector.stats.batches).toBe(1);
      expect(r.msg.stats).toMatchObject({ batches: 1, publishes: 2 });
      expect(r.conv.stats).toMatchObject({ batches: 1, publishes: 2 });
      const a = await drain('eA');
      expect(a).toHaveLength(2);
      const msgPublish = a.find((p) => p.some((e) => (e.frame as Record<string, unknown>)['type'] === 'message.new'))!;
      expect(msgPublish.map((e) => (e.frame as Record<string, unknown>)['type'])).toEqual(['conversation.updated', 'message.new', 'message.new']);
      expect(msgPublish[1]!.users).toHaveLength(512);
      const actPublish = a.find((p) => p.some((e) => (e.frame as Record<string, unknown>)['type'] === 'conversation.activity'))!;
      expect(actPublish).toHaveLength(512);
      expect(await drain('eB')).toHaveLength(2);
      // Big groups list no members, just the count, and their rows keep no member list.
      await loadLikeAnEdge(members[5]!);
      expect((await cache.page(members[5]!, { limit: 5 }))!.conversations[0]).toMatchObject({ members: null, memberCount: 1024, unreadCount: 2 });
      expect(await rows("SELECT max(cardinality(members))::int AS most, min(member_count)::int AS n FROM user_conversations WHERE conversation_id = 'big'")).toEqual([{ most: 0, n: 1024 }]);
    } finally {
      await run.stop();
      await t.env.redis.del(...members.map((u) => `conn:{${u}}`));
    }
  }, 60_000);

  it('a group shrinking to a listed size gets its member list back; one growing past it loses it', async () => {
    const members = Array.from({ length: 66 }, (_, i) => `s${String(i).padStart(2, '0')}`);
    const r = routers();
    const first = await publishEvents(t.env.nats.js, t.env.names, [
      created('shrink', members),
      removed('shrink', 2, members[0]!, members[64]!),
      removed('shrink', 3, members[0]!, members[65]!),
    ]);
    const run = startAll(r, { batchSize: 1 });
    const row = async () => (await rows("SELECT members, member_count FROM user_conversations WHERE conversation_id = 'shrink' AND user_id = 's01'"))[0];
    try {
      await waitAll(first[2]!);
      // 64 left: listed again, from the members the messages projection holds.
      expect(await row()).toEqual({ members: members.slice(0, 64), member_count: 64 });
      await loadLikeAnEdge('s01');
      expect((await cache.page('s01', { limit: 5 }))!.conversations[0]).toMatchObject({ members: members.slice(0, 64), memberCount: 64 });

      const [last] = await publishEvents(t.env.nats.js, t.env.names, [added('shrink', 4, members[0]!, ['n1'])]);
      await waitAll(last!);
      expect(await row()).toEqual({ members: [], member_count: 65 });
      expect((await rows("SELECT members, member_count FROM user_conversations WHERE conversation_id = 'shrink' AND user_id = 'n1'"))[0]).toEqual({ members: [], member_count: 65 });
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('coalesces group receipts into one receipt.batch per conversation; the reader\'s other devices get a receipt', async () => {
    await registry.register('sa', 'sa-phone', 'eA');
    await registry.register('sb', 'sb-phone', 'eA');
    await registry.register('rd', 'rd-phone', 'eA');
    await registry.register('rd', 'rd-laptop', 'eA');
    const setup = await publishEvents(t.env.nats.js, t.env.names, [created('gr', ['sa', 'sb', 'rd', 're']), sent('gr', 1, 'sa'), sent('gr', 2, 'sb'), sent('gr', 3, 'sa')]);
    const first = startAll(routers());
    await waitAll(setup[3]!).finally(() => first.stop());
    await drain('eA');
    // Published while no projector runs: they arrive as one batch, so one window.
    const rc = await publishEvents(t.env.nats.js, t.env.names, [
      receipt('MessagesDelivered', 'gr', 'rd', 3, { device: 'rd-phone' }),
      receipt('MessagesRead', 'gr', 'rd', 1, { device: 'rd-phone' }),
      receipt('MessagesDelivered', 'gr', 're', 1, { device: 're-phone' }),
      receipt('MessagesRead', 'gr', 'rd', 3, { device: 'rd-phone' }),
    ]);
    const r = routers();
    const run = startAll(r);
    try {
      await waitForCheckpoint(t.env.pool, t.env.names.consumers.projReceipts, rc[3]!);
      const got: DeliveryEnvelope[] = [];
      await waitFor(async () => {
        got.push(...(await drain('eA')).flat());
        return got.some((e) => (e.frame as Record<string, unknown>)['type'] === 'receipt.batch');
      }, 'the receipt.batch');
      // Every receipt is with the coalescer once the projector has passed the last one (side
      // effects come before its position moves); flushing routes whatever it still holds, so a
      // second window would show here as a second receipt.batch.
      await waitAll(rc[3]!);
      await run.coalescer.flush();
      expect(run.coalescer.stats).toMatchObject({ windows: 1, failures: 0 });
      got.push(...(await drain('eA')).flat());
      const batches = got.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'receipt.batch');
      expect(batches).toHaveLength(1);
      expect([...batches[0]!.users].sort()).toEqual(['sa', 'sb']);
      const f = ReceiptBatchFrame.parse(batches[0]!.frame);
      expect(f.receipts.map((x) => [x.userId, x.status, x.upToSeq]).sort()).toEqual([
        ['rd', 'delivered', 3],
        ['rd', 'read', 3],
        ['re', 'delivered', 1],
      ]);
      // The reader's laptop hears about the reads (not the phone that read), as `receipt`.
      const own = got.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'receipt');
      expect(own.map((e) => [e.users, e.exceptDevice, (e.frame as Record<string, unknown>)['userId'], (e.frame as Record<string, unknown>)['status'], (e.frame as Record<string, unknown>)['upToSeq']])).toEqual([
        [['rd'], { userId: 'rd', deviceId: 'rd-phone' }, 'rd', 'read', 1],
        [['rd'], { userId: 'rd', deviceId: 'rd-phone' }, 'rd', 'read', 3],
      ]);
      expect((await rows("SELECT delivered_seq, read_seq FROM member_receipts WHERE conversation_id = 'gr' AND user_id = 'rd'"))[0]).toEqual({ delivered_seq: 3, read_seq: 3 });
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('a rebuild of every projection gives the same rows', async () => {
    const { pool, nats, names } = t.env;
    const snapshot = () => readModelSnapshot(pool);
    const before = await snapshot();
    const last = (await nats.jsm.streams.info(names.streams.events)).state.last_seq;
    await rebuildProjections(pool, names, PROJECTION_KEYS, (await nats.jsm.streams.info(names.streams.events)).state.last_seq);
    const run = startProjections(t.env, (n) => [messagesProjection(n), receiptsProjection(n, null), conversationsProjection(n)], { batchSize: 7 });
    try {
      await waitForCheckpoint(pool, names.consumers.projConversations, last);
      await waitForCheckpoint(pool, names.consumers.projReceipts, last);
      await waitForCheckpoint(pool, names.consumers.projMessages, last - 4);
    } finally {
      await run.stop();
    }
    expect(await snapshot()).toEqual(before);
  }, 60_000);
});
