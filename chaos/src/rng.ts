/** mulberry32: a small seeded PRNG, so a run's fault schedule and workload shape repeat with --seed. */
export interface Rng {
  next(): number;
  /** 0 ≤ n < max */
  int(max: number): number;
  /** min ≤ x < max */
  between(min: number, max: number): number;
  shuffle<T>(items: T[]): T[];
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r: Rng = {
    next,
    int: (max) => Math.floor(next() * max),
    between: (min, max) => min + next() * (max - min),
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
  };
  return r;
}
