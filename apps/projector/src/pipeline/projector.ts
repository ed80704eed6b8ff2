import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { HANDED_BY_HEADER, readEvent, readPreferenceEvent, type Names } from '@chat/contracts';
import { SessionLock, type Pool } from '@chat/postgres';
import { projectorConsumerConfig, PROJECTION_MAX_ACK_PENDING, type StreamSettings } from '@chat/streams';
import { deadLetterMessage } from '@chat/nats';
import type { StoredEvent, StreamEvent } from '../projection';
import type { LiveRouter } from '../live/liveRouter';
import { applyBatch, isPreference, lockPositions, PROJECTOR_LOCK, resumePoint, skipEvent, type AnyProjection, type Positions } from './applier';
import { CommitQueue, type Routed } from './commitQueue';
import { FailurePolicy, pauseAfter, type Step } from './failurePolicy';
import { LockLoop } from './lockLoop';
import { OrderedConsumer, type OrderedConsumerOptions } from './orderedConsumer';
import { isConsumerGone, isUnavailable, StallWatch } from './stallWatch';

export { STALLED_CONSUMER_MS } from './stallWatch';

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
  /** Told of every committed batch: its events and seconds from read to ack (the metrics). */
  onBatch?: (events: number, seconds: number) => void;
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
 *
 * Parts: LockLoop (the writer lock), OrderedConsumer (reads), CommitQueue (stage 2),
 * applyBatch (the transaction), FailurePolicy (what a failure leads to), StallWatch (a stuck
 * consumer).
 */
export class Projector {
  readonly stats: ProjectorStats = { batches: 0, applied: 0, failures: 0, resets: 0, position: 0, deadLettered: 0, lockLosses: 0, lastBatch: { events: 0, ms: 0 } };
  refusal: Refusal = null;
  private readonly log: Logger;
  private readonly consumer: OrderedConsumer;
  private readonly prefPrefix: string;
  private readonly lock: LockLoop;
  private readonly commits: CommitQueue;
  private readonly policy = new FailurePolicy();
  private readonly stall: StallWatch;
  private running: Promise<void> | undefined;
  /** Lowest checkpoint over the projections. */
  private position = 0;
  /** Live routing has covered the stream up to here (LIVE_CHECKPOINT). */
  private liveMark = 0;
  /** Every position as last committed (read at open): transactions compare-and-set them. */
  private positions: Positions | undefined;
  /** Side effects done since the last commit, recorded by the next batch's transaction. */
  private sideEffectsDone = new Map<string, number>();
  /** The consumer is re-created at the checkpoint before the next read. */
  private needsOpen = true;
  private commitRequests: Subscription | undefined;

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
    this.lock = new LockLoop({
      log: this.log,
      acquire: (a) => SessionLock.acquire(o.pool, PROJECTOR_LOCK, a),
      standbyRetryMs: o.standbyRetryMs,
      onLost: () => {
        this.stats.lockLosses++;
        this.interrupt();
      },
    });
    this.commits = new CommitQueue({
      batchSize: this.batchSize,
      intervalMs: o.commitIntervalMs ?? 0,
      mayGather: () => !this.policy.isolating && this.lock.holding,
      commit: (batch) => this.commit(batch),
    });
    this.stall = new StallWatch(o.stalledConsumerMs);
  }

  /** Whether this instance holds the writer lock (the others stand by). */
  get holding(): boolean {
    return this.lock.holding;
  }

  private get batchSize(): number {
    return Math.max(1, Math.min(this.o.batchSize, 1000));
  }

  start(): this {
    // A reader waiting for the read models (read after ack) asks for the commit now.
    this.commitRequests ??= this.o.nc.subscribe(this.o.names.subjects.projectorCommit, { callback: () => this.commits.hurry() });
    this.running ??= this.run();
    return this;
  }

  get done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Finishes the batch in hand, then stops. */
  async stop(): Promise<void> {
    this.commitRequests?.unsubscribe();
    this.lock.stop();
    this.interrupt();
    await this.running?.catch(() => undefined);
    await this.consumer.close();
    for (const p of this.projections) await p.close?.().catch((err: unknown) => this.log.warn({ err, projection: p.name }, 'projection close failed'));
  }

  private run(): Promise<void> {
    return this.lock.run(async () => {
      try {
        this.needsOpen = true;
        await this.runLocked();
      } finally {
        await this.consumer.close();
      }
    });
  }

  private async runLocked(): Promise<void> {
    let failures = 0;
    while (this.lock.holding) {
      let step: Step;
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
      // Nothing in flight may commit after the consumer is re-read (a failure among it is read again).
      await this.commits.settle();
      this.needsOpen = true;
      failures++;
      await this.lock.pause(pauseAfter(step, failures));
    }
    await this.commits.drain();
  }

  private interrupt(): void {
    this.commits.interrupt();
    this.consumer.interrupt();
  }

  private async step(): Promise<Step> {
    if (this.needsOpen) {
      if (!(await this.open())) return 'refused';
    }
    if (this.commits.failed) return (await this.settle()) ?? 'failed';
    const isolating = this.policy.isolating;
    const msgs = await this.consumer.take(isolating ? 1 : this.batchSize, this.o.idleWaitMs ?? 5_000, isolating ? 0 : (this.o.lingerMs ?? 0));
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
    this.stall.delivered();
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
    this.liveMark = positions.live;
    const streamLast = (await jsm.streams.info(names.streams.events)).state.last_seq;
    const { checkpoint, start, ahead } = resumePoint(positions, this.projections, streamLast);
    if (ahead.length) {
      const reason = `checkpoint past the end of ${names.streams.events} (last sequence ${streamLast}): ${ahead.map((c) => `${c.name} at ${c.at}`).join(', ')}`;
      const fix = 'the stream was re-created; rebuild the read models from it (`npm run rebuild`), or start them empty for the new stream (`npx chatctl projections reset`)';
      if (this.refusal?.reason !== reason) this.log.error({ reason, fix }, 'projector refuses to run');
      this.refusal = { reason, fix };
      return false;
    }
    this.refusal = null;
    this.positions = positions;
    this.position = checkpoint;
    await this.consumer.open(start);
    this.needsOpen = false;
    this.stall.opened();
    this.stats.resets++;
    this.stats.position = this.position;
    this.log.info({ checkpoint: this.position, start }, 'projector reading');
    return true;
  }

  /** Called when a read found nothing: false when the consumer is gone or stuck (StallWatch) and is to be re-created. */
  private async healthy(): Promise<boolean> {
    const now = Date.now();
    try {
      const info = await this.consumer.info();
      const stalledMs = this.stall.answered(info.num_pending, now);
      if (stalledMs === null) return true;
      this.log.warn({ pending: info.num_pending, stalledMs }, 'consumer delivers nothing though events wait; re-creating it');
      return false;
    } catch (e) {
      if (isConsumerGone(e)) {
        this.log.warn('consumer is gone; re-creating it');
        return false;
      }
      if (!isUnavailable(e)) throw e;
      const stalledMs = this.stall.unanswered(now);
      if (stalledMs === null) return true;
      await this.o.jsm.streams.info(this.o.names.streams.events);
      this.log.warn({ stalledMs }, 'consumer unavailable while its stream answers; re-creating it');
      return false;
    }
  }

  private parse(m: JsMsg): StoredEvent<StreamEvent> {
    const json = m.json();
    const handedBy = m.headers?.get(HANDED_BY_HEADER);
    return { streamSeq: m.seq, event: m.subject.startsWith(this.prefPrefix) ? readPreferenceEvent(json) : readEvent(json), ...(handedBy ? { handedBy } : {}) };
  }

  /**
   * Two stages, in stream order. Stage 1 (here, awaited): parse, fold into the membership
   * cache, start publishing the live frames. Stage 2 (the CommitQueue, behind): one
   * transaction for everything stage 1 has routed since the last one, which commits only once
   * their publishes are stored, then the side effects and the ack. Live delivery waits for a
   * commit only when the queue is behind. Any failure stops both stages: the membership cache
   * is dropped and the consumer is re-read from the checkpoint.
   */
  private async handle(msgs: JsMsg[]): Promise<Step> {
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
        const chat = events.filter((e): e is StoredEvent => !isPreference(e) && e.streamSeq > this.liveMark);
        await live.prepare(this.o.pool, chat);
        delivering = live.deliver(live.plan(chat));
        // Settled by the transaction before COMMIT; a rejection must not go unhandled meanwhile.
        delivering.catch(() => undefined);
        this.liveMark = Math.max(this.liveMark, events[events.length - 1]!.streamSeq);
      } catch (e) {
        return (await this.settle()) ?? this.batchFailed(msgs, e);
      }
    }
    this.commits.push({ msgs: msgs.slice(0, events.length), events, delivering, started });
    // One event at a time while isolating a failure, and when the commits fall behind.
    if (this.policy.isolating || unreadable !== undefined || this.commits.behind) {
      const failed = await this.settle();
      if (failed) return failed;
    }
    if (unreadable !== undefined) {
      this.policy.isolate();
      return 'failed';
    }
    return 'ok';
  }

  /** Stage 2 of routed batches: the transaction, the position, the side effects, the ack. */
  private async commit({ msgs, events, delivering, started }: Routed): Promise<void> {
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
    this.o.onBatch?.(events.length, this.stats.lastBatch.ms / 1000);
    this.log.debug({ events: events.length, applied: res.applied, from: events[0]!.streamSeq, to: res.last, ms: Math.round(this.stats.lastBatch.ms) }, 'batch committed');
    this.policy.recovered();
  }

  /** Waits for every commit in flight; a failure among them is handled (and returned) here. */
  private async settle(): Promise<Step | undefined> {
    const f = await this.commits.settle();
    return f ? this.batchFailed(f.msgs, f.err) : undefined;
  }

  private batchFailed(msgs: readonly JsMsg[], err: unknown): Promise<Step> {
    // The cache may hold state that did not commit (this batch's, and any routed after it).
    this.o.live?.reset();
    return this.failed(msgs, err);
  }

  /** A batch failed: carries out what the FailurePolicy decides. */
  private async failed(msgs: readonly JsMsg[], err: unknown): Promise<Step> {
    const head = msgs[0]!;
    const action = this.policy.failed(err, head.seq, msgs.length, this.consumer.maxDeliver);
    if (action.kind !== 'postpone' && action.kind !== 'reread') this.stats.failures++;
    switch (action.kind) {
      case 'postpone':
        this.log.info({ reason: action.reason }, 'batch postponed');
        return 'wait';
      case 'reread':
        this.log.warn({ err }, 'batch out of order; re-reading from the checkpoint');
        return 'failed';
      case 'isolate':
        this.log.error({ err, from: head.seq, to: msgs[msgs.length - 1]!.seq }, 'batch failed; retrying one event at a time');
        return 'failed';
      case 'retry':
        this.log.error({ err, seq: head.seq, attempts: action.attempts }, 'event failed; retrying');
        return 'failed';
      case 'deadLetter':
        await this.deadLetter(head, err, action.attempts);
        return 'ok';
      default: {
        const never: never = action;
        throw new Error(`unknown failure action ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * The event at the head failed alone on every attempt: it is kept in CHAT_DLQ (marked
   * skipped) and every projection's checkpoint moves onto it, so the projector moves on;
   * `chatctl dlq list` shows it, and a rebuild after the fix applies it.
   */
  private async deadLetter(head: JsMsg, err: unknown, attempts: number): Promise<void> {
    await deadLetterMessage(this.o.js, this.o.names, head, { consumer: this.o.names.consumers.projector, error: err, skipped: true, attempts });
    // It is the head (everything before it is applied): moving every checkpoint onto it skips exactly this event.
    await skipEvent(this.o.pool, this.projections, head.seq);
    this.policy.recovered();
    this.stats.deadLettered++;
    this.log.error({ err, seq: head.seq, subject: head.subject, attempts }, 'event failed on every attempt: dead-lettered and skipped');
    this.needsOpen = true;
  }
}
