import { describe, expect, it } from 'vitest';
import { TEST_PARTITIONS, collectReplies, createGroup, createService, markRead, send, sendCommand, useCommandTestEnv } from './testing/env';
import { commandSubject, partitionOf } from '@chat/nats';

const t = useCommandTestEnv();

const sentSeqs = async (conv: string) => {
  return (await t.store.load(t.env.names.subjects.evtConv(conv))).events.flatMap((e) => (e.type === 'MessageSent' ? [e.seq] : []));
};

describe('command service over core NATS', () => {
  it('answers each command on the edge reply subject by requestId, and refuses what is not a command', async () => {
    const svc = await createService(t.env);
    t.closeLater(svc.close);
    await svc.takeAll();
    const replies = collectReplies(t.env.nats.nc, t.env.names);
    t.closeLater(async () => replies.close());
    const conv = 'g-e2e';

    const create = createGroup(conv, 'alice', ['bob']);
    sendCommand(t.env.nats.nc, t.env.names, create);
    await replies.waitFor(1);
    const hello = send(conv, 'alice', 'hello');
    const intruder = send(conv, 'mallory', 'let me in');
    sendCommand(t.env.nats.nc, t.env.names, hello);
    sendCommand(t.env.nats.nc, t.env.names, intruder);
    await replies.waitFor(3);
    const read = markRead(conv, 'bob', 99);
    sendCommand(t.env.nats.nc, t.env.names, read);
    // Not a command at all: answered bad_request at once.
    const garbage = await t.env.nats.nc.request(commandSubject(t.env.names, hello, TEST_PARTITIONS), 'not json', { timeout: 5_000 });
    expect(garbage.json()).toMatchObject([{ ok: false, error: { code: 'bad_request' } }]);
    // The same command again (an edge resending it): the same answer, nothing appended twice.
    sendCommand(t.env.nats.nc, t.env.names, hello);
    await replies.waitFor(4);
    const deadline = Date.now() + 5_000;
    while ((replies.replies.get(hello.meta.requestId)?.length ?? 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));

    expect(replies.replies.get(create.meta.requestId)).toEqual([
      { requestId: create.meta.requestId, ok: true, result: { kind: 'conversation.created', conversationId: conv, conversationKind: 'group', members: ['alice', 'bob'] } },
    ]);
    const helloAnswers = replies.replies.get(hello.meta.requestId)!;
    expect(helloAnswers).toHaveLength(2);
    for (const a of helloAnswers) expect(a).toMatchObject({ ok: true, result: { kind: 'message.sent', conversationId: conv, clientMsgId: 'hello', seq: 1 } });
    expect(replies.replies.get(intruder.meta.requestId)).toMatchObject([{ ok: false, error: { code: 'forbidden' } }]);
    expect(replies.replies.get(read.meta.requestId)).toEqual([{ requestId: read.meta.requestId, ok: true, result: { kind: 'accepted' } }]);
    expect(svc.service.stats).toMatchObject({ invalid: 1, rejected: 1 });
    expect(await sentSeqs(conv)).toEqual([1]);
    expect((await t.store.load(t.env.names.subjects.evtRcpt(conv, 'bob'))).events).toMatchObject([{ type: 'MessagesRead', upToSeq: 1 }]);
    await svc.close();
  });

  it('a partition nobody owns gets "no responders" at once; a partition this process does not own is answered `moved` and appends nothing', async () => {
    const conv = 'g-moved';
    const p = partitionOf(conv, TEST_PARTITIONS);
    // Nobody subscribed to this conversation's partition: the server answers 503 right away.
    const lonely = createGroup(conv, 'alice', ['bob']);
    const noResponders = await t.env.nats.nc
      .request(commandSubject(t.env.names, lonely, TEST_PARTITIONS), JSON.stringify([lonely]), { timeout: 5_000 })
      .then(
        () => 'answered',
        (e: Error) => e.message,
      );
    expect(noResponders).toMatch(/no responders/i);

    // Subscribed, but its lease is gone: it sends the command back to be resent, appending nothing.
    let owned = true;
    const svc = await createService(t.env, { owns: () => owned });
    t.closeLater(svc.close);
    svc.service.take(p);
    await svc.nats.nc.flush();
    const replies = collectReplies(t.env.nats.nc, t.env.names, 'edge-moved');
    t.closeLater(async () => replies.close());
    const withEdge = <T extends { meta: { edgeId: string } }>(c: T): T => ({ ...c, meta: { ...c.meta, edgeId: 'edge-moved' } });
    sendCommand(t.env.nats.nc, t.env.names, withEdge(createGroup(conv, 'alice', ['bob'])));
    await replies.waitFor(1);
    owned = false;
    const late = withEdge(send(conv, 'alice', 'late'));
    sendCommand(t.env.nats.nc, t.env.names, late);
    await replies.waitFor(2);
    expect(replies.replies.get(late.meta.requestId)).toMatchObject([{ ok: false, error: { code: 'unavailable' }, moved: true }]);
    expect(svc.service.stats.moved).toBe(1);
    expect(await sentSeqs(conv)).toEqual([]);
    // Owning it again, the same command (resent by the edge) is appended once.
    owned = true;
    sendCommand(t.env.nats.nc, t.env.names, late);
    const deadline = Date.now() + 5_000;
    while ((replies.replies.get(late.meta.requestId)?.length ?? 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(replies.replies.get(late.meta.requestId)?.[1]).toMatchObject({ ok: true, result: { kind: 'message.sent', seq: 1 } });
    expect(await sentSeqs(conv)).toEqual([1]);
  });

  it('a lost partition is fenced: a command already running does not append, it is answered `moved`', async () => {
    const conv = 'g-fence';
    const first = await createService(t.env);
    t.closeLater(first.close);
    await first.service.execute(createGroup(conv, 'alice', ['bob']));
    let owned = true;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let loading!: () => void;
    const loadStarted = new Promise<void>((r) => (loading = r));
    // A fresh instance loads the conversation first: the lease is lost while it does.
    const svc = await createService(t.env, {
      owns: () => owned,
      store: (real) => ({ load: async (s, a) => (loading(), await held, real.load(s, a)), append: (...args) => real.append(...args) }),
    });
    t.closeLater(svc.close);
    await svc.takeAll();
    const replies = collectReplies(t.env.nats.nc, t.env.names, 'edge-fence');
    t.closeLater(async () => replies.close());
    const mid = { ...send(conv, 'alice', 'mid-flight') };
    mid.meta = { ...mid.meta, edgeId: 'edge-fence' };
    sendCommand(t.env.nats.nc, t.env.names, mid);
    // The command is running: its load has begun (and waits for `held`).
    await loadStarted;
    owned = false;
    release();
    await replies.waitFor(1);
    expect(replies.replies.get(mid.meta.requestId)).toMatchObject([{ ok: false, error: { code: 'unavailable' }, moved: true }]);
    expect(await sentSeqs(conv)).toEqual([]);
  });
});
