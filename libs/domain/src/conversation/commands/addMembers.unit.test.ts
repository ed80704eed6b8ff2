import { describe, expect, it } from 'vitest';
import { answer } from '../answer';
import { decide } from '../decide';
import { evolveAll } from '../evolve';
import { added, check, cmd, directCreated, group, removed, sent, stateOf, type Case } from '../fixtures';
import type { ActiveConversation } from '../state';

describe('AddMembers', () => {
  it.each<Case>([
    {
      name: 'the owner adds two users: one system message with the next seq, role member',
      given: [group(), sent(1, 'bob', 'm1')],
      when: cmd('AddMembers', 'alice', { userIds: ['dave', 'erin'] }),
      then: [added(2, 'alice', ['dave', 'erin'])],
    },
    {
      name: 'an admin adds a user',
      given: [group()],
      when: cmd('AddMembers', 'olga', { userIds: ['dave'] }),
      then: [added(1, 'olga', ['dave'])],
    },
    {
      name: 'members already in the group and duplicates are ignored',
      given: [group()],
      when: cmd('AddMembers', 'alice', { userIds: ['bob', 'dave', 'dave', 'alice'] }),
      then: [added(1, 'alice', ['dave'])],
    },
    {
      name: 'only members already in the group: nothing (idempotent)',
      given: [group(), added(1, 'alice', ['dave'])],
      when: cmd('AddMembers', 'alice', { userIds: ['dave', 'bob'] }),
      then: [],
    },
    {
      name: 'up to the cap exactly',
      given: [group()],
      when: cmd('AddMembers', 'alice', { userIds: ['dave'] }),
      rules: { maxGroupMembers: 5 },
      then: [added(1, 'alice', ['dave'])],
    },
    {
      name: 'a user who was removed earlier can be added again',
      given: [group(), removed(1, 'alice', 'bob')],
      when: cmd('AddMembers', 'alice', { userIds: ['bob'] }),
      then: [added(2, 'alice', ['bob'])],
    },
  ])('$name', check);

  it.each<Case>([
    { name: 'a conversation that does not exist', given: [], when: cmd('AddMembers', 'alice', { userIds: ['dave'] }), then: { error: 'not_found' } },
    { name: 'a non-member', given: [group()], when: cmd('AddMembers', 'mallory', { userIds: ['dave'] }), then: { error: 'forbidden' } },
    {
      name: 'a plain member',
      given: [group()],
      when: cmd('AddMembers', 'bob', { userIds: ['dave'] }),
      then: { error: 'forbidden', message: 'only the owner and admins can add members' },
    },
    {
      name: 'a direct conversation',
      given: [directCreated()],
      when: cmd('AddMembers', 'alice', { userIds: ['dave'] }),
      then: { error: 'bad_request', message: 'direct conversations have fixed members' },
    },
    {
      name: 'over the cap (the message names it)',
      given: [group()],
      when: cmd('AddMembers', 'alice', { userIds: ['dave', 'erin'] }),
      rules: { maxGroupMembers: 5 },
      then: { error: 'bad_request', message: /at most 5 members/ },
    },
  ])('rejects $name', check);

  it('members added later see messages from their own join onward', () => {
    const state = stateOf([group(), sent(1, 'bob', 'm1'), sent(2, 'bob', 'm2'), added(3, 'alice', ['dave'])]) as ActiveConversation;
    expect(state.lastSeq).toBe(3);
    expect(state.members.get('dave')).toEqual({ role: 'member', joinedAfterSeq: 2 });
    expect(state.members.get('bob')).toEqual({ role: 'member', joinedAfterSeq: 0 });
  });

  it('answers conversation.changed with the members and roles as they now are', () => {
    const command = cmd('AddMembers', 'alice', { userIds: ['dave'] });
    const before = stateOf([group()]);
    const events = decide(command, before);
    expect(answer(command, evolveAll(before, events), events)).toEqual({
      kind: 'conversation.changed',
      conversationId: 'c1',
      conversationKind: 'group',
      title: 'team',
      members: ['alice', 'olga', 'bob', 'carol', 'dave'],
      roles: { alice: 'owner', olga: 'admin', bob: 'member', carol: 'member', dave: 'member' },
      changed: ['members_added'],
    });
  });

  it('answers a repeat with changed: []', () => {
    const command = cmd('AddMembers', 'alice', { userIds: ['bob'] });
    expect(answer(command, stateOf([group()]), [])).toMatchObject({ kind: 'conversation.changed', changed: [] });
  });
});
