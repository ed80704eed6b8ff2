import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ChatEvent, LastSeenVisibility, MemberMuteChanged, StoredEvent, UserSettingsEvent } from '@chat/contracts';
import { messageSent } from '@chat/domain/fixtures';
import { listEntries } from '@chat/postgres';
import { nanos } from '@chat/streams';
import { messagesProjection } from './messages/projection';
import { receiptsProjection } from './receipts/projection';
import { conversationsProjection } from './conversations/projection';
import { preferencesProjection } from './preferences/projection';
import { loadRebuildSeed } from '@chat/ops';
import { PROJECTION_KEYS, rebuildProjections, type RebuildSeed } from './rebuild';
import { sweep } from './sweeper';
import {
  publishEvent,
  isPreferenceEvent,
  publishPreference,
  readModelSnapshot,
  snapshotsOf,
  startProjections,
  waitFor,
  waitForCheckpoint,
  writeSnapshots, useTestEnv, type TestEnv } from './testing/env';

/**
 * A rebuild after CHAT_EVENTS lost the conversations' creation: the snapshots restore
 * conversations, members, lists, watermarks and mutes, the projector replays what the stream
 * still has, and the read models equal what they were. Real NATS (a 10 s max age) and Postgres.
 */

const t = useTestEnv();

const MAX_AGE_MS = 10_000;
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];

/** Event times: real ones (the stream's max age and the sweeper go by them), a millisecond apart. */
let clock = 0;
const now = (): string => {
  clock = Math.max(clock + 1, Date.now());
  return new Date(clock).toISOString();
};

const created = (conversationId: string, kind: 'group' | 'direct', members: string[], title?: string): ChatEvent => ({
  type: 'ConversationCreated',
  v: 1,
  conversationId,
  kind,
  ...(title ? { title } : {}),
  createdBy: members[0]!,
  members: members.map((userId, i) => ({ userId, role: kind === 'group' && i === 0 ? 'owner' : 'member' })),
  at: now(),
});
const sent = (conversationId: string, seq: number, senderId: string): ChatEvent =>
  messageSent({ conversationId, seq, senderId, clientMsgId: `c-${conversationId}-${seq}`, body: { text: `message ${seq} in ${conversationId} from ${senderId}` }, sentAt: now() });
const read = (conversationId: string, userId: string, upToSeq: number): ChatEvent => ({ type: 'MessagesRead', v: 1, conversationId, userId, deviceId: `${userId}-phone`, upToSeq, at: now() });
const added = (conversationId: string, seq: number, by: string, userId: string): ChatEvent => ({
  type: 'MembersAdded',
  v: 1,
  conversationId,
  seq,
  by,
  members: [{ userId, role: 'member' }],
  at: now(),
});
const leftConv = (conversationId: string, seq: number, userId: string): ChatEvent => ({ type: 'MemberLeft', v: 1, conversationId, seq, userId, at: now() });
const privacy = (userId: string, lastSeen: LastSeenVisibility): UserSettingsEvent => ({ type: 'PrivacyChanged', v: 1, userId, lastSeen, at: now() });
const block = (userId: string, blockedUserId: string, on = true): UserSettingsEvent => ({ type: on ? 'UserBlocked' : 'UserUnblocked', v: 1, userId, blockedUserId, at: now() });
const mute = (conversationId: string, userId: string, muted: boolean, until?: string): MemberMuteChanged => ({
  type: 'MemberMuteChanged',
  v: 1,
  conversationId,
  userId,
  muted,
  ...(until ? { until } : {}),
  at: now(),
});

/** Every event appended so far, with its stream sequence: what the command service's snapshots fold. */
const stored: Array<{ streamSeq: number; event: StoredEvent }> = [];
async function append(events: StoredEvent[]): Promise<number> {
  for (const event of events) {
    const streamSeq = isPreferenceEvent(event) ? await publishPreference(t.env.nats.js, t.env.names, event) : await publishEvent(t.env.nats.js, t.env.names, event);
    stored.push({ streamSeq, event });
  }
  return stored[stored.length - 1]!.streamSeq;
}

const build = (n: TestEnv['names']) => [messagesProjection(n), receiptsProjection(n, null), conversationsProjection(n), preferencesProjection(n)];

/** Runs the projector until every projection has applied the stream (or, empty, until it is reading). */
async function project(): Promise<void> {
  const run = startProjections(t.env, build);
  try {
    const { state } = await t.env.nats.jsm.streams.info(t.env.names.streams.events);
    if (state.messages > 0) {
      for (const name of [t.env.names.consumers.projMessages, t.env.names.consumers.projReceipts, t.env.names.consumers.projConversations, t.env.names.consumers.projPreferences]) {
        await waitForCheckpoint(t.env.pool, name, state.last_seq);
      }
    } else {
      // Nothing to apply: done once the projector has opened its consumer past the checkpoint
      // and its pull waits at the server with nothing pending or unacknowledged.
      await waitFor(async () => {
        if (run.projector.stats.resets === 0) return false;
        const info = await t.env.nats.jsm.consumers.info(t.env.names.streams.events, t.env.names.consumers.projector);
        return info.num_waiting > 0 && info.num_pending === 0 && info.num_ack_pending === 0;
      }, 'the projector to read the empty stream');
    }
  } finally {
    await run.stop();
  }
}

const rows = async (sql: string) => (await t.env.pool.query(sql)).rows;

/** The conversation lists as the edge reads them, and the rows behind memberships, watermarks and mutes. */
async function readState() {
  const lists: Record<string, unknown> = {};
  for (const u of USERS) lists[u] = (await listEntries(t.env.pool, u)).sort((a, b) => a.entry.conversationId.localeCompare(b.entry.conversationId));
  return {
    lists,
    listRows: await rows('SELECT * FROM user_conversations ORDER BY user_id, conversation_id'),
    conversations: await rows('SELECT * FROM conversations ORDER BY id'),
    // joined_at is not in a snapshot (nothing reads it): a seeded member has the conversation's creation time.
    members: await rows('SELECT conversation_id, user_id, role, joined_after_seq FROM conversation_members ORDER BY conversation_id, user_id'),
    // A watermark only a snapshot knows has no time (NULL).
    receipts: await rows('SELECT conversation_id, user_id, delivered_seq, read_seq FROM member_receipts ORDER BY conversation_id, user_id'),
    mutes: await rows('SELECT * FROM notification_mutes ORDER BY user_id, conversation_id'),
    settings: await rows('SELECT * FROM user_settings ORDER BY user_id'),
    blocks: await rows('SELECT * FROM user_blocks ORDER BY user_id, blocked_user_id'),
  };
}

const unread = async () =>
  Object.fromEntries((await rows('SELECT conversation_id, user_id, unread_count FROM user_conversations ORDER BY 1, 2')).map((r) => [`${r.conversation_id}/${r.user_id}`, r.unread_count]));

async function rebuild(): Promise<RebuildSeed> {
  const seed = await loadRebuildSeed(t.env.nats, t.env.names);
  const { state } = await t.env.nats.jsm.streams.info(t.env.names.streams.events);
  await rebuildProjections(t.env.pool, t.env.names, [...PROJECTION_KEYS], state.last_seq, seed);
  return seed;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `npm run rebuild` for the test namespace: exit code and output. */
async function runRebuildCli(): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/projector/src/rebuild-cli.ts'], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: t.env.natsUrl, DATABASE_URL: t.env.databaseUrl, REDIS_URL: t.env.redisUrl, CHAT_NS: t.env.ns },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, output };
}

async function setMaxAge(maxAgeMs: number): Promise<void> {
  // Only CHAT_EVENTS; its duplicate window may not exceed its max age.
  await t.env.nats.jsm.streams.update(t.env.names.streams.events, { max_age: nanos(maxAgeMs), duplicate_window: nanos(Math.min(maxAgeMs, 2 * 60_000)) });
}

describe('rebuild with snapshots', () => {
  it('restores conversations, members, lists, watermarks and mutes whose events aged out, and replays the rest on top', async () => {
    // A group: owner + 2 members, a member added later, a role change, a title; a direct
    // conversation; messages, read watermarks, mutes. Each conversation's last event is a message.
    await append([
      created('g1', 'group', ['alice', 'bob', 'carol'], 'Team'),
      sent('g1', 1, 'alice'),
      sent('g1', 2, 'bob'),
      sent('g1', 3, 'carol'),
      read('g1', 'bob', 2),
      added('g1', 4, 'alice', 'dave'),
      { type: 'RolesChanged', v: 1, conversationId: 'g1', by: 'alice', changes: [{ userId: 'bob', role: 'admin' }], at: now() },
      { type: 'ConversationUpdated', v: 1, conversationId: 'g1', by: 'alice', title: 'Renamed', at: now() },
      sent('g1', 5, 'dave'),
      sent('g1', 6, 'alice'),
      read('g1', 'carol', 6),
      read('g1', 'dave', 5),
      mute('g1', 'carol', true),
      sent('g1', 7, 'bob'),
      created('d1', 'direct', ['alice', 'bob']),
      sent('d1', 1, 'alice'),
      sent('d1', 2, 'alice'),
      sent('d1', 3, 'bob'),
      read('d1', 'bob', 2),
      mute('d1', 'alice', true, new Date(Date.now() + 86_400_000).toISOString()),
      sent('d1', 4, 'alice'),
      privacy('bob', 'nobody'),
      block('alice', 'carol'),
      block('alice', 'dave'),
      block('alice', 'dave', false),
    ]);
    await project();
    const expectedUnread = { 'd1/alice': 1, 'd1/bob': 1, 'g1/alice': 4, 'g1/bob': 3, 'g1/carol': 1, 'g1/dave': 2 };
    expect(await unread()).toEqual(expectedUnread);
    const live = await readModelSnapshot(t.env.pool);
    const liveState = await readState();
    // The command service's snapshots of every subject.
    await writeSnapshots(t.env.nats.js, t.env.names, snapshotsOf(t.env.names, stored));

    // 1. The creation events are still in the stream: the snapshots add nothing, the replay
    //    restores everything, nothing is counted twice.
    const whole = await rebuild();
    expect(whole.conversations).toEqual([]);
    expect(whole.receipts).toEqual([]);
    expect(whole.stats.conversationsInStream).toBe(2);
    await project();
    expect(await readModelSnapshot(t.env.pool)).toEqual(live);
    expect(await readState()).toEqual(liveState);

    // 2. Every event ages out (max age 10 s); the sweeper does to the live read models what the
    //    projector's does at that age.
    await setMaxAge(MAX_AGE_MS);
    await waitFor(async () => (await t.env.nats.jsm.streams.info(t.env.names.streams.events)).state.messages === 0, 'CHAT_EVENTS to age out', 40_000);
    // Swept until every message row is gone (the server may expire a message a little before
    // the sweeper's cutoff): 10 messages and the system message of dave's join.
    let swept = 0;
    await waitFor(async () => {
      swept += (await sweep(t.env.pool, { maxAgeMs: MAX_AGE_MS })).messages;
      return (await rows('SELECT 1 FROM messages')).length === 0;
    }, 'the sweeper to delete every message');
    expect(swept).toBe(11);
    const aged = await readState();
    expect(await unread()).toEqual(expectedUnread);
    expect(aged.members).toEqual(liveState.members);
    expect((aged.listRows as Array<{ last_message: { expired?: boolean } }>).every((r) => r.last_message.expired === true)).toBe(true);

    // A rebuild without snapshots loses them all…
    const { state: emptyState } = await t.env.nats.jsm.streams.info(t.env.names.streams.events);
    await rebuildProjections(t.env.pool, t.env.names, [...PROJECTION_KEYS], emptyState.last_seq);
    expect(await rows('SELECT * FROM user_conversations')).toEqual([]);
    expect(await rows('SELECT * FROM conversation_members')).toEqual([]);

    // …with them, the lists and memberships are what they were.
    const gone = await rebuild();
    expect(gone.conversations.map((c) => c.conversationId).sort()).toEqual(['d1', 'g1']);
    await project();
    expect(await readState()).toEqual(aged);
    expect(await unread()).toEqual(expectedUnread);
    expect(await rows("SELECT user_id, role, joined_after_seq FROM conversation_members WHERE conversation_id = 'g1' ORDER BY user_id")).toEqual([
      { user_id: 'alice', role: 'owner', joined_after_seq: 0 },
      { user_id: 'bob', role: 'admin', joined_after_seq: 0 },
      { user_id: 'carol', role: 'member', joined_after_seq: 0 },
      { user_id: 'dave', role: 'member', joined_after_seq: 3 },
    ]);
    // Watermarks only a snapshot knows have no time.
    expect(await rows("SELECT read_at FROM member_receipts WHERE conversation_id = 'g1' AND user_id = 'carol'")).toEqual([{ read_at: null }]);

    // 3. Some of the timeline is in the stream again, and the snapshots cover part of it: a
    //    message, a member added, one leaving, a read, an unmute. The seeded state is the one
    //    before the stream's part (the join and the leave undone), the replay adds the rest.
    await setMaxAge(30 * 86_400_000);
    await append([
      sent('g1', 8, 'carol'),
      added('g1', 9, 'alice', 'erin'),
      leftConv('g1', 10, 'bob'),
      read('g1', 'alice', 9),
      mute('g1', 'carol', false),
      sent('g1', 11, 'dave'),
      sent('d1', 5, 'bob'),
      block('alice', 'carol', false),
      block('alice', 'erin'),
      privacy('bob', 'contacts'),
    ]);
    await project();
    const partialUnread = { 'd1/alice': 2, 'd1/bob': 1, 'g1/alice': 1, 'g1/carol': 2, 'g1/dave': 3, 'g1/erin': 1 };
    expect(await unread()).toEqual(partialUnread);
    const mixed = await readState();
    await writeSnapshots(t.env.nats.js, t.env.names, snapshotsOf(t.env.names, stored));

    const partial = await rebuild();
    const g1 = partial.conversations.find((c) => c.conversationId === 'g1')!;
    expect(g1.lastSeq).toBe(7);
    expect(g1.members.map((m) => m.userId)).toEqual(['alice', 'carol', 'dave', 'bob']);
    // alice's read of 9 is in the stream: the replay sets it, with its time.
    expect(partial.receipts.map((r) => `${r.conversationId}/${r.userId}`).sort()).toEqual(['d1/bob', 'g1/bob', 'g1/carol', 'g1/dave']);
    await project();
    expect(await readState()).toEqual(mixed);
    expect(await unread()).toEqual(partialUnread);
    expect((await rows("SELECT read_at FROM member_receipts WHERE conversation_id = 'g1' AND user_id = 'alice'"))[0].read_at).toBeInstanceOf(Date);
    // Again, through `npm run rebuild` (which reads the bucket of CHAT_NS itself): the same.
    const cli = await runRebuildCli();
    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toMatch(/2 conversation\(s\) restored from them/);
    expect(cli.output).toMatch(/seeded: 2 conversations, 6 members, 6 list rows, 4 watermarks, 2 mutes, 1 privacy settings, 1 blocks/);
    await project();
    expect(await readState()).toEqual(mixed);
  }, 120_000);
});
