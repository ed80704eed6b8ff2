import type { CommandOf, ConversationEvent } from '@chat/contracts';
import { decideAddMembers } from './commands/addMembers';
import { decideChangeRole } from './commands/changeRole';
import { decideCreateConversation } from './commands/createConversation';
import { decideDeleteMessage } from './commands/deleteMessage';
import { decideEditMessage } from './commands/editMessage';
import { decideLeaveConversation } from './commands/leaveConversation';
import { decideRemoveMember } from './commands/removeMember';
import { decideSendMessage } from './commands/sendMessage';
import { decideUpdateConversation } from './commands/updateConversation';
import { DEFAULT_RULES, type ConversationRules, type Referenced } from './rules';
import type { ConversationState } from './state';

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

/** Pure: the events a command produces from the current state, or a ChatError. One file a command in `commands/`. */
export function decide(command: ConversationCommand, state: ConversationState, rules: ConversationRules = DEFAULT_RULES, referenced?: Referenced): ConversationEvent[] {
  switch (command.type) {
    case 'CreateConversation':
      return decideCreateConversation(command, state, rules);
    case 'SendMessage':
      return decideSendMessage(command, state, referenced);
    case 'AddMembers':
      return decideAddMembers(command, state, rules);
    case 'RemoveMember':
      return decideRemoveMember(command, state);
    case 'LeaveConversation':
      return decideLeaveConversation(command, state);
    case 'ChangeRole':
      return decideChangeRole(command, state);
    case 'UpdateConversation':
      return decideUpdateConversation(command, state);
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
