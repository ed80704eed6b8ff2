import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';

export interface PullLoopOptions {
  stream: string;
  /** A durable pull consumer that already exists. */
  consumer: string;
  /** Most messages asked for in one pull. */
  batch: number;
  /** Handlers running (or waiting in the app) at once; defaults to twice `batch`. Reaching it pauses pulling. */
  concurrency?: number;
  /**
   * How long one pull waits on the server for messages, ms (min 1000). stop() waits for the
   * pull in progress to end, so this bounds how long a stop can take on an idle consumer.
   */
  expiresMs?: number;
  /** Redelivery delay for a message whose handler threw. */
  nakDelayMs?: number;
  /** A handler threw (the message is then nak'ed with `nakDelayMs`). */
  onError?: (err: unknown, msg: JsMsg) => void;
  /** A pull failed (server gone, consumer deleted, …); the loop retries after `retryMs`. */
  onPullError?: (err: unknown) => void;
  retryMs?: number;
}

export interface PullLoop {
  /**
   * Stops asking for messages, lets the pull in progress end, runs every message it delivered
   * and waits for all running handlers: nothing delivered to this loop is left to ack_wait.
   */
  stop(): Promise<void>;
  /** Settles when the loop has stopped. */
  readonly done: Promise<void>;
}

/**
 * Consumes a durable pull consumer in fetched batches, running `handler` on each message in
 * delivery order without waiting for the previous one (the handler serialises what must be).
 * The handler acks, naks or terms the message; one that throws gets a delayed nak.
 *
 * Batches are fetched rather than consumed continuously because a continuous consumer keeps a
 * pull open on the server: on stop, messages already on their way to it are dropped and only
 * come back after ack_wait. Letting a bounded fetch run out loses nothing.
 */
export async function pullLoop(js: JetStreamClient, opts: PullLoopOptions, handler: (msg: JsMsg) => Promise<void>): Promise<PullLoop> {
  const consumer = await js.consumers.get(opts.stream, opts.consumer);
  const concurrency = Math.max(1, opts.concurrency ?? opts.batch * 2);
  const expires = Math.max(1_000, opts.expiresMs ?? 5_000);
  const nakDelayMs = opts.nakDelayMs ?? 1_000;
  const retryMs = opts.retryMs ?? 1_000;
  const inFlight = new Set<Promise<void>>();
  let stopping = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(r, ms);
      wake = () => {
        clearTimeout(t);
        r();
      };
    });

  const run = async (msg: JsMsg): Promise<void> => {
    try {
      await handler(msg);
    } catch (err) {
      opts.onError?.(err, msg);
      msg.nak(nakDelayMs);
    }
  };

  const done = (async () => {
    while (!stopping) {
      if (inFlight.size >= concurrency) {
        await Promise.race(inFlight);
        continue;
      }
      try {
        const batch = await consumer.fetch({ max_messages: Math.min(opts.batch, concurrency - inFlight.size), expires });
        for await (const msg of batch) {
          const p = run(msg).finally(() => inFlight.delete(p));
          inFlight.add(p);
        }
      } catch (err) {
        if (stopping) break;
        opts.onPullError?.(err);
        await sleep(retryMs);
      }
    }
    await Promise.allSettled([...inFlight]);
  })();

  return {
    done,
    async stop() {
      stopping = true;
      wake?.();
      await done;
    },
  };
}
