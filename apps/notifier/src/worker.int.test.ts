import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import pino from 'pino';
import { names as namesFor, notifyJobId, type NotifyJob, type NotifyMessage } from '@chat/contracts';
import { connectNats, publisherFor, type Nats } from '@chat/nats';
import { createPool, type Pool } from '@chat/postgres';
import { ConnectionRegistry, createRedis, type Redis } from '@chat/redis';
import { createTestNamespace, type TestNamespace } from '@chat/testing';
import type { Carrier } from './collapse';
import type { PushPayload } from './payload';
import { newStats } from './stats';
import { NotifierStore } from './store';
import { PushWorker } from './worker';

let ns: TestNamespace;
let pool: Pool;
let redis: Redis;
let gateway: Server;
let gatewayUrl: string;
let nats: Nats;
const received: PushPayload[] = [];

beforeAll(async () => {
  ns = await createTestNamespace(inject('chatEnv'));
  pool = createPool(ns.databaseUrl, 2);
  redis = createRedis(ns.redisUrl, namesFor(ns.ns).redisPrefix);
  nats = await connectNats(ns.natsUrl, `notifier-test-${ns.ns}`);
  gateway = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as PushPayload);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/push`;
});

afterAll(async () => {
  await nats?.nc.close();
  gateway?.close();
  redis?.disconnect();
  await pool?.end();
  await ns?.dispose();
});

const job = (userId: string, conversationId: string, seq: number, eventSeq: number): NotifyJob => ({
  v: 1,
  jobId: notifyJobId(eventSeq, userId),
  userId,
  conversationId,
  messageId: `m-${conversationId}-${seq}`,
  seq,
  senderId: 'sender',
  sentAt: new Date().toISOString(),
  eventSeq,
});

const carrier = (): Carrier & { settled: Promise<string> } => {
  let settle!: (how: string) => void;
  const settled = new Promise<string>((r) => (settle = r));
  return { ack: () => settle('ack'), nak: () => settle('nak'), term: () => settle('term'), deliveryCount: 1, settled };
};

describe('PushWorker', () => {
  it('checks the pushes due together in one batch: presence first, Postgres only for the users still offline', async () => {
    // c1: u1 … u6 offline but u2 (online) and u3 (muted); u5's mute has run out; u6 also has c2.
    await pool.query(
      `INSERT INTO notification_mutes (user_id, conversation_id, muted, until, stream_seq) VALUES
        ('u3', 'c1', true, NULL, 1), ('u5', 'c1', true, now() - interval '1 minute', 2), ('u4', 'c1', false, NULL, 3)`,
    );
    await pool.query(
      `INSERT INTO user_conversations (user_id, conversation_id, kind, members, last_activity_at, unread_count) VALUES
        ('u1', 'c1', 'group', '{}', now(), 3), ('u6', 'c1', 'group', '{}', now(), 1), ('u6', 'c2', 'direct', '{}', now(), 4)`,
    );
    await pool.query(`INSERT INTO messages (conversation_id, seq, message_id, sender_id, sender_device_id, client_msg_id, body, sent_at, stream_seq)
                      VALUES ('c1', 7, 'm-c1-7', 'sender', 'd1', 'x7', '{"text":"hello there"}', now(), 7)`);
    const registry = new ConnectionRegistry(redis, 90_000);
    await registry.register('u2', 'phone', 'edge-a');
    const store = new NotifierStore(pool);
    const lookup = vi.spyOn(registry, 'lookup');
    const muted = vi.spyOn(store, 'muted');
    const totalUnread = vi.spyOn(store, 'totalUnread');
    const texts = vi.spyOn(store, 'messageTexts');
    const stats = newStats();
    const worker = new PushWorker({ store, registry, log: pino({ level: 'silent' }), stats, url: gatewayUrl, preview: true, windowMs: 30_000, timeoutMs: 5_000, maxDeliver: 8 });

    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    const carriers = users.map(() => carrier());
    users.forEach((u, i) => worker.collapser.add(job(u, 'c1', 7, 100 + i), carriers[i]!));
    const outcomes = await Promise.all(carriers.map((c) => c.settled));
    await worker.close();

    expect(outcomes).toEqual(['ack', 'ack', 'ack', 'ack', 'ack', 'ack']);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup.mock.calls[0]![0]).toEqual(users);
    expect(muted).toHaveBeenCalledTimes(1);
    expect(muted.mock.calls[0]![0].map((p) => p.userId)).toEqual(['u1', 'u3', 'u4', 'u5', 'u6']);
    expect(totalUnread).toHaveBeenCalledTimes(1);
    expect(totalUnread.mock.calls[0]![0]).toEqual(['u1', 'u4', 'u5', 'u6']);
    expect(texts).toHaveBeenCalledTimes(1);
    const byUser = new Map(received.map((p) => [p.to.userId, p]));
    expect([...byUser.keys()].sort()).toEqual(['u1', 'u4', 'u5', 'u6']);
    expect(Object.fromEntries([...byUser].map(([u, p]) => [u, p.badge]))).toEqual({ u1: 3, u4: 0, u5: 0, u6: 5 });
    expect(byUser.get('u1')!.notification.body).toBe('hello there');
    expect(stats).toMatchObject({ skippedOnline: 1, skippedMuted: 1, pushed: 4 });
  });

  it('without CHAT_PUSH_URL logs the push and keeps the collapse window, as a gateway that took it would', async () => {
    const lines: Array<{ msg: string; to?: string }> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string; to?: string }) });
    const registry = new ConnectionRegistry(redis, 90_000);
    const stats = newStats();
    const worker = new PushWorker({ store: new NotifierStore(pool), registry, log, stats, preview: false, windowMs: 30_000, timeoutMs: 5_000, maxDeliver: 8 });
    const first = carrier();
    worker.collapser.add(job('w1', 'c9', 1, 500), first);
    expect(await first.settled).toBe('ack');
    // Inside the window: held for the window's end, not logged again. Another user's job added
    // after it is pushed at once; once that is done, a push of the held job would have been too.
    const second = carrier();
    worker.collapser.add(job('w1', 'c9', 2, 501), second);
    const other = carrier();
    worker.collapser.add(job('w2', 'c9', 2, 502), other);
    expect(await other.settled).toBe('ack');
    expect(lines.filter((l) => l.msg.startsWith('push (no CHAT_PUSH_URL')).map((l) => l.to)).toEqual(['w1', 'w2']);
    // Closing hands the held job back to the stream.
    await worker.close();
    expect(await second.settled).toBe('nak');
    expect(stats).toMatchObject({ dropped: 2, pushed: 0 });
  });

  it('takes one job message for a message\'s offline recipients (v2) and the older one-recipient jobs (v1) from CHAT_NOTIFY, and acks each once all its pushes are done', async () => {
    const n = namesFor(ns.ns);
    const registry = new ConnectionRegistry(redis, 90_000);
    await registry.register('v2b', 'phone', 'edge-a'); // came online since the projector routed it
    const stats = newStats();
    const worker = new PushWorker({ store: new NotifierStore(pool), registry, log: pino({ level: 'silent' }), stats, url: gatewayUrl, preview: false, windowMs: 30_000, timeoutMs: 5_000, maxDeliver: 8 });
    const publisher = publisherFor(nats.nc);
    const message: NotifyMessage = { v: 2, userIds: ['v2a', 'v2b', 'v2c'], conversationId: 'g-v2', messageId: 'm-v2', seq: 3, senderId: 'sender', sentAt: new Date().toISOString(), eventSeq: 900 };
    await publisher.publish(n.subjects.notify('g-v2'), JSON.stringify(message), { msgId: notifyJobId(900, 'v2a') });
    // A v1 job, as older projectors queued them (on the recipient's subject).
    await publisher.publish(n.subjects.notify('v1d'), JSON.stringify(job('v1d', 'g-v2', 3, 900)), { msgId: notifyJobId(900, 'v1d') });
    const consumer = await nats.js.consumers.get(n.streams.notify, n.consumers.notifierJobs);
    for await (const m of await consumer.fetch({ max_messages: 2, expires: 2_000 })) await worker.handle(m);

    await vi.waitFor(
      async () => {
        const info = await consumer.info();
        expect([info.num_pending, info.num_ack_pending, info.delivered.stream_seq]).toEqual([0, 0, 2]);
      },
      { timeout: 10_000, interval: 50 },
    );
    await worker.close();
    const pushed = received.filter((p) => p.data.conversationId === 'g-v2').map((p) => p.to.userId);
    expect(pushed.sort()).toEqual(['v1d', 'v2a', 'v2c']);
    expect(stats).toMatchObject({ jobs: 4, skippedOnline: 1, pushed: 3 });
  });
});
