/**
 * A mergeable latency histogram (ms): 0.01 ms buckets up to 10 ms, then 1 % wide buckets up to
 * hours. Generators in separate processes print `toJSON()`; the harness merges and reads
 * percentiles. Error ≤ 1 %.
 */
const LINEAR = 1000; // 0..10 ms in 0.01 ms steps
const GROWTH = Math.log(1.01);

function index(ms: number): number {
  if (ms < 10) return Math.max(0, Math.floor(ms * 100));
  return LINEAR + Math.floor(Math.log(ms / 10) / GROWTH);
}
/** The upper edge of a bucket: what a percentile reports. */
function value(i: number): number {
  if (i < LINEAR) return (i + 1) / 100;
  return 10 * Math.exp((i - LINEAR + 1) * GROWTH);
}

export type HistogramJSON = { count: number; max: number; sum: number; buckets: Array<[number, number]> };

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  max = 0;
  sum = 0;

  record(ms: number): void {
    const i = index(ms);
    this.counts.set(i, (this.counts.get(i) ?? 0) + 1);
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  merge(h: Histogram | HistogramJSON): this {
    const buckets = h instanceof Histogram ? [...h.counts] : h.buckets;
    for (const [i, n] of buckets) this.counts.set(i, (this.counts.get(i) ?? 0) + n);
    this.count += h.count;
    this.sum += h.sum;
    this.max = Math.max(this.max, h.max);
    return this;
  }

  static from(j: HistogramJSON): Histogram {
    return new Histogram().merge(j);
  }

  percentile(p: number): number | null {
    if (!this.count) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (const i of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(i)!;
      if (seen >= rank) return Math.min(round(value(i)), round(this.max));
    }
    return round(this.max);
  }

  summary(): { p50: number | null; p95: number | null; p99: number | null; max: number | null; mean: number | null } {
    return {
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
      max: this.count ? round(this.max) : null,
      mean: this.count ? round(this.sum / this.count) : null,
    };
  }

  toJSON(): HistogramJSON {
    return { count: this.count, max: this.max, sum: this.sum, buckets: [...this.counts] };
  }
}

export const round = (v: number, digits = 2): number => Math.round(v * 10 ** digits) / 10 ** digits;
