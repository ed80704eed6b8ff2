import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '@nats-io/jetstream';
import { decodeCursor, DeliveryEnvelope, MessageNewFrame, type Names } from '@chat/contracts';
import { ConnectionRegistry } from '@chat/redis';
import { edgeConsumerConfig, ensureConsumer } from '@chat/streams';
import { messagesProjection } from './messages/projection';
import { receiptsProjection } from './receipts/projection';
import { Router } from './routing';
import { rebuildProjection } from './rebuild';
import { createTestEnv, created, publishEvents, receipt, sent, startProjections, waitFor, waitForCheckpoint, type TestEnv } from './testing/env';

let env: TestEnv;
let edge: Consumer;
let router: Router;

beforeAll(async () => {
  env = await createTestEnv();
  const { stream, config } = edgeConsumerConfig(env.names, 'eX');
  await ensureConsumer(env.nats.jsm, stream, config);
  edge = await env.nats.js.consumers.get(stream, config.durable_name);
  const registry = new ConnectionRegistry(env.redis, 60_000);
  await registry.register('alice', 'a-phone', 'eX');
  await registry.register('alice', 'a-laptop', 'eX');
  await registry.register('bob', 'b-phone', 'eX');
  // carol and dave have no connected device.
  router = new Router(env.nats.js, env.names, registry);
});
afterAll(async () => {
  await env?.dispose();
}, 60_000);

/** Everything routed to edge eX so far (waits briefly for stragglers). */
async function drain(): Promise<DeliveryEnvelope[]> {
  const out: DeliveryEnvelope[] = [];
  for (;;) {
    const info = await edge.info(false);
    if (info.num_pending === 0) return out;
    for await (const m of await edge.fetch({ max_messages: info.num_pending, expires: 1000 })) {
      const body = m.json<unknown>();
      for (const e of Array.isArray(body) ? body : [body]) out.push(DeliveryEnvelope.parse(e));
      m.ack();
    }
  }
}

const both = (names: Names, r: Router = router) => [messagesProjection(names, r), receiptsProjection(names, r)];

describe('routing after commit (d)', () => {
  it('routes one envelope per edge with the members that have devices there, never the sending device', async () => {
    const { names, pool, nats } = env;
    const run = startProjections(env, (n) => both(n));
    try {
      const seqs = await publishEvents(nats.js, names, [
        created('g1', ['alice', 'bob', 'carol']),
        sent('g1', 1, 'alice', { device: 'a-phone' }),
        created('g2', ['carol', 'dave']),
        sent('g2', 1, 'carol'),
        receipt('MessagesRead', 'g1', 'bob', 1, { device: 'b-phone' }),
      ]);
      await waitForCheckpoint(pool, names.consumers.projMessages, seqs[3]!);
      await waitForCheckpoint(pool, names.consumers.projReceipts, seqs[4]!);
      // Group receipts are coalesced for a window before they go out as receipt.batch.
      const envs: DeliveryEnvelope[] = [];
      await waitFor(async () => {
        envs.push(...(await drain()));
        return envs.some((e) => e.frame['type'] === 'receipt.batch');
      }, 'the coalesced receipt');
      // Nothing for g2: neither carol nor dave has a device.
      expect(envs.map((e) => e.frame['type'])).toEqual(['conversation.updated', 'message.new', 'receipt.batch']);
      const [conv, msg, rcpt] = envs as [DeliveryEnvelope, DeliveryEnvelope, DeliveryEnvelope];

      expect(conv.users).toEqual(['alice', 'bob']);
      expect(conv.exceptDevice).toBeUndefined();
      expect(conv.frame).toMatchObject({ conversationId: 'g1', members: ['alice', 'bob', 'carol'], changed: ['created'] });

      // alice is named because of her laptop; the phone that sent it is excepted.
      expect([...msg.users].sort()).toEqual(['alice', 'bob']);
      expect(msg.exceptDevice).toEqual({ userId: 'alice', deviceId: 'a-phone' });
      const frame = MessageNewFrame.parse(msg.frame);
      expect(frame).toMatchObject({ conversationId: 'g1', seq: 1, senderId: 'alice', body: { text: 'message 1 in g1' } });
      expect(decodeCursor(frame.cursor)).toBe(seqs[1]);

      // bob's only device here is the one that read (nothing for his other devices); alice sent
      // the message it covers, so she gets the batch.
      expect(rcpt.users).toEqual(['alice']);
      expect(rcpt.frame).toMatchObject({ type: 'receipt.batch', conversationId: 'g1', receipts: [{ userId: 'bob', status: 'read', upToSeq: 1 }] });
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('a routing failure after commit is retried from the redelivered events, without applying them again', async () => {
    const { names, pool, nats } = env;
    let failures = 0;
    const flaky = new Proxy(router, {
      get(target, prop, receiver) {
        if (prop === 'route') {
          return async (routes: Parameters<Router['route']>[0]) => {
            if (routes.length && failures++ < 2) throw new Error('edge unreachable');
            return target.route(routes);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const run = startProjections(env, (n) => [messagesProjection(n, flaky)]);
    try {
      const [s2] = await publishEvents(nats.js, names, [sent('g1', 2, 'bob', { device: 'b-phone' })]);
      await waitFor(async () => run.runners[0]!.stats.batches >= 1, 'the batch to go through');
      const envs = await drain();
      expect(envs).toHaveLength(1);
      expect(decodeCursor(MessageNewFrame.parse(envs[0]!.frame).cursor)).toBe(s2);
      expect(envs[0]!.exceptDevice).toEqual({ userId: 'bob', deviceId: 'b-phone' });
      expect(failures).toBe(3);
      // Committed once, routed after two failed attempts; the rows exist once.
      const stats = run.runners[0]!.stats;
      expect(stats.applied).toBe(1);
      expect(stats.skipped).toBe(2);
      expect((await pool.query("SELECT count(*)::int AS n FROM inbox WHERE conversation_id = 'g1' AND seq = 2")).rows[0].n).toBe(3);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('a receipt waits for its conversation instead of being routed to nobody', async () => {
    const { names, pool, nats } = env;
    const receipts = startProjections(env, (n) => [receiptsProjection(n, router)]);
    let messages: ReturnType<typeof startProjections> | undefined;
    try {
      const seqs = await publishEvents(nats.js, names, [
        created('g3', ['alice', 'bob'], 0, 'direct'),
        sent('g3', 1, 'alice', { device: 'a-phone' }),
        receipt('MessagesDelivered', 'g3', 'bob', 1, { device: 'b-phone' }),
      ]);
      await new Promise((r) => setTimeout(r, 500));
      // proj-messages is not running: the receipt is neither applied nor routed yet.
      expect(receipts.runners[0]!.stats.applied).toBe(0);
      expect(await drain()).toEqual([]);
      messages = startProjections(env, (n) => [messagesProjection(n, router)]);
      await waitForCheckpoint(pool, names.consumers.projReceipts, seqs[2]!);
      const envs = await drain();
      const rc = envs.filter((e) => e.frame['type'] === 'receipt');
      expect(rc).toHaveLength(1);
      expect(rc[0]!.users).toEqual(['alice']);
      expect(rc[0]!.frame).toMatchObject({ conversationId: 'g3', status: 'delivered', upToSeq: 1 });
    } finally {
      await receipts.stop();
      await messages?.stop();
    }
  }, 60_000);

  it('a rebuild re-applies history without pushing it live again', async () => {
    const { names, pool, nats } = env;
    const before = (await pool.query('SELECT user_id, stream_seq FROM inbox ORDER BY 1, 2')).rows;
    const last = (await nats.jsm.streams.info(names.streams.events)).state.last_seq;
    for (const key of ['messages', 'receipts'] as const) await rebuildProjection({ pool, jsm: nats.jsm, names }, key);
    const frames: unknown[] = [];
    const counting = new Proxy(router, {
      get(target, prop, receiver) {
        if (prop === 'route') {
          return (routes: Parameters<Router['route']>[0]) => {
            frames.push(...routes.map((r) => r.frame));
            return target.route(routes);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const run = startProjections(env, (n) => both(n, counting));
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, last - 1);
      await waitForCheckpoint(pool, names.consumers.projReceipts, last);
      expect((await pool.query('SELECT user_id, stream_seq FROM inbox ORDER BY 1, 2')).rows).toEqual(before);
      expect(frames).toEqual([]);
      expect(await drain()).toEqual([]);
      // Live traffic after the rebuild is routed as usual.
      const [s3] = await publishEvents(nats.js, names, [sent('g1', 3, 'bob', { device: 'b-phone' })]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s3!);
      await waitFor(async () => (await edge.info(false)).num_pending > 0, 'the new message to be routed');
      const envs = await drain();
      expect(envs.map((e) => e.frame['seq'])).toEqual([3]);
    } finally {
      await run.stop();
    }
  }, 60_000);
});
