interface Queued<Q, R> {
  request: Q;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export interface TurnBatchOptions<Q, R> {
  /** Answers the requests of one batch, in their order (one statement, one round trip). */
  run(requests: readonly Q[]): Promise<readonly R[]>;
  /** What one call may carry at most, in `weight`s: a larger turn is split into several calls. */
  maxWeight: number;
  /** A request's share of `maxWeight` (default 1). */
  weight?(request: Q): number;
}

/**
 * Lookups asked for in one turn of the event loop, answered by one call for all of them. When
 * a thousand devices reconnect or subscribe at once, a statement each would queue behind the
 * pool's few connections, each paying a round trip and a turn of this busy event loop, and
 * delay every other query of the edge behind them; one statement per turn does the same work
 * in a few round trips. A failed call fails the requests it carried, and only them.
 */
export class TurnBatch<Q, R> {
  private queued: Array<Queued<Q, R>> = [];
  private scheduled = false;
  /** Requests answered, and the calls they took. */
  readonly stats = { requests: 0, calls: 0 };

  constructor(private readonly o: TurnBatchOptions<Q, R>) {}

  get(request: Q): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queued.push({ request, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queued = this.queued;
    this.queued = [];
    let batch: Array<Queued<Q, R>> = [];
    let weight = 0;
    for (const q of queued) {
      const w = this.o.weight?.(q.request) ?? 1;
      if (batch.length && weight + w > this.o.maxWeight) {
        this.run(batch);
        batch = [];
        weight = 0;
      }
      batch.push(q);
      weight += w;
    }
    if (batch.length) this.run(batch);
  }

  private run(batch: ReadonlyArray<Queued<Q, R>>): void {
    this.stats.requests += batch.length;
    this.stats.calls++;
    let answered: Promise<readonly R[]>;
    try {
      answered = this.o.run(batch.map((q) => q.request));
    } catch (err) {
      answered = Promise.reject(err);
    }
    answered.then(
      (results) => batch.forEach((q, i) => (i < results.length ? q.resolve(results[i]!) : q.reject(new Error('a batched lookup returned fewer results than requests')))),
      (err: unknown) => batch.forEach((q) => q.reject(err)),
    );
  }
}
