import type { Command, CommandOf, CommandResult, ConversationScopedCommand } from '@chat/contracts';
import type { ConversationCommand, UserSettingsCommand } from '@chat/domain';
import { runConversationCommand } from './conversationCommand';
import type { HandlerContext } from './handler';
import { muteConversation } from './preference';
import { moveWatermark } from './receipt';
import { runUserSettingsCommand } from './userSettings';

/**
 * Every command the service takes, in one table: which queue it runs in (a conversation's
 * commands one at a time in arrival order; a member's receipts and preferences on their own
 * key, never behind the conversation's messages) and how it runs. Each way of running is
 * load → decide (the domain's decider) → append expecting the subject's last sequence →
 * answer (handler.ts).
 */
interface Route<C extends Command> {
  key(command: C): string;
  run(ctx: HandlerContext, command: C): Promise<CommandResult>;
}

const onConversation: Route<ConversationCommand> = { key: (c) => c.data.conversationId, run: runConversationCommand };
const memberKey = (c: ConversationScopedCommand, what: string) => `${c.data.conversationId}\u0000${what}\u0000${c.meta.userId}`;

const onUser: Route<UserSettingsCommand> = { key: (c) => `user\u0000${c.meta.userId}`, run: runUserSettingsCommand };

export const COMMANDS: { [T in Command['type']]: Route<CommandOf<T>> } = {
  /** ConversationCreated on the new conversation's subject; the creator gets its id and members. */
  CreateConversation: onConversation,
  /**
   * MessageSent with the next seq. A clientMsgId the conversation already holds appends nothing
   * and answers with the original messageId and seq. Mentions must be members; a forwarded
   * message (checked by the edge) keeps its origin.
   */
  SendMessage: onConversation,
  /** MembersAdded (a system message with the next seq) for the users not yet in the group. */
  AddMembers: onConversation,
  /** MemberRemoved (a system message with the next seq); removing a non-member changes nothing. */
  RemoveMember: onConversation,
  /** MemberLeft (a system message with the next seq); the owner hands ownership over first. */
  LeaveConversation: onConversation,
  /** RolesChanged (owner only; a hand-over changes two roles). */
  ChangeRole: onConversation,
  /** ConversationUpdated with the fields that change, if any. */
  UpdateConversation: onConversation,
  /** MessageEdited with the target's seq (author only, within CHAT_EDIT_WINDOW). */
  EditMessage: onConversation,
  /** MessageDeleted (scope everyone) or MessageHidden (scope me) with the target's seq. */
  DeleteMessage: onConversation,
  /** The member's delivered watermark, clamped to the last message. */
  MarkDelivered: { key: (c) => memberKey(c, 'rcpt'), run: moveWatermark },
  /** The member's read watermark (read implies delivered), clamped to the last message. */
  MarkRead: { key: (c) => memberKey(c, 'rcpt'), run: moveWatermark },
  /** MemberMuteChanged on the member's own subject. */
  MuteConversation: { key: (c) => memberKey(c, 'pref'), run: muteConversation },
  /** PrivacyChanged, UserBlocked, UserUnblocked on the user's own subject (chat.pref.user.<userId>). */
  SetPrivacy: onUser,
  BlockUser: onUser,
  UnblockUser: onUser,
};
