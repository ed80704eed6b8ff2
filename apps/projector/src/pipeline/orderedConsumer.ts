import type { ConsumerConfig, ConsumerInfo, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { resetConsumer } from '@chat/streams';

export interface OrderedConsumerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  /** The durable's configuration (streams as code), used when it is (re-)created. */
  config: Partial<ConsumerConfig> & { durable_name: string };
  log: Logger;
  /** Deliveries buffered ahead of the batch being applied. */
  bufferSize: number;
}

/**
 * A durable consumer read strictly in stream order, with no redelivery ever mixed in: the
 * projector's view of CHAT_EVENTS.
 *
 * Deliveries stream in continuously (a `consume()` pull kept topped up) while the previous
 * batch is applied, so a batch is whatever arrived meanwhile. Order rests on one rule: any
 * delivery that is not the next one (a hole in the delivery sequence, a stream sequence that
 * does not grow, a redelivery after an ack timeout) marks the consumer `broken`, and the caller
 * re-creates it at its checkpoint + 1 (`open(start)`), so everything after the checkpoint
 * arrives again, in order. Failures are handled the same way: nothing is ever nak'ed.
 */
export class OrderedConsumer {
  /** The current `consume()` (protected: tests look at what it still holds). */
  protected messages: ConsumerMessages | undefined;
  private reader: Promise<void> | undefined;
  private buffer: JsMsg[] = [];
  private waiter: (() => void) | undefined;
  private lastDelivery = 0;
  private lastStreamSeq = 0;
  /**
   * Which reader may fill the buffer: `close()` moves it on. A stopped `consume()` still yields
   * the rest of the socket read it was handing out, and those deliveries belong to the durable
   * that was deleted, from past the new start: in the new reader's buffer they would be applied
   * first and move the checkpoint over everything the new durable then delivers.
   */
  private generation = 0;
  /** Why the stream of deliveries cannot be trusted any more (re-open before reading on). */
  broken: string | null = null;
  /** The durable's max_deliver (-1: unlimited), read when opened. */
  maxDeliver = -1;

  constructor(private readonly o: OrderedConsumerOptions) {}

  /** The durable's state on the server, or null when it does not exist. */
  info(): Promise<ConsumerInfo> {
    return this.o.jsm.consumers.info(this.o.stream, this.o.config.durable_name);
  }

  /**
   * Re-creates the durable so that its first delivery is `startSeq`, and starts reading. Any
   * earlier reader is closed first and its buffered deliveries dropped.
   */
  async open(startSeq: number): Promise<void> {
    await this.close();
    await this.recreate(startSeq);
    const consumer = await this.o.js.consumers.get(this.o.stream, this.o.config.durable_name);
    const info = await consumer.info(true);
    this.maxDeliver = info.config.max_deliver ?? -1;
    this.lastDelivery = info.delivered.consumer_seq;
    // What was asked for, not what the server says it made: the first delivery must be startSeq
    // (or the first event still stored after it).
    this.lastStreamSeq = Math.max(0, startSeq - 1);
    this.broken = null;
    const messages = await consumer.consume({ max_messages: this.o.bufferSize });
    this.messages = messages;
    const generation = this.generation;
    this.reader = (async () => {
      try {
        for await (const m of messages) {
          if (!this.accept(m)) continue;
          if (generation !== this.generation) break;
          if (this.broken) continue;
          const d = m.info.deliverySequence;
          const outOfOrder = d !== this.lastDelivery + 1 || m.seq <= this.lastStreamSeq || m.info.redelivered;
          // Contiguous deliveries that jump over stored events: the server's consumer state does
          // not match the one created (seen after a cluster node came back during a
          // re-creation). Applying on would skip events for good.
          const jumped = !outOfOrder && m.seq !== this.lastStreamSeq + 1 && (await this.storedBetween(this.lastStreamSeq + 1, m.seq)) > 0;
          if (generation !== this.generation) break;
          if (outOfOrder) {
            this.broken = `delivery ${d} (stream ${m.seq}) after ${this.lastDelivery} (stream ${this.lastStreamSeq})${m.info.redelivered ? ', a redelivery' : ''}`;
          } else if (jumped) {
            this.broken = `stream ${m.seq} after ${this.lastStreamSeq}, with stored events between not delivered`;
          } else {
            this.lastDelivery = d;
            this.lastStreamSeq = m.seq;
            this.buffer.push(m);
          }
          this.wake();
        }
      } catch (err) {
        if (generation !== this.generation) return;
        this.broken ??= `reading stopped: ${(err as Error).message}`;
        this.wake();
      }
    })();
  }

  /**
   * Up to `max` deliveries in order: at once if some are buffered, otherwise the first that
   * arrives within `waitMs` and whatever came with it (the rest of the same socket read).
   * With `lingerMs`, a batch smaller than `max` waits up to that long for more: a few
   * milliseconds of latency buy batches big enough that per-batch costs (a transaction, the
   * publishes, the ack) stop dominating. Empty on timeout, on `interrupt()`, or when the
   * consumer broke (see `broken`).
   */
  async take(max: number, waitMs: number, lingerMs = 0): Promise<JsMsg[]> {
    if (this.buffer.length === 0 && !this.broken) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, waitMs);
        this.waiter = done;
        function done() {
          clearTimeout(t);
          resolve();
        }
      });
      this.waiter = undefined;
      // One turn of the event loop: deliveries that arrived together are taken together.
      if (this.buffer.length) await new Promise((r) => setImmediate(r));
    }
    if (lingerMs > 0 && this.buffer.length > 0 && this.buffer.length < max && !this.broken) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.waiter = undefined;
          resolve();
        };
        // Woken by each arrival: done once the batch is full (or the consumer broke), else wait on.
        const check = () => {
          if (this.buffer.length >= max || this.broken) done();
          else this.waiter = check;
        };
        const t = setTimeout(done, lingerMs);
        this.waiter = check;
      });
    }
    if (this.broken) return [];
    return this.buffer.splice(0, max);
  }

  /** Ends a `take` that is waiting. */
  interrupt(): void {
    this.wake();
  }

  /** Acknowledges `last` and, the ack policy being `all`, every delivery before it. */
  ack(last: JsMsg): void {
    last.ack();
  }

  /** Stops reading; deliveries not acknowledged come back after ack_wait or a re-open. */
  async close(): Promise<void> {
    const messages = this.messages;
    this.messages = undefined;
    this.generation++;
    this.buffer = [];
    if (messages) {
      messages.stop();
      await this.reader?.catch(() => undefined);
    }
    this.reader = undefined;
  }

  /**
   * How many events the stream holds in [from, to). The consumer's filters cover every subject
   * of the stream, so each of them should have been delivered; a gap is legitimate only where
   * events aged out (below the stream's first sequence) or were deleted.
   */
  async storedBetween(from: number, to: number): Promise<number> {
    const { state } = await this.o.jsm.streams.info(this.o.stream);
    const lo = Math.max(from, state.first_seq);
    if (lo >= to) return 0;
    if (!state.num_deleted) return to - lo;
    let stored = 0;
    // Interior deletes: look at each sequence (gaps are short: a skip is found at its first event).
    for (let seq = lo; seq < to && seq < lo + 1_000; seq++) {
      if (await this.o.jsm.streams.getMessage(this.o.stream, { seq }).catch(() => null)) stored++;
      if (stored) break;
    }
    return stored;
  }

  /** Deletes and adds the durable so that it delivers from `startSeq`; tests override it to make a server that starts elsewhere. */
  protected recreate(startSeq: number): Promise<void> {
    return resetConsumer(this.o.jsm, this.o.stream, this.o.config, startSeq);
  }

  /** Whether a delivery reaches the checks at all; tests override it to lose one. */
  protected accept(_m: JsMsg): boolean {
    return true;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
