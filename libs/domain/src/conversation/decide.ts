import { ChatError, type CommandOf, type ConversationEvent } from '@chat/contracts';
import type { ActiveConversation, ConversationState } from './state';
import { sentKey } from './state';

export type ConversationCommand = CommandOf<'CreateConversation'> | CommandOf<'SendMessage'>;

export interface ConversationRules {
  /** Largest group, the creator included. */
  maxGroupMembers: number;
}
export const DEFAULT_RULES: ConversationRules = { maxGroupMembers: 1024 };

/** Pure: the events a command produces from the current state, or a ChatError. */
export function decide(command: ConversationCommand, state: ConversationState, rules: ConversationRules = DEFAULT_RULES): ConversationEvent[] {
  switch (command.type) {
    case 'CreateConversation':
      return decideCreate(command, state, rules);
    case 'SendMessage':
      return decideSend(command, state);
    default: {
      const never: never = command;
      throw new Error(`unknown command ${(never as { type: string }).type}`);
    }
  }
}

function decideCreate(command: CommandOf<'CreateConversation'>, state: ConversationState, rules: ConversationRules): ConversationEvent[] {
  const { data, meta } = command;
  const members = [...new Set(data.members)];
  if (!members.includes(meta.userId)) throw new ChatError('bad_request', 'the creator must be a member');
  if (data.kind === 'direct' && members.length !== 2) {
    throw new ChatError('bad_request', 'a direct conversation has exactly one other member');
  }
  if (data.kind === 'group' && members.length > rules.maxGroupMembers) {
    throw new ChatError('bad_request', `a group has at most ${rules.maxGroupMembers} members`);
  }
  if (state.status === 'active') {
    // Creating a direct conversation again returns it; a retried group create is a no-op.
    const sameDirect = state.kind === 'direct' && data.kind === 'direct' && state.members.has(meta.userId);
    const retriedGroup = state.kind === 'group' && state.createdBy === meta.userId;
    if (sameDirect || retriedGroup) return [];
    throw new ChatError('conflict', 'conversation already exists');
  }
  return [
    {
      type: 'ConversationCreated',
      v: 1,
      conversationId: data.conversationId,
      kind: data.kind,
      ...(data.kind === 'group' && data.title ? { title: data.title } : {}),
      createdBy: meta.userId,
      members: members.map((userId) => ({
        userId,
        role: data.kind === 'group' && userId === meta.userId ? 'owner' : 'member',
      })),
      at: meta.at,
    },
  ];
}

function decideSend(command: CommandOf<'SendMessage'>, state: ConversationState): ConversationEvent[] {
  const { data, meta } = command;
  const conv = requireMember(state, meta.userId);
  if (conv.sent.has(sentKey(meta.userId, data.clientMsgId))) return []; // idempotent retry
  if (data.replyTo !== undefined && !conv.seqByMessageId.has(data.replyTo)) {
    throw new ChatError('bad_request', 'replyTo is not a message of this conversation');
  }
  return [
    {
      type: 'MessageSent',
      v: 1,
      conversationId: conv.conversationId,
      messageId: data.messageId,
      seq: conv.lastSeq + 1,
      senderId: meta.userId,
      senderDeviceId: meta.deviceId,
      clientMsgId: data.clientMsgId,
      body: data.body,
      ...(data.replyTo !== undefined ? { replyTo: data.replyTo } : {}),
      sentAt: meta.at,
    },
  ];
}

/** The conversation, if it exists and the user is in it; otherwise not_found / forbidden. */
export function requireMember(state: ConversationState, userId: string): ActiveConversation {
  if (state.status !== 'active') throw new ChatError('not_found', 'no such conversation');
  if (!state.members.has(userId)) throw new ChatError('forbidden', 'not a member of this conversation');
  return state;
}
