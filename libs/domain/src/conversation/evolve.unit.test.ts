import { describe, expect, it } from 'vitest';
import type { ConversationEvent } from '@chat/contracts';
import { evolve } from './evolve';
import { added, after, deleted, edited, groupCreated, hidden, left, MIN, removed, rolesChanged, sent, stateOf, updated } from './fixtures';
import { conversationToSnapshot } from './snapshot';

describe('evolve is pure', () => {
  const given = stateOf([groupCreated('alice', ['bob', 'carol'], ['olga']), sent(1, 'alice', 'm1'), sent(2, 'bob', 'm2')]);
  const next: Array<[string, ConversationEvent]> = [
    ['MessageSent', sent(3, 'carol', 'm3', { at: after(2 * 24 * 60 * MIN) })],
    ['MembersAdded', added(3, 'alice', ['dave'])],
    ['MemberRemoved', removed(3, 'alice', 'carol')],
    ['MemberLeft', left(3, 'bob')],
    ['RolesChanged', rolesChanged('alice', [['bob', 'admin']])],
    ['ConversationUpdated', updated('alice', { title: '', description: 'about' })],
    ['MessageEdited', edited(1, 'alice', 'm1', 'changed', after(MIN))],
    ['MessageDeleted', deleted(2, 'bob', 'm2')],
    ['MessageHidden', hidden(1, 'carol', 'm1', after(MIN))],
  ];

  it.each(next)('%s leaves the state it is given as it was, and changes the one it returns', (_type, event) => {
    const before = conversationToSnapshot(given);
    const changed = evolve(given, event);
    expect(conversationToSnapshot(given)).toEqual(before);
    expect(changed).not.toBe(given);
    expect(conversationToSnapshot(changed)).not.toEqual(before);
  });
});
