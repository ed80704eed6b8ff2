import type { EventStore } from '@chat/nats';

/** Thrown instead of appending once this instance lost the writer lock. */
export class Fenced extends Error {
  override readonly name = 'Fenced';
}

/**
 * The event store as seen by a writer that may lose its lock: once `isFenced()` is true no
 * append leaves this process (another instance may be active by then; two writers could give
 * two messages one seq on a clustered nats-server 2.9). Reads go on.
 */
export function fencedStore(store: EventStore, isFenced: () => boolean): EventStore {
  return {
    load: (subject, afterSeq) => store.load(subject, afterSeq),
    append: (subject, events, expected, commandId) =>
      isFenced() ? Promise.reject(new Fenced('writer lock lost: not appending')) : store.append(subject, events, expected, commandId),
  };
}
