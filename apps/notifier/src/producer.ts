import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { MessageSent, parsePreferenceEvent, type Names } from '@chat/contracts';
import type { ConnectionRegistry } from '@chat/redis';
import { jobId, type NotifyJob } from './job';
import type { ProjectionGate } from './gate';
import type { NotifierStore } from './store';
import type { NotifierStats } from './stats';


/**
 * The job producer (`notifier` on CHAT_EVENTS): for each MessageSent, one job on CHAT_NOTIFY
 * per recipient who is offline (no device in the registry) and has not muted the conversation;
 * MemberMuteChanged events feed `notification_mutes`. Idempotent by `Nats-Msg-Id:
 * <eventSeq>:<userId>` (CHAT_NOTIFY's duplicate window), so no checkpoint: a redelivered event
 * queues nothing twice. Events of one conversation run in order.
 */
export class JobProducer {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly prefPrefix: string;
  private readonly convPrefix: string;

  constructor(
    private readonly o: {
      js: JetStreamClient;
      names: Names;
      store: NotifierStore;
      registry: ConnectionRegistry;
      preview: boolean;
      log: Logger;
      stats: NotifierStats;
      /** Holds a message until membership and unread counts include it. */
      gate: ProjectionGate;
      /** How long a message may wait at the gate before it goes ahead with what is there. */
      lagWaitMs: number;
    },
  ) {
    this.prefPrefix = o.names.subjects.prefAll.slice(0, -1);
    this.convPrefix = o.names.subjects.evtConvAll.slice(0, -1);
  }

  /** pullLoop handler: chains the message behind earlier ones of its conversation. */
  handle(msg: JsMsg): Promise<void> {
    // chat.pref.<conv>.<user> and chat.evt.conv.<conv>: the conversation id; receipts: one chain.
    const conv = msg.subject.startsWith(this.prefPrefix)
      ? msg.subject.slice(this.prefPrefix.length).split('.')[0]!
      : msg.subject.startsWith(this.convPrefix)
        ? msg.subject.slice(this.convPrefix.length)
        : '';
    const prev = this.chains.get(conv) ?? Promise.resolve();
    const next = prev.then(() => this.process(msg));
    const tail = next.catch(() => undefined);
    this.chains.set(conv, tail);
    void tail.then(() => {
      if (this.chains.get(conv) === tail) this.chains.delete(conv);
    });
    return next;
  }

  private async process(msg: JsMsg): Promise<void> {
    const { log, stats } = this.o;
    if (msg.subject.startsWith(this.prefPrefix)) {
      const e = parsePreferenceEvent(msg.json());
      await this.o.store.applyMute(e, msg.seq);
      stats.mutes++;
      msg.ack();
      return;
    }
    const json = msg.json<{ type?: string }>();
    if (json?.type !== 'MessageSent') {
      msg.ack();
      return;
    }
    const e = MessageSent.parse(json);
    // Membership (proj-messages) and unread counts (proj-conversations) must include this
    // message: waiting costs no redelivery and keeps the order.
    if (!(await this.o.gate.reached(msg.seq, { maxWaitMs: this.o.lagWaitMs, heartbeat: () => msg.working() }))) {
      stats.lagGaveUp++;
      log.warn({ conversationId: e.conversationId, seq: e.seq, eventSeq: msg.seq, waitedMs: this.o.lagWaitMs }, 'read models still behind this message; pushing with what they hold');
    }
    const r = await this.o.store.members(e.conversationId, e.seq, e.senderId);
    if (!r.known || r.userIds.length === 0) {
      log.warn({ conversationId: e.conversationId, seq: e.seq, known: r.known }, 'no recipients known for a message; no push');
      msg.ack();
      return;
    }
    const online = await this.o.registry.lookup(r.userIds);
    const offline = r.userIds.filter((u) => !online.has(u));
    if (offline.length === 0) {
      stats.skippedOnline += r.userIds.length;
      msg.ack();
      return;
    }
    const muted = await this.o.store.muted(e.conversationId, offline);
    const targets = offline.filter((u) => !muted.has(u));
    stats.skippedOnline += r.userIds.length - offline.length;
    stats.skippedMuted += muted.size;
    for (const userId of targets) {
      const job: NotifyJob = {
        v: 1,
        jobId: jobId(msg.seq, userId),
        userId,
        conversationId: e.conversationId,
        ...(r.kind ? { conversationKind: r.kind } : {}),
        ...(r.title ? { conversationTitle: r.title } : {}),
        messageId: e.messageId,
        seq: e.seq,
        senderId: e.senderId,
        sentAt: e.sentAt,
        eventSeq: msg.seq,
        ...(this.o.preview ? { text: e.body.text } : {}),
      };
      const ack = await this.o.js.publish(this.o.names.subjects.notify(userId), JSON.stringify(job), { msgID: job.jobId });
      if (!ack.duplicate) stats.jobs++;
    }
    log.debug({ conversationId: e.conversationId, seq: e.seq, jobs: targets.length, online: r.userIds.length - offline.length, muted: muted.size }, 'jobs queued');
    msg.ack();
  }
}
