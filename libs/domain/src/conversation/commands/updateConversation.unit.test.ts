import { describe, expect, it } from 'vitest';
import { answer } from '../answer';
import { decide } from '../decide';
import { evolveAll } from '../evolve';
import { check, cmd, directCreated, group, stateOf, updated, type Case } from '../fixtures';
import type { ActiveConversation } from '../state';

describe('UpdateConversation', () => {
  it.each<Case>([
    { name: 'the owner changes the title', given: [group()], when: cmd('UpdateConversation', 'alice', { title: 'new' }), then: [updated('alice', { title: 'new' })] },
    {
      name: 'an admin sets description and avatar; the unchanged title is left out',
      given: [group()],
      when: cmd('UpdateConversation', 'olga', { title: 'team', description: 'about', avatarUrl: 'https://x/a.png' }),
      then: [updated('olga', { description: 'about', avatarUrl: 'https://x/a.png' })],
    },
    { name: 'nothing changes: nothing', given: [group(), updated('alice', { description: 'd' })], when: cmd('UpdateConversation', 'alice', { title: 'team', description: 'd' }), then: [] },
    { name: 'an empty description clears it', given: [group(), updated('alice', { description: 'd' })], when: cmd('UpdateConversation', 'alice', { description: '' }), then: [updated('alice', { description: '' })] },
    { name: 'clearing a description that is not set: nothing', given: [group()], when: cmd('UpdateConversation', 'alice', { description: '' }), then: [] },
  ])('$name', check);

  it.each<Case>([
    { name: 'a plain member', given: [group()], when: cmd('UpdateConversation', 'bob', { title: 'mine' }), then: { error: 'forbidden' } },
    { name: 'a non-member', given: [group()], when: cmd('UpdateConversation', 'mallory', { title: 'mine' }), then: { error: 'forbidden' } },
    { name: 'a direct conversation', given: [directCreated()], when: cmd('UpdateConversation', 'alice', { title: 'us' }), then: { error: 'bad_request' } },
    { name: 'a conversation that does not exist', given: [], when: cmd('UpdateConversation', 'alice', { title: 'us' }), then: { error: 'not_found' } },
  ])('rejects $name', check);

  it('answers with the metadata as it now is and the fields that changed', () => {
    const command = cmd('UpdateConversation', 'alice', { title: 'team', description: 'about' });
    const before = stateOf([group(), updated('alice', { avatarUrl: 'https://x/a.png' })]);
    const events = decide(command, before);
    expect(answer(command, evolveAll(before, events), events)).toMatchObject({
      title: 'team',
      description: 'about',
      avatarUrl: 'https://x/a.png',
      changed: ['description'],
    });
    const cleared = stateOf([group(), updated('alice', { description: 'd' }), updated('alice', { description: '' })]) as ActiveConversation;
    expect(cleared.description).toBeUndefined();
  });
});
