import type { ServerFrame, ServerFrameOf, SyncedFrame } from '@chat/contracts';
import type { AnswerOf } from './requests';
import { SeenMessages } from './seen';

export type TimelineEvents = {
  message: [ServerFrameOf<'message.new'>];
  edited: [ServerFrameOf<'message.edited'>];
  deleted: [ServerFrameOf<'message.deleted'>];
  reset: [{ reason: string }];
};

export interface TimelineDeps {
  /** One sync request from `cursor`. */
  sync(cursor: string | null, limit?: number): Promise<AnswerOf<'sync'>>;
  connected(): boolean;
  emit<K extends keyof TimelineEvents>(event: K, ...args: TimelineEvents[K]): void;
  /** Each new message, once, after it was emitted. */
  accepted?(frame: ServerFrameOf<'message.new'>): void;
  stats: { duplicatesDropped: number; gapsRepaired: number };
  /** A sync this long after the last live message; 0 = none. */
  cursorSyncMs: number;
  /** Seqs remembered per conversation for de-duplication (SeenMessages). */
  seenWindow?: number;
  /** The cursor moved (a sync batch): persist it. */
  cursorMoved?(cursor: string): void;
  /** A catch-up started (true) or ended (false); the quiet syncs after live traffic and for gaps are not reported. */
  syncing?(active: boolean): void;
}

/** The frames a sync batch can hold, which this timeline orders and de-duplicates. */
export const isSyncedFrame = (f: ServerFrame): f is SyncedFrame => f.type === 'message.new' || f.type === 'message.edited' || f.type === 'message.deleted';

/**
 * The messages of every conversation, each emitted once and in order, and the sync cursor.
 * Only sync batches move the cursor (a sync runs shortly after live traffic), so a cursor
 * stored by the app never skips anything.
 */
export class Timeline {
  /** The last cursor everything has been processed up to. */
  cursor: string | null;
  private readonly seen: SeenMessages;
  private syncing = false;
  /** The running sync was reported through `deps.syncing`. */
  private reported = false;
  /** Live messages that arrived during a sync: emitted after it, so order holds. */
  private heldBack: SyncedFrame[] = [];
  /** The sync in progress, if any. */
  private syncRun: Promise<number | 'reset'> | undefined;
  /** A sync queued behind the running one (see syncAfterCurrent). */
  private nextSyncRun: Promise<number | 'reset'> | undefined;
  private cursorSyncTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly deps: TimelineDeps,
    cursor: string | null,
  ) {
    this.cursor = cursor;
    this.seen = new SeenMessages(deps.seenWindow);
  }

  /** A live frame that answers no request of this client. */
  live(frame: SyncedFrame): void {
    if (this.syncing) this.heldBack.push(frame);
    else if (frame.type === 'message.new' && this.seen.isAfterGap(frame)) {
      // seq N+2 after N: hold it, and let a sync from the cursor bring N+1 first.
      this.heldBack.push(frame);
      this.deps.stats.gapsRepaired++;
      void this.catchUp(false, true);
    } else {
      this.accept(frame);
      // The cursor only moves with sync batches: a live frame says nothing about frames
      // of other conversations that were not routed here (a route lost with Redis, an
      // edge that died). A sync shortly after live traffic moves it, and fills any hole.
      this.scheduleCursorSync();
    }
  }

  /** A frame the next sync decides about (one before `hello` on a reconnect): it must not move the cursor. */
  hold(frame: SyncedFrame): void {
    this.heldBack.push(frame);
  }

  /** This client's own send: seen, so its `message.new` from a sync is dropped. */
  markOwn(conversationId: string, seq: number): void {
    this.seen.markSeen(conversationId, seq, true);
  }

  /** Cancels the pending cursor sync. */
  stop(): void {
    clearTimeout(this.cursorSyncTimer);
  }

  /** Debounced: a sync `cursorSyncMs` after the last live message. */
  private scheduleCursorSync(): void {
    const ms = this.deps.cursorSyncMs;
    if (ms <= 0) return;
    clearTimeout(this.cursorSyncTimer);
    this.cursorSyncTimer = setTimeout(() => {
      if (this.deps.connected()) void this.catchUp(false, true);
    }, ms);
  }

  /**
   * A sync that starts after the one running now (if any) has finished: for when the server
   * says frames may have been missed just now, which a sync already under way may not cover.
   * Requests made while one is waiting share it.
   */
  private syncAfterCurrent(): Promise<number | 'reset'> {
    const running = this.syncRun;
    if (!running) return this.syncAll();
    this.nextSyncRun ??= running
      .catch(() => 0)
      .then(() => {
        this.nextSyncRun = undefined;
        return this.syncAll();
      });
    return this.nextSyncRun;
  }

  /**
   * Syncs until caught up; a reset is reported with the `reset` event. `fresh`: with a sync that
   * starts after now; `quiet`: not reported as a catch-up.
   */
  async catchUp(fresh = false, quiet = false): Promise<void> {
    try {
      if ((await (fresh ? this.syncAfterCurrent() : this.syncAll(undefined, quiet))) === 'reset') this.deps.emit('reset', { reason: 'cursor older than the retained history' });
    } catch {
      // The connection dropped again: the next reconnect syncs.
    }
  }

  /**
   * Catches up from the cursor: every message is emitted (de-duplicated) in order, and the
   * cursor advances batch by batch. Returns how many new messages were emitted, or 'reset'
   * when the server no longer has the cursor.
   */
  syncAll(limit?: number, quiet = false): Promise<number | 'reset'> {
    if (!quiet && !this.reported) {
      this.reported = true;
      this.deps.syncing?.(true);
    }
    // One sync at a time: a second one would end `syncing` while the first still runs, and
    // live frames would then move the cursor past what the first has not fetched yet.
    if (this.syncRun) return this.syncRun;
    const run = this.runSync(limit).finally(() => {
      if (this.syncRun === run) this.syncRun = undefined;
      if (this.reported) {
        this.reported = false;
        this.deps.syncing?.(false);
      }
    });
    this.syncRun = run;
    return run;
  }

  private async runSync(limit?: number): Promise<number | 'reset'> {
    this.syncing = true;
    let emitted = 0;
    let result: number | 'reset' | undefined;
    try {
      for (;;) {
        const r = await this.deps.sync(this.cursor, limit);
        if (r.type === 'sync.reset') {
          result = 'reset';
          break;
        }
        for (const f of r.frames) if (this.accept(f)) emitted++;
        if (r.cursor && r.cursor !== this.cursor) {
          this.cursor = r.cursor;
          this.deps.cursorMoved?.(r.cursor);
        }
        if (!r.hasMore) {
          result = emitted;
          break;
        }
      }
    } finally {
      this.syncing = false;
      if (result !== undefined) emitted += this.releaseHeldBack();
      // A sync that failed says nothing about gaps: what it held stays held until one succeeds
      // (the reconnect's, or a retry while still connected).
      else if (this.heldBack.length && this.deps.connected()) setTimeout(() => void this.catchUp(false, true), 1_000);
    }
    return result === 'reset' ? result : emitted;
  }

  /**
   * Emits the live messages held back during a sync, per conversation in seq order. The cursor
   * stays where the sync left it: if any of them is newer, the next sync returns it again and
   * de-duplication drops it.
   */
  private releaseHeldBack(): number {
    const held = this.heldBack.splice(0);
    // Stable sort: an edit or delete stays after the message it changes.
    held.sort((a, b) => (a.conversationId < b.conversationId ? -1 : a.conversationId > b.conversationId ? 1 : a.seq - b.seq));
    let n = 0;
    // A held frame after a gap (its predecessor's live frame was lost with a connection, and
    // the sync ran before it was stored) waits, with everything after it, for one more sync.
    const waiting = new Set<string>();
    for (const f of held) {
      if (waiting.has(f.conversationId) || (f.type === 'message.new' && this.seen.isAfterGap(f))) {
        waiting.add(f.conversationId);
        this.heldBack.push(f);
      } else if (this.accept(f)) n++;
    }
    if (waiting.size) {
      this.deps.stats.gapsRepaired++;
      setTimeout(() => void this.catchUp(false, true), 0); // after this sync has ended
    }
    return n;
  }

  /** Emits a frame; a message already seen (same conversation and seq) is dropped. */
  private accept(f: SyncedFrame): boolean {
    switch (f.type) {
      case 'message.new':
        if (!this.seen.markSeen(f.conversationId, f.seq)) {
          this.deps.stats.duplicatesDropped++;
          return false;
        }
        this.deps.emit('message', f);
        this.deps.accepted?.(f);
        return true;
      case 'message.edited':
        this.deps.emit('edited', f);
        return true;
      case 'message.deleted':
        this.seen.markSeen(f.conversationId, f.seq); // a tombstone: no message.new will follow
        this.deps.emit('deleted', f);
        return true;
    }
  }
}
