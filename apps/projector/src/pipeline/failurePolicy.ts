import { shouldDeadLetter } from '@chat/nats';
import { RetryLater } from '../projection';
import { OutOfOrder } from './applier';

/** What one step of the projector came to; anything but `ok` and `idle` re-reads from the checkpoint after a pause. */
export type Step = 'ok' | 'idle' | 'failed' | 'wait' | 'refused';

const backoff = (failures: number, capMs: number, baseMs: number): number => Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));

/** The pause after `failures` steps in a row that did not go on, the last one ending in `step`. */
export function pauseAfter(step: Exclude<Step, 'ok' | 'idle'>, failures: number): number {
  switch (step) {
    case 'refused':
      return 5_000;
    case 'wait':
      return backoff(failures, 2_000, 100);
    case 'failed':
      return backoff(failures, 10_000, 200);
    default: {
      const never: never = step;
      throw new Error(`unknown step ${String(never)}`);
    }
  }
}

/** What a failed batch leads to. */
export type FailureAction =
  /** A projection asked to try later (RetryLater): nothing is wrong with the batch. */
  | { kind: 'postpone'; reason: string }
  /** The batch was not in stream order: read again from the checkpoint. */
  | { kind: 'reread' }
  /** Read again from the checkpoint one event at a time, to find the failing one. */
  | { kind: 'isolate' }
  /** The event at the head failed alone, fewer times than max_deliver: try it again. */
  | { kind: 'retry'; attempts: number }
  /** The event at the head failed alone on every attempt: dead-letter it and move on. */
  | { kind: 'deadLetter'; attempts: number };

/**
 * Head-of-line failure handling: after a batch fails, events are taken one at a time from
 * the checkpoint; the event at the head that has failed alone as often as the consumer's
 * max_deliver is dead-lettered. No I/O: the projector carries out what it decides.
 */
export class FailurePolicy {
  private isolated = false;
  private head = { seq: 0, count: 0 };

  /** After a failure, one event per batch until one succeeds, to find the failing one. */
  get isolating(): boolean {
    return this.isolated;
  }

  /** A batch starting at stream sequence `head` with `size` events failed with `err`. */
  failed(err: unknown, head: number, size: number, maxDeliver: number): FailureAction {
    if (err instanceof RetryLater) return { kind: 'postpone', reason: err.message };
    if (err instanceof OutOfOrder) return { kind: 'reread' };
    if (!this.isolated || size !== 1) {
      this.isolated = true;
      return { kind: 'isolate' };
    }
    if (this.head.seq !== head) this.head = { seq: head, count: 0 };
    const attempts = ++this.head.count;
    return shouldDeadLetter(attempts, maxDeliver) ? { kind: 'deadLetter', attempts } : { kind: 'retry', attempts };
  }

  /** An event cannot be read: the events before it go alone, then it fails alone. */
  isolate(): void {
    this.isolated = true;
  }

  /** A batch committed, or the failing head was dead-lettered: whole batches again. */
  recovered(): void {
    this.head = { seq: 0, count: 0 };
    this.isolated = false;
  }
}
