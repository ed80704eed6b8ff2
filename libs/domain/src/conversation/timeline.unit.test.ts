import { describe, expect, it } from 'vitest';
import { decide } from './decide';
import { evolveAll } from './evolve';
import { AT, cmd, group, stateOf } from './fixtures';
import type { ActiveConversation } from './state';

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
