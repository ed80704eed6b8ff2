import { describe, expect, it } from 'vitest';
import { answer } from '../answer';
import { decide } from '../decide';
import { evolveAll } from '../evolve';
import { check, cmd, directCreated, group, left, rolesChanged, sent, stateOf, type Case } from '../fixtures';

describe('LeaveConversation', () => {
  it.each<Case>([
    { name: 'a member leaves: a system message with the next seq', given: [group(), sent(1, 'bob', 'm1')], when: cmd('LeaveConversation', 'bob', {}), then: [left(2, 'bob')] },
    { name: 'an admin leaves', given: [group()], when: cmd('LeaveConversation', 'olga', {}), then: [left(1, 'olga')] },
    { name: 'the former owner leaves after handing over', given: [group(), rolesChanged('alice', [['bob', 'owner'], ['alice', 'admin']])], when: cmd('LeaveConversation', 'alice', {}), then: [left(1, 'alice')] },
  ])('$name', check);

  it.each<Case>([
    { name: 'the owner (hand ownership over first)', given: [group()], when: cmd('LeaveConversation', 'alice', {}), then: { error: 'forbidden', message: /hand ownership over/ } },
    { name: 'a non-member (or a repeat after leaving)', given: [group(), left(1, 'bob')], when: cmd('LeaveConversation', 'bob', {}), then: { error: 'forbidden' } },
    { name: 'a direct conversation', given: [directCreated()], when: cmd('LeaveConversation', 'bob', {}), then: { error: 'bad_request', message: 'direct conversations have fixed members' } },
    { name: 'a conversation that does not exist', given: [], when: cmd('LeaveConversation', 'bob', {}), then: { error: 'not_found' } },
  ])('rejects $name', check);

  it('answers with the conversation without the leaver', () => {
    const command = cmd('LeaveConversation', 'bob', {});
    const before = stateOf([group()]);
    const events = decide(command, before);
    expect(answer(command, evolveAll(before, events), events)).toMatchObject({ members: ['alice', 'olga', 'carol'], changed: ['member_left'] });
  });
});
