import { isChatError, type ConversationKind, type EventOf, type Names, type StoredEvent } from '@chat/contracts';
import type { ConversationRules } from '@chat/domain';
import { isConcurrencyError } from '@chat/nats';
import type { AggregateKind, Aggregates, Loaded } from './aggregates';
import { Fenced } from './fence';
import type { MessageLookup } from './messageLookup';

/**
 * A host that hands a conversation's new messages to its own connected devices right after
 * their append is acknowledged, instead of leaving them to the projector's live routing: an
 * edge hosting the command tier (docs/architecture.md, "Hand-over at the append").
 */
export interface HandOver {
  /**
   * Before a message's append, with the conversation's last stream sequence it expects: the
   * headers that claim the hand-over (HANDED_BY_HEADER: the projector then routes the frame to
   * every edge but this one), or undefined to leave the message to the projector.
   */
  claim(conversationId: string, expectedLastSubjectSeq: number): Readonly<Record<string, string>> | undefined;
  /** A claimed message is stored at `streamSeq`: hand it to the members' devices here now. */
  stored(event: EventOf<'MessageSent'>, streamSeq: number, members: readonly string[], kind: ConversationKind): void;
  /**
   * A claimed append failed without proving it was not stored (a timeout, a lost connection):
   * the message may be in the stream, claimed, with its frame handed to nobody here.
   */
  unsure(conversationId: string, members: readonly string[]): void;
}

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
  /** Set when this process hands new messages to its own devices (an edge hosting the tier). */
  handOver?: HandOver;
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
  /** The use case's side of HandOver: which appends it claims, and what to hand over once they are stored. */
  handOver?: {
    claim(expectedLastSubjectSeq: number, events: readonly StoredEvent[]): Readonly<Record<string, string>> | undefined;
    stored(state: S, events: readonly StoredEvent[], lastSubjectSeq: number): void;
    unsure(state: S): void;
  };
}

/** Whether an append's failure proves that nothing of it was stored by this attempt. */
const notStored = (e: unknown): boolean => isConcurrencyError(e) || e instanceof Fenced;

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
    const claimed = uc.handOver?.claim(agg.lastSubjectSeq, events);
    try {
      const lastSubjectSeq = await aggregates.store.append(uc.subject, events, agg.lastSubjectSeq, uc.commandId, claimed);
      const state = events.reduce((st: S, e) => uc.kind.evolve(st, e), agg.state);
      aggregates.save(uc.subject, uc.kind, state, lastSubjectSeq, events.length);
      if (claimed) uc.handOver!.stored(state, events, lastSubjectSeq);
      return uc.answer(state, events);
    } catch (e) {
      if (claimed && !notStored(e)) uc.handOver!.unsure(agg.state);
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
