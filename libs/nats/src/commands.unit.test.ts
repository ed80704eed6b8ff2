import { describe, expect, it } from 'vitest';
import { names, type Command } from '@chat/contracts';
import { commandSubject, fnv1a, partitionOf } from './commands';

const meta = { commandId: 'c', requestId: 'r', userId: 'alice', deviceId: 'd', edgeId: 'e', at: '2025-01-01T00:00:00.000Z' };
const body = { text: 'x' };
const data = { conversationId: 'g-1' };

const commands: Array<[Command, string]> = [ // [command, a name for the test]
  [{ type: 'CreateConversation', v: 1, meta, data: { ...data, kind: 'group', members: ['alice'] } }, 'create'],
  [{ type: 'MarkDelivered', v: 1, meta, data: { ...data, upToSeq: 1 } }, 'delivered'],
  [{ type: 'SendMessage', v: 1, meta, data: { ...data, messageId: 'm', clientMsgId: 'k', body } }, 'send'],
  [{ type: 'MarkRead', v: 1, meta, data: { ...data, upToSeq: 1 } }, 'read'],
  [{ type: 'AddMembers', v: 1, meta, data: { ...data, userIds: ['bob'] } }, 'members'],
  [{ type: 'RemoveMember', v: 1, meta, data: { ...data, userId: 'bob' } }, 'remove'],
  [{ type: 'LeaveConversation', v: 1, meta, data }, 'leave'],
  [{ type: 'ChangeRole', v: 1, meta, data: { ...data, userId: 'bob', role: 'admin' } }, 'role'],
  [{ type: 'UpdateConversation', v: 1, meta, data: { ...data, title: 't' } }, 'update'],
  [{ type: 'EditMessage', v: 1, meta, data: { ...data, messageId: 'm', body } }, 'edit'],
  [{ type: 'DeleteMessage', v: 1, meta, data: { ...data, messageId: 'm', scope: 'me' } }, 'delete'],
  [{ type: 'MuteConversation', v: 1, meta, data: { ...data, muted: true } }, 'mute'],
];

describe('commandSubject', () => {
  it.each(commands.map(([command]) => ({ type: command.type, command })))('$type goes to its conversation\'s partition', ({ command }) => {
    expect(commandSubject(names(''), command, 16)).toBe(`chat.cmd.${partitionOf('g-1', 16)}`);
  });

  it('prefixes the namespace', () => {
    for (const [command] of commands) expect(commandSubject(names('t1'), command, 16)).toBe(`t1.chat.cmd.${partitionOf('g-1', 16)}`);
  });
});

describe('partitionOf', () => {
  it('is FNV-1a, stable, and spreads conversation ids evenly', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`d-${i.toString(36)}`, 16)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
    for (const c of counts) expect(c).toBeLessThan(1200);
  });
});
