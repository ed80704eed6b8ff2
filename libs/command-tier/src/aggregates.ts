import type { Snapshot, StoredEvent } from '@chat/contracts';
import type { EventStore } from '@chat/nats';
import type { AggregateKind } from './kinds';
import type { SnapshotStore } from './snapshots/store';

export type { AggregateKind } from './kinds';

export interface Loaded<S> {
  state: S;
  /** Stream sequence of the subject's last stored event (0: none left): the next append's expectation. */
  lastSubjectSeq: number;
  /** Stream sequence of the last event folded into `state`, from a snapshot or the stream (≥ lastSubjectSeq). */
  position: number;
  /** True when read from the stream during this command, false when it came from the cache. */
  fresh: boolean;
}

export interface AggregatesOptions {
  /** Budget of the state cache, in (estimated) bytes (CHAT_AGGREGATE_CACHE_BYTES). */
  cacheBytes: number;
  /** A cached state with this many events not yet in its snapshot is snapshotted at once (CHAT_SNAPSHOT_EVERY). */
  snapshotEvery: number;
  /** A cached state with events not in its snapshot for this long is snapshotted by `flushDue` (CHAT_SNAPSHOT_INTERVAL). */
  snapshotAfterMs: number;
  /**
   * Most snapshots one `flushDue` writes (default 16): each is serialised on the event loop, so
   * they are spread over ticks instead of stalling the commands of one.
   */
  flushBudget?: number;
  /** A snapshot write failed (it is retried by the next `flushDue`). */
  onError?: (err: unknown, subject: string) => void;
  now?: () => number;
}

export interface AggregateStats {
  /** States read from a snapshot (+ the events after it) on a cache miss. */
  snapshotLoads: number;
  /** Events folded on cache misses and refreshes. */
  eventsReplayed: number;
  snapshotsWritten: number;
  snapshotErrors: number;
  /** States dropped to stay within the byte budget. */
  evictions: number;
}

interface Entry {
  kind: AggregateKind<unknown>;
  state: unknown;
  lastSubjectSeq: number;
  position: number;
  bytes: number;
  /** Position of the last snapshot written or read for this subject. */
  snapshotPosition: number;
  /** Events folded in since that snapshot, and since when (ms), while there are any. */
  dirtyEvents: number;
  dirtySince?: number;
}

/**
 * Aggregate states by subject: from the cache when present (the append's expected sequence
 * catches a stale entry), otherwise the subject's snapshot plus the events stored after it.
 *
 * States are immutable (evolve is pure): a command decides on the cached state and the cache
 * takes the new state only once its events are durable, so a failed command leaves the entry as
 * it was. The cache is an LRU bounded in bytes (each kind estimates its states' size).
 *
 * Snapshots are written from cached states, off the command path: at once when `snapshotEvery`
 * events are not in the snapshot yet, otherwise by `flushDue` once the oldest of them is
 * `snapshotAfterMs` old, and before a state leaves the cache. What a crash leaves unwritten the
 * snapshot keeper (snapshots/keeper.ts) writes before the events can age out.
 */
export class Aggregates {
  readonly stats: AggregateStats = { snapshotLoads: 0, eventsReplayed: 0, snapshotsWritten: 0, snapshotErrors: 0, evictions: 0 };
  private readonly entries = new Map<string, Entry>();
  /** Subjects due for a snapshot by count, in the order they became due. */
  private readonly due = new Set<string>();
  /** Subjects with events not in their snapshot → since when, in that order. */
  private readonly dirty = new Map<string, number>();
  /** Subjects whose snapshot is being written (one write per subject at a time). */
  private readonly flushing = new Set<string>();
  private totalBytes = 0;
  private readonly now: () => number;

  constructor(
    readonly store: EventStore,
    readonly snapshots: SnapshotStore,
    private readonly opts: AggregatesOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Estimated bytes of the cached states. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The cached state, if any, without loading (and without touching its recency). */
  peek<S>(subject: string): { state: S; lastSubjectSeq: number; position: number } | undefined {
    return this.entries.get(subject) as { state: S; lastSubjectSeq: number; position: number } | undefined;
  }

  async get<S>(subject: string, kind: AggregateKind<S>): Promise<Loaded<S>> {
    const hit = this.entries.get(subject);
    if (hit) {
      this.entries.delete(subject);
      this.entries.set(subject, hit);
      return { state: hit.state as S, lastSubjectSeq: hit.lastSubjectSeq, position: hit.position, fresh: false };
    }
    return this.load(subject, kind);
  }

  /** The subject's state from its snapshot and the events after it, bypassing (and then filling) the cache. */
  async load<S>(subject: string, kind: AggregateKind<S>): Promise<Loaded<S>> {
    this.drop(subject);
    const snapshot = await this.snapshots.get(subject);
    if (snapshot) this.stats.snapshotLoads++;
    const base = snapshot
      ? { state: kind.fromSnapshot(snapshot), lastSubjectSeq: snapshot.position, position: snapshot.position }
      : { state: kind.initial(), lastSubjectSeq: 0, position: 0 };
    return this.fold(subject, kind, base, snapshot?.position ?? 0);
  }

  /** Folds in whatever was appended after `from` (a state this caller holds). */
  async refresh<S>(subject: string, kind: AggregateKind<S>, from: Omit<Loaded<S>, 'fresh'>): Promise<Loaded<S>> {
    const previous = this.entries.get(subject);
    this.drop(subject);
    return this.fold(subject, kind, from, previous?.snapshotPosition ?? 0, previous);
  }

  private async fold<S>(subject: string, kind: AggregateKind<S>, from: Omit<Loaded<S>, 'fresh'>, snapshotPosition: number, previous?: Entry): Promise<Loaded<S>> {
    const { events, lastSubjectSeq } = await this.store.load(subject, from.position);
    this.stats.eventsReplayed += events.length;
    const state = events.reduce((s: S, e: StoredEvent) => kind.evolve(s, e), from.state);
    // An empty subject (every event aged out) answers 0: that is what the next append must expect,
    // while the state still covers the snapshot's position.
    const position = Math.max(from.position, lastSubjectSeq);
    const entry = this.put(subject, kind, state, lastSubjectSeq, position, snapshotPosition);
    if (previous) this.carryDirt(previous, entry);
    this.markDirty(subject, entry, events.length);
    return { state, lastSubjectSeq, position, fresh: true };
  }

  /** After an append: the state with `appended` more events, the subject now at `lastSubjectSeq`. */
  save<S>(subject: string, kind: AggregateKind<S>, state: S, lastSubjectSeq: number, appended: number): void {
    const previous = this.entries.get(subject);
    const entry = this.put(subject, kind, state, lastSubjectSeq, lastSubjectSeq, previous?.snapshotPosition ?? 0);
    if (previous) this.carryDirt(previous, entry);
    this.markDirty(subject, entry, appended);
  }

  /**
   * Snapshots the cached states that are due: `snapshotEvery` events not in their snapshot, or
   * the oldest of them `snapshotAfterMs` old; at most `flushBudget` of them, those due by count
   * first, then the longest waiting. With `all`, every state with unsnapshotted events (of the
   * subjects `only` accepts), without a budget: a hand-over or shutdown.
   */
  flushDue(opts: { all?: boolean; only?: (subject: string) => boolean } = {}): Promise<void> {
    const writes: Array<Promise<void>> = [];
    if (opts.all) {
      for (const [subject, e] of this.entries) if (e.dirtySince !== undefined && (!opts.only || opts.only(subject))) writes.push(this.flush(subject, e));
      return Promise.all(writes).then(() => undefined);
    }
    let budget = this.opts.flushBudget ?? 16;
    for (const subject of this.due) {
      if (budget <= 0) break;
      this.due.delete(subject);
      const e = this.entries.get(subject);
      if (e && e.dirtySince !== undefined) {
        writes.push(this.flush(subject, e));
        budget--;
      }
    }
    // `dirty` is in the order states became dirty: the longest waiting come first.
    const cutoff = this.now() - this.opts.snapshotAfterMs;
    for (const [subject, since] of this.dirty) {
      if (budget <= 0 || since > cutoff) break;
      const e = this.entries.get(subject);
      if (!e || e.dirtySince === undefined) {
        this.dirty.delete(subject); // gone from the cache (the keeper covers it) or clean
        continue;
      }
      if (this.flushing.has(subject)) continue;
      writes.push(this.flush(subject, e));
      budget--;
    }
    return Promise.all(writes).then(() => undefined);
  }

  clear(): void {
    this.entries.clear();
    this.due.clear();
    this.dirty.clear();
    this.flushing.clear();
    this.totalBytes = 0;
  }

  private put<S>(subject: string, kind: AggregateKind<S>, state: S, lastSubjectSeq: number, position: number, snapshotPosition: number): Entry {
    this.drop(subject);
    const entry: Entry = { kind: kind as AggregateKind<unknown>, state, lastSubjectSeq, position, bytes: kind.bytes(state), snapshotPosition, dirtyEvents: 0 };
    if (this.opts.cacheBytes <= 0) return entry;
    this.entries.set(subject, entry);
    this.totalBytes += entry.bytes;
    while (this.totalBytes > this.opts.cacheBytes && this.entries.size > 1) {
      const [eldest, e] = this.entries.entries().next().value!;
      this.drop(eldest);
      this.stats.evictions++;
      // Its unsnapshotted events go into a snapshot before the state is gone.
      if (e.dirtySince !== undefined) void this.flush(eldest, e);
    }
    return entry;
  }

  private drop(subject: string): void {
    const e = this.entries.get(subject);
    if (!e) return;
    this.entries.delete(subject);
    this.totalBytes -= e.bytes;
  }

  private carryDirt(from: Entry, to: Entry): void {
    to.dirtyEvents = from.dirtyEvents;
    to.dirtySince = from.dirtySince;
  }

  private markDirty(subject: string, e: Entry, events: number): void {
    if (events === 0 || e.position <= e.snapshotPosition) return;
    e.dirtyEvents += events;
    if (e.dirtySince === undefined) {
      e.dirtySince = this.now();
      this.dirty.delete(subject);
      this.dirty.set(subject, e.dirtySince);
    }
    // Due at once, but written by the next `flushDue`, not inside this command.
    if (e.dirtyEvents >= this.opts.snapshotEvery) this.due.add(subject);
  }

  /** Writes the entry's snapshot; the state is copied before anything is awaited. */
  private async flush(subject: string, e: Entry): Promise<void> {
    if (this.flushing.has(subject) || e.position <= e.snapshotPosition) return;
    const state = e.kind.toSnapshot(e.state);
    const position = e.position;
    if (state === undefined) {
      e.dirtyEvents = 0;
      e.dirtySince = undefined;
      this.dirty.delete(subject);
      return;
    }
    const snapshot = { v: 1, kind: e.kind.name, position, takenAt: new Date(this.now()).toISOString(), state } as Snapshot;
    this.flushing.add(subject);
    try {
      await this.snapshots.put(subject, snapshot);
      this.stats.snapshotsWritten++;
      // The entry may have moved on (or been replaced) while the write was in flight.
      const current = this.entries.get(subject) ?? e;
      current.snapshotPosition = Math.max(current.snapshotPosition, position);
      if (current.position <= position) {
        current.dirtyEvents = 0;
        current.dirtySince = undefined;
        this.dirty.delete(subject);
      }
    } catch (err) {
      this.stats.snapshotErrors++;
      this.opts.onError?.(err, subject);
      // Try again after a full interval, not on the next tick.
      const current = this.entries.get(subject);
      if (current?.dirtySince !== undefined) {
        current.dirtySince = this.now();
        this.dirty.delete(subject);
        this.dirty.set(subject, current.dirtySince);
      }
    } finally {
      this.flushing.delete(subject);
    }
  }
}
