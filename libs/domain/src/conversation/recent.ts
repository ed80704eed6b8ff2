import { List, Map as PersistentMap } from 'immutable';

/**
 * A persistent, insertion-ordered map that forgets its oldest entries: what a conversation keeps
 * of its recent past (client ids, message records). A change returns a new map and leaves this
 * one as it was; the two share structure (a hash trie and a vector, from `immutable`), so a
 * change costs O(log n), not a copy.
 */
export class Recent<V> implements Iterable<[string, V]> {
  private static readonly EMPTY = new Recent<never>(PersistentMap(), List());

  private constructor(
    private readonly byKey: PersistentMap<string, V>,
    /** Keys, oldest first. */
    private readonly order: List<string>,
  ) {}

  static empty<V>(): Recent<V> {
    return Recent.EMPTY as Recent<V>;
  }

  /** From entries, oldest first. */
  static of<V>(entries: Iterable<readonly [string, V]>): Recent<V> {
    let out = Recent.empty<V>();
    for (const [k, v] of entries) out = out.set(k, v);
    return out;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): V | undefined {
    return this.byKey.get(key);
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Adds `key` as the newest entry, or replaces its value where it is. */
  set(key: string, value: V): Recent<V> {
    const known = this.byKey.has(key);
    return new Recent(this.byKey.set(key, value), known ? this.order : this.order.push(key));
  }

  /** Drops the oldest entries while there are more than `max` or the oldest is `expired`. */
  trim(max: number, expired: (value: V) => boolean): Recent<V> {
    let { byKey, order } = this;
    for (let oldest = order.first(); oldest !== undefined; oldest = order.first()) {
      if (byKey.size <= max && !expired(byKey.get(oldest)!)) break;
      byKey = byKey.delete(oldest);
      order = order.shift();
    }
    return byKey === this.byKey ? this : new Recent(byKey, order);
  }

  /** Entries, oldest first. */
  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (const key of this.order) yield [key, this.byKey.get(key)!];
  }

  keys(): IterableIterator<string> {
    return this.order[Symbol.iterator]();
  }

  *values(): IterableIterator<V> {
    for (const key of this.order) yield this.byKey.get(key)!;
  }
}
