import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ConnectionRegistry } from '@chat/redis';
import { carrierOf, sharedCarriers } from './carriers';
import { Collapser, type Carrier, type Clock, type FlushOutcome } from './collapse';
import { postPush, retryDelayMs } from './gateway';
import { NotifyStreamJob, recipientJobs, type NotifyJob } from './job';
import type { ProjectionGate } from './gate';
import { buildPushPayload, type PushContent } from './payload';
import { pairKey, type NotifierStore } from './store';
import type { NotifierStats } from './stats';

export interface PushWorkerOptions {
  store: NotifierStore;
  registry: ConnectionRegistry;
  log: Logger;
  stats: NotifierStats;
  /** CHAT_PUSH_URL; unset: log the push and drop it. */
  url?: string;
  token?: string;
  preview: boolean;
  windowMs: number;
  timeoutMs: number;
  /** The consumer's max_deliver: the delivery that fails last is terminated, not nak'ed. */
  maxDeliver: number;
  /** Holds a push until the read models (unread counts for the badge) include its message. */
  gate?: ProjectionGate;
  /** How long a push may wait at the gate before it goes ahead with what the read models hold (CHAT_PUSH_LAG_WAIT). */
  lagWaitMs?: number;
  clock?: Clock;
  /** Told how long each POST to the push gateway took, with its result (the metrics). */
  onPost?: (result: 'ok' | 'rejected' | 'retry', seconds: number) => void;
}

/** Pushes read and decided together at most (one Redis pipeline, one statement per read). */
const MAX_PUSH_BATCH = 500;

interface Queued {
  c: Omit<PushContent, 'badge'>;
  carrier: Carrier;
  resolve: (o: FlushOutcome) => void;
  reject: (e: unknown) => void;
}

/**
 * The push worker (`notifier-jobs` on CHAT_NOTIFY; the projector queues one job per message for
 * its recipients with no connected device): collapses jobs per (user, conversation); right before pushing, checks
 * presence, waits until the read models hold the message, then checks mutes and blocks (a mute
 * made just before the message is in them by then), adds the badge (and, with
 * CHAT_PUSH_PREVIEW, the text) and POSTs the payload. The pushes due in one turn
 * of the event loop are checked and read together (`pushBatch`).
 */
export class PushWorker {
  readonly collapser: Collapser;
  private closing = false;
  private readonly inFlight = new Set<Promise<FlushOutcome>>();
  private readonly queue: Queued[] = [];

  constructor(private readonly o: PushWorkerOptions) {
    this.collapser = new Collapser({
      windowMs: o.windowMs,
      flush: (c, carrier) => {
        const p = this.push(c, carrier);
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
        return p;
      },
      ...(o.clock ? { clock: o.clock } : {}),
      onError: (err) => o.log.error({ err }, 'push failed unexpectedly; retrying'),
    });
  }

  /** pullLoop handler: a job message stands for one recipient (`v: 1`) or several (`v: 2`), each collapsed on its own. */
  async handle(msg: JsMsg): Promise<void> {
    let jobs: NotifyJob[];
    try {
      jobs = recipientJobs(NotifyStreamJob.parse(msg.json()));
    } catch (err) {
      this.o.log.warn({ err, seq: msg.seq }, 'invalid push job dropped');
      msg.term();
      return;
    }
    // A redelivered job (retried, or not acked before a restart) is counted again.
    this.o.stats.jobs += jobs.length;
    const carriers = jobs.length === 1 ? [carrierOf(msg)] : sharedCarriers(carrierOf(msg), jobs.length);
    jobs.forEach((job, i) => this.collapser.add(job, carriers[i]!));
  }

  /**
   * Stops: pending jobs are nak'ed for another notifier, pushes waiting for the read models stop
   * waiting and are nak'ed too, and the returned promise settles once no push is running (so
   * the caller may then close the connections they use).
   */
  async close(): Promise<void> {
    this.closing = true;
    this.o.gate?.close();
    this.collapser.close();
    await Promise.allSettled([...this.inFlight]);
  }

  /** Queues one push for the next batch; settles with its outcome (rejects if the batch's reads fail: the collapser retries it). */
  private push(c: Omit<PushContent, 'badge'>, carrier: Carrier): Promise<FlushOutcome> {
    return new Promise<FlushOutcome>((resolve, reject) => {
      this.queue.push({ c, carrier, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.drainQueue());
    });
  }

  private drainQueue(): void {
    while (this.queue.length) {
      const batch = this.queue.splice(0, MAX_PUSH_BATCH);
      this.pushBatch(batch).catch((err: unknown) => {
        for (const q of batch) q.reject(err);
      });
    }
  }

  /**
   * The pushes that became due in one turn, together: who is online comes from one Redis
   * pipeline, and only those still offline cost Postgres reads (mutes, then the badges, the
   * preview texts), one statement each for the whole batch. Then one POST per push.
   */
  private async pushBatch(batch: readonly Queued[]): Promise<void> {
    const { stats, store, log } = this.o;
    const online = await this.o.registry.lookup([...new Set(batch.map((q) => q.c.userId))]);
    const offline: Queued[] = [];
    for (const q of batch) {
      if (online.has(q.c.userId)) {
        // Back online: the device gets the messages live or by sync.
        stats.skippedOnline++;
        q.resolve({ kind: 'dropped', online: true });
      } else offline.push(q);
    }
    if (offline.length === 0) return;
    // The read models must hold the messages, and so everything before them (a mute, a block
    // the recipient made a moment earlier), before mutes, blocks, badges and texts are read.
    const eventSeq = Math.max(...offline.map((q) => q.c.last.eventSeq));
    const reached =
      !this.o.gate ||
      (await this.o.gate.reached(eventSeq, {
        maxWaitMs: this.o.lagWaitMs ?? 300_000,
        heartbeat: () => {
          for (const q of offline) q.carrier.working?.();
        },
      }));
    // Shutting down while it waited: the jobs go back to the stream for the next notifier.
    if (this.closing) {
      for (const q of offline) q.resolve({ kind: 'retry', delayMs: 0 });
      return;
    }
    if (!reached) {
      stats.lagGaveUp += offline.length;
      log.warn({ pushes: offline.length, eventSeq }, 'read models still behind these messages; pushing with what they hold');
    }
    const [muted, blocks] = await Promise.all([store.muted(offline.map((q) => q.c)), store.blocks(offline.map((q) => q.c.userId))]);
    const due: Queued[] = [];
    for (const q of offline) {
      if (muted.has(pairKey(q.c))) {
        stats.skippedMuted++;
        q.resolve({ kind: 'dropped' });
      } else if (q.c.senders.every((s) => blocks.get(q.c.userId)?.has(s))) {
        // Only from users the recipient blocks: no push (docs/protocol.md, "Blocking").
        stats.skippedBlocked++;
        q.resolve({ kind: 'dropped' });
      } else due.push(q);
    }
    if (due.length === 0) return;
    const badges = await store.totalUnread(due.map((q) => q.c.userId));
    const texts = this.o.preview ? await store.messageTexts(due.map((q) => ({ conversationId: q.c.conversationId, seq: q.c.last.seq }))) : undefined;
    await Promise.all(
      due.map((q) => {
        const text = texts?.get(`${q.c.conversationId} ${q.c.last.seq}`);
        const last = text === undefined ? q.c.last : { ...q.c.last, text };
        return this.send({ ...q.c, last }, badges.get(q.c.userId) ?? 0, q.carrier).then(q.resolve, q.reject);
      }),
    );
  }

  /** Builds the payload and POSTs it. */
  private async send(c: Omit<PushContent, 'badge'>, badge: number, carrier: Carrier): Promise<FlushOutcome> {
    const { log, stats } = this.o;
    const payload = buildPushPayload({ ...c, badge }, { preview: this.o.preview });
    if (c.count > 1) stats.collapsed += c.count - 1;
    if (!this.o.url) {
      // Logged as if a gateway took it, so the collapse windows behave as they would in production.
      log.info({ to: c.userId, conversationId: c.conversationId, title: payload.notification.title, badge }, 'push (no CHAT_PUSH_URL: logged only)');
      stats.dropped++;
      return { kind: 'sent' };
    }
    const started = performance.now();
    const res = await postPush(this.o.url, payload, {
      timeoutMs: this.o.timeoutMs,
      idempotencyKey: `${c.userId}:${c.conversationId}:${c.last.eventSeq}`,
      ...(this.o.token ? { token: this.o.token } : {}),
    });
    this.o.onPost?.(res.kind, (performance.now() - started) / 1000);
    switch (res.kind) {
      case 'ok':
        stats.pushed++;
        log.debug({ to: c.userId, conversationId: c.conversationId, count: c.count, badge }, 'pushed');
        return { kind: 'sent' };
      case 'rejected':
        stats.rejected++;
        log.warn({ to: c.userId, conversationId: c.conversationId, status: res.status, body: res.body }, 'push gateway refused the push; not retried');
        return { kind: 'rejected' };
      case 'retry': {
        if (carrier.deliveryCount >= this.o.maxDeliver) {
          stats.rejected++;
          log.error({ to: c.userId, conversationId: c.conversationId, status: res.status, error: res.error, deliveries: carrier.deliveryCount }, 'push failed on its last delivery; given up');
          return { kind: 'rejected' };
        }
        stats.retried++;
        const delayMs = Math.min(60_000, Math.max(retryDelayMs(carrier.deliveryCount), res.retryAfterMs ?? 0));
        log.warn({ to: c.userId, conversationId: c.conversationId, status: res.status, error: res.error, delayMs }, 'push failed; retrying');
        return { kind: 'retry', delayMs };
      }
    }
  }
}
