import { describe, expect, it } from 'vitest';
import { ChatError, type CommandOf, type EventOf, type ConversationKind } from '@chat/contracts';
import { answer } from './answer';
import { decide, DEFAULT_RULES } from './decide';
import { evolveAll } from './evolve';
import { AT, check, directCreated, meta, type Case } from './fixtures';
import { initialState } from './state';

const LATER = '2025-01-01T00:05:00.000Z';

const create = (by: string, kind: ConversationKind, members: string[], extra: { title?: string; id?: string } = {}): CommandOf<'CreateConversation'> => ({
  type: 'CreateConversation',
  v: 1,
  meta: meta(by),
  data: { conversationId: extra.id ?? 'c1', kind, members, ...(extra.title ? { title: extra.title } : {}) },
});

const send = (by: string, clientMsgId: string, extra: { replyTo?: string; messageId?: string; at?: string } = {}): CommandOf<'SendMessage'> => ({
  type: 'SendMessage',
  v: 1,
  meta: meta(by, extra.at),
  data: {
    conversationId: 'c1',
    messageId: extra.messageId ?? `m-${by}-${clientMsgId}`,
    clientMsgId,
    body: { text: `hello ${clientMsgId}` },
    ...(extra.replyTo ? { replyTo: extra.replyTo } : {}),
  },
});

// ---------------------------------------------------------------- given events
const groupCreated = (owner: string, others: string[], title = 'team'): EventOf<'ConversationCreated'> => ({
  type: 'ConversationCreated',
  v: 1,
  conversationId: 'c1',
  kind: 'group',
  title,
  createdBy: owner,
  members: [{ userId: owner, role: 'owner' }, ...others.map((userId) => ({ userId, role: 'member' as const }))],
  at: AT,
});

const sent = (seq: number, by: string, clientMsgId: string, extra: { replyTo?: string; at?: string } = {}): EventOf<'MessageSent'> => ({
  type: 'MessageSent',
  v: 1,
  conversationId: 'c1',
  messageId: `m-${by}-${clientMsgId}`,
  seq,
  senderId: by,
  senderDeviceId: `${by}-phone`,
  clientMsgId,
  body: { text: `hello ${clientMsgId}` },
  ...(extra.replyTo ? { replyTo: extra.replyTo } : {}),
  sentAt: extra.at ?? AT,
});


describe('CreateConversation', () => {
  it.each<Case>([
    {
      name: 'a direct conversation: both members, no roles above member',
      given: [],
      when: create('alice', 'direct', ['alice', 'bob']),
      then: [directCreated()],
    },
    {
      name: 'a direct conversation ignores a title',
      given: [],
      when: create('alice', 'direct', ['alice', 'bob'], { title: 'ignored' }),
      then: [directCreated()],
    },
    {
      name: 'a group: the creator is its owner, duplicates are dropped, the title is kept',
      given: [],
      when: create('alice', 'group', ['alice', 'bob', 'carol', 'bob'], { title: 'team' }),
      then: [groupCreated('alice', ['bob', 'carol'])],
    },
    {
      name: 'a group of the maximum size',
      given: [],
      when: create('alice', 'group', ['alice', 'bob', 'carol'], { title: 'team' }),
      rules: { ...DEFAULT_RULES, maxGroupMembers: 3 },
      then: [groupCreated('alice', ['bob', 'carol'])],
    },
    {
      name: 'the existing direct conversation again (dedupe): nothing new',
      given: [directCreated()],
      when: create('alice', 'direct', ['alice', 'bob']),
      then: [],
    },
    {
      name: 'the existing direct conversation, created from the other side: nothing new',
      given: [directCreated()],
      when: create('bob', 'direct', ['bob', 'alice']),
      then: [],
    },
    {
      name: 'a retried group create by its creator: nothing new',
      given: [groupCreated('alice', ['bob'])],
      when: create('alice', 'group', ['alice', 'bob'], { title: 'team' }),
      then: [],
    },
  ])('$name', check);

  it.each<Case>([
    {
      name: 'the creator is not among the members',
      given: [],
      when: create('alice', 'group', ['bob', 'carol']),
      then: { error: 'bad_request' },
    },
    {
      name: 'a direct conversation with only the creator',
      given: [],
      when: create('alice', 'direct', ['alice', 'alice']),
      then: { error: 'bad_request' },
    },
    {
      name: 'a direct conversation with three members',
      given: [],
      when: create('alice', 'direct', ['alice', 'bob', 'carol']),
      then: { error: 'bad_request' },
    },
    {
      name: 'a group over the member cap',
      given: [],
      when: create('alice', 'group', ['alice', 'bob', 'carol', 'dave']),
      rules: { ...DEFAULT_RULES, maxGroupMembers: 3 },
      then: { error: 'bad_request' },
    },
    {
      name: 'a group id that another user already created',
      given: [groupCreated('alice', ['bob'])],
      when: create('bob', 'group', ['bob', 'alice']),
      then: { error: 'conflict' },
    },
    {
      name: 'a group with the id of an existing direct conversation',
      given: [directCreated()],
      when: create('alice', 'group', ['alice', 'bob']),
      then: { error: 'conflict' },
    },
    {
      name: 'a direct conversation with the id of an existing group',
      given: [groupCreated('alice', ['bob'])],
      when: create('bob', 'direct', ['bob', 'alice']),
      then: { error: 'conflict' },
    },
    {
      name: 'a direct conversation id taken by two other users',
      given: [directCreated('alice', 'bob')],
      when: create('carol', 'direct', ['carol', 'dave']),
      then: { error: 'conflict' },
    },
  ])('rejects $name', check);

  it('answers a retry with the same conversation as the first create', () => {
    const state = evolveAll(initialState(), [directCreated()]);
    expect(answer(create('bob', 'direct', ['bob', 'alice']), state)).toEqual({
      kind: 'conversation.created',
      conversationId: 'c1',
      conversationKind: 'direct',
      members: ['alice', 'bob'],
    });
  });
});

describe('SendMessage', () => {
  it.each<Case>([
    {
      name: 'the first message gets seq 1',
      given: [directCreated()],
      when: send('alice', 'k1'),
      then: [sent(1, 'alice', 'k1')],
    },
    {
      name: 'seqs are dense: the next one follows the last, whoever sent it',
      given: [groupCreated('alice', ['bob', 'carol']), sent(1, 'alice', 'k1'), sent(2, 'bob', 'k1'), sent(3, 'carol', 'x')],
      when: send('bob', 'k2'),
      then: [sent(4, 'bob', 'k2')],
    },
    {
      name: 'a retry with the same clientMsgId: nothing new',
      given: [directCreated(), sent(1, 'alice', 'k1'), sent(2, 'bob', 'k9')],
      when: send('alice', 'k1', { messageId: 'm-retry-has-a-new-id' }),
      then: [],
    },
    {
      name: 'the same clientMsgId from another sender is another message',
      given: [directCreated(), sent(1, 'alice', 'k1')],
      when: send('bob', 'k1'),
      then: [sent(2, 'bob', 'k1')],
    },
    {
      name: 'a reply to a message of the conversation',
      given: [directCreated(), sent(1, 'alice', 'k1')],
      when: send('bob', 'k2', { replyTo: 'm-alice-k1' }),
      then: [sent(2, 'bob', 'k2', { replyTo: 'm-alice-k1' })],
    },
    {
      name: 'the message time is the command time',
      given: [directCreated()],
      when: send('alice', 'k1', { at: LATER }),
      then: [sent(1, 'alice', 'k1', { at: LATER })],
    },
  ])('$name', check);

  it.each<Case>([
    { name: 'a conversation that does not exist', given: [], when: send('alice', 'k1'), then: { error: 'not_found' } },
    { name: 'a sender who is not a member', given: [directCreated()], when: send('mallory', 'k1'), then: { error: 'forbidden' } },
    {
      name: 'a reply to an unknown message',
      given: [directCreated(), sent(1, 'alice', 'k1')],
      when: send('bob', 'k2', { replyTo: 'm-nowhere' }),
      then: { error: 'bad_request' },
    },
  ])('rejects $name', check);

  it('answers a retry with the original messageId and seq', () => {
    const state = evolveAll(initialState(), [directCreated(), sent(1, 'alice', 'k1'), sent(2, 'bob', 'k2')]);
    const retry = send('alice', 'k1', { messageId: 'm-retry-has-a-new-id', at: LATER });
    expect(decide(retry, state)).toEqual([]);
    expect(answer(retry, state)).toEqual({
      kind: 'message.sent',
      conversationId: 'c1',
      clientMsgId: 'k1',
      messageId: 'm-alice-k1',
      seq: 1,
      sentAt: AT,
    });
  });

  it('answers a first send from the state after its event', () => {
    const command = send('bob', 'k5');
    const state = evolveAll(initialState(), [directCreated()]);
    const after = evolveAll(state, decide(command, state));
    expect(answer(command, after)).toMatchObject({ kind: 'message.sent', messageId: 'm-bob-k5', seq: 1 });
  });

  it('gives 50 sends the seqs 1..50', () => {
    let state = evolveAll(initialState(), [directCreated()]);
    const seqs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const events = decide(send(i % 2 ? 'alice' : 'bob', `k${i}`), state);
      seqs.push(...events.map((e) => (e.type === 'MessageSent' ? e.seq : -1)));
      state = evolveAll(state, events);
    }
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('cannot answer for a conversation that does not exist', () => {
    expect(() => answer(send('alice', 'k1'), initialState())).toThrow(ChatError);
  });
});
