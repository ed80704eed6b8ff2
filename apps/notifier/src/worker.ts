import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ConnectionRegistry } from '@chat/redis';
import { Collapser, type Carrier, type Clock, type FlushOutcome } from './collapse';
import { postPush, retryDelayMs } from './gateway';
import { NotifyJob } from './job';
import type { ProjectionGate } from './gate';
import { buildPushPayload, type PushContent } from './payload';
import type { NotifierStore } from './store';
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
}

const carrierOf = (msg: JsMsg): Carrier => ({
  ack: () => msg.ack(),
  nak: (d) => msg.nak(d),
  term: () => msg.term(),
  working: () => msg.working(),
  get deliveryCount() {
    return msg.info.deliveryCount;
  },
});

/**
 * The push worker (`notifier-jobs` on CHAT_NOTIFY; the projector queues one job per recipient
 * with no connected device): collapses jobs per (user, conversation), checks mute and presence
 * right before each push, waits until the read models hold the message (for the badge), adds
 * the badge (and, with CHAT_PUSH_PREVIEW, the text) and POSTs the payload.
 */
export class PushWorker {
  readonly collapser: Collapser;
  private closing = false;
  private readonly inFlight = new Set<Promise<FlushOutcome>>();

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

  /** pullLoop handler. */
  async handle(msg: JsMsg): Promise<void> {
    let job: NotifyJob;
    try {
      job = NotifyJob.parse(msg.json());
    } catch (err) {
      this.o.log.warn({ err, seq: msg.seq }, 'invalid push job dropped');
      msg.term();
      return;
    }
    this.collapser.add(job, carrierOf(msg));
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

  private async push(c: Omit<PushContent, 'badge'>, carrier: Carrier): Promise<FlushOutcome> {
    const { log, stats } = this.o;
    if ((await this.o.store.muted(c.conversationId, [c.userId])).size) {
      stats.dropped++;
      return { kind: 'dropped' };
    }
    if ((await this.o.registry.lookup([c.userId])).size) {
      // Back online: the device gets the messages live or by sync.
      stats.dropped++;
      return { kind: 'dropped', online: true };
    }
    const reached = !this.o.gate || (await this.o.gate.reached(c.last.eventSeq, { maxWaitMs: this.o.lagWaitMs ?? 300_000, heartbeat: () => carrier.working?.() }));
    // Shutting down while it waited: the job goes back to the stream for the next notifier.
    if (this.closing) return { kind: 'retry', delayMs: 0 };
    if (!reached) {
      stats.lagGaveUp++;
      log.warn({ conversationId: c.conversationId, seq: c.last.seq, eventSeq: c.last.eventSeq }, 'read models still behind this message; pushing with what they hold');
    }
    const badge = await this.o.store.totalUnread(c.userId);
    const last = this.o.preview ? { ...c.last, ...(await this.o.store.messageText(c.conversationId, c.last.seq)) } : c.last;
    const payload = buildPushPayload({ ...c, last, badge }, { preview: this.o.preview });
    if (c.count > 1) stats.collapsed += c.count - 1;
    if (!this.o.url) {
      log.info({ to: c.userId, conversationId: c.conversationId, title: payload.notification.title, badge }, 'push (no CHAT_PUSH_URL: logged only)');
      stats.dropped++;
      return { kind: 'dropped' };
    }
    const res = await postPush(this.o.url, payload, {
      timeoutMs: this.o.timeoutMs,
      idempotencyKey: `${c.userId}:${c.conversationId}:${c.last.eventSeq}`,
      ...(this.o.token ? { token: this.o.token } : {}),
    });
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
