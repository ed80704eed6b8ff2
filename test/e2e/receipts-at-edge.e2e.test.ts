import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricSum, scrapeMetrics } from '@chat/testing';
import type { ServerFrameOf } from '@chat/client';
import { eventually, nextEvent, startSystem, type RunningSystem } from '../support/system';
import { rawSocket as openRawSocket } from '../support/socket';
import { harness, text, type Json } from '../support/harness';

// Receipts for messages the edge handed over live are appended by the edge; the others go to a
// command process (docs/architecture.md, "Receipts"). The edge's chat_edge_receipts_total
// counts where each receipt frame was decided, which is how these tests tell the paths apart.

let sys: RunningSystem;
const { u, connect, getJson, closeAll } = harness(() => sys);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'));
}, 60_000);

afterAll(async () => {
  closeAll();
  await sys?.stop();
});

type Outcomes = Record<'appended' | 'unchanged' | 'forwarded', number>;

async function outcomes(): Promise<Outcomes> {
  const metrics = await scrapeMetrics(sys.ops.edge);
  const count = (outcome: string) => metricSum(metrics, 'chat_edge_receipts_total', { outcome });
  return { appended: count('appended'), unchanged: count('unchanged'), forwarded: count('forwarded') };
}

const since = (before: Outcomes, now: Outcomes): Outcomes => ({
  appended: now.appended - before.appended,
  unchanged: now.unchanged - before.unchanged,
  forwarded: now.forwarded - before.forwarded,
});

const rawSocket = (user: string, device: string) => openRawSocket(sys.wsUrl, user, device);

/** Two users in a direct conversation, and the first message routed to the second one live. */
async function directWithMessage(from: string, to: string) {
  const alice = await connect(u(from));
  const bob = await connect(u(to));
  const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u(to)] });
  const incoming = nextEvent<ServerFrameOf<'message.new'>>((f) => bob.on('message', f));
  await alice.send({ conversationId, body: text('hello') });
  await incoming;
  return { alice, bob, conversationId };
}

describe('receipts decided at the edge', () => {
  it('a receipt for a message handed over live is appended by the edge; a repeat appends nothing', async () => {
    const { alice, bob, conversationId } = await directWithMessage('alice', 'bob');

    const before = await outcomes();
    const delivered = nextEvent<ServerFrameOf<'receipt'>>((f) => alice.on('receipt', f), (r) => r.status === 'delivered');
    bob.markDelivered(conversationId, 1);
    expect(await delivered).toMatchObject({ conversationId, userId: u('bob'), status: 'delivered', upToSeq: 1 });
    expect(since(before, await eventually(outcomes, (now) => since(before, now).appended === 1))).toEqual({ appended: 1, unchanged: 0, forwarded: 0 });

    // The same position again, then a read: frames of one socket are decided in order, so once
    // the read's receipt is back the repeat was decided too.
    const read = nextEvent<ServerFrameOf<'receipt'>>((f) => alice.on('receipt', f), (r) => r.status === 'read');
    bob.markDelivered(conversationId, 1);
    bob.markRead(conversationId, 1);
    expect(await read).toMatchObject({ conversationId, userId: u('bob'), status: 'read', upToSeq: 1 });
    expect(since(before, await eventually(outcomes, (now) => since(before, now).appended === 2))).toEqual({ appended: 2, unchanged: 1, forwarded: 0 });

    // That the read models get them from the stream: chat-1to1.e2e's receipts test, whose receipts take this path too.
  });

  it('a receipt past what the edge handed over (here: synced) goes to a command process, which clamps a forged position', async () => {
    const alice = await connect(u('alice2'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob2')] });
    await alice.send({ conversationId, body: text('one') });
    const two = await alice.send({ conversationId, body: text('two') });
    // Routed before bob connects (the projector routes a batch before it commits it, and the
    // history answers once the read model has it), so bob gets them only by sync.
    await eventually(() => getJson(`/v1/conversations/${conversationId}/messages`, u('alice2')), (h: Json) => h.messages?.some((m: Json) => m.messageId === two.messageId));
    const bob = await connect(u('bob2'));
    const synced: number[] = [];
    bob.on('message', (m) => synced.push(m.seq));
    await eventually(() => bob.syncAll().then(() => synced.length), (n) => n === 2);

    const before = await outcomes();
    const delivered2 = nextEvent<ServerFrameOf<'receipt'>>((f) => alice.on('receipt', f), (r) => r.status === 'delivered');
    bob.markDelivered(conversationId, 2);
    expect(await delivered2).toMatchObject({ userId: u('bob2'), status: 'delivered', upToSeq: 2 });

    // A position no message has: not the edge's to decide; the command process clamps it to the
    // last message.
    const read = nextEvent<ServerFrameOf<'receipt'>>((f) => alice.on('receipt', f), (r) => r.status === 'read');
    bob.markRead(conversationId, 999);
    expect(await read).toMatchObject({ userId: u('bob2'), status: 'read', upToSeq: 2 });
    await eventually(outcomes, (now) => since(before, now).forwarded === 2);

    // A message handed over live is the edge's again.
    const incoming = nextEvent<ServerFrameOf<'message.new'>>((f) => bob.on('message', f));
    await alice.send({ conversationId, body: text('three') });
    expect((await incoming).seq).toBe(3);
    const read3 = nextEvent<ServerFrameOf<'receipt'>>((f) => alice.on('receipt', f), (r) => r.status === 'read');
    bob.markRead(conversationId, 3);
    expect(await read3).toMatchObject({ upToSeq: 3 });
    expect(since(before, await eventually(outcomes, (now) => since(before, now).appended === 1))).toEqual({ appended: 1, unchanged: 0, forwarded: 2 });
  });

  it('a member removed from a group is not the edge’s to answer: the command process refuses their receipt', async () => {
    const alice = await connect(u('alice3'));
    const group = await alice.createConversation({ kind: 'group', title: 'g', members: [u('bob3'), u('carol3')] });
    const bob = await rawSocket(u('bob3'), 'raw');
    const handed = bob.next('message.new');
    await alice.send({ conversationId: group.conversationId, body: text('hi all') });
    const msg = await handed;

    const gone = bob.next((f) => f.type === 'conversation.updated' && f.member === false);
    await alice.removeMember(group.conversationId, u('bob3'));
    expect(await gone).toMatchObject({ conversationId: group.conversationId, member: false });

    const before = await outcomes();
    const refused = bob.next('error');
    bob.ws.send(JSON.stringify({ type: 'message.read', conversationId: group.conversationId, upToSeq: msg.seq, ref: 'r1' }));
    expect(await refused).toMatchObject({ code: 'forbidden', ref: 'r1' });
    expect(since(before, await outcomes())).toEqual({ appended: 0, unchanged: 0, forwarded: 1 });
    bob.ws.close();
  });

  it("in a direct conversation, the edge hands the receipt to the other member's devices here itself, once", async () => {
    const { alice, bob, conversationId } = await directWithMessage('alice4', 'bob4');
    const receipts: Array<ServerFrameOf<'receipt'>> = [];
    alice.on('receipt', (r) => receipts.push(r));

    // With the projector paused, the read reaches alice: from the edge, not through the projector.
    const projector = sys.apps.find((a) => a.name === 'projector')!;
    projector.child.kill('SIGSTOP');
    try {
      bob.markRead(conversationId, 1);
      await eventually(async () => receipts.length, (n) => n >= 1);
      expect(receipts[0]).toMatchObject({ conversationId, userId: u('bob4'), status: 'read', upToSeq: 1 });
    } finally {
      projector.child.kill('SIGCONT');
    }
    // bob's next message is appended after the receipt and routed to alice by the projector, in
    // stream order: once alice has it, a second copy of the receipt from the projector would have
    // come before it.
    const marker = nextEvent<ServerFrameOf<'message.new'>>((f) => alice.on('message', f));
    await bob.send({ conversationId, body: text('after the receipt') });
    expect(await marker).toMatchObject({ conversationId, seq: 2 });
    expect(receipts.filter((r) => r.conversationId === conversationId && r.status === 'read')).toHaveLength(1);
  });
});
