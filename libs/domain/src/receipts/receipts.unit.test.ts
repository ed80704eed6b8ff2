import { describe, expect, it } from 'vitest';
import type { ConversationEvent, ReceiptEvent } from '@chat/contracts';
import { added, AT, directCreated, groupCreated, left, meta, removed, sent, stateOf } from '../conversation/fixtures';
import { receiptDecider } from '../decider';
import { checkDecider, type Then } from '../testing';
import { decideHandedReceipt, decideHandedReceipts, evolveReceipt, initialReceiptState, markAppended, NO_MARKS, type DeviceMarks, type ReceiptCommand, type ReceiptState } from './receipts';

const messages = (n: number): ConversationEvent[] => Array.from({ length: n }, (_, i) => sent(i + 1, 'alice', `m${i + 1}`));
/** The direct conversation of alice and bob with `n` messages (seq 1..n). */
const withMessages = (n: number): ConversationEvent[] => [directCreated(), ...messages(n)];
/** A group (alice owns it, bob is a member) with `n` messages. */
const groupWithMessages = (n: number): ConversationEvent[] => [groupCreated('alice', ['bob']), ...messages(n)];

const mark = (type: ReceiptCommand['type'], userId: string, upToSeq: number, deviceId = `${userId}-phone`): ReceiptCommand => ({
  type,
  v: 1,
  meta: { ...meta(userId), deviceId },
  data: { conversationId: 'c1', upToSeq },
});

const receipt = (type: ReceiptEvent['type'], userId: string, upToSeq: number, deviceId = `${userId}-phone`): ReceiptEvent => ({
  type,
  v: 1,
  conversationId: 'c1',
  userId,
  deviceId,
  upToSeq,
  at: AT,
});

interface Case {
  name: string;
  /** The conversation's events: what the receipt is decided against. */
  conversation: ConversationEvent[];
  /** This member's receipt events so far. */
  given?: ReceiptEvent[];
  when: ReceiptCommand;
  then: Then<ReceiptEvent>;
}

const check = (c: Case): void => checkDecider(receiptDecider, { ...c, given: c.given ?? [], context: { conversation: stateOf(c.conversation) } });

describe('decideReceipt', () => {
  it.each<Case>([
    {
      name: 'delivered up to a seq',
      conversation: withMessages(5),
      when: mark('MarkDelivered', 'bob', 3),
      then: [receipt('MessagesDelivered', 'bob', 3)],
    },
    {
      name: 'read up to a seq',
      conversation: withMessages(5),
      when: mark('MarkRead', 'bob', 5),
      then: [receipt('MessagesRead', 'bob', 5)],
    },
    {
      name: 'a watermark past the last message is clamped to it',
      conversation: withMessages(4),
      when: mark('MarkRead', 'bob', 99),
      then: [receipt('MessagesRead', 'bob', 4)],
    },
    {
      name: 'delivered does not move back: nothing',
      conversation: withMessages(5),
      given: [receipt('MessagesDelivered', 'bob', 4)],
      when: mark('MarkDelivered', 'bob', 2),
      then: [],
    },
    {
      name: 'delivered again at the same seq: nothing',
      conversation: withMessages(5),
      given: [receipt('MessagesDelivered', 'bob', 4)],
      when: mark('MarkDelivered', 'bob', 4),
      then: [],
    },
    {
      name: 'read again at the same seq: nothing',
      conversation: withMessages(5),
      given: [receipt('MessagesRead', 'bob', 3)],
      when: mark('MarkRead', 'bob', 3),
      then: [],
    },
    {
      name: 'delivered after read at the same seq: read implied it, nothing',
      conversation: withMessages(5),
      given: [receipt('MessagesRead', 'bob', 3)],
      when: mark('MarkDelivered', 'bob', 3),
      then: [],
    },
    {
      name: 'read below the delivered watermark still moves read forward',
      conversation: withMessages(5),
      given: [receipt('MessagesDelivered', 'bob', 5)],
      when: mark('MarkRead', 'bob', 2),
      then: [receipt('MessagesRead', 'bob', 2)],
    },
    {
      name: 'clamped to the last message and already there: nothing',
      conversation: withMessages(4),
      given: [receipt('MessagesDelivered', 'bob', 4)],
      when: mark('MarkDelivered', 'bob', 10),
      then: [],
    },
    {
      name: 'a member added later acknowledges their join message (a system message seq)',
      conversation: [...groupWithMessages(2), added(3, 'alice', ['carol'])],
      when: mark('MarkRead', 'carol', 3),
      then: [receipt('MessagesRead', 'carol', 3)],
    },
    {
      name: 'a conversation without messages: nothing to acknowledge',
      conversation: withMessages(0),
      when: mark('MarkRead', 'bob', 1),
      then: [],
    },
  ])('$name', check);

  it.each<Case>([
    { name: 'a conversation that does not exist', conversation: [], when: mark('MarkRead', 'bob', 1), then: { error: 'not_found' } },
    { name: 'a user who is not a member (delivered)', conversation: withMessages(3), when: mark('MarkDelivered', 'mallory', 1), then: { error: 'forbidden' } },
    { name: 'a user who is not a member (read)', conversation: withMessages(3), when: mark('MarkRead', 'mallory', 1), then: { error: 'forbidden' } },
    {
      name: 'a member who was removed',
      conversation: [...groupWithMessages(2), removed(3, 'alice', 'bob')],
      when: mark('MarkRead', 'bob', 2),
      then: { error: 'forbidden' },
    },
    {
      name: 'a member who left (delivered)',
      conversation: [...groupWithMessages(2), left(3, 'bob')],
      when: mark('MarkDelivered', 'bob', 2),
      then: { error: 'forbidden' },
    },
  ])('rejects $name', check);
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
  const laptopDelivered = receipt('MessagesDelivered', 'bob', 5, 'bob-laptop');
  it.each<Case>([
    {
      name: 'records an acknowledgement that moves only that device',
      conversation: groupWithMessages(5),
      given: [laptopDelivered],
      when: mark('MarkDelivered', 'bob', 5),
      then: [receipt('MessagesDelivered', 'bob', 5)],
    },
    {
      name: 'records nothing when neither moves',
      conversation: groupWithMessages(5),
      given: [laptopDelivered],
      when: mark('MarkDelivered', 'bob', 5, 'bob-laptop'),
      then: [],
    },
  ])('$name', check);
});

describe('decideHandedReceipt', () => {
  it.each<{ name: string; when: ReceiptCommand; handedUpTo: number; marks?: DeviceMarks; then: ReceiptEvent[] | undefined }>([
    { name: 'delivered up to a handed seq', when: mark('MarkDelivered', 'bob', 3), handedUpTo: 5, then: [receipt('MessagesDelivered', 'bob', 3)] },
    { name: 'read up to the handed seq', when: mark('MarkRead', 'bob', 5), handedUpTo: 5, then: [receipt('MessagesRead', 'bob', 5)] },
    { name: 'past the handed seq: the command process decides', when: mark('MarkRead', 'bob', 6), handedUpTo: 5, then: undefined },
    { name: 'nothing handed over: the command process decides', when: mark('MarkDelivered', 'bob', 1), handedUpTo: 0, then: undefined },
    { name: 'delivered where this device already is: nothing', when: mark('MarkDelivered', 'bob', 4), handedUpTo: 9, marks: { delivered: 4, read: 0 }, then: [] },
    { name: 'delivered below what this device read: nothing', when: mark('MarkDelivered', 'bob', 3), handedUpTo: 9, marks: { delivered: 4, read: 4 }, then: [] },
    { name: 'read past what this device delivered', when: mark('MarkRead', 'bob', 4), handedUpTo: 9, marks: { delivered: 4, read: 0 }, then: [receipt('MessagesRead', 'bob', 4)] },
    { name: 'read where this device already read: nothing', when: mark('MarkRead', 'bob', 2), handedUpTo: 9, marks: { delivered: 4, read: 3 }, then: [] },
  ])('$name', ({ when, handedUpTo, marks, then }) => {
    expect(decideHandedReceipt(when, handedUpTo, marks ?? NO_MARKS)).toEqual(then);
  });

  it('leaves the same watermarks as decideReceipt where both append (read after another device read further)', () => {
    // bob's laptop read up to 5; his phone then reads up to 3. decideReceipt appends a delivered
    // for the phone, the edge a read: folded, both give the same state.
    const laptop = receipt('MessagesRead', 'bob', 5, 'bob-laptop');
    const given = evolveReceipt(initialReceiptState(), laptop);
    const cmd = mark('MarkRead', 'bob', 3);
    const byDecider = receiptDecider.decide(cmd, given, { conversation: stateOf(withMessages(5)) });
    const byEdge = decideHandedReceipt(cmd, 5, NO_MARKS)!;
    expect(byDecider.map((e) => e.type)).toEqual(['MessagesDelivered']);
    expect(byEdge.map((e) => e.type)).toEqual(['MessagesRead']);
    expect(byEdge.reduce(evolveReceipt, given)).toEqual(byDecider.reduce(evolveReceipt, given));
  });

  it('markAppended: a read moves both marks, a delivered only its own, never back', () => {
    let m = markAppended(NO_MARKS, receipt('MessagesDelivered', 'bob', 4));
    expect(m).toEqual({ delivered: 4, read: 0 });
    m = markAppended(m, receipt('MessagesRead', 'bob', 6));
    expect(m).toEqual({ delivered: 6, read: 6 });
    expect(markAppended(m, receipt('MessagesDelivered', 'bob', 2))).toEqual(m);
  });
});

describe('decideHandedReceipts', () => {
  const seqsOf = (r: ReturnType<typeof decideHandedReceipts>) => r.map(({ command, event }) => [command.type, command.data.upToSeq, event.type, event.upToSeq]);

  it('a delivered the read covers appends nothing; the read is carried by its own command', () => {
    const cmds = [mark('MarkDelivered', 'bob', 3), mark('MarkRead', 'bob', 3), mark('MarkDelivered', 'bob', 2)];
    expect(seqsOf(decideHandedReceipts(cmds, 9, NO_MARKS))).toEqual([['MarkRead', 3, 'MessagesRead', 3]]);
  });

  it('the highest of each kind: a delivered past the read goes too', () => {
    const cmds = [mark('MarkDelivered', 'bob', 7), mark('MarkRead', 'bob', 5), mark('MarkDelivered', 'bob', 6), mark('MarkRead', 'bob', 4)];
    expect(seqsOf(decideHandedReceipts(cmds, 9, NO_MARKS))).toEqual([
      ['MarkRead', 5, 'MessagesRead', 5],
      ['MarkDelivered', 7, 'MessagesDelivered', 7],
    ]);
  });

  it('nothing where the device already is', () => {
    expect(decideHandedReceipts([mark('MarkDelivered', 'bob', 6), mark('MarkRead', 'bob', 5)], 9, { delivered: 7, read: 5 })).toEqual([]);
  });

  it('refuses a receipt past the handed seq (the caller checks it first)', () => {
    expect(() => decideHandedReceipts([mark('MarkRead', 'bob', 10)], 9, NO_MARKS)).toThrow(/past the handed 9/);
  });
});
