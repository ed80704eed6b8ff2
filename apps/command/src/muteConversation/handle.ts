import { ChatError, type CommandOf, type CommandResult } from '@chat/contracts';
import { decideMute, evolveMute } from '@chat/domain';
import type { HandlerContext } from '../handler';
import { currentConversation } from '../receipt';
import { WrongLastSequence } from './preferences';

const ATTEMPTS = 3;

/**
 * Mutes or unmutes the conversation's push notifications for the caller: MemberMuteChanged on
 * the member's own subject chat.pref.<conv>.<user> (never contending with message appends,
 * like receipts). Membership comes from the conversation's state, refreshed when it looks stale.
 * The answer is the setting as it now is; the same setting again appends nothing.
 */
export async function muteConversation(ctx: HandlerContext, command: CommandOf<'MuteConversation'>): Promise<CommandResult> {
  const prefs = ctx.preferences;
  if (!prefs) throw new ChatError('internal', 'no preference store');
  const { conversationId } = command.data;
  const userId = command.meta.userId;
  const conv = await currentConversation(ctx, conversationId, (s) => s.status !== 'active' || !s.members.has(userId));
  const subject = ctx.names.subjects.pref(conversationId, userId);
  for (let attempt = 1; ; attempt++) {
    const { state, lastSubjectSeq } = await prefs.load(subject);
    const events = decideMute(command, state, conv.state);
    const now = events.reduce(evolveMute, state);
    try {
      for (const e of events) await prefs.append(subject, e, lastSubjectSeq, command.meta.commandId);
    } catch (e) {
      if (e instanceof WrongLastSequence && attempt < ATTEMPTS) continue;
      throw e;
    }
    return { kind: 'conversation.muted', conversationId, muted: now.muted, ...(now.until ? { until: now.until } : {}) };
  }
}
