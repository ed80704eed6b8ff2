import { describe, expect, it } from 'vitest';
import { answer } from './answer';
import { decide } from './decide';
import { evolveAll } from './evolve';
import { added, AT, check, cmd, directCreated, groupCreated, left, removed, rolesChanged, sent, stateOf, updated, type Case } from './fixtures';
import type { ActiveConversation } from './state';

// alice owns the group; olga is an admin; bob and carol are members.
const group = () => groupCreated('alice', ['bob', 'carol'], ['olga']);

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

describe('RemoveMember', () => {
  it.each<Case>([
    { name: 'the owner removes a member', given: [group(), sent(1, 'bob', 'm1')], when: cmd('RemoveMember', 'alice', { userId: 'bob' }), then: [removed(2, 'alice', 'bob')] },
    { name: 'the owner removes an admin', given: [group()], when: cmd('RemoveMember', 'alice', { userId: 'olga' }), then: [removed(1, 'alice', 'olga')] },
    { name: 'an admin removes a member', given: [group()], when: cmd('RemoveMember', 'olga', { userId: 'carol' }), then: [removed(1, 'olga', 'carol')] },
    { name: 'a user who is not (or no longer) a member: nothing', given: [group(), removed(1, 'alice', 'bob')], when: cmd('RemoveMember', 'alice', { userId: 'bob' }), then: [] },
  ])('$name', check);

  it.each<Case>([
    { name: 'a non-member', given: [group()], when: cmd('RemoveMember', 'mallory', { userId: 'bob' }), then: { error: 'forbidden' } },
    { name: 'a plain member', given: [group()], when: cmd('RemoveMember', 'bob', { userId: 'carol' }), then: { error: 'forbidden' } },
    {
      name: 'an admin removing another admin',
      given: [groupCreated('alice', ['bob'], ['olga', 'pete'])],
      when: cmd('RemoveMember', 'olga', { userId: 'pete' }),
      then: { error: 'forbidden', message: 'only the owner can remove an admin' },
    },
    { name: 'an admin removing the owner', given: [group()], when: cmd('RemoveMember', 'olga', { userId: 'alice' }), then: { error: 'forbidden', message: 'the owner cannot be removed' } },
    { name: 'removing yourself (leave instead)', given: [group()], when: cmd('RemoveMember', 'olga', { userId: 'olga' }), then: { error: 'bad_request', message: /leave/ } },
    { name: 'a direct conversation', given: [directCreated()], when: cmd('RemoveMember', 'alice', { userId: 'bob' }), then: { error: 'bad_request' } },
    { name: 'a conversation that does not exist', given: [], when: cmd('RemoveMember', 'alice', { userId: 'bob' }), then: { error: 'not_found' } },
  ])('rejects $name', check);

  it('a removed member can no longer send', () => {
    const state = stateOf([group(), removed(1, 'alice', 'bob')]);
    expect(() => decide(cmd('SendMessage', 'bob', { messageId: 'x', clientMsgId: 'x', body: { text: 'hi' } }), state)).toThrow(/not a member/);
  });
});

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

describe('ChangeRole', () => {
  it.each<Case>([
    { name: 'the owner makes a member admin', given: [group()], when: cmd('ChangeRole', 'alice', { userId: 'bob', role: 'admin' }), then: [rolesChanged('alice', [['bob', 'admin']])] },
    { name: 'the owner makes an admin member', given: [group()], when: cmd('ChangeRole', 'alice', { userId: 'olga', role: 'member' }), then: [rolesChanged('alice', [['olga', 'member']])] },
    {
      name: 'the owner hands ownership over: one event, the old owner becomes admin',
      given: [group()],
      when: cmd('ChangeRole', 'alice', { userId: 'bob', role: 'owner' }),
      then: [rolesChanged('alice', [['bob', 'owner'], ['alice', 'admin']])],
    },
    { name: 'a role the member already has: nothing', given: [group()], when: cmd('ChangeRole', 'alice', { userId: 'olga', role: 'admin' }), then: [] },
    {
      name: 'a repeated hand-over by the former owner: nothing (answered like the first)',
      given: [group(), rolesChanged('alice', [['bob', 'owner'], ['alice', 'admin']])],
      when: cmd('ChangeRole', 'alice', { userId: 'bob', role: 'owner' }),
      then: [],
    },
  ])('$name', check);

  it.each<Case>([
    { name: 'an admin changing a role', given: [group()], when: cmd('ChangeRole', 'olga', { userId: 'bob', role: 'admin' }), then: { error: 'forbidden', message: 'only the owner can change roles' } },
    { name: 'a member making themselves owner', given: [group()], when: cmd('ChangeRole', 'bob', { userId: 'bob', role: 'owner' }), then: { error: 'forbidden' } },
    { name: 'the owner demoting themselves', given: [group()], when: cmd('ChangeRole', 'alice', { userId: 'alice', role: 'member' }), then: { error: 'bad_request', message: /hand/ } },
    { name: 'a target who is not a member', given: [group()], when: cmd('ChangeRole', 'alice', { userId: 'zed', role: 'admin' }), then: { error: 'not_found' } },
    { name: 'a non-member', given: [group()], when: cmd('ChangeRole', 'mallory', { userId: 'bob', role: 'admin' }), then: { error: 'forbidden' } },
    { name: 'a direct conversation', given: [directCreated()], when: cmd('ChangeRole', 'alice', { userId: 'bob', role: 'admin' }), then: { error: 'bad_request' } },
  ])('rejects $name', check);

  it('after a hand-over the new owner changes roles and the old one cannot', () => {
    const state = stateOf([group(), rolesChanged('alice', [['bob', 'owner'], ['alice', 'admin']])]);
    expect(decide(cmd('ChangeRole', 'bob', { userId: 'carol', role: 'admin' }), state)).toEqual([rolesChanged('bob', [['carol', 'admin']])]);
    expect(() => decide(cmd('ChangeRole', 'alice', { userId: 'carol', role: 'admin' }), state)).toThrow('only the owner can change roles');
    expect(answer(cmd('ChangeRole', 'alice', { userId: 'bob', role: 'owner' }), state, [])).toMatchObject({ roles: { alice: 'admin', bob: 'owner', olga: 'admin', carol: 'member' } });
  });

  it('roles and metadata changes take no seq', () => {
    const state = stateOf([group(), sent(1, 'bob', 'm1'), rolesChanged('alice', [['bob', 'admin']]), updated('alice', { title: 'x' })]) as ActiveConversation;
    expect(state.lastSeq).toBe(1);
    expect(decide(cmd('SendMessage', 'bob', { messageId: 'm2', clientMsgId: 'k2', body: { text: 'hi' } }), state)).toMatchObject([{ seq: 2 }]);
  });
});

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

describe('the timeline seq', () => {
  it('stays dense across messages, joins, removals and leaves; edits and deletes keep the target seq', () => {
    let state = stateOf([group()]);
    const commands = [
      cmd('SendMessage', 'bob', { messageId: 'm1', clientMsgId: 'k1', body: { text: 'a' } }),
      cmd('AddMembers', 'alice', { userIds: ['dave'] }),
      cmd('SendMessage', 'dave', { messageId: 'm2', clientMsgId: 'k2', body: { text: 'b' } }),
      cmd('EditMessage', 'dave', { messageId: 'm2', body: { text: 'b!' } }),
      cmd('RemoveMember', 'olga', { userId: 'carol' }),
      cmd('DeleteMessage', 'bob', { messageId: 'm1', scope: 'everyone' }),
      cmd('ChangeRole', 'alice', { userId: 'dave', role: 'admin' }),
      cmd('LeaveConversation', 'bob', {}),
      cmd('SendMessage', 'dave', { messageId: 'm3', clientMsgId: 'k3', body: { text: 'c' } }),
    ];
    const log: string[] = [];
    for (const c of commands) {
      const events = decide(c, state);
      for (const e of events) log.push(`${e.type}:${'seq' in e ? e.seq : '-'}`);
      state = evolveAll(state, events);
    }
    expect(log).toEqual(['MessageSent:1', 'MembersAdded:2', 'MessageSent:3', 'MessageEdited:3', 'MemberRemoved:4', 'MessageDeleted:1', 'RolesChanged:-', 'MemberLeft:5', 'MessageSent:6']);
    expect((state as ActiveConversation).lastSeq).toBe(6);
    expect((state as ActiveConversation).lastEventAt).toBe(AT);
  });
});
