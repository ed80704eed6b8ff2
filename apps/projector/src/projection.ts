import type { ChatEvent } from '@chat/contracts';
import type { PoolClient } from '@chat/postgres';

/** One event as stored in CHAT_EVENTS, with its stream sequence. */
export interface StoredEvent<E extends ChatEvent = ChatEvent> {
  streamSeq: number;
  event: E;
}

/**
 * A projection: SQL writes derived from events, bound to a checkpoint by the runner.
 *
 * The runner calls, inside one transaction: `apply` with the events newer than the
 * checkpoint (stream order), then `plan` with the batch's events whose side effects have not
 * been done yet; after COMMIT it calls `afterCommit(plan)`, and only then acknowledges the
 * messages. Already-applied events (redeliveries) never reach `apply`, but after a crash
 * between commit and routing they do reach `plan` again: side effects must be idempotent.
 */
export interface Projection<Plan = unknown> {
  /** Consumer name and checkpoint name. */
  readonly name: string;
  /** The tables this projection owns; emptied by a rebuild. */
  readonly tables: readonly string[];
  apply(tx: PoolClient, events: readonly StoredEvent[]): Promise<void>;
  plan?(tx: PoolClient, batch: readonly StoredEvent[]): Promise<Plan>;
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
