import type { StoredEvent } from '@chat/contracts';
import { ConcurrencyError, type EventStore, type LoadedEvents } from './eventStore';

interface Stored {
  seq: number;
  event: StoredEvent;
  headers?: Record<string, string>;
}

/**
 * EventStore's in-memory twin for unit tests: one global sequence across subjects, the
 * last-subject-sequence expectation and message-id deduplication (without a time window),
 * like CHAT_EVENTS.
 */
export class InMemoryEventStore implements EventStore {
  private seq = 0;
  private readonly subjects = new Map<string, Stored[]>();
  private readonly ids = new Map<string, number>();
  /** Runs before each append is checked; lets a test slip a competing write in. */
  beforeAppend?: (subject: string) => void | Promise<void>;

  async load(subject: string, afterSeq = 0): Promise<LoadedEvents> {
    const mine = this.subjects.get(subject) ?? [];
    const last = mine.at(-1)?.seq ?? 0;
    // Sequences ascend: find the first one after `afterSeq` from the end (loads usually read a short tail).
    let i = mine.length;
    while (i > 0 && mine[i - 1]!.seq > afterSeq) i--;
    return { events: mine.slice(i).map((r) => structuredClone(r.event)), lastSubjectSeq: last };
  }

  async append(subject: string, events: readonly StoredEvent[], expectedLastSubjectSeq: number, commandId: string, headers?: Readonly<Record<string, string>>): Promise<number> {
    await this.beforeAppend?.(subject);
    let expected = expectedLastSubjectSeq;
    let mine = this.subjects.get(subject);
    if (!mine) this.subjects.set(subject, (mine = []));
    for (const [i, event] of events.entries()) {
      const id = `${commandId}:${i}`;
      if (this.ids.has(id)) throw new ConcurrencyError(subject, expected, 'duplicate');
      const last = mine.at(-1)?.seq ?? 0;
      if (last !== expected) throw new ConcurrencyError(subject, expected, 'wrong-last-sequence');
      this.seq += 1;
      mine.push({ seq: this.seq, event: structuredClone(event), ...(headers ? { headers: { ...headers } } : {}) });
      this.ids.set(id, this.seq);
      expected = this.seq;
    }
    return expected;
  }

  /** Every stored event of a subject, oldest first. */
  events(subject: string): StoredEvent[] {
    return (this.subjects.get(subject) ?? []).map((r) => r.event);
  }

  /** The headers each stored event of a subject was appended with, oldest first. */
  headers(subject: string): Array<Record<string, string> | undefined> {
    return (this.subjects.get(subject) ?? []).map((r) => r.headers);
  }
}
