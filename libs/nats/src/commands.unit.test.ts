import { describe, expect, it } from 'vitest';
import { names, type Command } from '@chat/contracts';
import { commandSubject, CONVERSATION_VERBS } from './commands';

const meta = { commandId: 'c', requestId: 'r', userId: 'alice', deviceId: 'd', edgeId: 'e', at: '2025-01-01T00:00:00.000Z' };
const body = { text: 'x' };
const data = { conversationId: 'g-1' };

const commands: Array<[Command, string]> = [
  [{ type: 'CreateConversation', v: 1, meta, data: { ...data, kind: 'group', members: ['alice'] } }, 'chat.cmd.user.alice.create'],
  [{ type: 'MarkDelivered', v: 1, meta, data: { ...data, upToSeq: 1 } }, 'chat.cmd.user.alice.ack'],
  [{ type: 'SendMessage', v: 1, meta, data: { ...data, messageId: 'm', clientMsgId: 'k', body } }, 'chat.cmd.conv.g-1.send'],
  [{ type: 'MarkRead', v: 1, meta, data: { ...data, upToSeq: 1 } }, 'chat.cmd.conv.g-1.read'],
  [{ type: 'AddMembers', v: 1, meta, data: { ...data, userIds: ['bob'] } }, 'chat.cmd.conv.g-1.members'],
  [{ type: 'RemoveMember', v: 1, meta, data: { ...data, userId: 'bob' } }, 'chat.cmd.conv.g-1.remove'],
  [{ type: 'LeaveConversation', v: 1, meta, data }, 'chat.cmd.conv.g-1.leave'],
  [{ type: 'ChangeRole', v: 1, meta, data: { ...data, userId: 'bob', role: 'admin' } }, 'chat.cmd.conv.g-1.role'],
  [{ type: 'UpdateConversation', v: 1, meta, data: { ...data, title: 't' } }, 'chat.cmd.conv.g-1.update'],
  [{ type: 'EditMessage', v: 1, meta, data: { ...data, messageId: 'm', body } }, 'chat.cmd.conv.g-1.edit'],
  [{ type: 'DeleteMessage', v: 1, meta, data: { ...data, messageId: 'm', scope: 'me' } }, 'chat.cmd.conv.g-1.delete'],
  [{ type: 'MuteConversation', v: 1, meta, data: { ...data, muted: true } }, 'chat.cmd.conv.g-1.mute'],
];

describe('commandSubject', () => {
  it.each(commands.map(([command, subject]) => ({ type: command.type, command, subject })))('$type → $subject', ({ command, subject }) => {
    expect(commandSubject(names(''), command)).toBe(subject);
  });

  it('prefixes the namespace and stays under CHAT_CMD (chat.cmd.>)', () => {
    for (const [command, subject] of commands) {
      const namespaced = commandSubject(names('t1'), command);
      expect(namespaced).toBe(`t1.${subject}`);
      expect(namespaced.startsWith(names('t1').subjects.cmdAll.slice(0, -1))).toBe(true);
    }
  });

  it('uses one subject token per verb', () => {
    for (const verb of Object.values(CONVERSATION_VERBS)) expect(verb).toMatch(/^[a-z]+$/);
    expect(new Set(Object.values(CONVERSATION_VERBS)).size).toBe(Object.keys(CONVERSATION_VERBS).length);
  });
});
