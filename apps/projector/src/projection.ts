import type { ChatEvent, MemberPreferenceEvent } from '@chat/contracts';
import type { PoolClient } from '@chat/postgres';

/** What the projector reads from CHAT_EVENTS: conversation and receipt events (`chat.evt.>`), members' preferences (`chat.pref.>`). */
export type StreamEvent = ChatEvent | MemberPreferenceEvent;

/** One event as stored in CHAT_EVENTS, with its stream sequence. */
export interface StoredEvent<E extends StreamEvent = ChatEvent> {
  streamSeq: number;
  event: E;
  /** The edge that handed the event's frame (`message.new`, a direct conversation's `receipt`) to its own devices at the append (HANDED_BY_HEADER). */
  handedBy?: string;
}

/**
 * A projection: SQL writes derived from events, bound to a checkpoint by the projector.
 *
 * The projector reads CHAT_EVENTS once for every projection; for each batch it calls, inside
 * one transaction and projection by projection: `apply` with the events newer than the
 * projection's checkpoint (stream order), then `plan` with the events whose post-commit side
 * effects have not been done yet; after COMMIT it calls `afterCommit(plan)`, and only then
 * acknowledges the batch. Already-applied events never reach `apply`, but after a crash
 * between commit and side effects they reach `plan` again: side effects must be idempotent.
 */
export interface Projection<Plan = unknown, E extends StreamEvent = ChatEvent> {
  /** Checkpoint name (`projection_checkpoints.name`). */
  readonly name: string;
  /** Which events it reads: `chat` (conversation and receipt events, the default) or `preferences`. */
  readonly reads?: 'chat' | 'preferences';
  /** The tables this projection owns; emptied by a rebuild. */
  readonly tables: readonly string[];
  apply(tx: PoolClient, events: readonly StoredEvent<E>[]): Promise<void>;
  plan?(tx: PoolClient, batch: readonly StoredEvent<E>[]): Promise<Plan>;
  afterCommit?(plan: Plan): Promise<void>;
  /** Called once when the runner stops (after its last batch): flush buffered live frames. */
  close?(): Promise<void>;
}

/** Thrown when a batch cannot be handled yet (e.g. another projection lags); it is retried unchanged. */
export class RetryLater extends Error {
  override readonly name = 'RetryLater';
}

/** Splits items into runs of consecutive items with the same key, keeping order. */
export function runs<T, K>(items: readonly T[], key: (t: T) => K): Array<{ key: K; items: T[] }> {
  const out: Array<{ key: K; items: T[] }> = [];
  for (const item of items) {
    const k = key(item);
    const last = out[out.length - 1];
    if (last && last.key === k) last.items.push(item);
    else out.push({ key: k, items: [item] });
  }
  return out;
}

/** Narrows a batch to the events of the given types. */
export function ofType<T extends ChatEvent['type']>(
  events: readonly StoredEvent[],
  ...types: T[]
): Array<StoredEvent<Extract<ChatEvent, { type: T }>>> {
  return events.filter((e): e is StoredEvent<Extract<ChatEvent, { type: T }>> => (types as string[]).includes(e.event.type));
}
