import { describe, expect, it } from 'vitest';
import { answer } from '../answer';
import { decide } from '../decide';
import { check, cmd, directCreated, group, rolesChanged, sent, stateOf, updated, type Case } from '../fixtures';
import type { ActiveConversation } from '../state';

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
