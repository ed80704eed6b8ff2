import type { InboxPage, InboxRequest, ReadModels } from '../queries';

/** Rows one statement may return at most (each request asks for its limit + 1). */
const MAX_ROWS_PER_STATEMENT = 5_000;

interface Queued extends InboxRequest {
  resolve(page: InboxPage): void;
  reject(err: unknown): void;
}

/**
 * Sync reads, batched: the reads asked for in one turn of the event loop go to Postgres as
 * one statement (split when their limits add up to more than MAX_ROWS_PER_STATEMENT rows).
 * When thousands of devices reconnect at once, a read per device would queue behind the
 * pool's few connections, each paying a round trip and a turn of this busy event loop.
 */
export class InboxReader {
  private queued: Queued[] = [];
  private scheduled = false;
  readonly stats = { reads: 0, statements: 0 };

  constructor(
    private readonly rm: Pick<ReadModels, 'inboxAfterMany'>,
    private readonly checkpointName: string,
  ) {}

  read(userId: string, afterStreamSeq: number, limit: number): Promise<InboxPage> {
    return new Promise((resolve, reject) => {
      this.queued.push({ userId, afterStreamSeq, limit, resolve, reject });
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
    let batch: Queued[] = [];
    let rows = 0;
    for (const q of queued) {
      if (batch.length && rows + q.limit + 1 > MAX_ROWS_PER_STATEMENT) {
        this.run(batch);
        batch = [];
        rows = 0;
      }
      batch.push(q);
      rows += q.limit + 1;
    }
    if (batch.length) this.run(batch);
  }

  private run(batch: Queued[]): void {
    this.stats.reads += batch.length;
    this.stats.statements++;
    this.rm.inboxAfterMany(batch, this.checkpointName).then(
      (pages) => batch.forEach((q, i) => q.resolve(pages[i]!)),
      (err: unknown) => batch.forEach((q) => q.reject(err)),
    );
  }
}
