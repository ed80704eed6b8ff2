import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatEvent, MemberPreferenceEvent } from '@chat/contracts';
import { buildShadow, diffShadow, swapShadow, type ShadowDeps } from '@chat/ops';
import { listEntries, PROJECTION_KEYS, PROJECTION_TABLES, readCheckpoint } from '@chat/postgres';
import { ConversationListCache } from '@chat/redis';
import { buildProjection } from '../projections';
import { at, created, isPreferenceEvent, publishEvent, publishPreference, receipt, sent, startProjections, useTestEnv, waitForCheckpoint, type TestEnv } from '../testing/env';
import { projectorApplier } from './applyStream';

/**
 * `chatctl rebuild --shadow|--swap` against real NATS and Postgres, with a projector running the
 * whole time: a shadow rebuild equals the live read models, finds a tampered row and only it,
 * and a swap replaces the live tables while the projector goes on applying without a failure.
 */

const t = useTestEnv();
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

const mute = (conversationId: string, userId: string): MemberPreferenceEvent => ({ type: 'MemberMuteChanged', v: 1, conversationId, userId, muted: true, at: at(50) });
const blocks = (userId: string, blockedUserId: string): MemberPreferenceEvent => ({ type: 'UserBlocked', v: 1, userId, blockedUserId, at: at(51) });
const privacy = (userId: string): MemberPreferenceEvent => ({ type: 'PrivacyChanged', v: 1, userId, lastSeen: 'nobody', at: at(52) });

let projector: ReturnType<typeof startProjections>;
let deps: ShadowDeps;
let last = 0;
/** The next message seq per conversation. */
const nextSeq = new Map<string, number>();

async function append(events: Array<ChatEvent | MemberPreferenceEvent>): Promise<number> {
  for (const e of events) {
    last = isPreferenceEvent(e) ? await publishPreference(t.env.nats.js, t.env.names, e) : await publishEvent(t.env.nats.js, t.env.names, e);
  }
  return last;
}

const say = (conversationId: string, senderId: string): ChatEvent => {
  const seq = nextSeq.get(conversationId) ?? 1;
  nextSeq.set(conversationId, seq + 1);
  return sent(conversationId, seq, senderId);
};

const checkpointNames = (env: TestEnv) => PROJECTION_KEYS.map((k) => buildProjection(k, env.names, null).name);

async function caughtUp(): Promise<void> {
  for (const name of checkpointNames(t.env)) await waitForCheckpoint(t.env.pool, name, last);
}

const one = async (sql: string, params: unknown[] = []) => (await t.env.pool.query(sql, params)).rows[0];

/** `chatctl` for the test namespace: exit code, stdout, stderr (spawned, so the in-process projector keeps running). */
async function chatctl(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: t.env.natsUrl, DATABASE_URL: t.env.databaseUrl, REDIS_URL: t.env.redisUrl, CHAT_NS: t.env.ns },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, stdout, stderr };
}

beforeAll(async () => {
  deps = { databaseUrl: t.env.databaseUrl, nats: t.env.nats, names: t.env.names, apply: projectorApplier(t.env.nats, t.env.names), redisUrl: t.env.redisUrl };
  await append([
    created('g1', ['alice', 'bob', 'carol'], 1),
    say('g1', 'alice'),
    say('g1', 'bob'),
    say('g1', 'carol'),
    receipt('MessagesRead', 'g1', 'bob', 2),
    receipt('MessagesDelivered', 'g1', 'carol', 3),
    created('d1', ['alice', 'dave'], 10, 'direct'),
    say('d1', 'alice'),
    say('d1', 'dave'),
    mute('g1', 'carol'),
    blocks('alice', 'dave'),
    privacy('bob'),
  ]);
  projector = startProjections(t.env, (n) => PROJECTION_KEYS.map((k) => buildProjection(k, n, null, { cache: null })), { batchSize: 50 });
  await caughtUp();
}, 60_000);

afterAll(async () => {
  await projector?.stop();
});

describe('chatctl rebuild --shadow', () => {
  it('rebuilds every projection beside the running projector and finds no difference', async () => {
    const build = await buildShadow(deps);
    expect(build).toMatchObject({ schema: 'public_shadow', projections: [...PROJECTION_KEYS], built: [...PROJECTION_KEYS], position: last, events: 12 });
    const diff = await diffShadow(deps);
    expect(diff.consistent).toBe(true);
    expect(diff.positions.shadow).toBe(last);
    expect(diff.tables.map((d) => d.table)).toEqual(PROJECTION_KEYS.flatMap((k) => [...PROJECTION_TABLES[k]]));
    expect(diff.differences).toBe(0);
    for (const d of diff.tables) expect(d.shadow, d.table).toBe(d.live);
    expect(diff.tables.find((d) => d.table === 'messages')?.live).toBe(5);
    expect(diff.tables.find((d) => d.table === 'user_conversations')?.live).toBe(5);
    expect(projector.projector.stats.failures).toBe(0);
  });

  it('reports exactly the live rows that were changed, deleted and added', async () => {
    const bob = await one("SELECT unread_count FROM user_conversations WHERE user_id = 'bob' AND conversation_id = 'g1'");
    expect(bob.unread_count).toBe(1);
    await t.env.pool.query("UPDATE user_conversations SET unread_count = 6 WHERE user_id = 'bob' AND conversation_id = 'g1'");
    await t.env.pool.query("DELETE FROM member_receipts WHERE conversation_id = 'g1' AND user_id = 'carol'");
    await t.env.pool.query("INSERT INTO user_blocks (user_id, blocked_user_id, at) VALUES ('erin', 'frank', now())");

    const build = await buildShadow(deps, ['conversations', 'receipts', 'preferences']);
    // receipts and conversations read members and messages: built alongside, not compared.
    expect(build.built).toEqual(['messages', 'receipts', 'conversations', 'preferences']);
    const diff = await diffShadow(deps);
    expect(diff.tables.map((d) => d.table)).toEqual([...PROJECTION_TABLES.receipts, ...PROJECTION_TABLES.conversations, ...PROJECTION_TABLES.preferences]);
    expect(diff.differences).toBe(3);
    const changed = Object.fromEntries(diff.tables.filter((d) => d.onlyLive + d.onlyShadow + d.different > 0).map((d) => [d.table, d]));
    expect(Object.keys(changed).sort()).toEqual(['member_receipts', 'user_blocks', 'user_conversations']);
    expect(changed['user_conversations']).toMatchObject({ onlyLive: 0, onlyShadow: 0, different: 1 });
    expect(changed['user_conversations']!.examples).toEqual([{ kind: 'different', key: { user_id: 'bob', conversation_id: 'g1' }, columns: { unread_count: { live: 6, shadow: 1 } } }]);
    expect(changed['member_receipts']).toMatchObject({ onlyLive: 0, onlyShadow: 1, different: 0 });
    expect(changed['member_receipts']!.examples).toEqual([{ kind: 'only-shadow', key: { conversation_id: 'g1', user_id: 'carol' } }]);
    expect(changed['user_blocks']).toMatchObject({ onlyLive: 1, onlyShadow: 0, different: 0 });
    expect(changed['user_blocks']!.examples).toEqual([{ kind: 'only-live', key: { user_id: 'erin', blocked_user_id: 'frank' } }]);
  });
});

describe('chatctl rebuild --swap', () => {
  it('swaps conversations in while the projector runs: it continues from the same position, and cached lists are dropped', async () => {
    const cache = new ConversationListCache(t.env.redis);
    const seen = await readCheckpoint(t.env.pool, t.env.names.consumers.projConversations);
    expect(await cache.load('bob', await listEntries(t.env.pool, 'bob'), seen!)).toBe(true);
    // Events after the shadow's position: the swap catches it up.
    await append([say('g1', 'alice')]);
    await caughtUp();

    const swap = await swapShadow(deps, ['conversations']);
    expect(swap).toMatchObject({ projections: ['conversations'], tables: ['user_conversations', 'conversation_senders'], position: last, livePositions: { conversations: last } });
    expect(swap.cacheUsers).toBe(4);
    // bob read 2; 3 (carol) and 4 (alice) are unread: the tampered 6 is gone.
    expect((await one("SELECT unread_count FROM user_conversations WHERE user_id = 'bob' AND conversation_id = 'g1'")).unread_count).toBe(2);
    expect((await one('SELECT count(*)::int AS n FROM conversation_senders')).n).toBe(6);
    expect(await readCheckpoint(t.env.pool, t.env.names.consumers.projConversations)).toBe(last);
    // Only the swapped projection's tables changed; the shadow is gone.
    expect((await one("SELECT count(*)::int AS n FROM member_receipts WHERE conversation_id = 'g1' AND user_id = 'carol'")).n).toBe(0);
    expect((await one("SELECT count(*)::int AS n FROM user_blocks WHERE user_id = 'erin'")).n).toBe(1);
    expect((await one("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'public_shadow'")).n).toBe(0);
    // Indexes and constraints came along under their own names.
    expect((await one("SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'public' AND indexname IN ('user_conversations_pkey', 'user_conversations_list', 'conversation_senders_pkey')")).n).toBe(3);
    // The list cached from the old table is dropped, and a load read at the old position cannot bring it back.
    expect(await cache.isLoaded('bob')).toBe(false);
    expect(await cache.load('bob', [], seen!)).toBe(false);

    // The running projector applies new events to the swapped tables, without a failed batch.
    await append([say('g1', 'carol')]);
    await caughtUp();
    expect((await one("SELECT unread_count FROM user_conversations WHERE user_id = 'bob' AND conversation_id = 'g1'")).unread_count).toBe(3);
    expect(projector.projector.stats.failures).toBe(0);
  });

  it('swaps while events keep arriving, and the live tables then equal a full rebuild', async () => {
    await buildShadow(deps, ['receipts', 'preferences']);
    expect((await diffShadow(deps)).differences).toBe(2);

    let writing = true;
    const writer = (async () => {
      let i = 0;
      while (writing || i < 20) {
        await append([say(i % 2 ? 'g1' : 'd1', i % 2 ? 'bob' : 'dave'), receipt('MessagesRead', 'g1', 'alice', (nextSeq.get('g1') ?? 1) - 1, { i: 2000 + i })]);
        i++;
      }
    })();
    const swap = await swapShadow(deps);
    writing = false;
    await writer;
    expect(swap.projections).toEqual(['receipts', 'preferences']);
    expect(swap.position).toBeGreaterThan(0);
    await caughtUp();

    expect((await one("SELECT count(*)::int AS n FROM member_receipts WHERE conversation_id = 'g1' AND user_id = 'carol'")).n).toBe(1);
    expect((await one("SELECT count(*)::int AS n FROM user_blocks WHERE user_id = 'erin'")).n).toBe(0);
    await buildShadow(deps);
    const diff = await diffShadow(deps);
    expect(diff.consistent).toBe(true);
    expect(diff.differences).toBe(0);
    expect(projector.projector.stats.failures).toBe(0);
  });

  it('gives way to a transaction holding a live table and tries again; a swap given up leaves everything as it was', async () => {
    await buildShadow(deps, ['preferences']);
    const holder = await t.env.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE user_blocks IN ROW EXCLUSIVE MODE');
      await expect(swapShadow(deps, undefined, { lockAttempts: 2 })).rejects.toThrow('could not lock the live tables of preferences in 2 tries');
      expect((await one("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public_shadow' AND tablename = 'user_blocks'")).n).toBe(1);
      const swapping = swapShadow(deps);
      await new Promise((r) => setTimeout(r, 1_500));
      await holder.query('COMMIT');
      expect((await swapping).lockAttempts).toBeGreaterThan(1);
    } finally {
      holder.release();
    }
    expect((await one("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'public_shadow'")).n).toBe(0);
  });

  it('refuses a swap without a shadow, and of a projection the shadow does not hold', async () => {
    await buildShadow(deps, ['preferences']);
    await expect(swapShadow(deps, ['messages'])).rejects.toThrow('the shadow holds preferences, not messages');
    await swapShadow(deps);
    await expect(swapShadow(deps)).rejects.toThrow('no shadow build in schema public_shadow: run chatctl rebuild [projections...] --shadow first');
    await expect(diffShadow(deps)).rejects.toThrow('no shadow build');
  });
});

describe('chatctl rebuild (the command)', () => {
  it('diffs as JSON or text with exit status 0 or 2, swaps, and refuses bad input', async () => {
    const bad = await chatctl('rebuild', 'messages', 'nope', '--shadow');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('unknown projection(s): nope (known: messages, receipts, conversations, preferences)');
    const both = await chatctl('rebuild', '--shadow', '--swap');
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('give one of --shadow');
    const none = await chatctl('rebuild', 'preferences', '--swap');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no shadow build in schema public_shadow');

    const clean = await chatctl('rebuild', 'preferences', '--shadow', '--json');
    expect(clean.code, clean.stderr).toBe(0);
    const report = JSON.parse(clean.stdout) as { build: { built: string[] }; diff: { differences: number; tables: Array<{ table: string }> } };
    expect(report.build.built).toEqual(['preferences']);
    expect(report.diff.differences).toBe(0);
    expect(report.diff.tables.map((d) => d.table)).toEqual([...PROJECTION_TABLES.preferences]);

    await t.env.pool.query("UPDATE user_settings SET last_seen = 'everyone' WHERE user_id = 'bob'");
    const dirty = await chatctl('rebuild', 'preferences', '--shadow');
    expect(dirty.code, dirty.stderr).toBe(2);
    expect(dirty.stdout).toContain('user_settings user_id=bob: last_seen live everyone, shadow nobody');
    expect(dirty.stdout).toContain('chatctl rebuild preferences --swap');

    const swapped = await chatctl('rebuild', '--swap');
    expect(swapped.code, swapped.stderr).toBe(0);
    expect(swapped.stdout).toContain('swapped preferences in from public_shadow');
    expect((await one("SELECT last_seen FROM user_settings WHERE user_id = 'bob'")).last_seen).toBe('nobody');
    expect((await chatctl('rebuild', '--discard')).stdout).toContain('no shadow (schema public_shadow does not exist)');
  }, 120_000);
});
