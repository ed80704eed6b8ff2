import { describe, expect, it } from 'vitest';
import { answer } from '../answer';
import { decide } from '../decide';
import { evolveAll } from '../evolve';
import { added, after, check, cmd, deleted, directCreated, group, hidden, MIN, sent, stateOf, type Case } from '../fixtures';
import type { ActiveConversation } from '../state';

describe('DeleteMessage', () => {
  const base = () => [group(), sent(1, 'bob', 'm1'), sent(2, 'olga', 'm2')];
  const del = (by: string, id: string, scope: 'everyone' | 'me', at?: string) => cmd('DeleteMessage', by, { messageId: id, scope }, at);
  it.each<Case>([
    { name: 'the author for everyone within the window: the target seq', given: base(), when: del('bob', 'm1', 'everyone', after(60 * MIN)), then: [deleted(1, 'bob', 'm1', after(60 * MIN))] },
    { name: 'an admin deletes a member message any time', given: base(), when: del('olga', 'm1', 'everyone', after(24 * 60 * MIN)), then: [deleted(1, 'olga', 'm1', after(24 * 60 * MIN))] },
    { name: 'the owner deletes an admin message any time', given: base(), when: del('alice', 'm2', 'everyone', after(120 * MIN)), then: [deleted(2, 'alice', 'm2', after(120 * MIN))] },
    { name: 'an admin deletes their own message after the window', given: base(), when: del('olga', 'm2', 'everyone', after(120 * MIN)), then: [deleted(2, 'olga', 'm2', after(120 * MIN))] },
    { name: 'already deleted: nothing', given: [...base(), deleted(1, 'bob', 'm1')], when: del('bob', 'm1', 'everyone'), then: [] },
    { name: 'for me: any member who can see it', given: base(), when: del('carol', 'm1', 'me', after(99 * 60 * MIN)), then: [hidden(1, 'carol', 'm1', after(99 * 60 * MIN))] },
    { name: 'for me again: another MessageHidden (the read model upserts)', given: [...base(), hidden(1, 'carol', 'm1')], when: del('carol', 'm1', 'me'), then: [hidden(1, 'carol', 'm1')] },
    { name: 'for me, a message deleted for everyone', given: [...base(), deleted(1, 'bob', 'm1')], when: del('carol', 'm1', 'me'), then: [hidden(1, 'carol', 'm1')] },
    { name: 'for me, a member added later, a message after their join', given: [...base(), added(3, 'alice', ['dave']), sent(4, 'bob', 'm4')], when: del('dave', 'm4', 'me'), then: [hidden(4, 'dave', 'm4')] },
    { name: 'the author in a direct conversation', given: [directCreated(), sent(1, 'alice', 'm1')], when: del('alice', 'm1', 'everyone'), then: [deleted(1, 'alice', 'm1')] },
    { name: 'with a short window configured', given: base(), when: del('bob', 'm1', 'everyone', after(500)), rules: { deleteWindowMs: 500 }, then: [deleted(1, 'bob', 'm1', after(500))] },
  ])('$name', check);

  it.each<Case>([
    { name: 'the author after the delete window', given: base(), when: del('bob', 'm1', 'everyone', after(60 * MIN + 1)), then: { error: 'forbidden', message: 'the delete window (1h) has passed' } },
    { name: 'a member deleting another member message', given: base(), when: del('carol', 'm1', 'everyone'), then: { error: 'forbidden', message: /author, an admin or the owner/ } },
    { name: 'the other member of a direct conversation', given: [directCreated(), sent(1, 'alice', 'm1')], when: del('bob', 'm1', 'everyone'), then: { error: 'forbidden' } },
    { name: 'an unknown message', given: base(), when: del('bob', 'nope', 'everyone'), then: { error: 'not_found' } },
    { name: 'for me, a message from before the member joined', given: [...base(), added(3, 'alice', ['dave'])], when: del('dave', 'm1', 'me'), then: { error: 'not_found' } },
    { name: 'for everyone, an admin added later, a message from before', given: [...base(), added(3, 'alice', ['pete'])], when: del('pete', 'm1', 'everyone'), then: { error: 'not_found' } },
    { name: 'a non-member', given: base(), when: del('mallory', 'm1', 'me'), then: { error: 'forbidden' } },
    { name: 'after a short configured window', given: base(), when: del('bob', 'm1', 'everyone', after(501)), rules: { deleteWindowMs: 500 }, then: { error: 'forbidden', message: /500ms/ } },
  ])('rejects $name', check);

  it('marks the message deleted; the seq does not advance', () => {
    const state = stateOf([...base(), deleted(1, 'bob', 'm1'), hidden(2, 'carol', 'm2')]) as ActiveConversation;
    expect(state.messages.get('m1')).toMatchObject({ seq: 1, deleted: true });
    expect(state.messages.get('m2')).toMatchObject({ seq: 2, deleted: false });
    expect(state.lastSeq).toBe(2);
  });

  it('answers message.deleted with the target seq and the command time, also for a repeat', () => {
    const command = del('bob', 'm1', 'everyone', after(MIN));
    const before = stateOf(base());
    const events = decide(command, before);
    const state = evolveAll(before, events);
    const expected = { kind: 'message.deleted', conversationId: 'c1', messageId: 'm1', seq: 1, scope: 'everyone', deletedAt: after(MIN) };
    expect(answer(command, state, events)).toEqual(expected);
    expect(decide(command, state)).toEqual([]);
    expect(answer(command, state, [])).toEqual(expected);
    expect(answer(del('carol', 'm2', 'me'), state, [])).toMatchObject({ seq: 2, scope: 'me' });
  });
});
