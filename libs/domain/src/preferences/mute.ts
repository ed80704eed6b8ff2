import { ChatError, type CommandOf, type MemberMuteChanged } from '@chat/contracts';
import { requireMember } from '../conversation/guards';
import type { ConversationState } from '../conversation/state';

/**
 * One member's mute setting for one conversation (subject chat.pref.<conv>.<user>).
 * `until` (ISO) ends a mute by itself; the setting is about push notifications only.
 */
export interface MuteState {
  muted: boolean;
  until?: string;
}
export type MuteCommand = CommandOf<'MuteConversation'>;

export const initialMuteState = (): MuteState => ({ muted: false });

export function evolveMute(_state: MuteState, event: MemberMuteChanged): MuteState {
  return event.muted ? { muted: true, ...(event.until ? { until: event.until } : {}) } : { muted: false };
}

/** Whether a setting mutes notifications at `nowMs`. */
export const isMuted = (state: MuteState, nowMs: number): boolean => state.muted && (state.until === undefined || Date.parse(state.until) > nowMs);

/**
 * Pure: members only (checked on the conversation's state, like receipts). `until` only with
 * `muted: true` and in the future (relative to the command's time); it is normalised to UTC ISO.
 * A setting equal to the current one produces nothing.
 */
export function decideMute(command: MuteCommand, state: MuteState, conversation: ConversationState): MemberMuteChanged[] {
  const conv = requireMember(conversation, command.meta.userId);
  const { muted, until } = command.data;
  let untilIso: string | undefined;
  if (until !== undefined) {
    if (!muted) throw new ChatError('bad_request', 'until is only allowed with muted: true');
    const ms = Date.parse(until);
    if (Number.isNaN(ms)) throw new ChatError('bad_request', 'until must be an ISO 8601 time');
    if (ms <= Date.parse(command.meta.at)) throw new ChatError('bad_request', 'until must be in the future');
    untilIso = new Date(ms).toISOString();
  }
  const wanted = evolveMute(state, { type: 'MemberMuteChanged', v: 1, conversationId: conv.conversationId, userId: command.meta.userId, muted, ...(untilIso ? { until: untilIso } : {}), at: command.meta.at });
  if (wanted.muted === state.muted && wanted.until === state.until) return [];
  return [
    {
      type: 'MemberMuteChanged',
      v: 1,
      conversationId: conv.conversationId,
      userId: command.meta.userId,
      muted,
      ...(untilIso ? { until: untilIso } : {}),
      at: command.meta.at,
    },
  ];
}
