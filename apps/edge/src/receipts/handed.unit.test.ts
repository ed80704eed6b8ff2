import { describe, expect, it } from 'vitest';
import { ChatError, type Command, type DeliveryEnvelope, type ServerFrameOf } from '@chat/contracts';
import { HandedReceipts } from './handed';

const AT = '2026-01-01T00:00:00.000Z';
let ids = 0;

function receipt(type: 'MarkDelivered' | 'MarkRead', upToSeq: number, userId = 'bob', deviceId = 'phone', conversationId = 'c1'): Command {
  const id = `cmd${++ids}`;
  return { type, v: 1, meta: { commandId: id, requestId: id, userId, deviceId, edgeId: 'e1', at: AT }, data: { conversationId, upToSeq } } as Command;
}

/** A writer whose appends are recorded, and resolve or fail as told; with `handOver`, the envelopes it hands to the devices here too. */
function writer(fail?: () => Error, handOver = false) {
  const appended: Array<{ subject: string; event: unknown; msgId: string; headers?: Readonly<Record<string, string>> }> = [];
  const outcomes: string[] = [];
  const delivered: DeliveryEnvelope[] = [];
  const receipts = new HandedReceipts({
    subject: (c, u) => `chat.evt.rcpt.${c}.${u}`,
    append: async (subject, json, msgId, headers) => {
      if (fail) throw fail();
      appended.push({ subject, event: JSON.parse(json), msgId, ...(headers ? { headers } : {}) });
    },
    onOutcome: (o) => outcomes.push(o),
    ...(handOver ? { handOver: { headers: { 'Chat-Handed-By': 'e1' }, deliver: (env: DeliveryEnvelope) => void delivered.push(env) } } : {}),
  });
  return { receipts, appended, outcomes, delivered };
}

const removed = (userId: string, members: string[]): ServerFrameOf<'conversation.updated'> => ({
  type: 'conversation.updated',
  conversationId: 'c1',
  kind: 'group',
  members,
  changed: ['member_removed'],
  roles: {},
  userIds: [userId],
  by: 'alice',
});

describe('HandedReceipts', () => {
  it('appends a receipt up to a handed seq to the member’s subject, with the command’s id, and answers accepted once stored', async () => {
    const { receipts, appended, outcomes } = writer();
    receipts.handed('bob', 'c1', 3);
    const cmd = receipt('MarkRead', 3);
    await expect(receipts.mark(cmd)).resolves.toEqual({ kind: 'accepted' });
    expect(appended).toEqual([
      {
        subject: 'chat.evt.rcpt.c1.bob',
        event: { type: 'MessagesRead', v: 1, conversationId: 'c1', userId: 'bob', deviceId: 'phone', upToSeq: 3, at: AT },
        msgId: `${cmd.meta.commandId}:0`,
      },
    ]);
    expect(outcomes).toEqual(['appended']);
  });

  it('leaves to the command process: other commands, a seq past the handed one, a conversation or user with nothing handed', () => {
    const { receipts, outcomes } = writer();
    receipts.handed('bob', 'c1', 3);
    expect(receipts.mark({ ...receipt('MarkRead', 1), type: 'SendMessage' } as Command)).toBeUndefined();
    expect(receipts.mark(receipt('MarkRead', 4))).toBeUndefined();
    expect(receipts.mark(receipt('MarkDelivered', 1, 'bob', 'phone', 'c2'))).toBeUndefined();
    expect(receipts.mark(receipt('MarkDelivered', 1, 'carol'))).toBeUndefined();
    expect(outcomes).toEqual(['forwarded', 'forwarded', 'forwarded']);
  });

  it('appends nothing where the device’s receipts already reached, per device', async () => {
    const { receipts, appended, outcomes } = writer();
    receipts.handed('bob', 'c1', 5);
    await receipts.mark(receipt('MarkDelivered', 5));
    await expect(receipts.mark(receipt('MarkDelivered', 4))).resolves.toEqual({ kind: 'accepted' });
    await receipts.mark(receipt('MarkDelivered', 5, 'bob', 'laptop'));
    expect(appended.map((a) => (a.event as { deviceId: string }).deviceId)).toEqual(['phone', 'laptop']);
    expect(outcomes).toEqual(['appended', 'unchanged', 'appended']);
  });

  it('a device’s receipts of one turn: the highest read, and a delivered only where the read does not cover it', async () => {
    const { receipts, appended, outcomes } = writer();
    receipts.handed('bob', 'c1', 9);
    const answers = [receipt('MarkDelivered', 3), receipt('MarkRead', 3), receipt('MarkDelivered', 2)].map((c) => receipts.mark(c));
    await expect(Promise.all(answers)).resolves.toEqual([{ kind: 'accepted' }, { kind: 'accepted' }, { kind: 'accepted' }]);
    expect(appended.map((a) => a.event)).toMatchObject([{ type: 'MessagesRead', upToSeq: 3 }]);
    expect(outcomes.sort()).toEqual(['appended', 'unchanged', 'unchanged']);

    // Delivered further than read: both go; the laptop's and another conversation's are their own.
    appended.length = 0;
    receipts.handed('bob', 'c2', 9);
    const more = [receipt('MarkDelivered', 7), receipt('MarkRead', 5), receipt('MarkDelivered', 6), receipt('MarkDelivered', 4, 'bob', 'laptop'), receipt('MarkRead', 1, 'bob', 'phone', 'c2')];
    await Promise.all(more.map((c) => receipts.mark(c)));
    expect(appended.map((a) => [a.subject, a.event])).toMatchObject([
      ['chat.evt.rcpt.c1.bob', { type: 'MessagesRead', upToSeq: 5, deviceId: 'phone' }],
      ['chat.evt.rcpt.c1.bob', { type: 'MessagesDelivered', upToSeq: 7, deviceId: 'phone' }],
      ['chat.evt.rcpt.c1.bob', { type: 'MessagesDelivered', upToSeq: 4, deviceId: 'laptop' }],
      ['chat.evt.rcpt.c2.bob', { type: 'MessagesRead', upToSeq: 1 }],
    ]);
    expect(appended[1]!.msgId).toBe(`${more[0]!.meta.commandId}:0`);
  });

  it('the handed seq only grows', async () => {
    const { receipts } = writer();
    receipts.handed('bob', 'c1', 5);
    receipts.handed('bob', 'c1', 2);
    await expect(receipts.mark(receipt('MarkRead', 5))).resolves.toEqual({ kind: 'accepted' });
  });

  it('forgets a member the conversation says was removed or left, and a user whose last device closed', async () => {
    const { receipts } = writer();
    receipts.handed('bob', 'c1', 3);
    receipts.handed('carol', 'c1', 3);
    receipts.handed('dave', 'c1', 3);
    // The members' copy names bob as removed; carol's copy (member: false) is routed to her alone.
    receipts.membershipChanged(removed('bob', ['alice', 'carol', 'dave']), ['alice', 'carol', 'dave']);
    receipts.membershipChanged({ ...removed('carol', ['alice', 'dave']), member: false }, ['carol']);
    expect(receipts.mark(receipt('MarkRead', 1, 'bob'))).toBeUndefined();
    expect(receipts.mark(receipt('MarkRead', 1, 'carol'))).toBeUndefined();
    expect(receipts.size).toBe(1);
    await expect(receipts.mark(receipt('MarkRead', 1, 'dave'))).resolves.toEqual({ kind: 'accepted' });
    receipts.forget('dave');
    expect(receipts.mark(receipt('MarkRead', 2, 'dave'))).toBeUndefined();
    expect(receipts.size).toBe(0);
  });

  it('a failed append is unavailable (the client retries) for every receipt of its turn, and records nothing', async () => {
    const { receipts, outcomes } = writer(() => new Error('no stream'));
    receipts.handed('bob', 'c1', 3);
    const answers = [receipt('MarkDelivered', 3), receipt('MarkRead', 3)].map((c) => receipts.mark(c)!.catch((e: unknown) => e));
    for (const err of await Promise.all(answers)) {
      expect(err).toBeInstanceOf(ChatError);
      expect(err).toMatchObject({ code: 'unavailable' });
    }
    expect(outcomes).toEqual(['unchanged']);
  });

  it('a user forgotten while an append was out is not remembered again by its answer', async () => {
    const { receipts } = writer();
    receipts.handed('bob', 'c1', 3);
    const answer = receipts.mark(receipt('MarkRead', 3))!;
    receipts.forget('bob');
    await answer;
    expect(receipts.size).toBe(0);
    expect(receipts.mark(receipt('MarkRead', 3))).toBeUndefined();
  });

  it('in a direct conversation, hands the stored receipt to the members here (not the acting device) and stamps its append', async () => {
    const { receipts, appended, delivered } = writer(undefined, true);
    receipts.handed('bob', 'd1', 4, ['alice', 'bob']);
    receipts.handed('bob', 'g1', 4);
    const answers = [receipt('MarkDelivered', 4, 'bob', 'phone', 'd1'), receipt('MarkRead', 2, 'bob', 'phone', 'd1'), receipt('MarkRead', 4, 'bob', 'phone', 'g1')].map((c) => receipts.mark(c));
    await Promise.all(answers);
    expect(appended.map((a) => [a.subject, a.headers])).toEqual([
      ['chat.evt.rcpt.d1.bob', { 'Chat-Handed-By': 'e1' }],
      ['chat.evt.rcpt.d1.bob', { 'Chat-Handed-By': 'e1' }],
      // A group's receipts go to their senders coalesced by the projector: not stamped, not handed here.
      ['chat.evt.rcpt.g1.bob', undefined],
    ]);
    expect(delivered).toEqual([
      { users: ['alice', 'bob'], exceptDevice: { userId: 'bob', deviceId: 'phone' }, frame: { type: 'receipt', conversationId: 'd1', userId: 'bob', status: 'read', upToSeq: 2, at: AT } },
      { users: ['alice', 'bob'], exceptDevice: { userId: 'bob', deviceId: 'phone' }, frame: { type: 'receipt', conversationId: 'd1', userId: 'bob', status: 'delivered', upToSeq: 4, at: AT } },
    ]);
  });

  it('hands nothing over for a receipt whose append failed, nor without the hand-over on', async () => {
    const failing = writer(() => new Error('no stream'), true);
    failing.receipts.handed('bob', 'd1', 4, ['alice', 'bob']);
    await expect(failing.receipts.mark(receipt('MarkRead', 4, 'bob', 'phone', 'd1'))).rejects.toMatchObject({ code: 'unavailable' });
    expect(failing.delivered).toEqual([]);
    const off = writer();
    off.receipts.handed('bob', 'd1', 4, ['alice', 'bob']);
    await off.receipts.mark(receipt('MarkRead', 4, 'bob', 'phone', 'd1'));
    expect(off.appended[0]!.headers).toBeUndefined();
    expect(off.delivered).toEqual([]);
  });
});
