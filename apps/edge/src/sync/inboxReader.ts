import type { InboxPage, InboxRequest, ReadModels } from '../queries';
import { TurnBatch } from '../turnBatch';

/** Rows one statement may return at most (each request asks for its limit + 1). */
const MAX_ROWS_PER_STATEMENT = 5_000;

/**
 * Sync reads, batched: the reads asked for in one turn of the event loop go to Postgres as
 * one statement (split when their limits add up to more than MAX_ROWS_PER_STATEMENT rows), so
 * a reconnect storm's thousands of reads are a few round trips.
 */
export class InboxReader {
  private readonly batch: TurnBatch<InboxRequest, InboxPage>;

  constructor(rm: Pick<ReadModels, 'inboxAfterMany'>, checkpointName: string) {
    this.batch = new TurnBatch({
      run: (requests) => rm.inboxAfterMany(requests, checkpointName),
      maxWeight: MAX_ROWS_PER_STATEMENT,
      weight: (r) => r.limit + 1,
    });
  }

  read(userId: string, afterStreamSeq: number, limit: number): Promise<InboxPage> {
    return this.batch.get({ userId, afterStreamSeq, limit });
  }
}
