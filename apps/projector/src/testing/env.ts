import { afterAll, beforeAll } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { JetStreamClient } from '@nats-io/jetstream';
import { pino, type Logger } from 'pino';
import { names as namesFor, type ChatEvent, type Names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { createPool, readCheckpoint, type Pool } from '@chat/postgres';
import { createRedis, type Redis } from '@chat/redis';
import { applyStreams } from '@chat/streams';
import type { AnyProjection } from '../pipeline/applier';
import { Projector, type ProjectorOptions } from '../pipeline/projector';
import type { LiveRouter } from '../live/liveRouter';

export * from './events';
export * from './snapshots';

/**
 * A throwaway namespace for one test file: database chat_<ns> with the read-model schema,
 * the streams under the ns prefix, Redis keys under "<ns>:". dispose() removes all of it.
 */
export interface TestEnv {
  ns: string;
  names: Names;
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
  pool: Pool;
  nats: Nats;
  redis: Redis;
  log: Logger;
  dispose(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL('../../../../libs/postgres/migrations/', import.meta.url));

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * The one setup of a projector integration test file: a throwaway namespace (database,
 * streams, Redis prefix) before its tests, removed after them. `env` is there once they run.
 */
export function useTestEnv(): { readonly env: TestEnv } {
  const t = { env: undefined as unknown as TestEnv };
  beforeAll(async () => {
    t.env = await createTestEnv();
  }, 60_000);
  afterAll(async () => {
    await t.env?.dispose();
  }, 60_000);
  return t;
}

export async function createTestEnv(): Promise<TestEnv> {
  const ns = `t${randomBytes(5).toString('hex')}`;
  const names = namesFor(ns);
  const baseDb = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/chat';
  const natsUrl = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
  const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const dbName = `chat_${ns}`;
  const databaseUrl = withDatabase(baseDb, dbName);

  const admin = createPool(withDatabase(baseDb, 'postgres'), 1);
  await admin.query(`CREATE DATABASE "${dbName}"`);
  const pool = createPool(databaseUrl, 10);
  // dispose() drops the database WITH (FORCE), which may end connections still closing.
  pool.on('error', () => undefined);
  for (const f of (await readdir(MIGRATIONS)).filter((x) => x.endsWith('.sql')).sort()) {
    const sql = await readFile(MIGRATIONS + f, 'utf8');
    await pool.query(sql.split('-- Down Migration')[0]!.replace('-- Up Migration', ''));
  }

  const nats = await connectNats(natsUrl, `projector-test-${ns}`);
  await applyStreams(nats.jsm, names, { replicas: 1, maxAgeMs: 30 * 86_400_000 });
  const redis = createRedis(redisUrl, names.redisPrefix);
  const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });

  return {
    ns,
    names,
    databaseUrl,
    natsUrl,
    redisUrl,
    pool,
    nats,
    redis,
    log,
    async dispose() {
      await pool.end().catch(() => undefined);
      await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
      await admin.end();
      for (const s of [...Object.values(names.streams), ...Object.values(names.kv).map((b) => `KV_${b}`)]) await nats.jsm.streams.delete(s).catch(() => undefined);
      await nats.nc.close();
      const plain = createRedis(redisUrl);
      let cursor = '0';
      do {
        const [next, keys] = await plain.scan(cursor, 'MATCH', `${names.redisPrefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length) await plain.del(...keys);
      } while (cursor !== '0');
      plain.disconnect();
      redis.disconnect();
    },
  };
}

/** Appends an event to its CHAT_EVENTS subject; returns the stream sequence. */
export async function publishEvent(js: JetStreamClient, names: Names, e: ChatEvent): Promise<number> {
  const subject =
    e.type === 'MessagesDelivered' || e.type === 'MessagesRead' ? names.subjects.evtRcpt(e.conversationId, e.userId) : names.subjects.evtConv(e.conversationId);
  return (await js.publish(subject, JSON.stringify(e))).seq;
}

/** Publishes many events in order without waiting for each ack; returns their sequences. */
export async function publishEvents(js: JetStreamClient, names: Names, events: readonly ChatEvent[], window = 256): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < events.length; i += window) {
    // Sent in call order on one connection, so the stream keeps this order.
    seqs.push(...(await Promise.all(events.slice(i, i + window).map((e) => publishEvent(js, names, e)))));
  }
  return seqs;
}

export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function waitForCheckpoint(pool: Pool, name: string, seq: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => ((await readCheckpoint(pool, name)) ?? 0) >= seq, `${name} to reach ${seq}`, timeoutMs);
}

/** Starts an in-process projector for some projections of the test namespace (live routing only with `live`). */
export function startProjections(
  env: TestEnv,
  build: (names: Names) => AnyProjection[],
  opts: { batchSize?: number; live?: LiveRouter | null } & Partial<Pick<ProjectorOptions, 'delivery' | 'stalledConsumerMs' | 'idleWaitMs' | 'standbyRetryMs' | 'consumer'>> = {},
): { projector: Projector; stop(): Promise<void> } {
  const { batchSize, live, ...rest } = opts;
  const projector = new Projector(
    { pool: env.pool, nc: env.nats.nc, js: env.nats.js, jsm: env.nats.jsm, names: env.names, log: env.log, batchSize: batchSize ?? 100, idleWaitMs: 2_000, live: live ?? null, ...rest },
    build(env.names),
  ).start();
  return { projector, stop: () => projector.stop() };
}

/** Every read-model table row by row, in a stable order: a rebuild must reproduce it exactly. */
export async function readModelSnapshot(pool: Pool): Promise<Record<string, unknown[]>> {
  const q = async (sql: string) => (await pool.query(sql)).rows;
  return {
    conversations: await q('SELECT * FROM conversations ORDER BY id'),
    members: await q('SELECT * FROM conversation_members ORDER BY conversation_id, user_id'),
    messages: await q('SELECT * FROM messages ORDER BY conversation_id, seq'),
    inbox: await q('SELECT * FROM inbox ORDER BY user_id, stream_seq'),
    hidden: await q('SELECT * FROM hidden_messages ORDER BY user_id, conversation_id, seq'),
    receipts: await q('SELECT * FROM member_receipts ORDER BY conversation_id, user_id'),
    userConversations: await q('SELECT * FROM user_conversations ORDER BY user_id, conversation_id'),
    senders: await q('SELECT * FROM conversation_senders ORDER BY conversation_id, seq'),
  };
}
