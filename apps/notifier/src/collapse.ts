import type { NotifyJob } from './job';
import type { PushContent } from './payload';

/** A delivered job message: what the collapser needs of a JsMsg. */
export interface Carrier {
  ack(): void;
  nak(delayMs: number): void;
  term(): void;
  /** Extends the ack wait (a push waiting for the read models). */
  working?(): void;
  readonly deliveryCount: number;
}

export type FlushOutcome =
  /** The gateway accepted it: the window starts now. */
  | { kind: 'sent' }
  /** Nothing to send (muted, no gateway); `online`: the user is connected, forget the conversation's window. */
  | { kind: 'dropped'; online?: boolean }
  /** Will never succeed (4xx, or out of deliveries). */
  | { kind: 'rejected' }
  /** Try again after `delayMs` (5xx, timeout, connection error). */
  | { kind: 'retry'; delayMs: number };

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface CollapserOptions {
  windowMs: number;
  /** Sends (or drops) one push; `carrier` is the job message that carries it. */
  flush(content: Omit<PushContent, 'badge'>, carrier: Carrier): Promise<FlushOutcome>;
  clock?: Clock;
  /** A nak'ed carrier not redelivered within its delay plus this is given up (max_deliver reached, or taken by another instance). */
  redeliveryGraceMs?: number;
  onError?(err: unknown): void;
}

interface Pending {
  count: number;
  senders: string[];
  last: NotifyJob;
  carrier: Carrier;
  carrierId: string;
}

interface Slot {
  key: string;
  userId: string;
  conversationId: string;
  /** No push for this conversation before this time. */
  windowUntil: number;
  inFlight: boolean;
  /** The job id of a nak'ed carrier we wait to see again. */
  awaiting?: string;
  pending: Pending | null;
  /** Job ids already counted in this slot's life: a redelivery is acked, not counted twice. */
  seen: Set<string>;
  timer?: unknown;
  guard?: unknown;
}

/**
 * Collapses push jobs per (user, conversation) while the user stays offline: the first job is
 * pushed at once; jobs arriving within `windowMs` of a push are folded into one pending push
 * (count, senders, newest message) sent when the window ends, which starts the next window.
 *
 * Each slot holds at most one un-acked job (the newest, "carrier"); folded jobs are acked when a
 * newer one supersedes them. A crash therefore loses at most the collapsed count, never the push:
 * the carrier comes back after its ack wait. A retry naks the carrier with a delay and keeps the
 * slot (count included) until it is redelivered.
 */
export class Collapser {
  private readonly slots = new Map<string, Slot>();
  private closed = false;
  private readonly clock: Clock;

  constructor(private readonly o: CollapserOptions) {
    this.clock = o.clock ?? systemClock;
  }

  get size(): number {
    return this.slots.size;
  }

  add(job: NotifyJob, carrier: Carrier): void {
    const key = `${job.userId}\u0000${job.conversationId}`;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { key, userId: job.userId, conversationId: job.conversationId, windowUntil: 0, inFlight: false, pending: null, seen: new Set() };
      this.slots.set(key, slot);
    }
    if (slot.awaiting === job.jobId && slot.pending) {
      // The retried carrier is back: send now.
      slot.pending.carrier = carrier;
      slot.awaiting = undefined;
      this.clock.clearTimeout(slot.guard);
      slot.windowUntil = 0;
    } else if (slot.pending?.carrierId === job.jobId) {
      // Redelivered while held (ack wait): keep the newest delivery.
      slot.pending.carrier = carrier;
    } else if (slot.seen.has(job.jobId)) {
      carrier.ack();
      return;
    } else {
      slot.seen.add(job.jobId);
      const p = slot.pending;
      if (!p) slot.pending = { count: 1, senders: [job.senderId], last: job, carrier, carrierId: job.jobId };
      else {
        p.count++;
        if (!p.senders.includes(job.senderId)) p.senders.push(job.senderId);
        const newer = job.eventSeq > p.last.eventSeq;
        if (newer) p.last = job;
        if (slot.awaiting || !newer) carrier.ack();
        else {
          p.carrier.ack();
          p.carrier = carrier;
          p.carrierId = job.jobId;
        }
      }
    }
    this.schedule(slot);
  }

  /** Stops the timers and hands the held jobs back to the server (another instance takes them). */
  close(): void {
    this.closed = true;
    for (const s of this.slots.values()) {
      this.clock.clearTimeout(s.timer);
      this.clock.clearTimeout(s.guard);
      if (s.pending && !s.awaiting && !s.inFlight) s.pending.carrier.nak(0);
    }
    this.slots.clear();
  }

  private schedule(slot: Slot): void {
    this.clock.clearTimeout(slot.timer);
    slot.timer = undefined;
    if (slot.inFlight || slot.awaiting) return;
    const wait = slot.windowUntil - this.clock.now();
    if (slot.pending && wait <= 0) {
      void this.flush(slot);
      return;
    }
    if (!slot.pending && wait <= 0) {
      this.slots.delete(slot.key);
      return;
    }
    slot.timer = this.clock.setTimeout(() => this.schedule(slot), wait);
  }

  private async flush(slot: Slot): Promise<void> {
    const p = slot.pending!;
    slot.pending = null;
    slot.inFlight = true;
    let outcome: FlushOutcome;
    try {
      outcome = await this.o.flush({ userId: slot.userId, conversationId: slot.conversationId, count: p.count, senders: p.senders, last: p.last }, p.carrier);
    } catch (err) {
      this.o.onError?.(err);
      outcome = { kind: 'retry', delayMs: 1_000 };
    }
    slot.inFlight = false;
    switch (outcome.kind) {
      case 'sent':
        p.carrier.ack();
        slot.windowUntil = this.clock.now() + this.o.windowMs;
        break;
      case 'dropped':
        p.carrier.ack();
        if (outcome.online) {
          slot.windowUntil = 0;
          const q = slot.pending as Pending | null;
          slot.seen = new Set(q ? [q.carrierId] : []);
        }
        break;
      case 'rejected':
        p.carrier.term();
        break;
      case 'retry': {
        if (this.closed) {
          // Closed meanwhile: back to the stream for whoever runs next; no timers.
          p.carrier.nak(outcome.delayMs);
          return;
        }
        const q = slot.pending as Pending | null;
        // Jobs that arrived meanwhile join the retried push; the retried carrier carries it.
        const merged: Pending = q
          ? { count: p.count + q.count, senders: [...new Set([...p.senders, ...q.senders])], last: q.last.eventSeq > p.last.eventSeq ? q.last : p.last, carrier: p.carrier, carrierId: p.carrierId }
          : p;
        if (q) q.carrier.ack();
        slot.pending = merged;
        slot.awaiting = merged.carrierId;
        slot.windowUntil = this.clock.now() + outcome.delayMs;
        merged.carrier.nak(outcome.delayMs);
        slot.guard = this.clock.setTimeout(() => {
          if (slot.awaiting !== merged.carrierId) return;
          slot.awaiting = undefined;
          slot.pending = null;
          this.schedule(slot);
        }, outcome.delayMs + (this.o.redeliveryGraceMs ?? 120_000));
        return;
      }
    }
    this.schedule(slot);
  }
}
