import { ChatError, LIMITS, type CommandOf, type ConversationEvent } from '@chat/contracts';
import { requireActor } from './guards';
import { decideAddMembers, decideChangeRole, decideLeave, decideRemoveMember, decideUpdate } from './members';
import { decideDeleteMessage, decideEditMessage } from './messages';
import type { ConversationState, MessageRecord } from './state';
import { canSee, sentKey } from './state';

export { requireMember } from './guards';

export type ConversationCommand =
  | CommandOf<'CreateConversation'>
  | CommandOf<'SendMessage'>
  | CommandOf<'AddMembers'>
  | CommandOf<'RemoveMember'>
  | CommandOf<'LeaveConversation'>
  | CommandOf<'ChangeRole'>
  | CommandOf<'UpdateConversation'>
  | CommandOf<'EditMessage'>
  | CommandOf<'DeleteMessage'>;

export interface ConversationRules {
  /** Largest group, the creator included (CHAT_MAX_GROUP_MEMBERS). */
  maxGroupMembers: number;
  /** How long the author may edit a message (CHAT_EDIT_WINDOW). */
  editWindowMs: number;
  /** How long the author may delete a message for everyone (CHAT_DELETE_WINDOW); admins and the owner: always. */
  deleteWindowMs: number;
}
export const DEFAULT_RULES: ConversationRules = {
  maxGroupMembers: LIMITS.defaultMaxGroupMembers,
  editWindowMs: LIMITS.defaultEditWindowMs,
  deleteWindowMs: LIMITS.defaultDeleteWindowMs,
};

/**
 * The message a command names (reply target, edited or deleted message) when the state no longer
 * keeps it (older than its windows): its record as the stream has it, found by the command
 * service before deciding, or undefined when there is no such message.
 */
export type Referenced = MessageRecord | undefined;

/** The message id a command refers to, if any: the handler looks it up when the state has no record of it. */
export function referencedMessageId(command: ConversationCommand): string | undefined {
  switch (command.type) {
    case 'SendMessage':
      return command.data.replyTo;
    case 'EditMessage':
    case 'DeleteMessage':
      return command.data.messageId;
    default:
      return undefined;
  }
}

/** Pure: the events a command produces from the current state, or a ChatError. */
export function decide(command: ConversationCommand, state: ConversationState, rules: ConversationRules = DEFAULT_RULES, referenced?: Referenced): ConversationEvent[] {
  switch (command.type) {
    case 'CreateConversation':
      return decideCreate(command, state, rules);
    case 'SendMessage':
      return decideSend(command, state, referenced);
    case 'AddMembers':
      return decideAddMembers(command, state, rules);
    case 'RemoveMember':
      return decideRemoveMember(command, state);
    case 'LeaveConversation':
      return decideLeave(command, state);
    case 'ChangeRole':
      return decideChangeRole(command, state);
    case 'UpdateConversation':
      return decideUpdate(command, state);
    case 'EditMessage':
      return decideEditMessage(command, state, rules, referenced);
    case 'DeleteMessage':
      return decideDeleteMessage(command, state, rules, referenced);
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

function decideSend(command: CommandOf<'SendMessage'>, state: ConversationState, referenced: Referenced): ConversationEvent[] {
  const { data, meta } = command;
  const { conv, actor } = requireActor(state, meta.userId);
  if (conv.sent.has(sentKey(meta.userId, data.clientMsgId))) return []; // idempotent retry
  if (data.replyTo !== undefined) {
    // A message the sender cannot see (from before they joined) is reported like an unknown one.
    const target = conv.messages.get(data.replyTo) ?? referenced;
    if (!target || !canSee(actor, target.seq)) throw new ChatError('bad_request', 'replyTo is not a message of this conversation');
  }
  const mentions = data.mentions ? [...new Set(data.mentions)] : [];
  const outsider = mentions.find((userId) => !conv.members.has(userId));
  if (outsider !== undefined) throw new ChatError('bad_request', `mentioned user ${outsider} is not a member of this conversation`);
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
      ...(mentions.length > 0 ? { mentions } : {}),
      ...(data.forwarded ? { forwarded: data.forwarded } : {}),
    },
  ];
}
