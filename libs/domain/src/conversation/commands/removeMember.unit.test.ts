import { describe, expect, it } from 'vitest';
import { decide } from '../decide';
import { check, cmd, directCreated, group, groupCreated, removed, sent, stateOf, type Case } from '../fixtures';

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
