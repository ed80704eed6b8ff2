import { ChatError, type CommandResult, type ConversationEvent } from '@chat/contracts';
import type { ConversationCommand } from './decide';
import type { ActiveConversation, ConversationState } from './state';
import { sentKey } from './state';

/**
 * What the client is told once the command's events (if any) are durable, computed from the
 * state after them and the events this command appended (none for a repeat or a no-op).
 * A retried send gets the same answer as the first; a repeated membership change answers with
 * the conversation as it is and `changed: []`.
 */
export function answer(command: ConversationCommand, state: ConversationState, events: readonly ConversationEvent[] = []): CommandResult {
  if (state.status !== 'active') throw new ChatError('internal', 'conversation missing after command');
  switch (command.type) {
    case 'CreateConversation':
      return {
        kind: 'conversation.created',
        conversationId: state.conversationId,
        conversationKind: state.kind,
        members: [...state.members.keys()],
      };
    case 'SendMessage': {
      const rec = state.sent.get(sentKey(command.meta.userId, command.data.clientMsgId));
      if (!rec) throw new ChatError('internal', 'message missing after send');
      return {
        kind: 'message.sent',
        conversationId: state.conversationId,
        clientMsgId: command.data.clientMsgId,
        messageId: rec.messageId,
        seq: rec.seq,
        sentAt: rec.sentAt,
      };
    }
    case 'AddMembers':
    case 'RemoveMember':
    case 'LeaveConversation':
    case 'ChangeRole':
    case 'UpdateConversation':
      return conversationChanged(state, events);
    case 'EditMessage':
      return {
        kind: 'message.edited',
        conversationId: state.conversationId,
        messageId: command.data.messageId,
        seq: messageSeq(state, command.data.messageId, events),
        body: command.data.body,
        editedAt: command.meta.at,
      };
    case 'DeleteMessage':
      return {
        kind: 'message.deleted',
        conversationId: state.conversationId,
        messageId: command.data.messageId,
        seq: messageSeq(state, command.data.messageId, events),
        scope: command.data.scope,
        deletedAt: command.meta.at,
      };
    default: {
      const never: never = command;
      return never;
    }
  }
}

/** The target's seq: from the event just appended (the state may not keep an old message), else from the state. */
function messageSeq(state: ActiveConversation, messageId: string, events: readonly ConversationEvent[]): number {
  const appended = events.find((e) => 'messageId' in e && e.messageId === messageId && 'seq' in e);
  if (appended && 'seq' in appended) return appended.seq;
  const rec = state.messages.get(messageId);
  if (!rec) throw new ChatError('internal', 'message missing after command');
  return rec.seq;
}

/** What an event changed, in the words of `conversation.changed`. */
function changesOf(event: ConversationEvent): string[] {
  switch (event.type) {
    case 'MembersAdded':
      return ['members_added'];
    case 'MemberRemoved':
      return ['member_removed'];
    case 'MemberLeft':
      return ['member_left'];
    case 'RolesChanged':
      return ['role_changed'];
    case 'ConversationUpdated':
      return (['title', 'description', 'avatarUrl'] as const).filter((f) => event[f] !== undefined);
    default:
      return [];
  }
}

export function conversationChanged(state: ActiveConversation, events: readonly ConversationEvent[]): CommandResult {
  return {
    kind: 'conversation.changed',
    conversationId: state.conversationId,
    conversationKind: state.kind,
    ...(state.title !== undefined ? { title: state.title } : {}),
    ...(state.description !== undefined ? { description: state.description } : {}),
    ...(state.avatarUrl !== undefined ? { avatarUrl: state.avatarUrl } : {}),
    members: [...state.members.keys()],
    roles: Object.fromEntries([...state.members].map(([userId, m]) => [userId, m.role])),
    changed: [...new Set(events.flatMap(changesOf))],
  };
}
