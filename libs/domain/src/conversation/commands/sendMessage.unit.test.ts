import { describe, expect, it } from 'vitest';
import { ChatError, type CommandOf, type EventOf } from '@chat/contracts';
import { answer } from '../answer';
import { decide } from '../decide';
import { evolveAll } from '../evolve';
import { added, after, AT, check, cmd, deleted, directCreated, group, groupCreated, MIN, removed, sent, stateOf, type Case } from '../fixtures';
import { initialState } from '../state';

type Extra = Partial<Omit<CommandOf<'SendMessage'>['data'], 'conversationId' | 'messageId' | 'body'>>;

/** The command that `sent(seq, by, id)` answers (same clientMsgId and body). */
const send = (by: string, id: string, extra: Extra = {}, at?: string) => cmd('SendMessage', by, { messageId: id, clientMsgId: `k-${id}`, body: { text: `text of ${id}` }, ...extra }, at);

const LATER = after(5 * MIN);

describe('SendMessage', () => {
  const forwarded = { conversationId: 'c0', messageId: 'src' };
  it.each<Case>([
    {
      name: 'the first message gets seq 1',
      given: [directCreated()],
      when: send('alice', 'm1'),
      then: [sent(1, 'alice', 'm1')],
    },
    {
      name: 'seqs are dense: the next one follows the last, whoever sent it',
      given: [groupCreated('alice', ['bob', 'carol']), sent(1, 'alice', 'm1'), sent(2, 'bob', 'm2'), sent(3, 'carol', 'm3')],
      when: send('bob', 'm4'),
      then: [sent(4, 'bob', 'm4')],
    },
    {
      name: 'a retry with the same clientMsgId: nothing new',
      given: [directCreated(), sent(1, 'alice', 'm1'), sent(2, 'bob', 'm9')],
      when: send('alice', 'm-retry-has-a-new-id', { clientMsgId: 'k-m1' }),
      then: [],
    },
    {
      name: 'the same clientMsgId from another sender is another message',
      given: [directCreated(), sent(1, 'alice', 'm1')],
      when: send('bob', 'm2', { clientMsgId: 'k-m1' }),
      then: [{ ...sent(2, 'bob', 'm2'), clientMsgId: 'k-m1' }],
    },
    {
      name: 'a reply to a message of the conversation',
      given: [directCreated(), sent(1, 'alice', 'm1')],
      when: send('bob', 'm2', { replyTo: 'm1' }),
      then: [sent(2, 'bob', 'm2', { replyTo: 'm1' })],
    },
    {
      name: 'the message time is the command time',
      given: [directCreated()],
      when: send('alice', 'm1', {}, LATER),
      then: [sent(1, 'alice', 'm1', { at: LATER })],
    },
    { name: 'mentions of members are kept (once each)', given: [group()], when: send('bob', 'm1', { mentions: ['carol', 'olga', 'carol'] }), then: [sent(1, 'bob', 'm1', { mentions: ['carol', 'olga'] })] },
    { name: 'an empty mention list is left out', given: [group()], when: send('bob', 'm1', { mentions: [] }), then: [sent(1, 'bob', 'm1')] },
    {
      name: 'a forwarded message keeps its origin',
      given: [group()],
      when: send('bob', 'm1', { forwarded }),
      then: [{ ...sent(1, 'bob', 'm1'), forwarded } satisfies EventOf<'MessageSent'>],
    },
    { name: 'a reply to a deleted message is allowed', given: [group(), sent(1, 'carol', 'm1'), deleted(1, 'carol', 'm1')], when: send('bob', 'm2', { replyTo: 'm1' }), then: [sent(2, 'bob', 'm2', { replyTo: 'm1' })] },
    { name: 'the next seq follows system messages', given: [group(), sent(1, 'bob', 'm1'), added(2, 'alice', ['dave']), removed(3, 'alice', 'carol')], when: send('dave', 'm2'), then: [sent(4, 'dave', 'm2')] },
  ])('$name', check);

  it.each<Case>([
    { name: 'a conversation that does not exist', given: [], when: send('alice', 'm1'), then: { error: 'not_found' } },
    { name: 'a sender who is not a member', given: [directCreated()], when: send('mallory', 'm1'), then: { error: 'forbidden' } },
    {
      name: 'a reply to an unknown message',
      given: [directCreated(), sent(1, 'alice', 'm1')],
      when: send('bob', 'm2', { replyTo: 'm-nowhere' }),
      then: { error: 'bad_request' },
    },
    { name: 'a mention of a non-member, naming the first one', given: [group()], when: send('bob', 'm1', { mentions: ['carol', 'zed', 'yan'] }), then: { error: 'bad_request', message: /zed/ } },
    { name: 'a mention of a removed member', given: [group(), removed(1, 'alice', 'carol')], when: send('bob', 'm1', { mentions: ['carol'] }), then: { error: 'bad_request', message: /carol/ } },
    {
      name: 'a reply to a message from before the sender joined',
      given: [group(), sent(1, 'bob', 'm1'), added(2, 'alice', ['dave'])],
      when: send('dave', 'm2', { replyTo: 'm1' }),
      then: { error: 'bad_request' },
    },
    { name: 'a removed member', given: [group(), removed(1, 'alice', 'bob')], when: send('bob', 'm1'), then: { error: 'forbidden' } },
  ])('rejects $name', check);

  it('answers a retry with the original messageId and seq', () => {
    const state = stateOf([directCreated(), sent(1, 'alice', 'm1'), sent(2, 'bob', 'm2')]);
    const retry = send('alice', 'm-retry-has-a-new-id', { clientMsgId: 'k-m1' }, LATER);
    expect(decide(retry, state)).toEqual([]);
    expect(answer(retry, state)).toEqual({
      kind: 'message.sent',
      conversationId: 'c1',
      clientMsgId: 'k-m1',
      messageId: 'm1',
      seq: 1,
      sentAt: AT,
    });
  });

  it('answers a first send from the state after its event', () => {
    const command = send('bob', 'm5');
    const state = stateOf([directCreated()]);
    const next = evolveAll(state, decide(command, state));
    expect(answer(command, next)).toMatchObject({ kind: 'message.sent', messageId: 'm5', seq: 1 });
  });

  it('gives 50 sends the seqs 1..50', () => {
    let state = stateOf([directCreated()]);
    const seqs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const events = decide(send(i % 2 ? 'alice' : 'bob', `m${i}`), state);
      seqs.push(...events.map((e) => (e.type === 'MessageSent' ? e.seq : -1)));
      state = evolveAll(state, events);
    }
    expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('cannot answer for a conversation that does not exist', () => {
    expect(() => answer(send('alice', 'm1'), initialState())).toThrow(ChatError);
  });
});
