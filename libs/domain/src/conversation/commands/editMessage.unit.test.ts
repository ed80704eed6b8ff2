import { describe, expect, it } from 'vitest';
import { answer } from '../answer';
import { decide } from '../decide';
import { evolveAll } from '../evolve';
import { added, after, check, cmd, deleted, directCreated, edited, group, MIN, removed, sent, stateOf, type Case } from '../fixtures';

const text = (t: string) => ({ text: t });

describe('EditMessage', () => {
  const base = () => [group(), sent(1, 'bob', 'm1')];
  it.each<Case>([
    { name: 'the author edits: MessageEdited with the target seq', given: [...base(), sent(2, 'carol', 'm2')], when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('fixed') }, after(MIN)), then: [edited(1, 'bob', 'm1', 'fixed', after(MIN))] },
    { name: 'at the very end of the window', given: base(), when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('x') }, after(15 * MIN)), then: [edited(1, 'bob', 'm1', 'x', after(15 * MIN))] },
    { name: 'again after an edit', given: [...base(), edited(1, 'bob', 'm1', 'one')], when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('two') }), then: [edited(1, 'bob', 'm1', 'two')] },
    { name: 'in a direct conversation', given: [directCreated(), sent(1, 'alice', 'm1')], when: cmd('EditMessage', 'alice', { messageId: 'm1', body: text('x') }), then: [edited(1, 'alice', 'm1', 'x')] },
    { name: 'with a short window configured', given: base(), when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('x') }, after(900)), rules: { editWindowMs: 1000 }, then: [edited(1, 'bob', 'm1', 'x', after(900))] },
  ])('$name', check);

  it.each<Case>([
    { name: 'after the edit window', given: base(), when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('late') }, after(15 * MIN + 1)), then: { error: 'forbidden', message: 'the edit window (15m) has passed' } },
    { name: 'after a short configured window', given: base(), when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('x') }, after(1001)), rules: { editWindowMs: 1000 }, then: { error: 'forbidden', message: /1s/ } },
    { name: 'by someone else, even the owner', given: base(), when: cmd('EditMessage', 'alice', { messageId: 'm1', body: text('x') }), then: { error: 'forbidden', message: 'only the author can edit a message' } },
    { name: 'a deleted message', given: [...base(), deleted(1, 'bob', 'm1')], when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('x') }), then: { error: 'not_found' } },
    { name: 'an unknown message', given: base(), when: cmd('EditMessage', 'bob', { messageId: 'nope', body: text('x') }), then: { error: 'not_found' } },
    { name: 'by a removed author', given: [...base(), removed(2, 'alice', 'bob')], when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('x') }), then: { error: 'forbidden' } },
    {
      name: 'by an author re-added later (the message is before their new join)',
      given: [...base(), removed(2, 'alice', 'bob'), added(3, 'alice', ['bob'])],
      when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('x') }),
      then: { error: 'not_found' },
    },
    { name: 'in a conversation that does not exist', given: [], when: cmd('EditMessage', 'bob', { messageId: 'm1', body: text('x') }), then: { error: 'not_found' } },
  ])('rejects $name', check);

  it('answers message.edited with the target seq, the new body and the command time', () => {
    const command = cmd('EditMessage', 'bob', { messageId: 'm1', body: text('fixed') }, after(MIN));
    const before = stateOf([...base(), sent(2, 'carol', 'm2')]);
    const events = decide(command, before);
    expect(answer(command, evolveAll(before, events), events)).toEqual({ kind: 'message.edited', conversationId: 'c1', messageId: 'm1', seq: 1, body: text('fixed'), editedAt: after(MIN) });
  });
});
