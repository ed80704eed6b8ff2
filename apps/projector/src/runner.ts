import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { Consumer, ConsumerInfo, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { parseEvent, type Names } from '@chat/contracts';
import {
  advanceCheckpoint,
  ensureCheckpoint,
  inTransaction,
  lockCheckpoint,
  readCheckpoint,
  SessionLock,
  writeCheckpoint,
  type Pool,
} from '@chat/postgres';
import { consumerConfigs, PROJECTION_MAX_ACK_PENDING, resetConsumer, type StreamSettings } from '@chat/streams';
import { deadLetterMessage, shouldDeadLetter } from '@chat/nats';
import { RetryLater, type Projection, type StoredEvent } from './projection';

export interface BatchResult<P> {
  /** Events newer than the checkpoint, written in this transaction. */
  applied: number;
  /** Events at or below the checkpoint: applied before, so not written again. */
  skipped: number;
  /** The checkpoint after the batch. */
  position: number;
  /** Side effects of the events not yet past the side-effects checkpoint; undefined without `plan`. */
  plan: P | undefined;
  /** The batch's last stream sequence. */
  last: number;
}

/**
 * Where the post-commit side effects (live routing) of a projection have got to, in
 * projection_checkpoints under "<projection>.routed" (a consumer name never has a dot).
 * It trails the checkpoint after a crash between commit and routing, so those events are
 * routed when they are redelivered; a rebuild leaves it alone, so re-applying history does
 * not push it live to every connected device again.
 */
export const sideEffectsCheckpoint = (projectionName: string): string => `${projectionName}.routed`;

export class OutOfOrder extends Error {
  override readonly name = 'OutOfOrder';
}

/**
 * The checkpoint binding, one transaction: lock the checkpoint row, apply the events newer
 * than it, read what the side effects need, move the checkpoint to the last applied sequence.
 * A redelivered event is at or below the checkpoint and is never applied twice.
 */
export async function applyBatch<P>(pool: Pool, projection: Projection<P>, batch: readonly StoredEvent[]): Promise<BatchResult<P>> {
  return inTransaction(pool, async (tx) => {
    const position = await lockCheckpoint(tx, projection.name);
    const fresh = batch.filter((e) => e.streamSeq > position);
    for (let i = 1; i < fresh.length; i++) {
      if (fresh[i]!.streamSeq <= fresh[i - 1]!.streamSeq) {
        throw new OutOfOrder(`stream seq ${fresh[i]!.streamSeq} after ${fresh[i - 1]!.streamSeq}`);
      }
    }
    if (fresh.length) await projection.apply(tx, fresh);
    let plan: P | undefined;
    if (projection.plan) {
      const routed = (await readCheckpoint(tx, sideEffectsCheckpoint(projection.name))) ?? 0;
      plan = await projection.plan(tx, batch.filter((e) => e.streamSeq > routed));
    }
    const newPosition = fresh[fresh.length - 1]?.streamSeq ?? position;
    if (newPosition > position) await writeCheckpoint(tx, projection.name, newPosition);
    const last = Math.max(...batch.map((e) => e.streamSeq));
    return { applied: fresh.length, skipped: batch.length - fresh.length, position: newPosition, plan, last };
  });
}

export interface RunnerOptions {
  pool: Pool;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  log: Logger;
  /** Events per transaction (CHAT_PROJECTOR_BATCH), capped at the consumer's max_ack_pending. */
  batchSize: number;
  /** How long an idle pull waits for the next event, ms. */
  idleWaitMs?: number;
  /** How often a standby instance tries to take over the projection, ms. */
  standbyRetryMs?: number;
  /** How long the consumer may be unavailable before it is re-created (STALLED_CONSUMER_MS). */
  stalledConsumerMs?: number;
  /** Redelivery policies the consumer is re-created with (tests shrink them). */
  delivery?: StreamSettings['delivery'];
}

export interface RunnerStats {
  batches: number;
  applied: number;
  skipped: number;
  failures: number;
  resets: number;
  position: number;
  /** Events that failed on every delivery, kept in CHAT_DLQ and passed. */
  deadLettered: number;
  /** Times the lock's connection failed (the runner paused and took the lock again). */
  lockLosses: number;
}

type Step = 'ok' | 'idle' | 'failed' | 'wait';

const FETCH_EXPIRES_MS = 2_000;
const backoff = (failures: number, capMs: number, baseMs: number): number => Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));

/** How long a consumer may stay unavailable, while its stream answers, before it is re-created. */
export const STALLED_CONSUMER_MS = 20_000;

/** The cluster cannot serve the request now (503 / err 10008), or nobody answered. */
const isUnavailable = (e: unknown): boolean =>
  (e instanceof JetStreamApiError && (e.status === 503 || e.code === 10008)) || (e instanceof Error && (e.name === 'TimeoutError' || /timeout|temporarily unavailable/i.test(e.message)));

const isNotFound = (e: unknown): boolean =>
  e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.ConsumerNotFound || e.code === JetStreamApiCodes.StreamNotFound);

/**
 * Runs one projection: pulls batches from its durable consumer and applies them strictly in
 * stream order.
 *
 * Ordering rests on three things:
 * - One active instance per projection (a Postgres advisory lock; others stand by), and one
 *   pull at a time: the next batch is requested only after the previous one was acked or
 *   naked.
 * - A failed batch is naked message by message in order; nats-server redelivers naked
 *   messages before new ones, so the retry sees the same events first. The pause between
 *   attempts is taken here, not with a delayed nak, which would let newer events overtake.
 * - The consumer's delivery sequence must have no holes: a delivery this instance never saw
 *   (a pull that ended on our side but not on the server's, a dead predecessor's pending
 *   deliveries) would come back later, behind newer events. On a hole, or at startup with
 *   deliveries pending, the durable is re-created to start right after what is both applied
 *   and acked, so everything after it arrives again, in order.
 */
export class ProjectionRunner {
  readonly stats: RunnerStats = { batches: 0, applied: 0, skipped: 0, failures: 0, resets: 0, position: 0, deadLettered: 0, lockLosses: 0 };
  private readonly log: Logger;
  private readonly batchSize: number;
  private stopping = false;
  private readonly stopSignal = new AbortController();
  /** Set when the lock's connection failed: stop writing until it is held again. */
  private lockLost = false;
  /** Since when consumer-info requests fail as unavailable (0: they answer). */
  private unavailableSince = 0;
  private running: Promise<void> | undefined;
  private idleFetch: ConsumerMessages | undefined;
  private wake: (() => void) | undefined;
  private consumer: Consumer | undefined;
  private lastDelivery = 0;
  /** Events the consumer can hand out right now; null = ask the server. */
  private available: number | null = null;
  private mustReset = false;
  /** The consumer's max_deliver (read at recovery); -1 = unlimited. */
  private maxDeliver = -1;
  /** After a failed batch, events are pulled one at a time until one succeeds, to find the failing one. */
  private isolate = false;
  /** Failed attempts of the event at the head of the stream (counted here: consumer re-creation resets the server's count). */
  private headFailures = { seq: 0, count: 0 };

  constructor(
    private readonly o: RunnerOptions,
    readonly projection: Projection,
  ) {
    this.log = o.log.child({ projection: projection.name });
    this.batchSize = Math.max(1, Math.min(o.batchSize, PROJECTION_MAX_ACK_PENDING));
  }

  /** Starts in the background; `done` settles when the runner stops. */
  start(): this {
    this.running ??= this.run();
    return this;
  }

  get done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Finishes the batch in hand (commit, side effects, acks), then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    this.interrupt();
    await this.running?.catch(() => undefined);
    await this.projection.close?.().catch((err: unknown) => this.log.warn({ err }, 'projection close failed'));
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const lock = await SessionLock.acquire(this.o.pool, this.projection.name, {
        standbyRetryMs: this.o.standbyRetryMs,
        signal: this.stopSignal.signal,
        onStandby: () => this.log.info('another instance runs this projection; standing by'),
        onError: (err) => this.log.warn({ err }, 'cannot take the projection lock; retrying'),
      });
      if (!lock) return;
      this.log.info('projection lock acquired');
      this.lockLost = false;
      void lock.lost.then((err) => {
        // Another instance may take over now: stop before writing again, then try to take the
        // lock back (Postgres restarted: this instance is usually the one that gets it).
        this.log.warn({ err }, 'projection lock lost; pausing until it is held again');
        this.lockLost = true;
        this.stats.lockLosses++;
        this.interrupt();
      });
      try {
        await this.runLocked();
      } finally {
        await lock.release();
      }
      // Whatever this instance pulled and did not ack comes back; recover() lines the
      // consumer up with the checkpoint again.
      this.consumer = undefined;
    }
  }

  /** Pulls and applies while this instance holds the lock. */
  private async runLocked(): Promise<void> {
    let failures = 0;
    while (!this.stopping && !this.lockLost) {
      let step: Step;
      try {
        step = await this.step();
      } catch (e) {
        this.stats.failures++;
        // NATS or Postgres trouble: look at the consumer afresh before the next pull.
        this.consumer = undefined;
        this.log.warn({ err: e }, 'projection step failed; retrying');
        step = 'failed';
      }
      if (step === 'ok' || step === 'idle') {
        failures = 0;
        continue;
      }
      failures++;
      await this.sleep(step === 'wait' ? backoff(failures, 2_000, 100) : backoff(failures, 10_000, 200));
    }
  }

  /** Ends a pause or an idle pull early (stop, lock lost). */
  private interrupt(): void {
    this.wake?.();
    // An idle pull holds nothing yet; waiting for it to expire would only delay the stop.
    this.idleFetch?.stop();
  }

  private async step(): Promise<Step> {
    if (!this.consumer || this.mustReset) await this.recover();
    if (this.available === null) {
      const info = await this.consumer!.info(false);
      this.available = info.num_pending + info.num_ack_pending;
    }
    // With nothing available, pull one event and wait for it: a pull for more would be held
    // by the server until it expires, delaying a quiet conversation's message by seconds.
    const idle = this.available === 0;
    const want = idle || this.isolate ? 1 : Math.min(this.batchSize, this.available);
    const msgs = await this.fetch(want, idle);
    if (msgs.length === 0) {
      this.available = null;
      return 'idle';
    }
    for (const m of msgs) {
      if (m.info.deliverySequence !== this.lastDelivery + 1) {
        this.log.warn({ expected: this.lastDelivery + 1, got: m.info.deliverySequence, seq: m.seq }, 'hole in delivery sequence; re-creating the consumer');
        this.mustReset = true;
        return 'failed';
      }
      this.lastDelivery = m.info.deliverySequence;
    }
    return this.handle(msgs);
  }

  private async handle(msgs: JsMsg[]): Promise<Step> {
    const step = await this.handleBatch(msgs);
    this.isolate = step === 'failed';
    return step;
  }

  /**
   * When the event at the head has failed alone as many times as the consumer's max_deliver,
   * keeps it in CHAT_DLQ marked as skipped and terms it, so the projection moves on;
   * `chatctl dlq list` shows it, and a rebuild after the fix applies it. Only ever for a batch
   * of one (see `isolate`).
   */
  private async deadLetterIfLast(msgs: readonly JsMsg[], err: unknown): Promise<boolean> {
    const m = msgs[0];
    if (msgs.length !== 1 || !m) return false;
    if (this.headFailures.seq !== m.seq) this.headFailures = { seq: m.seq, count: 0 };
    const attempts = Math.max(++this.headFailures.count, m.info.deliveryCount);
    if (!shouldDeadLetter(attempts, this.maxDeliver)) {
      // Not naked: a lone nak would queue it behind events naked before, and they would
      // overtake it. Re-creating the consumer at the checkpoint restores the order (and resets
      // every delivery count, so the events behind it never reach max_deliver).
      this.mustReset = true;
      return false;
    }
    await deadLetterMessage(this.o.js, this.o.names, m, { consumer: this.projection.name, error: err, skipped: true, attempts });
    // Past it for good: it is the head (everything before it is applied), so moving the
    // checkpoint onto it skips exactly this event, even if the consumer is re-created later.
    await advanceCheckpoint(this.o.pool, this.projection.name, m.seq);
    this.headFailures = { seq: 0, count: 0 };
    this.stats.deadLettered++;
    this.available = null;
    this.log.error({ err, seq: m.seq, subject: m.subject, attempts }, 'event failed on every attempt: dead-lettered and skipped');
    return true;
  }

  private async handleBatch(msgs: JsMsg[]): Promise<Step> {
    const events: StoredEvent[] = [];
    let unreadable: unknown;
    for (const m of msgs) {
      try {
        events.push({ streamSeq: m.seq, event: parseEvent(m.json()) });
      } catch (e) {
        unreadable = e;
        // An event this projector cannot read blocks the projection (a newer producer needs a
        // newer projector): apply what comes before it, and retry it until it can be read.
        this.log.error({ err: e, seq: m.seq, subject: m.subject }, 'unreadable event; the projection waits at it');
        break;
      }
    }
    const taken = msgs.slice(0, events.length);
    const rest = msgs.slice(events.length);
    const last = msgs[msgs.length - 1]!;
    if (taken.length === 0) {
      if (await this.deadLetterIfLast(msgs, unreadable)) return 'ok';
      if (!this.mustReset) this.nakInOrder(msgs);
      this.available = msgs.length + last.info.pending;
      this.stats.failures++;
      return 'failed';
    }
    try {
      const res = await applyBatch(this.o.pool, this.projection, events);
      this.stats.applied += res.applied;
      this.stats.skipped += res.skipped;
      this.stats.position = res.position;
      this.log.debug({ applied: res.applied, skipped: res.skipped, position: res.position, from: taken[0]!.seq, to: taken[taken.length - 1]!.seq }, 'batch committed');
      if (this.projection.afterCommit) {
        await this.projection.afterCommit(res.plan);
        await advanceCheckpoint(this.o.pool, sideEffectsCheckpoint(this.projection.name), res.last);
      }
      for (const m of taken) m.ack();
      this.nakInOrder(rest);
      this.stats.batches++;
      if (rest.length) {
        this.available = rest.length + last.info.pending;
        return 'failed';
      }
      // What the server said was left behind the last event: no consumer-info request per
      // batch (at low rates every batch is partial, and that request cost as much as the batch).
      // Anything that arrives meanwhile is picked up by the next (idle) pull.
      this.available = last.info.pending;
      return 'ok';
    } catch (e) {
      if (!(e instanceof RetryLater) && !(e instanceof OutOfOrder) && (await this.deadLetterIfLast(msgs, e))) return 'ok';
      if (!this.mustReset) this.nakInOrder(msgs);
      this.available = msgs.length + last.info.pending;
      if (e instanceof RetryLater) {
        // Waiting for another projection must not spend deliveries: near the limit, re-create
        // the consumer (delivery counts start again at 1).
        if (this.maxDeliver > 0 && last.info.deliveryCount >= this.maxDeliver - 1) this.mustReset = true;
        this.log.info({ reason: e.message }, 'batch postponed');
        return 'wait';
      }
      if (e instanceof OutOfOrder) this.mustReset = true;
      this.stats.failures++;
      this.log.error({ err: e, from: msgs[0]!.seq, to: last.seq }, 'batch failed; retrying');
      return 'failed';
    }
  }

  /** Redelivered in this order, before anything newer. */
  private nakInOrder(msgs: readonly JsMsg[]): void {
    for (const m of msgs) m.nak();
  }

  /** The consumer's info from the server; protected so tests can simulate a stuck consumer. */
  protected consumerInfo(stream: string, name: string): Promise<ConsumerInfo> {
    return this.o.jsm.consumers.info(stream, name);
  }

  /** How long the consumer has been unavailable (0 if it answered last time); starts the clock. */
  private stalledFor(): number {
    const now = Date.now();
    this.unavailableSince ||= now;
    return now - this.unavailableSince;
  }

  /** One pull of up to `want` events; protected so tests can simulate a lost delivery. */
  protected async fetch(want: number, idle: boolean): Promise<JsMsg[]> {
    const iter = await this.consumer!.fetch({ max_messages: want, expires: idle ? (this.o.idleWaitMs ?? 10_000) : FETCH_EXPIRES_MS });
    if (idle) {
      this.idleFetch = iter;
      if (this.stopping) iter.stop();
    }
    const out: JsMsg[] = [];
    try {
      for await (const m of iter) out.push(m);
    } catch (e) {
      // What arrived before the error is a valid, gap-free prefix; anything after it is
      // caught by the delivery-sequence check on the next pull.
      if (out.length === 0) throw e;
      this.log.warn({ err: e, received: out.length }, 'pull ended early');
      this.available = null;
    } finally {
      this.idleFetch = undefined;
    }
    return out;
  }

  /**
   * Brings the consumer in line with the checkpoint. Re-creates it (see resetConsumer) when it
   * is missing, when deliveries are pending that nobody will ack in order, or when it is past
   * the checkpoint (it would skip events). It restarts after the lower of the checkpoint and
   * the ack floor: events applied but not acked (a crash between commit and routing) arrive
   * again and are routed again without being applied again.
   */
  private async recover(): Promise<void> {
    const { jsm, js, names, pool } = this.o;
    const name = this.projection.name;
    const stream = names.streams.events;
    const position = await ensureCheckpoint(pool, name);
    let info: ConsumerInfo | null = null;
    let stalled = false;
    try {
      info = await this.consumerInfo(stream, name);
      this.unavailableSince = 0;
    } catch (e) {
      if (isNotFound(e)) {
        // Missing: re-created below.
      } else if (isUnavailable(e) && this.stalledFor() >= (this.o.stalledConsumerMs ?? STALLED_CONSUMER_MS)) {
        stalled = true;
      } else throw e;
    }
    const streamLast = (await jsm.streams.info(stream)).state.last_seq;
    if (position > streamLast) {
      // A new stream under the old name: every new event would look already applied.
      this.log.error({ checkpoint: position, streamLast }, 'checkpoint is past the end of the stream; rebuild this projection');
    }
    let startSeq: number | null = null;
    let reason = '';
    if (stalled) {
      // The consumer has not answered for a long while though the stream does: its replica
      // group is stuck (seen on a 2.9 cluster when a node that missed the consumer's re-creation
      // comes back with the old one). A new consumer gets a new group. Without its ack floor,
      // restart where routing (the side effects) is known to be done, so nothing goes unrouted.
      const routed = this.projection.afterCommit ? ((await readCheckpoint(pool, sideEffectsCheckpoint(name))) ?? 0) : position;
      startSeq = Math.min(position, routed) + 1;
      reason = `consumer unavailable for ${Math.round(this.stalledFor() / 1000)} s`;
      this.unavailableSince = 0;
    } else if (!info) {
      startSeq = position + 1;
      reason = 'consumer missing';
    } else {
      const optStart = info.config.deliver_policy === DeliverPolicy.StartSequence ? (info.config.opt_start_seq ?? 1) : 1;
      const ackFloor = Math.max(info.ack_floor.stream_seq, optStart - 1);
      if (this.mustReset || info.num_ack_pending > 0) {
        startSeq = Math.min(position, ackFloor) + 1;
        reason = this.mustReset ? 'deliveries out of order' : `${info.num_ack_pending} deliveries pending from a previous run`;
      } else if (info.delivered.stream_seq > position) {
        startSeq = position + 1;
        reason = `consumer at ${info.delivered.stream_seq} is past the checkpoint`;
      }
    }
    if (startSeq !== null) {
      const cfg = consumerConfigs(names, { delivery: this.o.delivery }).find((c) => c.config.durable_name === name);
      if (!cfg) throw new Error(`no consumer configuration named ${name}`);
      await resetConsumer(jsm, stream, cfg.config, startSeq);
      this.stats.resets++;
      this.log.warn({ checkpoint: position, startSeq, reason }, 'consumer re-created');
    }
    this.consumer = await js.consumers.get(stream, name);
    const fresh = await this.consumer.info(false);
    this.lastDelivery = fresh.delivered.consumer_seq;
    this.maxDeliver = fresh.config.max_deliver ?? -1;
    this.available = fresh.num_pending + fresh.num_ack_pending;
    this.stats.position = position;
    this.mustReset = false;
    this.log.info({ checkpoint: position, pending: fresh.num_pending }, 'projection running');
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping || this.lockLost) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
