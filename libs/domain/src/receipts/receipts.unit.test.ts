import { describe, expect, it } from 'vitest';
import { ChatError, type ConversationEvent, type ErrorCode, type ReceiptEvent } from '@chat/contracts';
import { evolveAll } from '../conversation/evolve';
import { initialState } from '../conversation/state';
import { decideReceipt, evolveReceipt, initialReceiptState, type ReceiptCommand, type ReceiptState } from './receipts';

const AT = '2025-01-01T00:00:00.000Z';

const created: ConversationEvent = {
  type: 'ConversationCreated',
  v: 1,
  conversationId: 'c1',
  kind: 'direct',
  createdBy: 'alice',
  members: [
    { userId: 'alice', role: 'member' },
    { userId: 'bob', role: 'member' },
  ],
  at: AT,
};

/** The conversation with `n` messages (seq 1..n). */
const withMessages = (n: number): ConversationEvent[] => [
  created,
  ...Array.from({ length: n }, (_, i): ConversationEvent => ({
    type: 'MessageSent',
    v: 1,
    conversationId: 'c1',
    messageId: `m${i + 1}`,
    seq: i + 1,
    senderId: 'alice',
    senderDeviceId: 'alice-phone',
    clientMsgId: `k${i + 1}`,
    body: { text: 'hi' },
    sentAt: AT,
  })),
];

/** A group (alice owns it, bob is a member) with `n` messages. */
const groupWithMessages = (n: number): ConversationEvent[] => [
  { ...created, kind: 'group', members: [{ userId: 'alice', role: 'owner' }, { userId: 'bob', role: 'member' }] } as ConversationEvent,
  ...withMessages(n).slice(1),
];

const mark = (type: ReceiptCommand['type'], userId: string, upToSeq: number): ReceiptCommand => ({
  type,
  v: 1,
  meta: { commandId: 'cmd', requestId: 'req', userId, deviceId: `${userId}-phone`, edgeId: 'edge-1', at: AT },
  data: { conversationId: 'c1', upToSeq },
});

const receipt = (type: ReceiptEvent['type'], userId: string, upToSeq: number): ReceiptEvent => ({
  type,
  v: 1,
  conversationId: 'c1',
  userId,
  deviceId: `${userId}-phone`,
  upToSeq,
  at: AT,
});

interface Case {
  name: string;
  /** The conversation's events and this member's receipt events so far. */
  given: { conversation: ConversationEvent[]; receipts?: ReceiptEvent[] };
  when: ReceiptCommand;
  then: ReceiptEvent[] | { error: ErrorCode };
}

function run(c: Case): ReceiptEvent[] | { error: ErrorCode } {
  const conversation = evolveAll(initialState(), c.given.conversation);
  const state = (c.given.receipts ?? []).reduce(evolveReceipt, initialReceiptState());
  try {
    return decideReceipt(c.when, state, conversation);
  } catch (e) {
    if (e instanceof ChatError) return { error: e.code };
    throw e;
  }
}

describe('decideReceipt', () => {
  it.each<Case>([
    {
      name: 'delivered up to a seq',
      given: { conversation: withMessages(5) },
      when: mark('MarkDelivered', 'bob', 3),
      then: [receipt('MessagesDelivered', 'bob', 3)],
    },
    {
      name: 'read up to a seq',
      given: { conversation: withMessages(5) },
      when: mark('MarkRead', 'bob', 5),
      then: [receipt('MessagesRead', 'bob', 5)],
    },
    {
      name: 'a watermark past the last message is clamped to it',
      given: { conversation: withMessages(4) },
      when: mark('MarkRead', 'bob', 99),
      then: [receipt('MessagesRead', 'bob', 4)],
    },
    {
      name: 'delivered does not move back: nothing',
      given: { conversation: withMessages(5), receipts: [receipt('MessagesDelivered', 'bob', 4)] },
      when: mark('MarkDelivered', 'bob', 2),
      then: [],
    },
    {
      name: 'delivered again at the same seq: nothing',
      given: { conversation: withMessages(5), receipts: [receipt('MessagesDelivered', 'bob', 4)] },
      when: mark('MarkDelivered', 'bob', 4),
      then: [],
    },
    {
      name: 'read again at the same seq: nothing',
      given: { conversation: withMessages(5), receipts: [receipt('MessagesRead', 'bob', 3)] },
      when: mark('MarkRead', 'bob', 3),
      then: [],
    },
    {
      name: 'delivered after read at the same seq: read implied it, nothing',
      given: { conversation: withMessages(5), receipts: [receipt('MessagesRead', 'bob', 3)] },
      when: mark('MarkDelivered', 'bob', 3),
      then: [],
    },
    {
      name: 'read below the delivered watermark still moves read forward',
      given: { conversation: withMessages(5), receipts: [receipt('MessagesDelivered', 'bob', 5)] },
      when: mark('MarkRead', 'bob', 2),
      then: [receipt('MessagesRead', 'bob', 2)],
    },
    {
      name: 'clamped to the last message and already there: nothing',
      given: { conversation: withMessages(4), receipts: [receipt('MessagesDelivered', 'bob', 4)] },
      when: mark('MarkDelivered', 'bob', 10),
      then: [],
    },
    {
      name: 'a member added later acknowledges their join message (a system message seq)',
      given: { conversation: [...groupWithMessages(2), { type: 'MembersAdded', v: 1, conversationId: 'c1', seq: 3, by: 'alice', members: [{ userId: 'carol', role: 'member' }], at: AT }] },
      when: mark('MarkRead', 'carol', 3),
      then: [receipt('MessagesRead', 'carol', 3)],
    },
    {
      name: 'a conversation without messages: nothing to acknowledge',
      given: { conversation: withMessages(0) },
      when: mark('MarkRead', 'bob', 1),
      then: [],
    },
  ])('$name', (c) => expect(run(c)).toEqual(c.then));

  it.each<Case>([
    { name: 'a conversation that does not exist', given: { conversation: [] }, when: mark('MarkRead', 'bob', 1), then: { error: 'not_found' } },
    { name: 'a user who is not a member (delivered)', given: { conversation: withMessages(3) }, when: mark('MarkDelivered', 'mallory', 1), then: { error: 'forbidden' } },
    { name: 'a user who is not a member (read)', given: { conversation: withMessages(3) }, when: mark('MarkRead', 'mallory', 1), then: { error: 'forbidden' } },
    {
      name: 'a member who was removed',
      given: { conversation: [...groupWithMessages(2), { type: 'MemberRemoved', v: 1, conversationId: 'c1', seq: 3, by: 'alice', userId: 'bob', at: AT }] },
      when: mark('MarkRead', 'bob', 2),
      then: { error: 'forbidden' },
    },
    {
      name: 'a member who left (delivered)',
      given: { conversation: [...groupWithMessages(2), { type: 'MemberLeft', v: 1, conversationId: 'c1', seq: 3, userId: 'bob', at: AT }] },
      when: mark('MarkDelivered', 'bob', 2),
      then: { error: 'forbidden' },
    },
  ])('rejects $name', (c) => expect(run(c)).toEqual(c.then));
});

describe('evolveReceipt', () => {
  const phone = 'bob-phone';
  it.each<{ name: string; given: ReceiptState; event: ReceiptEvent; then: ReceiptState }>([
    { name: 'delivered moves delivered', given: { deliveredSeq: 0, readSeq: 0, devices: {} }, event: receipt('MessagesDelivered', 'bob', 3), then: { deliveredSeq: 3, readSeq: 0, devices: { [phone]: 3 } } },
    { name: 'read implies delivered', given: { deliveredSeq: 0, readSeq: 0, devices: {} }, event: receipt('MessagesRead', 'bob', 5), then: { deliveredSeq: 5, readSeq: 5, devices: { [phone]: 5 } } },
    { name: 'read below delivered keeps delivered', given: { deliveredSeq: 7, readSeq: 1, devices: { [phone]: 7 } }, event: receipt('MessagesRead', 'bob', 4), then: { deliveredSeq: 7, readSeq: 4, devices: { [phone]: 7 } } },
    { name: 'an older delivered changes nothing', given: { deliveredSeq: 7, readSeq: 6, devices: { [phone]: 7 } }, event: receipt('MessagesDelivered', 'bob', 2), then: { deliveredSeq: 7, readSeq: 6, devices: { [phone]: 7 } } },
    { name: 'an older read changes nothing', given: { deliveredSeq: 7, readSeq: 6, devices: { [phone]: 7 } }, event: receipt('MessagesRead', 'bob', 3), then: { deliveredSeq: 7, readSeq: 6, devices: { [phone]: 7 } } },
    { name: 'a second device moves its own watermark only', given: { deliveredSeq: 7, readSeq: 0, devices: { laptop: 7 } }, event: receipt('MessagesDelivered', 'bob', 5), then: { deliveredSeq: 7, readSeq: 0, devices: { laptop: 7, [phone]: 5 } } },
  ])('$name', ({ given, event, then }) => expect(evolveReceipt(given, event)).toEqual(then));

  it('starts at zero', () => {
    expect(initialReceiptState()).toEqual({ deliveredSeq: 0, readSeq: 0, devices: {} });
  });
});

describe('decideReceipt for a second device', () => {
  it('records an acknowledgement that moves only that device, and nothing when neither moves', () => {
    const conversation = evolveAll(initialState(), groupWithMessages(5));
    const state: ReceiptState = { deliveredSeq: 5, readSeq: 0, devices: { 'bob-laptop': 5 } };
    const phoneAck = { ...mark('MarkDelivered', 'bob', 5), meta: { ...mark('MarkDelivered', 'bob', 5).meta, deviceId: 'bob-phone' } };
    expect(decideReceipt(phoneAck, state, conversation)).toMatchObject([{ type: 'MessagesDelivered', deviceId: 'bob-phone', upToSeq: 5 }]);
    const laptopAgain = { ...mark('MarkDelivered', 'bob', 5), meta: { ...mark('MarkDelivered', 'bob', 5).meta, deviceId: 'bob-laptop' } };
    expect(decideReceipt(laptopAgain, state, conversation)).toEqual([]);
  });
});
