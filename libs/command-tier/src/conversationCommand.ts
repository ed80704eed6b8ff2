import type { CommandResult, EventOf, StoredEvent } from '@chat/contracts';
import { answer, conversationDecider, referencedMessageId, type ConversationCommand, type ConversationState, type Referenced } from '@chat/domain';
import { handle, type HandlerContext, type HandOver, type UseCase } from './handler';
import { conversation, isConversationEvent } from './kinds';

/**
 * The one shape of every conversation command: decide on the conversation's state with the
 * configured rules, append to chat.evt.conv.<id>, answer from the state after the events.
 */
export function runConversationCommand(ctx: HandlerContext, command: ConversationCommand): Promise<CommandResult> {
  const subject = ctx.names.subjects.evtConv(command.data.conversationId);
  return handle(ctx, {
    subject,
    kind: conversation,
    commandId: command.meta.commandId,
    decide: async (state) => conversationDecider.decide(command, state, { rules: ctx.rules, referenced: await referenced(ctx, subject, command, state) }),
    answer: (state, events) => answer(command, state, events.filter(isConversationEvent)),
    ...(ctx.handOver ? { handOver: handOverOf(ctx.handOver, command.data.conversationId) } : {}),
  });
}

/** A message (one MessageSent appended alone) is claimed for the hand-over; everything else is left to the projector. */
function handOverOf(h: HandOver, conversationId: string): NonNullable<UseCase<ConversationState, CommandResult>['handOver']> {
  const message = (events: readonly StoredEvent[]): EventOf<'MessageSent'> | undefined => {
    const e = events.length === 1 ? events[0]! : undefined;
    return e?.type === 'MessageSent' ? e : undefined;
  };
  const members = (state: ConversationState) => (state.status === 'active' ? [...state.members.keys()] : []);
  return {
    claim: (expected, events) => (message(events) ? h.claim(conversationId, expected) : undefined),
    stored: (state, events, lastSubjectSeq) => h.stored(message(events)!, lastSubjectSeq, members(state), state.status === 'active' ? state.kind : 'group'),
    unsure: (state) => h.unsure(conversationId, members(state)),
  };
}

/** The message the command names, when a member names one the state no longer keeps: looked up in the stream. */
async function referenced(ctx: HandlerContext, subject: string, command: ConversationCommand, state: ConversationState): Promise<Referenced> {
  const messageId = referencedMessageId(command);
  if (messageId === undefined || !ctx.messages || state.status !== 'active' || !state.members.has(command.meta.userId) || state.messages.has(messageId)) return undefined;
  return ctx.messages.find(subject, messageId);
}
