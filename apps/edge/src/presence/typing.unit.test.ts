import { describe, expect, it } from 'vitest';
import { ChatError } from '@chat/contracts';
import { MEMBERS_TTL_MS, TypingRelay, type TypingSignal } from './typing';

function setup(members: Record<string, string[]>, blocks: Array<[string, string]> = []) {
  let clock = 0;
  const published: Array<[string, TypingSignal]> = [];
  const here: TypingSignal[] = [];
  const dropped: string[] = [];
  let reads = 0;
  const relay = new TypingRelay({
    memberIds: async (c) => {
      reads++;
      return members[c] ?? [];
    },
    blockedEitherWay: async (u) => new Set(blocks.flatMap(([a, b]) => (a === u ? [b] : b === u ? [a] : []))),
    // ann and bo on edge e1, fay on e3 (this relay's edge), everyone else on e2; cy is offline.
    usersByEdge: async (users) => {
      const out = new Map<string, string[]>();
      for (const u of users.filter((x) => x !== 'cy')) {
        const e = ['ann', 'bo'].includes(u) ? 'e1' : u === 'fay' ? 'e3' : 'e2';
        out.set(e, [...(out.get(e) ?? []), u]);
      }
      return out;
    },
    publish: (edgeId, signal) => published.push([edgeId, signal]),
    edgeId: 'e3',
    deliverHere: (signal) => here.push(signal),
    now: () => clock,
    onDropped: (r) => dropped.push(r),
  });
  return { relay, published, here, dropped, tick: (ms: number) => (clock += ms), reads: () => reads };
}

describe('TypingRelay', () => {
  it('sends one signal per edge to the other members online, not to the sender', async () => {
    const t = setup({ g1: ['ann', 'bo', 'cy', 'di', 'ed'] });
    expect(await t.relay.relay('ann', 'g1', 'start')).toBe(true);
    expect(t.published).toEqual([
      ['e1', { conversationId: 'g1', userId: 'ann', state: 'start', to: ['bo'] }],
      ['e2', { conversationId: 'g1', userId: 'ann', state: 'start', to: ['di', 'ed'] }],
    ]);
  });

  it("hands the signal for this edge's own users to them directly, not through NATS", async () => {
    const t = setup({ g1: ['ann', 'di', 'fay'] });
    expect(await t.relay.relay('ann', 'g1', 'start')).toBe(true);
    expect(t.here).toEqual([{ conversationId: 'g1', userId: 'ann', state: 'start', to: ['fay'] }]);
    expect(t.published).toEqual([['e2', { conversationId: 'g1', userId: 'ann', state: 'start', to: ['di'] }]]);
  });

  it('forwards one start per user and conversation per 3 s; stops always go', async () => {
    const t = setup({ d1: ['ann', 'bo'], d2: ['ann', 'di'] });
    expect(await t.relay.relay('ann', 'd1', 'start')).toBe(true);
    t.tick(2_999);
    expect(await t.relay.relay('ann', 'd1', 'start')).toBe(false);
    expect(await t.relay.relay('ann', 'd2', 'start')).toBe(true); // another conversation
    expect(await t.relay.relay('ann', 'd1', 'stop')).toBe(true);
    t.tick(1);
    expect(await t.relay.relay('ann', 'd1', 'start')).toBe(true);
    expect(t.dropped).toEqual(['throttled']);
    expect(t.published.map(([, s]) => `${s.conversationId}:${s.state}`)).toEqual(['d1:start', 'd2:start', 'd1:stop', 'd1:start']);
  });

  it('forwards nothing in a conversation of more than 20 members', async () => {
    const big = Array.from({ length: 21 }, (_, i) => `u${i}`);
    const t = setup({ g: big, g20: big.slice(0, 20) });
    expect(await t.relay.relay('u0', 'g', 'start')).toBe(false);
    expect(await t.relay.relay('u0', 'g20', 'start')).toBe(true);
    expect(t.dropped).toEqual(['large_group']);
  });

  it('refuses a non-member with forbidden, after reading the members again in case they just joined', async () => {
    const members = { d1: ['ann', 'bo'] };
    const t = setup(members);
    await t.relay.relay('ann', 'd1', 'start');
    expect(t.reads()).toBe(1);
    await expect(t.relay.relay('zed', 'd1', 'start')).rejects.toEqual(new ChatError('forbidden', 'not a member of this conversation'));
    expect(t.reads()).toBe(2);
    members.d1.push('zed');
    expect(await t.relay.relay('zed', 'd1', 'start')).toBe(true);
    expect(t.published).toHaveLength(2);
  });

  it('keeps the members for a minute, and reads them again at once after a membership change passed through the edge', async () => {
    const members = { g1: ['ann', 'bo', 'di'] };
    const t = setup(members);
    await t.relay.relay('ann', 'g1', 'start');
    t.tick(MEMBERS_TTL_MS - 1);
    await t.relay.relay('ann', 'g1', 'start');
    expect(t.reads()).toBe(1);
    // bo is removed: the conversation.updated reaches this edge before the read model has it.
    t.relay.membersChanged('g1', ['ann', 'di']);
    const before = t.published.length;
    await t.relay.relay('ann', 'g1', 'stop');
    expect(t.reads()).toBe(1);
    expect(t.published.slice(before)).toEqual([['e2', { conversationId: 'g1', userId: 'ann', state: 'stop', to: ['di'] }]]);
    // bo, removed, is refused without a read: the read model may still list him.
    await expect(t.relay.relay('bo', 'g1', 'start')).rejects.toEqual(new ChatError('forbidden', 'not a member of this conversation'));
    expect(t.reads()).toBe(1);
    // A minute later they are read again.
    t.tick(MEMBERS_TTL_MS);
    await t.relay.relay('ann', 'g1', 'start');
    expect(t.reads()).toBe(2);
  });

  it('leaves out members on either side of a block with the sender', async () => {
    const t = setup({ g1: ['ann', 'bo', 'di', 'ed'] }, [
      ['ann', 'bo'], // ann blocks bo
      ['ed', 'ann'], // ed blocks ann
    ]);
    await t.relay.relay('ann', 'g1', 'start');
    expect(t.published).toEqual([['e2', { conversationId: 'g1', userId: 'ann', state: 'start', to: ['di'] }]]);
  });
});
