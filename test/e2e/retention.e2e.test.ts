import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, startSystem, type RunningSystem } from '../support/system';
import { harness, text, type Json } from '../support/harness';

let sys: RunningSystem;
const { u, connect, getJson, closeAll } = harness(() => sys);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), { CHAT_RETENTION: 'ephemeral' });
}, 60_000);

afterAll(async () => {
  closeAll();
  await sys?.stop();
});

describe('ephemeral retention through the HTTP API', () => {
  it('history shows a body until every device of the recipient acknowledged it, then body null and expired', async () => {
    const alice = await connect(u('alice'), 'a-phone');
    const bobPhone = await connect(u('bob'), 'b-phone');
    const bobLaptop = await connect(u('bob'), 'b-laptop');
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob')] });
    const history = (): Promise<Json> => getJson(`/v1/conversations/${conversationId}/messages`, u('alice'));
    const receipts = (messageId: string): Promise<Json> => getJson(`/v1/conversations/${conversationId}/messages/${messageId}/receipts`, u('alice'));
    const bySeq = (h: Json, seq: number): Json => h.messages.find((m: Json) => m.seq === seq);

    // The laptop is bob's only known device when it acknowledges m1: m1 is gone at once.
    const m1 = await alice.send({ conversationId, body: text('one') });
    bobLaptop.markDelivered(conversationId, 1);
    const r1 = await eventually(() => receipts(m1.messageId), (r) => r.delivered?.length === 1);
    expect(r1).toMatchObject({ delivered: [{ userId: u('bob'), devices: { delivered: 1, total: 1 } }], read: [], pending: [] });
    const h1 = await eventually(history, (h) => bySeq(h, 1)?.body === null);
    expect(bySeq(h1, 1)).toMatchObject({ seq: 1, body: null, expired: true });
    expect(typeof bySeq(h1, 1).expiredAt).toBe('string');

    // Now bob has two known devices: m2 keeps its body until both acknowledged it.
    const m2 = await alice.send({ conversationId, body: text('two') });
    await alice.send({ conversationId, body: text('three') });
    bobPhone.markDelivered(conversationId, 2);
    const r2 = await eventually(() => receipts(m2.messageId), (r) => r.delivered?.[0]?.devices?.total === 2);
    expect(r2).toMatchObject({ delivered: [{ userId: u('bob'), devices: { delivered: 1, total: 2 } }], pending: [] });
    const h2 = await history();
    expect(bySeq(h2, 2)).toMatchObject({ seq: 2, body: text('two') });
    expect(bySeq(h2, 2).expired).toBeUndefined();

    bobLaptop.markDelivered(conversationId, 3);
    const h3 = await eventually(history, (h) => bySeq(h, 2)?.body === null);
    expect(bySeq(h3, 2)).toMatchObject({ seq: 2, body: null, expired: true });
    // m3: the phone has only reached 2.
    expect(bySeq(h3, 3)).toMatchObject({ seq: 3, body: text('three') });
    expect(await receipts(m2.messageId)).toMatchObject({ delivered: [{ userId: u('bob'), devices: { delivered: 2, total: 2 } }] });

    // The list preview goes with the last message's body.
    const list = await eventually(
      () => getJson('/v1/conversations', u('bob')),
      (l) => l.conversations?.some((c: Json) => c.conversationId === conversationId && c.lastMessage?.seq === 3),
    );
    expect(list.conversations.find((c: Json) => c.conversationId === conversationId).lastMessage.preview).toBe('three');
  });
});
