import type { RawEvent } from './record';

/** Yielded by a following source when nothing arrived for a while: the sink may flush. */
export const IDLE = Symbol('idle');

/** Where events come from (the live stream or the archive), already narrowed to a seq range. */
export interface Source {
  /** First and last seq the read covers (inclusive; `to` is Infinity when following). */
  from: number;
  to: number;
  /** How many events the read will yield in all, as far as known, after `done` of them. */
  estimate(done: number): number | undefined;
  /** In seq order, each seq once. */
  events(): AsyncIterable<RawEvent | typeof IDLE>;
}
