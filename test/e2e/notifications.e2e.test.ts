import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ServerFrameOf } from '@chat/client';
import { names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { ConnectionRegistry, createRedis, type Redis } from '@chat/redis';
import { createTestNamespace, type TestNamespace } from '@chat/testing';
import { eventually, nextEvent, startApp, startSystem, type RunningSystem } from '../support/system';
import { harness, text } from '../support/harness';
import { startPushGateway } from '../support/push';

let gateway: Awaited<ReturnType<typeof startPushGateway>>;
let sys: RunningSystem;
let redis: Redis;
let ns: TestNamespace;
let nats: Nats;
const { u, connect, closeAll, http } = harness(() => sys);
const WINDOW_MS = 1000;

const pushesTo = (user: string) => gateway.pushesTo(user);
const delivered = (user: string) => pushesTo(user).filter((r) => r.status === 200);

/**
 * The positive marker for "nothing more will be pushed": the projector has applied every event
 * so far (every push job exists), and the notifier has finished every job (none waiting, none
 * held in a collapse window or for a redelivery).
 */
async function settled(): Promise<void> {
  const n = names(ns.ns);
  const outstanding = async (stream: string, consumer: string) => {
    const c = await nats.jsm.consumers.info(stream, consumer);
    return c.num_pending + c.num_ack_pending;
  };
  await eventually(() => outstanding(n.streams.events, n.consumers.projector), (v) => v === 0, 30_000);
  await eventually(() => outstanding(n.streams.notify, n.consumers.notifierJobs), (v) => v === 0, 30_000);
}

beforeAll(async () => {
  gateway = await startPushGateway();
  // A namespace of its own: the notifier consumer then starts at this file's events, not
  // behind whatever the run's earlier files left for it.
  ns = await createTestNamespace(inject('chatEnv'));
  const env = ns.env;
  sys = await startSystem(env, { CHAT_PUSH_URL: gateway.url, CHAT_PUSH_COLLAPSE_WINDOW: `${WINDOW_MS}ms`, CHAT_PUSH_TIMEOUT: '2s' });
  redis = createRedis(env['REDIS_URL']!, names(env['CHAT_NS']).redisPrefix);
  nats = await connectNats(env['NATS_URL']!, 'notifications-test');
}, 60_000);

afterAll(async () => {
  closeAll();
  await sys?.stop();
  redis?.disconnect();
  await nats?.nc.close();
  await gateway?.close();
  await ns?.dispose();
});

describe('push notifications for offline users', () => {
  let bobDirect: string;

  it('pushes "New message from <sender>" to an offline recipient, without the text, with the total unread as badge', async () => {
    const alice = await connect(u('alice'));
    const bob = u('bob');
    ({ conversationId: bobDirect } = await alice.createConversation({ kind: 'direct', members: [bob] }));
    const sent = await alice.send({ conversationId: bobDirect, body: text('the secret plan') });

    const [push] = await eventually(async () => delivered(bob), (p) => p.length >= 1);
    expect(push!.headers['content-type']).toBe('application/json');
    expect(push!.body).toMatchObject({
      to: { userId: bob },
      collapseKey: bobDirect,
      notification: { title: `New message from ${u('alice')}` },
      badge: 1,
      data: { conversationId: bobDirect, messageId: sent.messageId, seq: sent.seq, senderId: u('alice'), count: 1 },
      apns: { headers: { 'apns-collapse-id': bobDirect }, payload: { aps: { badge: 1, 'thread-id': bobDirect } } },
      fcm: { collapse_key: bobDirect, data: { conversationId: bobDirect } },
    });
    expect(JSON.stringify(push!.body)).not.toContain('secret');
  });

  it('collapses messages of a conversation within the window into one push with the count and the same collapse key', async () => {
    const alice = await connect(u('alice'));
    const bob = u('bob');
    const { conversationId } = await alice.createConversation({ kind: 'group', members: [bob], title: 'team' });
    const before = delivered(bob).length;
    const sent = [];
    for (let i = 1; i <= 3; i++) sent.push(await alice.send({ conversationId, body: text(`m${i}`) }));

    const pushes = await eventually(async () => delivered(bob).slice(before), (p) => p.length >= 2);
    await settled();
    const all = delivered(bob).slice(before);
    expect(all).toHaveLength(2);
    expect(all.map((p) => p.body.collapseKey)).toEqual([conversationId, conversationId]);
    expect(pushes[0]!.body.data.count).toBe(1);
    expect(all[1]!.body).toMatchObject({
      notification: { title: `2 new messages from ${u('alice')}` },
      // The newest message, standing for the 2nd and 3rd.
      data: { count: 2, messageId: sent[2]!.messageId, seq: sent[2]!.seq },
    });
    // Badge: every unread of bob's, both conversations (1 direct + 3 group).
    expect(all[1]!.body.badge).toBe(4);
  });

  it('sends nothing to a recipient with a connected device', async () => {
    const alice = await connect(u('alice'));
    const carol = await connect(u('carol'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('carol')] });
    const got = nextEvent<ServerFrameOf<'message.new'>>((f) => carol.on('message', f));
    await alice.send({ conversationId, body: text('you are online') });
    await got;
    await settled();
    expect(pushesTo(u('carol'))).toHaveLength(0);
  });

  it('sends nothing for a muted conversation', async () => {
    const dave = u('dave');
    const alice = await connect(u('alice'));
    const eve = await connect(u('eve'));
    const { conversationId: muted } = await alice.createConversation({ kind: 'direct', members: [dave] });
    const { conversationId: loud } = await eve.createConversation({ kind: 'direct', members: [dave] });

    const daveClient = await connect(dave, 'phone');
    const answer = await daveClient.mute(muted, true);
    expect(answer).toMatchObject({ type: 'conversation.muted', conversationId: muted, muted: true });
    daveClient.close();
    const registry = new ConnectionRegistry(redis, 90_000);
    await eventually(() => registry.devices(dave), (d) => d.length === 0);

    await alice.send({ conversationId: muted, body: text('shh') });
    await eve.send({ conversationId: loud, body: text('hello') });
    // The unmuted conversation's push proves dave is offline and the pipeline ran.
    await eventually(async () => delivered(dave), (p) => p.length >= 1);
    await settled();
    expect(pushesTo(dave).map((p) => p.body.collapseKey)).toEqual([loud]);
  });

  it('retries a push the gateway answered with 500 and delivers it once', async () => {
    const frank = u('frank');
    gateway.answers.set(frank, [500]);
    const alice = await connect(u('alice'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [frank] });
    await alice.send({ conversationId, body: text('again') });
    await eventually(async () => delivered(frank), (p) => p.length >= 1, 20_000);
    await settled();
    expect(pushesTo(frank).map((p) => p.status)).toEqual([500, 200]);
    // The same push both times.
    expect(pushesTo(frank)[0]!.headers['idempotency-key']).toBe(pushesTo(frank)[1]!.headers['idempotency-key']);
  });

  it('does not retry a push the gateway refused with 400', async () => {
    const gina = u('gina');
    gateway.answers.set(gina, [400, 400, 400]);
    const alice = await connect(u('alice'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [gina] });
    await alice.send({ conversationId, body: text('bad') });
    await eventually(async () => pushesTo(gina), (p) => p.length >= 1);
    await settled();
    expect(pushesTo(gina).map((p) => p.status)).toEqual([400]);
  });

  it('sends nothing from a user the recipient blocks; others in the same group still push', async () => {
    const [iris, carol, dave] = [u('iris'), u('carol'), u('dave')];
    const owner = await connect(dave);
    const { conversationId } = await owner.createConversation({ kind: 'group', title: 'blocked in a group', members: [iris, carol] });
    expect((await http(`/v1/me/blocks/${carol}`, iris, { method: 'PUT' })).status).toBe(204);
    await settled(); // the block is in the read model (the projector has applied every event)
    const c = await connect(carol);
    await c.send({ conversationId, body: text('from someone iris blocks') });
    await settled();
    expect(pushesTo(iris)).toEqual([]);

    await owner.send({ conversationId, body: text('from dave') });
    const [push] = await eventually(async () => delivered(iris), (p) => p.length >= 1);
    expect(push!.body).toMatchObject({ data: { conversationId, senderId: dave } });
  });

  // Last: it stops and restarts the projector.
  it('holds a push until the read models include the message (projector stopped), then sends it with the right badge', async () => {
    const henry = u('henry');
    const alice = await connect(u('alice'));
    const projector = sys.apps.find((a) => a.name === 'projector')!;
    expect(await projector.stop()).toBe(0);
    // A conversation the read models have never seen, and its first message.
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [henry] });
    const sent = await alice.send({ conversationId, body: text('while the projector is away') });
    // No push job exists yet (the projector makes them as it routes). Once it runs, the job comes
    // with the live routing, before the read models commit: the notifier waits for them, so the
    // badge counts the message.

    sys.apps.push(startApp('projector', sys.env));
    const [push] = await eventually(async () => delivered(henry), (p) => p.length >= 1, 30_000);
    expect(push!.body).toMatchObject({ collapseKey: conversationId, badge: 1, data: { conversationId, seq: sent.seq, count: 1 } });
  }, 60_000);
});
