import { beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '@nats-io/jetstream';
import { decodeCursor, DeliveryEnvelope, HANDED_BY_HEADER, MessageNewFrame, ROUTED_THROUGH_HEADER, type Names } from '@chat/contracts';
import { ConnectionRegistry } from '@chat/redis';
import { publisherFor } from '@chat/nats';
import { edgeConsumerConfig, ensureConsumer } from '@chat/streams';
import { NotifyStreamJob, recipientJobs, type NotifyJob } from '@chat/contracts';
import { LiveRouter } from './live/liveRouter';
import { MembershipCache } from './live/membership';
import { messagesProjection } from './messages/projection';
import { receiptsProjection } from './receipts/projection';
import { Router } from './routing';
import { rebuildProjections } from './rebuild';
import { created, publishEvent, publishEvents, receipt, sent, startProjections, waitFor, waitForCheckpoint, useTestEnv } from './testing/env';

const t = useTestEnv();
let edge: Consumer;
let router: Router;

beforeAll(async () => {
  const { stream, config } = edgeConsumerConfig(t.env.names, 'eX');
  await ensureConsumer(t.env.nats.jsm, stream, config);
  edge = await t.env.nats.js.consumers.get(stream, config.durable_name);
  const registry = new ConnectionRegistry(t.env.redis, 60_000);
  await registry.register('alice', 'a-phone', 'eX');
  await registry.register('alice', 'a-laptop', 'eX');
  await registry.register('bob', 'b-phone', 'eX');
  // carol and dave have no connected device.
  router = new Router(publisherFor(t.env.nats.nc), t.env.names, registry);
});

/** Everything routed to edge eX so far (waits briefly for stragglers); `through` collects each publish's ROUTED_THROUGH_HEADER. */
async function drain(through: Array<string | undefined> = []): Promise<DeliveryEnvelope[]> {
  const out: DeliveryEnvelope[] = [];
  for (;;) {
    const info = await edge.info(false);
    if (info.num_pending === 0) return out;
    for await (const m of await edge.fetch({ max_messages: info.num_pending, expires: 1000 })) {
      through.push(m.headers?.get(ROUTED_THROUGH_HEADER) || undefined);
      const body = m.json<unknown>();
      for (const e of Array.isArray(body) ? body : [body]) out.push(DeliveryEnvelope.parse(e));
      m.ack();
    }
  }
}

const both = (names: Names, r: Router = router) => [messagesProjection(names), receiptsProjection(names, r)];
const live = (r: Router = router) => new LiveRouter({ router: r, membership: new MembershipCache(10_000), publisher: publisherFor(t.env.nats.nc), names: t.env.names });

/** Push jobs queued on CHAT_NOTIFY so far: one per recipient, and the subjects of the messages that carried them. */
async function pushJobs(): Promise<NotifyJob[] & { subjects: string[] }> {
  const out = Object.assign([] as NotifyJob[], { subjects: [] as string[] });
  const c = await t.env.nats.js.consumers.get(t.env.names.streams.notify, t.env.names.consumers.notifierJobs);
  const pending = (await c.info(true)).num_pending;
  if (pending === 0) return out;
  for await (const m of await c.fetch({ max_messages: pending, expires: 1000 })) {
    out.push(...recipientJobs(NotifyStreamJob.parse(m.json())));
    out.subjects.push(m.subject);
    m.ack();
  }
  return out;
}

describe('live routing (d)', () => {
  it('routes one envelope per edge with the members that have devices there, never the sending device; push jobs for the offline', async () => {
    const { names, pool, nats } = t.env;
    const run = startProjections(t.env, (n) => both(n), { live: live() });
    try {
      const seqs = await publishEvents(nats.js, names, [
        created('g1', ['alice', 'bob', 'carol']),
        sent('g1', 1, 'alice', { device: 'a-phone' }),
        created('g2', ['carol', 'dave', 'frank']),
        sent('g2', 1, 'carol'),
        receipt('MessagesRead', 'g1', 'bob', 1, { device: 'b-phone' }),
      ]);
      await waitForCheckpoint(pool, names.consumers.projMessages, seqs[3]!);
      await waitForCheckpoint(pool, names.consumers.projReceipts, seqs[4]!);
      // Group receipts are coalesced for a window before they go out as receipt.batch.
      const envs: DeliveryEnvelope[] = [];
      await waitFor(async () => {
        envs.push(...(await drain()));
        return envs.some((e) => (e.frame as Record<string, unknown>)['type'] === 'receipt.batch');
      }, 'the coalesced receipt');
      // Nothing for g2: neither carol nor dave has a device.
      expect(envs.map((e) => (e.frame as Record<string, unknown>)['type'])).toEqual(['conversation.updated', 'message.new', 'receipt.batch']);
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

      // carol (g1), dave and frank (g2) have no device: one job per message, for all of its
      // offline recipients; carol's own message in g2 none for her.
      const jobs = await pushJobs();
      expect(jobs.map((j) => [j.userId, j.conversationId, j.seq, j.eventSeq]).sort()).toEqual([
        ['carol', 'g1', 1, seqs[1]],
        ['dave', 'g2', 1, seqs[3]],
        ['frank', 'g2', 1, seqs[3]],
      ]);
      expect(jobs.subjects.sort()).toEqual([names.subjects.notify('g1'), names.subjects.notify('g2')]);
      expect(jobs.every((j) => j.text === undefined)).toBe(true);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it("routes a message handed over at the append (HANDED_BY_HEADER) to every edge but the one that handed it, and tells each edge how far it has routed", async () => {
    const { names, pool, nats } = t.env;
    const registry = new ConnectionRegistry(t.env.redis, 60_000);
    await registry.register('erin', 'e-phone', 'eY');
    const run = startProjections(t.env, (n) => [messagesProjection(n)], { live: live() });
    try {
      const [c] = await publishEvents(nats.js, names, [created('h1', ['alice', 'erin'], 0, 'direct')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, c!);
      await drain();
      // Handed over by eX: erin's device on eY gets it from the projector, alice's devices on eX do not.
      const handed = await publishEvent(nats.js, names, sent('h1', 1, 'erin', { device: 'e-phone' }), { [HANDED_BY_HEADER]: 'eX' });
      const routed = await publishEvent(nats.js, names, sent('h1', 2, 'erin', { device: 'e-phone' }));
      await waitForCheckpoint(pool, names.consumers.projMessages, routed);
      const through: Array<string | undefined> = [];
      const envs = await drain(through);
      expect(envs.map((e) => MessageNewFrame.parse(e.frame).seq)).toEqual([2]);
      expect(decodeCursor(MessageNewFrame.parse(envs[0]!.frame).cursor)).toBe(routed);
      // Every publish to eX names the last event its batch routed (one batch or two).
      expect(through.length).toBeGreaterThan(0);
      expect(through.every((v) => Number(v) >= handed)).toBe(true);
      expect(Number(through.at(-1))).toBe(routed);
      // No push for alice: she has devices (on eX), the hand-over reached them.
      expect((await pushJobs()).filter((j) => j.conversationId === 'h1')).toEqual([]);
    } finally {
      await run.stop();
      await registry.unregister('erin', 'e-phone', 'eY');
    }
  }, 60_000);

  it('a batch whose frames cannot be published does not commit; it is retried and applied once', async () => {
    const { names, pool, nats } = t.env;
    let failures = 0;
    const flaky = new Proxy(router, {
      get(target, prop, receiver) {
        if (prop === 'send') {
          return async (...args: Parameters<Router['send']>) => {
            if (args[0].length && failures++ < 2) throw new Error('edge unreachable');
            return target.send(...args);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const run = startProjections(t.env, (n) => [messagesProjection(n)], { live: live(flaky) });
    try {
      const [s2] = await publishEvents(nats.js, names, [sent('g1', 2, 'bob', { device: 'b-phone' })]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s2!);
      const envs = await drain();
      expect(envs).toHaveLength(1);
      expect(decodeCursor(MessageNewFrame.parse(envs[0]!.frame).cursor)).toBe(s2);
      expect(envs[0]!.exceptDevice).toEqual({ userId: 'bob', deviceId: 'b-phone' });
      expect(failures).toBe(3);
      // Two failed attempts rolled back, the third committed; the rows exist once.
      expect(run.projector.stats.failures).toBe(2);
      expect(run.projector.stats.applied).toBe(1);
      expect((await pool.query("SELECT count(*)::int AS n FROM inbox WHERE conversation_id = 'g1' AND seq = 2")).rows[0].n).toBe(3);
    } finally {
      await run.stop();
    }
  }, 60_000);

  it('routes a receipt from the events alone: no read model needs to know the conversation', async () => {
    const { names, nats } = t.env;
    // Only proj-receipts runs: conversations and members are in no table, the live router folds them from the stream.
    const receipts = startProjections(t.env, (n) => [receiptsProjection(n, router)], { live: live() });
    try {
      const seqs = await publishEvents(nats.js, names, [
        created('g3', ['alice', 'bob'], 0, 'direct'),
        sent('g3', 1, 'alice', { device: 'a-phone' }),
        receipt('MessagesDelivered', 'g3', 'bob', 1, { device: 'b-phone' }),
      ]);
      await waitForCheckpoint(t.env.pool, names.consumers.projReceipts, seqs[2]!);
      expect((await t.env.pool.query("SELECT count(*)::int AS n FROM conversations WHERE id = 'g3'")).rows[0].n).toBe(0);
      const envs = await drain();
      const rc = envs.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'receipt');
      expect(rc).toHaveLength(1);
      expect(rc[0]!.users).toEqual(['alice']);
      expect(rc[0]!.frame).toMatchObject({ conversationId: 'g3', status: 'delivered', upToSeq: 1 });
      expect(envs.filter((e) => (e.frame as Record<string, unknown>)['type'] === 'message.new').map((e) => e.users)).toEqual([['alice', 'bob']]);
    } finally {
      await receipts.stop();
    }
    // proj-messages catches up later by itself.
    const messages = startProjections(t.env, (n) => [messagesProjection(n)]);
    try {
      await waitFor(async () => (await t.env.pool.query("SELECT count(*)::int AS n FROM messages WHERE conversation_id = 'g3'")).rows[0].n === 1, 'g3 to be projected');
    } finally {
      await messages.stop();
    }
  }, 60_000);

  it('a rebuild re-applies history without pushing it live again', async () => {
    const { names, pool, nats } = t.env;
    const before = (await pool.query('SELECT user_id, stream_seq FROM inbox ORDER BY 1, 2')).rows;
    const last = (await nats.jsm.streams.info(names.streams.events)).state.last_seq;
    await rebuildProjections(pool, names, ['messages', 'receipts'], (await nats.jsm.streams.info(names.streams.events)).state.last_seq);
    const frames: unknown[] = [];
    const counting = new Proxy(router, {
      get(target, prop, receiver) {
        if (prop === 'send') {
          return (...args: Parameters<Router['send']>) => {
            frames.push(...args[0].map((r) => r.frame));
            return target.send(...args);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const run = startProjections(t.env, (n) => both(n, counting), { live: live(counting) });
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
      expect(envs.map((e) => (e.frame as Record<string, unknown>)['seq'])).toEqual([3]);
      expect(frames).toHaveLength(1);
    } finally {
      await run.stop();
    }
  }, 60_000);
});
