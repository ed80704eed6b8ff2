import { describe, expect, it } from 'vitest';
import { decodeCursor, HANDED_BY_HEADER, type DeliveryEnvelope, type EventOf } from '@chat/contracts';
import { messageSent } from '@chat/domain/fixtures';
import { HandOverHere } from './handOver';

const at = '2030-01-01T00:00:00.000Z';
const message = (conversationId: string, seq: number): EventOf<'MessageSent'> =>
  messageSent({ conversationId, messageId: `m${seq}`, seq, senderId: 'alice', senderDeviceId: 'a1', clientMsgId: `c${seq}`, body: { text: 'x' }, sentAt: at }) as EventOf<'MessageSent'>;

/** Resolves after this turn's continuations and nextTicks (a macrotask later). */
const endOfTurn = () => new Promise((r) => setImmediate(r));

function setup(maxTails?: number) {
  const delivered: DeliveryEnvelope[] = [];
  const syncs: string[][] = [];
  const h = new HandOverHere({ edgeId: 'e1', deliver: (env) => delivered.push(env), syncRequired: (users) => syncs.push([...users]), ...(maxTails ? { maxTails } : {}) });
  return { h, delivered, syncs };
}

describe('HandOverHere (given what the projector routed here, when a message is appended, then …)', () => {
  it('declines while a frame the projector routed for an older event may still be on its way, and claims once the delivery consumer is past it', () => {
    const { h } = setup();
    expect(h.claim('c1', 10)).toBeUndefined();
    h.routedThrough(9);
    expect(h.claim('c1', 10)).toBeUndefined();
    h.routedThrough(12);
    expect(h.claim('c1', 10)).toEqual({ [HANDED_BY_HEADER]: 'e1' });
    // The horizon never moves back (a re-routed older batch).
    h.routedThrough(5);
    expect(h.claim('c1', 12)).toBeDefined();
    expect(h.stats).toMatchObject({ claimed: 2, declined: 2 });
  });

  it("claims the message after one it handed over itself in that conversation, not after another's event", () => {
    const { h } = setup();
    h.stored(message('c1', 1), 20, ['alice', 'bob'], 'group');
    expect(h.claim('c1', 20)).toBeDefined();
    // The conversation moved on by an event this edge did not hand over (an edit, another owner's message).
    expect(h.claim('c1', 21)).toBeUndefined();
    expect(h.claim('c2', 20)).toBeUndefined();
  });

  it('hands a stored message to the members here, but the sending device, with the cursor of its stream sequence', async () => {
    const { h, delivered } = setup();
    h.stored(message('c1', 3), 42, ['alice', 'bob'], 'group');
    await endOfTurn();
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ users: ['alice', 'bob'], exceptDevice: { userId: 'alice', deviceId: 'a1' }, frame: { type: 'message.new', conversationId: 'c1', seq: 3, messageId: 'm3', senderId: 'alice' } });
    expect(delivered[0]!.direct).toBeUndefined();
    expect(decodeCursor((delivered[0]!.frame as { cursor: string }).cursor)).toBe(42);
    expect(h.stats.handed).toBe(1);
  });

  it("marks a direct conversation's message, so that its receipts can be handed over here too", async () => {
    const { h, delivered } = setup();
    h.stored(message('d1', 1), 7, ['alice', 'bob'], 'direct');
    await endOfTurn();
    expect(delivered[0]).toMatchObject({ users: ['alice', 'bob'], direct: ['alice', 'bob'] });
  });

  it('asks the members here to sync after an append that may have landed unhanded, and no longer claims after it', () => {
    const { h, syncs } = setup();
    h.stored(message('c1', 1), 20, ['alice', 'bob'], 'group');
    h.unsure('c1', ['alice', 'bob']);
    expect(syncs).toEqual([['alice', 'bob']]);
    expect(h.claim('c1', 20)).toBeUndefined();
    expect(h.stats.unsure).toBe(1);
  });

  it("hands over after what the command's answer writes in the same turn (the sender's message.sent leaves first)", async () => {
    const order: string[] = [];
    const h = new HandOverHere({ edgeId: 'e1', deliver: () => order.push('message.new'), syncRequired: () => undefined });
    h.stored(message('c1', 1), 20, ['alice', 'bob'], 'group');
    // The answer reaches the session through promise continuations of the command's handling.
    void Promise.resolve()
      .then(() => undefined)
      .then(() => order.push('message.sent'));
    await endOfTurn();
    expect(order).toEqual(['message.sent', 'message.new']);
  });

  it('asks the members here to sync when handing a stored message over fails, and does not throw into the command', async () => {
    const syncs: string[][] = [];
    const h = new HandOverHere({
      edgeId: 'e1',
      deliver: () => {
        throw new Error('socket gone');
      },
      syncRequired: (users) => syncs.push([...users]),
    });
    expect(() => h.stored(message('c1', 1), 20, ['alice', 'bob'], 'group')).not.toThrow();
    await endOfTurn();
    expect(syncs).toEqual([['alice', 'bob']]);
    expect(h.claim('c1', 20)).toBeUndefined();
  });

  it('remembers at most maxTails conversations, forgetting the one handed over least recently', () => {
    const { h } = setup(2);
    h.stored(message('c1', 1), 1, ['alice'], 'group');
    h.stored(message('c2', 1), 2, ['alice'], 'group');
    h.stored(message('c1', 2), 3, ['alice'], 'group');
    h.stored(message('c3', 1), 4, ['alice'], 'group');
    expect(h.claim('c2', 2)).toBeUndefined();
    expect(h.claim('c1', 3)).toBeDefined();
    expect(h.claim('c3', 4)).toBeDefined();
  });
});
