import { ChatError, type CommandResult } from '@chat/contracts';
import type { ConversationCommand } from './decide';
import type { ConversationState } from './state';
import { sentKey } from './state';

/**
 * What the client is told once the command's events (if any) are durable, computed from the
 * state after them. A retried command gets the same answer as the first.
 */
export function answer(command: ConversationCommand, state: ConversationState): CommandResult {
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
    default: {
      const never: never = command;
      return never;
    }
  }
}
