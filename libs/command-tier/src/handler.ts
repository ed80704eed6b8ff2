import { isChatError, type Names, type StoredEvent } from '@chat/contracts';
import type { ConversationRules } from '@chat/domain';
import { isConcurrencyError } from '@chat/nats';
import type { AggregateKind, Aggregates, Loaded } from './aggregates';
import type { MessageLookup } from './messageLookup';

export interface HandlerContext {
  aggregates: Aggregates;
  names: Names;
  stats: { conflicts: number };
  /** Group cap and edit/delete windows (CHAT_MAX_GROUP_MEMBERS, CHAT_EDIT_WINDOW, CHAT_DELETE_WINDOW). */
  rules: ConversationRules;
  /** Finds a message older than what a conversation's state keeps, when a command names one. */
  messages?: MessageLookup;
  /**
   * Runs a task in the conversation's own queue, after its running command: how a receipt or a
   * preference (on its member's key) refreshes the cached conversation state, which only the
   * conversation's queue may change.
   */
  exclusive<T>(conversationId: string, task: () => Promise<T>): Promise<T>;
}

export interface UseCase<S, R> {
  /** The subject the events are appended to; its events make up the state. */
  subject: string;
  kind: AggregateKind<S>;
  /** Names the appended messages, so a redelivered command cannot append twice. */
  commandId: string;
  /** Pure once what it needs is at hand; asynchronous only to look something up first (an old message). */
  decide(state: S): StoredEvent[] | Promise<StoredEvent[]>;
  /** From the state after the events; `events` are the ones this command appended (none for a repeat or a no-op). */
  answer(state: S, events: readonly StoredEvent[]): R;
}

/** Appends racing with another instance are retried this many times in all; then the command is redelivered later. */
export const MAX_ATTEMPTS = 5;

const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** attempt));

/**
 * load → decide → append expecting the subject's last sequence → on a conflict reload and
 * decide again → answer from the state after the events, which are durable by then.
 */
export async function handle<S, R>(ctx: HandlerContext, uc: UseCase<S, R>): Promise<R> {
  const { aggregates } = ctx;
  let agg = await aggregates.get(uc.subject, uc.kind);
  for (let attempt = 1; ; attempt++) {
    let events: StoredEvent[];
    ({ agg, events } = await decideOnCurrent(ctx, uc, agg));
    if (events.length === 0) return uc.answer(agg.state, []);
    try {
      const lastSubjectSeq = await aggregates.store.append(uc.subject, events, agg.lastSubjectSeq, uc.commandId);
      const state = events.reduce((st: S, e) => uc.kind.evolve(st, e), agg.state);
      aggregates.save(uc.subject, uc.kind, state, lastSubjectSeq, events.length);
      return uc.answer(state, events);
    } catch (e) {
      // Any other failure leaves the cached state as it was (states are immutable); if the append
      // did land after all, the next command's expected sequence finds out and reloads.
      if (!isConcurrencyError(e) || attempt >= MAX_ATTEMPTS) throw e;
      ctx.stats.conflicts++;
      await backoff(attempt);
      agg = await aggregates.refresh(uc.subject, uc.kind, agg);
    }
  }
}

/**
 * A rejection is never checked by an append, so one decided on a cached state is confirmed on
 * the current state first: the conversation may have been created by another instance since.
 */
async function decideOnCurrent<S, R>(ctx: HandlerContext, uc: UseCase<S, R>, agg: Loaded<S>): Promise<{ agg: Loaded<S>; events: StoredEvent[] }> {
  try {
    return { agg, events: await uc.decide(agg.state) };
  } catch (e) {
    if (!isChatError(e) || agg.fresh) throw e;
    const current = await ctx.aggregates.refresh(uc.subject, uc.kind, agg);
    return { agg: current, events: await uc.decide(current.state) };
  }
}
