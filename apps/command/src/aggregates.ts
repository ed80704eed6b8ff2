import type { ChatEvent } from '@chat/contracts';
import type { EventStore } from '@chat/nats';

/** How one kind of aggregate is rebuilt from its subject's events. */
export interface AggregateKind<S> {
  initial(): S;
  /** May mutate and return the state passed in. */
  evolve(state: S, event: ChatEvent): S;
}

export interface Loaded<S> {
  state: S;
  /** Stream sequence of the last event folded into `state`; the next append's expectation. */
  lastSubjectSeq: number;
  /** True when read from the stream during this command, false when it came from the cache. */
  fresh: boolean;
}

/** A small LRU: Map keeps insertion order, so re-inserting on access makes the first key the eldest. */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly capacity: number) {}

  peek(key: string): V | undefined {
    return this.map.get(key);
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * Aggregate states by subject: from the cache when present (the append's expected sequence
 * catches a stale entry), otherwise replayed from the event store. States are mutated in place
 * by evolve, so a state is only written back after its events are durable, and an entry that
 * may be half-updated is dropped.
 */
export class Aggregates {
  readonly cache: LruCache<{ state: unknown; lastSubjectSeq: number }>;

  constructor(
    readonly store: EventStore,
    cacheEntries: number,
  ) {
    this.cache = new LruCache(cacheEntries);
  }

  /** The cached state, if any, without loading (and without touching its recency). */
  peek<S>(subject: string): { state: S; lastSubjectSeq: number } | undefined {
    return this.cache.peek(subject) as { state: S; lastSubjectSeq: number } | undefined;
  }

  async get<S>(subject: string, kind: AggregateKind<S>): Promise<Loaded<S>> {
    const hit = this.cache.get(subject);
    if (hit) return { state: hit.state as S, lastSubjectSeq: hit.lastSubjectSeq, fresh: false };
    return this.refresh(subject, kind, { state: kind.initial(), lastSubjectSeq: 0 });
  }

  /** Folds in whatever was appended after `from` (a state this caller holds). */
  async refresh<S>(subject: string, kind: AggregateKind<S>, from: Omit<Loaded<S>, 'fresh'>): Promise<Loaded<S>> {
    this.cache.delete(subject);
    const { events, lastSubjectSeq } = await this.store.load(subject, from.lastSubjectSeq);
    const state = events.reduce(kind.evolve, from.state);
    this.save(subject, state, lastSubjectSeq);
    return { state, lastSubjectSeq, fresh: true };
  }

  save<S>(subject: string, state: S, lastSubjectSeq: number): void {
    this.cache.set(subject, { state, lastSubjectSeq });
  }

  evict(subject: string): void {
    this.cache.delete(subject);
  }
}
