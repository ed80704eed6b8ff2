import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { readEvent, readPreferenceEvent, type Names } from '@chat/contracts';
import { advanceCheckpoint, SessionLock, type Pool } from '@chat/postgres';
import { projectorConsumerConfig, PROJECTION_MAX_ACK_PENDING, type StreamSettings } from '@chat/streams';
import { deadLetterMessage, shouldDeadLetter } from '@chat/nats';
import { RetryLater, type StoredEvent, type StreamEvent } from '../projection';
import type { LiveRouter } from '../live/liveRouter';
import { applyBatch, lockPositions, OutOfOrder, PROJECTOR_LOCK, sideEffectsCheckpoint, type AnyProjection, type Positions } from './applier';
import { OrderedConsumer, type OrderedConsumerOptions } from './orderedConsumer';

export interface ProjectorOptions {
  pool: Pool;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  log: Logger;
  /** Most events per transaction (CHAT_PROJECTOR_BATCH). */
  batchSize: number;
  /** Live routing and push jobs; null: read models only (tests, rebuild-like runs). */
  live: LiveRouter | null;
  /** How long a batch smaller than batchSize waits for more events, ms (CHAT_PROJECTOR_LINGER). */
  lingerMs?: number;
  /** How long routed batches gather before their transaction, ms (CHAT_PROJECTOR_COMMIT_INTERVAL). */
  commitIntervalMs?: number;
  /** How long an idle read waits before the consumer's health is checked, ms. */
  idleWaitMs?: number;
  /** How often a standby instance tries to take over, ms. */
  standbyRetryMs?: number;
  /** How long the consumer may deliver nothing while events wait (or not answer at all) before it is re-created. */
  stalledConsumerMs?: number;
  /** Redelivery policy the consumer is created with (tests shrink it). */
  delivery?: StreamSettings['delivery'];
  /** Builds the consumer reader (tests substitute one that loses or stalls deliveries). */
  consumer?: (o: OrderedConsumerOptions) => OrderedConsumer;
}

export interface ProjectorStats {
  batches: number;
  applied: number;
  failures: number;
  /** Times the consumer was re-created at the checkpoint (start-up, holes, failures). */
  resets: number;
  /** Checkpoint of the slowest projection. */
  position: number;
  /** Events that failed on every attempt, kept in CHAT_DLQ and passed. */
  deadLettered: number;
  /** Times the lock's connection failed (the projector paused and took the lock again). */
  lockLosses: number;
  /** Last batch: events and milliseconds from read to ack. */
  lastBatch: { events: number; ms: number };
}

/** Why the projector does not apply anything (null while it runs): shown by /readyz and chatctl. */
export type Refusal = { reason: string; fix: string } | null;

const backoff = (failures: number, capMs: number, baseMs: number): number => Math.min(capMs, baseMs * 2 ** Math.max(0, failures - 1));

/**
 * Events routed live and not yet committed, at most, in units of CHAT_PROJECTOR_BATCH. Counted
 * in events, not batches: under moderate load the linger makes small batches (a dozen events
 * every 5 ms), and a bound of four batches made live routing wait for nearly every commit.
 */
const MAX_BATCHES_BEHIND = 4;

/** A batch routed live (stage 1), waiting for its transaction (stage 2). */
interface Routed {
  msgs: JsMsg[];
  events: Array<StoredEvent<StreamEvent>>;
  /** The batch's live publishes, stored by JetStream once settled. */
  delivering: Promise<void> | undefined;
  started: number;
}

/** How long the consumer may stay stuck before it is re-created. */
export const STALLED_CONSUMER_MS = 20_000;

const isUnavailable = (e: unknown): boolean =>
  (e instanceof JetStreamApiError && (e.status === 503 || e.code === 10008)) || (e instanceof Error && (e.name === 'TimeoutError' || /timeout|temporarily unavailable/i.test(e.message)));

/**
 * The projector: reads CHAT_EVENTS once, in order, through one durable (`projector`), and for
 * each batch
 *  1. routes it live (LiveRouter: frames to the edges, push jobs) straight from the events;
 *  2. applies it to every projection in ONE Postgres transaction with their checkpoints, which
 *     commits only once the live publishes are stored;
 *  3. runs the projections' post-commit side effects (conversation-list cache, activity frames,
 *     coalesced group receipts), then acknowledges the batch (ack policy `all`: one ack).
 *
 * One active instance (a Postgres session lock; others stand by). Order: the consumer is read
 * strictly in sequence (OrderedConsumer); on any anomaly or failure it is re-created at the
 * checkpoint + 1 and everything after arrives again. An event that fails alone on every
 * attempt (the consumer's max_deliver) is dead-lettered and skipped.
 */
export class Projector {
  readonly stats: ProjectorStats = { batches: 0, applied: 0, failures: 0, resets: 0, position: 0, deadLettered: 0, lockLosses: 0, lastBatch: { events: 0, ms: 0 } };
  refusal: Refusal = null;
  private readonly log: Logger;
  private readonly consumer: OrderedConsumer;
  private readonly prefPrefix: string;
  private stopping = false;
  private readonly stopSignal = new AbortController();
  private lockLost = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Lowest checkpoint over the projections. */
  private position = 0;
  /** Live routing has covered the stream up to here (LIVE_CHECKPOINT). */
  private liveMark = 0;
  /** Every position as last committed (read at open): transactions compare-and-set them. */
  private positions: Positions | undefined;
  /** Side effects done since the last commit, recorded by the next batch's transaction. */
  private sideEffectsDone = new Map<string, number>();
  /** After a failure, one event per batch until one succeeds, to find the failing one. */
  private isolate = false;
  private headFailures = { seq: 0, count: 0 };
  private needsOpen = true;
  /** Routed batches waiting for stage 2, in order. */
  private routed: Routed[] = [];
  /** Stage 2 while it runs: commits whatever is routed, all of it in one transaction. */
  private committing: Promise<void> | undefined;
  /** Ends stage 2's wait for more routed batches (a full batch is there, or stopping). */
  private commitWake: (() => void) | undefined;
  /** The first stage-2 failure, handled by the next step. */
  private failure: { msgs: JsMsg[]; err: unknown } | undefined;
  private idleSince = 0;
  private unavailableSince = 0;

  constructor(
    private readonly o: ProjectorOptions,
    readonly projections: readonly AnyProjection[],
  ) {
    this.log = o.log.child({ consumer: o.names.consumers.projector });
    this.prefPrefix = o.names.subjects.prefAll.slice(0, -1);
    const { stream, config } = projectorConsumerConfig(o.names, { delivery: o.delivery });
    this.consumer = (o.consumer ?? ((c) => new OrderedConsumer(c)))({
      js: o.js,
      jsm: o.jsm,
      stream,
      config,
      log: this.log,
      bufferSize: Math.min(PROJECTION_MAX_ACK_PENDING - this.batchSize, 2 * this.batchSize),
    });
  }

  private get batchSize(): number {
    return Math.max(1, Math.min(this.o.batchSize, 1000));
  }

  start(): this {
    this.running ??= this.run();
    return this;
  }

  get done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Finishes the batch in hand, then stops. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    this.interrupt();
    await this.running?.catch(() => undefined);
    await this.consumer.close();
    for (const p of this.projections) await p.close?.().catch((err: unknown) => this.log.warn({ err, projection: p.name }, 'projection close failed'));
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const lock = await SessionLock.acquire(this.o.pool, PROJECTOR_LOCK, {
        standbyRetryMs: this.o.standbyRetryMs,
        signal: this.stopSignal.signal,
        onStandby: () => this.log.info('another projector is active; standing by'),
        onError: (err) => this.log.warn({ err }, 'cannot take the projector lock; retrying'),
      });
      if (!lock) return;
      this.log.info('projector lock acquired');
      this.lockLost = false;
      void lock.lost.then((err) => {
        // Another instance may take over now: stop before writing again.
        this.log.warn({ err }, 'projector lock lost; pausing until it is held again');
        this.lockLost = true;
        this.stats.lockLosses++;
        this.interrupt();
      });
      try {
        this.needsOpen = true;
        await this.runLocked();
      } finally {
        await this.consumer.close();
        await lock.release();
      }
    }
  }

  private async runLocked(): Promise<void> {
    let failures = 0;
    while (!this.stopping && !this.lockLost) {
      let step: 'ok' | 'idle' | 'failed' | 'wait' | 'refused';
      try {
        step = await this.step();
      } catch (e) {
        this.stats.failures++;
        this.log.warn({ err: e }, 'projector step failed; retrying');
        step = 'failed';
      }
      if (step === 'ok' || step === 'idle') {
        failures = 0;
        continue;
      }
      // Nothing in flight may commit after the consumer is re-read.
      await this.drain();
      this.failure = undefined;
      this.needsOpen = true;
      failures++;
      await this.sleep(step === 'refused' ? 5_000 : step === 'wait' ? backoff(failures, 2_000, 100) : backoff(failures, 10_000, 200));
    }
    await this.drain();
  }

  private interrupt(): void {
    this.wake?.();
    this.commitWake?.();
    this.consumer.interrupt();
  }

  private async step(): Promise<'ok' | 'idle' | 'failed' | 'wait' | 'refused'> {
    if (this.needsOpen) {
      if (!(await this.open())) return 'refused';
    }
    if (this.failure) return (await this.settle()) ?? 'failed';
    const msgs = await this.consumer.take(this.isolate ? 1 : this.batchSize, this.o.idleWaitMs ?? 5_000, this.isolate ? 0 : (this.o.lingerMs ?? 0));
    if (this.consumer.broken) {
      const failed = await this.settle();
      if (failed) return failed;
      this.log.warn({ reason: this.consumer.broken }, 'deliveries out of order; re-reading from the checkpoint');
      this.o.live?.reset();
      return 'failed';
    }
    if (msgs.length === 0) {
      const failed = await this.settle();
      if (failed) return failed;
      return (await this.healthy()) ? 'idle' : 'failed';
    }
    this.idleSince = 0;
    return this.handle(msgs);
  }

  /**
   * Re-creates the consumer right after the lowest position of every projection (checkpoint
   * and side effects), unless a checkpoint is past the end of the stream (a new, empty stream
   * under the old name): then every new event would look applied, so it refuses and says how
   * to fix it. Returns false when refusing.
   */
  private async open(): Promise<boolean> {
    const { pool, jsm, names } = this.o;
    const positions = await lockPositions(pool, this.projections, false);
    const checkpoints = [...positions.checkpoints].map(([name, at]) => ({ name, at }));
    const marks = this.projections.filter((p) => p.plan).map((p) => positions.sideEffects.get(p.name) ?? 0);
    this.liveMark = positions.live;
    const streamLast = (await jsm.streams.info(names.streams.events)).state.last_seq;
    const ahead = checkpoints.filter((c) => c.at > streamLast);
    if (ahead.length) {
      const reason = `checkpoint past the end of ${names.streams.events} (last sequence ${streamLast}): ${ahead.map((c) => `${c.name} at ${c.at}`).join(', ')}`;
      const fix = 'the stream was re-created; rebuild the read models from it (`npm run rebuild`), or start them empty for the new stream (`npx chatctl projections reset`)';
      if (this.refusal?.reason !== reason) this.log.error({ reason, fix }, 'projector refuses to run');
      this.refusal = { reason, fix };
      return false;
    }
    this.refusal = null;
    this.positions = positions;
    this.position = Math.min(...checkpoints.map((c) => c.at));
    const start = Math.min(this.position, ...marks) + 1;
    await this.consumer.open(start);
    this.needsOpen = false;
    this.idleSince = 0;
    this.unavailableSince = 0;
    this.stats.resets++;
    this.stats.position = this.position;
    this.log.info({ checkpoint: this.position, start }, 'projector reading');
    return true;
  }

  /**
   * Called when a read found nothing: a consumer that has had events waiting (or has not
   * answered) for STALLED_CONSUMER_MS while the stream answers is stuck (seen on clusters after
   * a node missed its re-creation) and is re-created.
   */
  private async healthy(): Promise<boolean> {
    const now = Date.now();
    const limit = this.o.stalledConsumerMs ?? STALLED_CONSUMER_MS;
    try {
      const info = await this.consumer.info();
      this.unavailableSince = 0;
      if (info.num_pending === 0) {
        this.idleSince = 0;
        return true;
      }
      this.idleSince ||= now;
      if (now - this.idleSince < limit) return true;
      this.log.warn({ pending: info.num_pending, stalledMs: now - this.idleSince }, 'consumer delivers nothing though events wait; re-creating it');
      return false;
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.ConsumerNotFound) {
        this.log.warn('consumer is gone; re-creating it');
        return false;
      }
      if (!isUnavailable(e)) throw e;
      this.unavailableSince ||= now;
      if (now - this.unavailableSince < limit) return true;
      await this.o.jsm.streams.info(this.o.names.streams.events);
      this.log.warn({ stalledMs: now - this.unavailableSince }, 'consumer unavailable while its stream answers; re-creating it');
      return false;
    }
  }

  private parse(m: JsMsg): StoredEvent<StreamEvent> {
    const json = m.json();
    return { streamSeq: m.seq, event: m.subject.startsWith(this.prefPrefix) ? readPreferenceEvent(json) : readEvent(json) };
  }

  /**
   * Two stages, in stream order. Stage 1 (here, awaited): parse, fold into the membership
   * cache, start publishing the live frames. Stage 2 (one at a time, behind): one transaction
   * for everything stage 1 has routed since the last one (so under load a transaction holds
   * several read batches), which commits only once their publishes are stored, then the side
   * effects and the ack. Live delivery waits for a commit only when MAX_BATCHES_BEHIND ×
   * CHAT_PROJECTOR_BATCH events wait for stage 2. Any failure stops both stages: the membership
   * cache is dropped and the consumer is re-read from the checkpoint.
   */
  private async handle(msgs: JsMsg[]): Promise<'ok' | 'failed' | 'wait'> {
    const started = performance.now();
    const events: Array<StoredEvent<StreamEvent>> = [];
    let unreadable: unknown;
    for (const m of msgs) {
      try {
        events.push(this.parse(m));
      } catch (e) {
        // A newer producer needs a newer projector: apply what comes before it, wait at it.
        unreadable = e;
        this.log.error({ err: e, seq: m.seq, subject: m.subject }, 'unreadable event; the projector waits at it');
        break;
      }
    }
    if (events.length === 0) return (await this.settle()) ?? this.failed(msgs, unreadable);
    const live = this.o.live;
    let delivering: Promise<void> | undefined;
    if (live) {
      try {
        const chat = events.filter((e): e is StoredEvent => e.event.type !== 'MemberMuteChanged' && e.streamSeq > this.liveMark);
        await live.prepare(this.o.pool, chat);
        delivering = live.deliver(live.plan(chat));
        // Settled by the transaction before COMMIT; a rejection must not go unhandled meanwhile.
        delivering.catch(() => undefined);
        this.liveMark = Math.max(this.liveMark, events[events.length - 1]!.streamSeq);
      } catch (e) {
        return (await this.settle()) ?? this.batchFailed(msgs, e);
      }
    }
    this.routed.push({ msgs: msgs.slice(0, events.length), events, delivering, started });
    if (this.commitWake && this.routedEvents() >= this.batchSize) this.commitWake();
    this.committing ??= this.commitRouted().finally(() => (this.committing = undefined));
    // One event at a time while isolating a failure, and when the commits fall behind.
    if (this.isolate || unreadable !== undefined || this.routedEvents() >= MAX_BATCHES_BEHIND * this.batchSize) {
      const failed = await this.settle();
      if (failed) return failed;
    }
    if (unreadable !== undefined) {
      this.isolate = true;
      return 'failed';
    }
    return 'ok';
  }

  /** Stage 2 until nothing routed is left uncommitted (or one fails). */
  private async commitRouted(): Promise<void> {
    while (this.routed.length && !this.failure) {
      await this.commitWindow();
      const batch = this.routed;
      this.routed = [];
      const publishes = batch.map((b) => b.delivering).filter((d): d is Promise<void> => d !== undefined);
      const delivering = publishes.length ? Promise.all(publishes).then(() => undefined) : undefined;
      // Awaited by the transaction before COMMIT; a rejection must not go unhandled if it fails first.
      delivering?.catch(() => undefined);
      await this.commit(
        batch.flatMap((b) => b.msgs),
        batch.flatMap((b) => b.events),
        delivering,
        batch[0]!.started,
      );
    }
    // Whatever was routed after a failure is read again from the checkpoint.
    if (this.failure) this.routed = [];
  }

  /**
   * Lets routed batches gather for up to CHAT_PROJECTOR_COMMIT_INTERVAL after the oldest one
   * before they are committed together, unless a full batch is waiting: live delivery has
   * already happened, so this only delays the read models (and a sync waiting on them) by at
   * most the interval, and at low rates it turns one transaction per few events into one per
   * interval.
   */
  private async commitWindow(): Promise<void> {
    const interval = this.o.commitIntervalMs ?? 0;
    if (interval <= 0 || this.isolate) return;
    const due = this.routed[0]!.started + interval;
    while (!this.stopping && !this.lockLost && this.routedEvents() < this.batchSize) {
      const wait = due - performance.now();
      if (wait <= 0) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.commitWake = undefined;
          resolve();
        };
        const t = setTimeout(done, wait);
        this.commitWake = done;
      });
    }
  }

  private routedEvents(): number {
    let n = 0;
    for (const b of this.routed) n += b.events.length;
    return n;
  }

  /** Waits for stage 2 to finish everything routed. */
  private async drain(): Promise<void> {
    while (this.committing) await this.committing;
  }

  /** Waits for every commit in flight; a failure among them is handled (and returned) here. */
  private async settle(): Promise<'ok' | 'failed' | 'wait' | undefined> {
    await this.drain();
    const f = this.failure;
    if (!f) return undefined;
    this.failure = undefined;
    return this.batchFailed(f.msgs, f.err);
  }

  /** Stage 2 of routed events; records a failure instead of throwing (the next step handles it). */
  private async commit(msgs: JsMsg[], events: Array<StoredEvent<StreamEvent>>, delivering: Promise<void> | undefined, started: number): Promise<void> {
    try {
      const res = await applyBatch(this.o.pool, this.projections, events, {
        ...(delivering ? { beforeCommit: delivering } : {}),
        sideEffectsDone: this.sideEffectsDone,
        ...(this.o.live ? { liveRouted: events[events.length - 1]!.streamSeq } : {}),
        ...(this.positions ? { positions: this.positions } : {}),
      });
      this.positions = res.after;
      this.sideEffectsDone = new Map();
      this.position = Math.max(this.position, res.last);
      this.o.nc.publish(this.o.names.subjects.projectorPosition, JSON.stringify({ position: this.position }));
      for (const [p, plan] of res.plans) {
        await p.afterCommit?.(plan);
        this.sideEffectsDone.set(p.name, res.last);
      }
      this.consumer.ack(msgs[msgs.length - 1]!);
      this.stats.batches++;
      this.stats.applied += res.applied;
      this.stats.position = this.position;
      this.stats.lastBatch = { events: events.length, ms: performance.now() - started };
      this.log.debug({ events: events.length, applied: res.applied, from: events[0]!.streamSeq, to: res.last, ms: Math.round(this.stats.lastBatch.ms) }, 'batch committed');
      this.headFailures = { seq: 0, count: 0 };
      this.isolate = false;
    } catch (err) {
      this.failure = { msgs, err };
    }
  }

  private batchFailed(msgs: JsMsg[], e: unknown): Promise<'ok' | 'failed' | 'wait'> | 'ok' | 'failed' | 'wait' {
    // The cache may hold state that did not commit (this batch's, and any routed after it).
    this.o.live?.reset();
    if (e instanceof RetryLater) {
      this.log.info({ reason: e.message }, 'batch postponed');
      return 'wait';
    }
    if (e instanceof OutOfOrder) {
      this.log.warn({ err: e }, 'batch out of order; re-reading from the checkpoint');
      return 'failed';
    }
    return this.failed(msgs, e);
  }

  /**
   * A batch failed. Retried one event at a time from the checkpoint; when the event at the
   * head has failed alone as often as the consumer's max_deliver, it is kept in CHAT_DLQ
   * (marked skipped) and every projection's checkpoint moves onto it, so the projector moves on;
   * `chatctl dlq list` shows it, and a rebuild after the fix applies it.
   */
  private async failed(msgs: readonly JsMsg[], err: unknown): Promise<'ok' | 'failed'> {
    this.stats.failures++;
    const head = msgs[0]!;
    if (!this.isolate || msgs.length !== 1) {
      this.isolate = true;
      this.log.error({ err, from: head.seq, to: msgs[msgs.length - 1]!.seq }, 'batch failed; retrying one event at a time');
      return 'failed';
    }
    if (this.headFailures.seq !== head.seq) this.headFailures = { seq: head.seq, count: 0 };
    const attempts = ++this.headFailures.count;
    if (!shouldDeadLetter(attempts, this.consumer.maxDeliver)) {
      this.log.error({ err, seq: head.seq, attempts }, 'event failed; retrying');
      return 'failed';
    }
    await deadLetterMessage(this.o.js, this.o.names, head, { consumer: this.o.names.consumers.projector, error: err, skipped: true, attempts });
    // It is the head (everything before it is applied): moving every checkpoint onto it skips exactly this event.
    for (const p of this.projections) {
      await advanceCheckpoint(this.o.pool, p.name, head.seq);
      if (p.plan) await advanceCheckpoint(this.o.pool, sideEffectsCheckpoint(p.name), head.seq);
    }
    this.headFailures = { seq: 0, count: 0 };
    this.stats.deadLettered++;
    this.log.error({ err, seq: head.seq, subject: head.subject, attempts }, 'event failed on every attempt: dead-lettered and skipped');
    this.isolate = false;
    this.needsOpen = true;
    return 'ok';
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
