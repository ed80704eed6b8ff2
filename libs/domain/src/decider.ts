import type { ConversationEvent, MemberMuteChanged, ReceiptEvent, UserSettingsEvent } from '@chat/contracts';
import { decide, type ConversationCommand } from './conversation/decide';
import { evolve } from './conversation/evolve';
import { DEFAULT_RULES, type ConversationRules, type Referenced } from './conversation/rules';
import { initialState, type ConversationState } from './conversation/state';
import { decideMute, evolveMute, initialMuteState, type MuteCommand, type MuteState } from './preferences/mute';
import { decideUserSettings, evolveUserSettings, initialUserSettings, type UserSettingsCommand, type UserSettingsState } from './preferences/user';
import { decideReceipt, evolveReceipt, initialReceiptState, type ReceiptCommand, type ReceiptState } from './receipts/receipts';

/**
 * The one shape of every aggregate's logic (the decider pattern): pure, no I/O, no clock.
 * `decide` turns a command and the current state (and what the command service looked up for
 * it: `context`) into events or a ChatError; `evolve` folds one event into the state. The
 * command service runs every decider the same way: load → decide → append → answer.
 */
export interface Decider<State, Command, Event, Context> {
  initialState(): State;
  decide(command: Command, state: State, context: Context): Event[];
  /** Pure: the state after the event; the state passed in is left as it was. */
  evolve(state: State, event: Event): State;
}

/** chat.evt.conv.<id>: the conversation (members, roles, timeline seq, idempotency, recent messages). */
export const conversationDecider: Decider<ConversationState, ConversationCommand, ConversationEvent, { rules?: ConversationRules; referenced?: Referenced }> = {
  initialState,
  decide: (command, state, context) => decide(command, state, context.rules ?? DEFAULT_RULES, context.referenced),
  evolve: (state, event) => evolve(state, event),
};

/** chat.evt.rcpt.<id>.<userId>: one member's watermarks; decided against the conversation's state. */
export const receiptDecider: Decider<ReceiptState, ReceiptCommand, ReceiptEvent, { conversation: ConversationState }> = {
  initialState: initialReceiptState,
  decide: (command, state, context) => decideReceipt(command, state, context.conversation),
  evolve: evolveReceipt,
};

/** chat.pref.<id>.<userId>: one member's preferences (mute); decided against the conversation's state. */
export const preferenceDecider: Decider<MuteState, MuteCommand, MemberMuteChanged, { conversation: ConversationState }> = {
  initialState: initialMuteState,
  decide: (command, state, context) => decideMute(command, state, context.conversation),
  evolve: evolveMute,
};

/** chat.pref.user.<userId>: one user's own settings (last-seen privacy, blocks); needs nothing else. */
export const userSettingsDecider: Decider<UserSettingsState, UserSettingsCommand, UserSettingsEvent, Record<string, never>> = {
  initialState: initialUserSettings,
  decide: (command, state) => decideUserSettings(command, state),
  evolve: evolveUserSettings,
};
