import type { StoredEvent } from '@chat/contracts';
import { ConcurrencyError, type EventStore, type LoadedEvents } from './eventStore';

/**
 * EventStore's in-memory twin for unit tests: one global sequence across subjects, the
 * last-subject-sequence expectation and message-id deduplication (without a time window),
 * like CHAT_EVENTS.
 */
export class InMemoryEventStore implements EventStore {
  private seq = 0;
  private readonly log: Array<{ seq: number; subject: string; event: StoredEvent }> = [];
  private readonly ids = new Map<string, number>();
  /** Runs before each append is checked; lets a test slip a competing write in. */
  beforeAppend?: (subject: string) => void | Promise<void>;

  async load(subject: string, afterSeq = 0): Promise<LoadedEvents> {
    const mine = this.log.filter((r) => r.subject === subject);
    const last = mine.at(-1)?.seq ?? 0;
    return { events: mine.filter((r) => r.seq > afterSeq).map((r) => structuredClone(r.event)), lastSubjectSeq: Math.max(last, afterSeq) };
  }

  async append(subject: string, events: readonly StoredEvent[], expectedLastSubjectSeq: number, commandId: string): Promise<number> {
    await this.beforeAppend?.(subject);
    let expected = expectedLastSubjectSeq;
    for (const [i, event] of events.entries()) {
      const id = `${commandId}:${i}`;
      if (this.ids.has(id)) throw new ConcurrencyError(subject, expected, 'duplicate');
      const last = this.log.filter((r) => r.subject === subject).at(-1)?.seq ?? 0;
      if (last !== expected) throw new ConcurrencyError(subject, expected, 'wrong-last-sequence');
      this.seq += 1;
      this.log.push({ seq: this.seq, subject, event: structuredClone(event) });
      this.ids.set(id, this.seq);
      expected = this.seq;
    }
    return expected;
  }

  /** Every stored event of a subject, oldest first. */
  events(subject: string): StoredEvent[] {
    return this.log.filter((r) => r.subject === subject).map((r) => r.event);
  }
}
