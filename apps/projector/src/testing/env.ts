import { afterAll, beforeAll, inject } from 'vitest';
import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { names as namesFor, type ChatEvent, type Names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { createPool, readCheckpoint, type Pool } from '@chat/postgres';
import { createRedis, type Redis } from '@chat/redis';
import { createTestNamespace } from '@chat/testing';
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

/**
 * The run's shared servers through libs/testing's namespace (its own database, migrated the
 * way `npm start` migrates; its streams; its Redis prefix), plus the connections a projector
 * test works with.
 */
export async function createTestEnv(): Promise<TestEnv> {
  const space = await createTestNamespace(inject('chatEnv'));
  const names = namesFor(space.ns);
  const pool = createPool(space.databaseUrl, 10);
  // dispose() drops the database WITH (FORCE), which may end connections still closing.
  pool.on('error', () => undefined);
  const nats = await connectNats(space.natsUrl, `projector-test-${space.ns}`);
  const redis = createRedis(space.redisUrl, names.redisPrefix);
  const log = pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' });
  return {
    ns: space.ns,
    names,
    databaseUrl: space.databaseUrl,
    natsUrl: space.natsUrl,
    redisUrl: space.redisUrl,
    pool,
    nats,
    redis,
    log,
    async dispose() {
      await pool.end().catch(() => undefined);
      await nats.nc.close();
      redis.disconnect();
      await space.dispose();
    },
  };
}

/** Appends an event to its CHAT_EVENTS subject; returns the stream sequence. */
export async function publishEvent(js: JetStreamClient, names: Names, e: ChatEvent, hdrs?: Record<string, string>): Promise<number> {
  const subject =
    e.type === 'MessagesDelivered' || e.type === 'MessagesRead' ? names.subjects.evtRcpt(e.conversationId, e.userId) : names.subjects.evtConv(e.conversationId);
  let h: MsgHdrs | undefined;
  if (hdrs) {
    h = natsHeaders();
    for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  }
  return (await js.publish(subject, JSON.stringify(e), h ? { headers: h } : {})).seq;
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
  opts: { batchSize?: number; live?: LiveRouter | null } & Partial<Pick<ProjectorOptions, 'delivery' | 'stalledConsumerMs' | 'idleWaitMs' | 'standbyRetryMs' | 'consumer' | 'lingerMs'>> = {},
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
