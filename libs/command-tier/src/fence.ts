import type { EventStore } from '@chat/nats';

/** Thrown instead of appending to a conversation whose partition this process does not own (any more). */
export class Fenced extends Error {
  override readonly name = 'Fenced';
}

/**
 * The event store as seen by a writer that may lose a partition: no append to a subject whose
 * partition `isFenced(subject)` says is not this process's leaves it (another process may own
 * it by then). Reads go on.
 */
export function fencedStore(store: EventStore, isFenced: (subject: string) => boolean): EventStore {
  return {
    load: (subject, afterSeq) => store.load(subject, afterSeq),
    append: (subject, events, expected, commandId, headers) =>
      isFenced(subject) ? Promise.reject(new Fenced(`${subject}: partition not owned; not appending`)) : store.append(subject, events, expected, commandId, headers),
  };
}
