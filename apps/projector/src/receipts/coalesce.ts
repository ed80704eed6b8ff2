import type { Logger } from 'pino';
import type { Router } from '../routing';
import { coalesceReceipts, type PendingReceipt } from './evolve';

/**
 * Buffers group receipts for one window (LIMITS.receiptCoalesceMs) after they were committed,
 * then routes one `receipt.batch` per conversation, all conversations of the window in one
 * route() call (one publish per edge). Only the live frame lives here: a crash loses it, never
 * the watermark (committed before anything is buffered).
 */
export class ReceiptCoalescer {
  private pending: PendingReceipt[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Windows flushed and receipt.batch frames routed, for tests and logs. */
  readonly stats = { windows: 0, frames: 0, failures: 0 };

  constructor(
    private readonly router: Router,
    private readonly windowMs: number,
    private readonly log?: Logger,
  ) {}

  add(items: readonly PendingReceipt[]): void {
    if (items.length === 0) return;
    this.pending.push(...items);
    this.timer ??= setTimeout(() => void this.flush(), this.windowMs);
  }

  /** Routes what is buffered now (also on shutdown). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.pending;
    this.pending = [];
    if (items.length === 0) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      const routes = coalesceReceipts(items);
      try {
        const publishes = await this.router.route(routes, 'rcb');
        this.stats.windows++;
        this.stats.frames += routes.length;
        this.log?.debug({ receipts: items.length, frames: routes.length, publishes }, 'receipt window routed');
      } catch (err) {
        // The watermarks are committed; only these live frames are lost.
        this.stats.failures++;
        this.log?.warn({ err, receipts: items.length }, 'receipt window could not be routed');
      }
    });
    return this.flushing;
  }
}
