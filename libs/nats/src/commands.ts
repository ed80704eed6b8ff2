import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Command, CommandReply, Names } from '@chat/contracts';

/**
 * The verb (last subject token) of each conversation command on `chat.cmd.conv.<id>.<verb>`.
 * One token each: a subject token cannot contain '.'.
 */
export const CONVERSATION_VERBS = {
  SendMessage: 'send',
  MarkRead: 'read',
  AddMembers: 'members',
  RemoveMember: 'remove',
  LeaveConversation: 'leave',
  ChangeRole: 'role',
  UpdateConversation: 'update',
  EditMessage: 'edit',
  DeleteMessage: 'delete',
  MuteConversation: 'mute',
} as const satisfies Partial<Record<Command['type'], string>>;

/**
 * Where a command is published on CHAT_CMD. Conversation commands go to the conversation's
 * subject, user commands to the user's (ARCHITECTURE.md, "Subjects and streams").
 */
export function commandSubject(n: Names, command: Command): string {
  switch (command.type) {
    case 'CreateConversation':
      return n.subjects.cmdUser(command.meta.userId, 'create');
    case 'MarkDelivered':
      return n.subjects.cmdUser(command.meta.userId, 'ack');
    case 'SendMessage':
    case 'MarkRead':
    case 'AddMembers':
    case 'RemoveMember':
    case 'LeaveConversation':
    case 'ChangeRole':
    case 'UpdateConversation':
    case 'EditMessage':
    case 'DeleteMessage':
    case 'MuteConversation':
      return n.subjects.cmdConv(command.data.conversationId, CONVERSATION_VERBS[command.type]);
    default: {
      const never: never = command;
      throw new Error(`unknown command ${(never as { type: string }).type}`);
    }
  }
}

/**
 * Queues a command. Resolves once JetStream stored it; `msgId` (Nats-Msg-Id) makes a repeated
 * publish of the same command within CHAT_CMD's duplicate window a no-op.
 */
export function publishCommand(js: JetStreamClient, subject: string, command: Command, opts: { msgId: string; timeoutMs?: number }): Promise<PubAck> {
  return js.publish(subject, JSON.stringify(command), { msgID: opts.msgId, ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}) });
}

/**
 * Answers the edge that published a command, on its core-NATS reply subject. Fire and forget:
 * an edge that is gone or timed out simply does not hear it, and the client retries by its
 * own id.
 */
export function publishReply(nc: NatsConnection, n: Names, edgeId: string, reply: CommandReply): void {
  nc.publish(n.subjects.reply(edgeId), JSON.stringify(reply));
}
