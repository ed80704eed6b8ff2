import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandReply } from '@chat/contracts';
import { commandSubject, JetStreamEventStore, publishCommand } from '@chat/nats';
import { collectReplies, createGroup, createService, createTestEnv, markRead, send, type TestEnv } from './testing/env';

let env: TestEnv;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  for (const close of closers) await close().catch(() => undefined);
  await env.dispose();
});

const consumerState = async () => {
  const ci = await env.nats.jsm.consumers.info(env.names.streams.cmd, env.names.consumers.commandHandler);
  return { pending: ci.num_pending, ackPending: ci.num_ack_pending, redelivered: ci.num_redelivered };
};

describe('command service over CHAT_CMD', () => {
  it('answers each command on the edge reply subject by requestId, acks it, and terminates garbage', async () => {
    const svc = await createService(env);
    closers.push(svc.close);
    await svc.service.start();
    const replies = collectReplies(env.nats.nc, env.names);
    closers.push(async () => replies.close());
    const conv = 'g-e2e';
    const pub = (c: Parameters<typeof commandSubject>[1]) => publishCommand(env.nats.js, commandSubject(env.names, c), c, { msgId: c.meta.commandId });

    const create = createGroup(conv, 'alice', ['bob']);
    await pub(create);
    await replies.waitFor(1);
    const hello = send(conv, 'alice', 'hello');
    const intruder = send(conv, 'mallory', 'let me in');
    const read = markRead(conv, 'bob', 99);
    for (const c of [hello, intruder]) await pub(c);
    await replies.waitFor(3);
    await pub(read);
    // Not a command at all, and a command with a bad field: neither can ever succeed.
    await env.nats.js.publish(env.names.subjects.cmdConv(conv, 'send'), 'not json', { msgID: 'garbage-1' });
    await env.nats.js.publish(env.names.subjects.cmdConv(conv, 'send'), JSON.stringify({ ...hello, data: { ...hello.data, conversationId: 'bad.id' } }), { msgID: 'garbage-2' });
    // The same command published twice (an edge retrying its publish) is queued once.
    const dup = await pub(hello);
    expect(dup.duplicate).toBe(true);
    await replies.waitFor(4);

    const one = (id: string): CommandReply => {
      const r = replies.replies.get(id) ?? [];
      expect(r).toHaveLength(1);
      return r[0]!;
    };
    expect(one(create.meta.requestId)).toEqual({
      requestId: create.meta.requestId,
      ok: true,
      result: { kind: 'conversation.created', conversationId: conv, conversationKind: 'group', members: ['alice', 'bob'] },
    });
    expect(one(hello.meta.requestId)).toMatchObject({ ok: true, result: { kind: 'message.sent', conversationId: conv, clientMsgId: 'hello', seq: 1 } });
    expect(one(intruder.meta.requestId)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(one(read.meta.requestId)).toEqual({ requestId: read.meta.requestId, ok: true, result: { kind: 'accepted' } });

    await new Promise((r) => setTimeout(r, 300));
    expect(await consumerState()).toEqual({ pending: 0, ackPending: 0, redelivered: 0 });
    expect(svc.service.stats).toMatchObject({ handled: 4, rejected: 1, invalid: 2 });
    expect((await env.nats.jsm.streams.info(env.names.streams.cmd)).state.messages).toBe(0);
    const store = new JetStreamEventStore(env.nats.js, env.nats.jsm, env.names.streams.events);
    expect((await store.load(env.names.subjects.evtRcpt(conv, 'bob'))).events).toMatchObject([{ type: 'MessagesRead', upToSeq: 1 }]);
    await svc.close();
  });

  it('stops gracefully: running commands finish and answer, the rest go to the next instance', async () => {
    const first = await createService(env, { batch: 64 });
    const replies = collectReplies(env.nats.nc, env.names, 'edge-stop');
    closers.push(async () => replies.close());
    const convs = Array.from({ length: 10 }, (_, i) => `g-stop-${i}`);
    for (const conv of convs) await first.service.execute(createGroup(conv, 'alice', ['bob']));
    await first.service.start();

    const commands = convs.flatMap((conv) =>
      Array.from({ length: 30 }, (_, i) => {
        const c = send(conv, 'alice', `s${i}`);
        return { ...c, meta: { ...c.meta, edgeId: 'edge-stop' } };
      }),
    );
    await Promise.all(commands.map((c) => publishCommand(env.nats.js, commandSubject(env.names, c), c, { msgId: c.meta.commandId })));
    await replies.waitFor(20);
    await first.close();
    const answeredByFirst = replies.replies.size;
    // Everything delivered to the stopped instance was answered or handed back, none left to ack_wait.
    expect((await consumerState()).ackPending).toBe(0);

    const second = await createService(env);
    closers.push(second.close);
    await second.service.start();
    await replies.waitFor(commands.length, 10_000);

    for (const c of commands) expect(replies.replies.get(c.meta.requestId)).toMatchObject([{ ok: true }]);
    expect(first.service.stats.handled).toBeGreaterThanOrEqual(answeredByFirst);
    expect(first.service.stats.handled).toBeLessThan(commands.length);
    expect(first.service.stats.handled + second.service.stats.handled).toBe(commands.length);
    const store = new JetStreamEventStore(env.nats.js, env.nats.jsm, env.names.streams.events);
    for (const conv of convs) {
      const seqs = (await store.load(env.names.subjects.evtConv(conv))).events.flatMap((e) => (e.type === 'MessageSent' ? [e.seq] : []));
      expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    }
  });

  it('fenced (writer lock lost): appends nothing more, answers nothing more, and the next instance gets every command', async () => {
    const first = await createService(env, { batch: 64 });
    const replies = collectReplies(env.nats.nc, env.names, 'edge-fence');
    closers.push(async () => replies.close());
    const convs = Array.from({ length: 5 }, (_, i) => `g-fence-${i}`);
    for (const conv of convs) await first.service.execute(createGroup(conv, 'alice', ['bob']));
    await first.service.start();
    const commands = convs.flatMap((conv) =>
      Array.from({ length: 20 }, (_, i) => {
        const c = send(conv, 'alice', `f${i}`);
        return { ...c, meta: { ...c.meta, edgeId: 'edge-fence' } };
      }),
    );
    await Promise.all(commands.map((c) => publishCommand(env.nats.js, commandSubject(env.names, c), c, { msgId: c.meta.commandId })));
    await replies.waitFor(10);
    first.service.fence();
    const handledAtFence = first.service.stats.handled;
    await first.close();
    // Commands already past their append when fenced may still answer; nothing starts after.
    expect(first.service.stats.handled - handledAtFence).toBeLessThanOrEqual(convs.length);
    // The rest were handed back with a delay (so they do not bounce off the fenced instance).

    const second = await createService(env);
    closers.push(second.close);
    await second.service.start();
    await replies.waitFor(commands.length, 10_000);
    for (const c of commands) expect(replies.replies.get(c.meta.requestId)).toMatchObject([{ ok: true }]);
    const store = new JetStreamEventStore(env.nats.js, env.nats.jsm, env.names.streams.events);
    for (const conv of convs) {
      const seqs = (await store.load(env.names.subjects.evtConv(conv))).events.flatMap((e) => (e.type === 'MessageSent' ? [e.seq] : []));
      expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });
});
