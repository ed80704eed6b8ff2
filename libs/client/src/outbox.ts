import type { ClientFrame } from '@chat/contracts';

/** One frame waiting in the outbox, as it is persisted. */
export interface OutboxEntry {
  /** The frame's `clientMsgId` or `ref`; for a read mark, `read:<conversationId>`. */
  id: string;
  frame: ClientFrame;
  /** When it was first queued (ms since the epoch): its timeout counts from here, across restarts. */
  queuedAt: number;
}

export interface OutboxDeps {
  /** Writes a frame to the open socket; false when there is none. */
  write(frame: ClientFrame): boolean;
  now(): number;
  /** Called after every change with the entries as they now are (to persist them), from the first reattach() on. */
  changed?(entries: OutboxEntry[]): void;
}

interface Slot extends OutboxEntry {
  /** No answer comes (a read mark): it leaves the outbox once written. */
  oneWay: boolean;
  /** Not written before this time (ms since the epoch): a `rate_limited` answer's `retryAfterMs`. */
  notBefore: number;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Mutating frames not answered yet, by correlation id: written again, as they were, after every
 * `hello`, and after `retryAfterMs` when the server answered `rate_limited`. The server stores a
 * frame it sees twice once (same `clientMsgId` or `ref`).
 */
export class Outbox {
  private readonly slots = new Map<string, Slot>();
  /**
   * Changes are not reported: before the stored outbox was loaded (reporting then would
   * overwrite it), and after clear(true), so what was persisted stays for the next client.
   */
  private detached: boolean;

  constructor(private readonly deps: OutboxDeps) {
    this.detached = deps.changed !== undefined;
  }

  /** Keeps `frame` while `run` (its request, which writes it) is pending. */
  async track<T>(id: string, frame: ClientFrame, run: () => Promise<T>, queuedAt = this.deps.now()): Promise<T> {
    const slot: Slot = { id, frame, queuedAt, oneWay: false, notBefore: 0 };
    this.slots.set(id, slot);
    this.changed();
    try {
      return await run();
    } finally {
      if (this.slots.get(id) === slot) {
        clearTimeout(slot.timer);
        this.slots.delete(id);
        this.changed();
      }
    }
  }

  /**
   * A frame that gets no answer (a read mark): written now when connected and nothing of the
   * same id waits, else kept, replacing the one of the same id, until the next `resend`.
   */
  post(id: string, frame: ClientFrame, queuedAt = this.deps.now()): void {
    if (!this.slots.has(id) && this.deps.write(frame)) return;
    this.slots.delete(id); // re-added at the end: the newest of its kind goes last
    this.slots.set(id, { id, frame, queuedAt, oneWay: true, notBefore: 0 });
    this.changed();
  }

  /** The frame waiting under `id`, if any. */
  get(id: string): ClientFrame | undefined {
    return this.slots.get(id)?.frame;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  get size(): number {
    return this.slots.size;
  }

  entries(): OutboxEntry[] {
    return [...this.slots.values()].map(({ id, frame, queuedAt }) => ({ id, frame, queuedAt }));
  }

  /**
   * The server refused `id` for now (`rate_limited`): it is written again after `ms` (or on the
   * next `hello` after that, when offline then). False when `id` is not in the outbox.
   */
  retryAfter(id: string, ms: number): boolean {
    const slot = this.slots.get(id);
    if (!slot || slot.oneWay) return false;
    clearTimeout(slot.timer);
    slot.notBefore = this.deps.now() + ms;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      slot.notBefore = 0;
      if (this.slots.get(id) === slot) this.deps.write(slot.frame);
    }, ms);
    return true;
  }

  /** Writes every frame that is due, in the order they were added; returns how many. */
  resend(): number {
    const now = this.deps.now();
    let n = 0;
    let removed = false;
    for (const slot of [...this.slots.values()]) {
      if (slot.notBefore > now) continue; // its retry timer writes it
      if (!this.deps.write(slot.frame)) break;
      n++;
      if (slot.oneWay) {
        this.slots.delete(slot.id);
        removed = true;
      }
    }
    if (removed) this.changed();
    return n;
  }

  /**
   * Forgets every frame (their requests fail with the connection). With `keepPersisted`, the
   * change is not reported: the persisted outbox stays for the next client on that storage.
   */
  clear(keepPersisted = false): void {
    for (const slot of this.slots.values()) clearTimeout(slot.timer);
    this.slots.clear();
    if (keepPersisted) this.detached = true;
    else this.changed();
  }

  /** Reports changes from now on, starting with the entries as they are (once the stored outbox was loaded and merged in). */
  reattach(): void {
    // Oldest first, so restored calls go out before the ones made while they were loaded.
    const sorted = [...this.slots.values()].sort((a, b) => a.queuedAt - b.queuedAt);
    this.slots.clear();
    for (const slot of sorted) this.slots.set(slot.id, slot);
    this.detached = false;
    this.changed();
  }

  private changed(): void {
    if (!this.detached) this.deps.changed?.(this.entries());
  }
}
