import type { JetStreamPublisher } from '@chat/nats';
import { MAX_NOTIFY_RECIPIENTS, notifyJobId, receiptFrame, type EventOf, type Names, type NotifyMessage } from '@chat/contracts';
import type { DeviceRoute } from '@chat/redis';
import type { Pool, PoolClient } from '@chat/postgres';
import type { StoredEvent } from '../projection';
import { messageRoutes, type ConversationInfo, type RouteMember } from '../messages/evolve';
import { receiptRoutes, type ReceiptEvent } from '../receipts/evolve';
import type { Route, Router } from '../routing';
import type { MembershipCache } from './membership';

/** What live delivery does for one batch: frames to the members' edges, push jobs for those with no device. */
export interface LivePlan {
  routes: Route[];
  /** Each message's recipients (the sender left out), for push jobs to those who turn out offline. */
  messages: Array<{ streamSeq: number; event: EventOf<'MessageSent'>; recipients: string[]; conversation: ConversationInfo | undefined }>;
  /** Conversations whose cached state this batch changed (dropped if the batch does not commit). */
  touched: Set<string>;
  /** The batch's last stream sequence: every event up to it is routed once this plan is (ROUTED_THROUGH_HEADER). */
  through: number;
}

export interface LiveStats {
  batches: number;
  routes: number;
  publishes: number;
  /** Recipients queued for a push (one CHAT_NOTIFY message carries a message's recipients). */
  pushJobs: number;
}

const isReceipt = (e: StoredEvent): e is StoredEvent<ReceiptEvent> => e.event.type === 'MessagesDelivered' || e.event.type === 'MessagesRead';

/**
 * Live delivery straight from the event stream, before (and independent of) the Postgres
 * commit: membership comes from the in-memory MembershipCache, devices from the registry, so
 * a message reaches the recipients' edges as soon as the projector has read it.
 *
 * - message.new, message.edited / deleted, conversation.updated: as `messageRoutes` says, to the
 *   members at that event, never back to the sending device, and a message's `message.new` not
 *   to the edge that handed it over at the append (`handedBy`);
 * - receipts in direct conversations: to both members, but not to the edge that handed the
 *   receipt over at its append (`handedBy`); in groups, a read to the reader's other devices
 *   (group receipts to the senders are coalesced after commit by proj-receipts);
 * - a push job on CHAT_NOTIFY for each recipient of a MessageSent with no device anywhere
 *   (mute, collapse and badge are the notifier's).
 *
 * Every publish is stored by JetStream before the batch commits (`deliver` resolves first), so
 * whatever is committed was routed: after a crash only uncommitted events are routed again.
 */
export class LiveRouter {
  readonly stats: LiveStats = { batches: 0, routes: 0, publishes: 0, pushJobs: 0 };

  constructor(
    private readonly o: {
      router: Router;
      membership: MembershipCache;
      publisher: Pick<JetStreamPublisher, 'publish'>;
      names: Names;
    },
  ) {}

  /** Loads the batch's conversations the cache does not hold (state as of the checkpoint). */
  prepare(q: Pool | PoolClient, events: readonly StoredEvent[]): Promise<void> {
    return this.o.membership.ensure(
      q,
      events.map((e) => e.event.conversationId),
    );
  }

  /** Folds the batch into the cache and derives its routes. Pure but for the cache. */
  plan(events: readonly StoredEvent[]): LivePlan {
    const { membership } = this.o;
    membership.nextBatch();
    const touched = new Set<string>();
    const convEvents: StoredEvent[] = [];
    const receipts: Array<StoredEvent<ReceiptEvent>> = [];
    for (const e of events) {
      if (isReceipt(e)) receipts.push(e);
      else {
        convEvents.push(e);
        membership.apply(e.event);
        touched.add(e.event.conversationId);
      }
    }
    // Members after the batch; messageRoutes walks back to each event's members.
    const after = new Map<string, RouteMember[]>();
    const info = new Map<string, ConversationInfo>();
    for (const id of new Set(events.map((e) => e.event.conversationId))) {
      const v = membership.get(id);
      if (!v) continue;
      after.set(id, [...v.members.values()]);
      info.set(id, v);
    }
    const routes = messageRoutes(convEvents, after, info);
    const messages: LivePlan['messages'] = [];
    const sent = new Map<number, StoredEvent<EventOf<'MessageSent'>>>();
    for (const c of convEvents) if (c.event.type === 'MessageSent') sent.set(c.streamSeq, c as StoredEvent<EventOf<'MessageSent'>>);
    for (const r of routes) {
      const stored = r.frame.type === 'message.new' && !r.frame.system ? sent.get(r.streamSeq) : undefined;
      if (!stored) continue;
      // Handed to the devices on the appending edge already: routed to the other edges only.
      if (stored.handedBy) r.skipEdge = stored.handedBy;
      const e = stored.event;
      messages.push({ streamSeq: r.streamSeq, event: e, recipients: r.users.filter((u) => u !== e.senderId), conversation: info.get(e.conversationId) });
    }
    const direct = receipts.filter((r) => info.get(r.event.conversationId)?.kind !== 'group');
    const members = new Map([...after].map(([id, list]) => [id, list.map((m) => m.userId)]));
    routes.push(...receiptRoutes(direct, members));
    for (const r of receipts) {
      if (info.get(r.event.conversationId)?.kind === 'group' && r.event.type === 'MessagesRead') {
        routes.push({ streamSeq: r.streamSeq, frame: receiptFrame(r.event), users: [r.event.userId], exceptDevice: { userId: r.event.userId, deviceId: r.event.deviceId } });
      }
    }
    routes.sort((a, b) => a.streamSeq - b.streamSeq);
    return { routes, messages, touched, through: events[events.length - 1]?.streamSeq ?? 0 };
  }

  /** Drops the cached state: some of it may have been folded from batches that did not commit. */
  reset(): void {
    this.o.membership.clear();
  }

  /** Publishes the frames and push jobs; resolves once JetStream stored all of them. */
  async deliver(plan: LivePlan): Promise<void> {
    const { router, publisher, names } = this.o;
    const users = new Set<string>();
    for (const r of plan.routes) for (const u of r.users) users.add(u);
    for (const m of plan.messages) for (const u of m.recipients) users.add(u);
    if (users.size === 0) return;
    const devices: Map<string, DeviceRoute[]> = await router.lookup(users);
    const jobs: Array<Promise<unknown>> = [];
    let pushed = 0;
    for (const m of plan.messages) {
      // One job per message for its recipients without a connected device (split past MAX_NOTIFY_RECIPIENTS).
      const offline = m.recipients.filter((u) => !devices.get(u)?.length).sort();
      for (let i = 0; i < offline.length; i += MAX_NOTIFY_RECIPIENTS) {
        const userIds = offline.slice(i, i + MAX_NOTIFY_RECIPIENTS);
        const job: NotifyMessage = {
          v: 2,
          userIds,
          conversationId: m.event.conversationId,
          ...(m.conversation ? { conversationKind: m.conversation.kind } : {}),
          ...(m.conversation?.title ? { conversationTitle: m.conversation.title } : {}),
          messageId: m.event.messageId,
          seq: m.event.seq,
          senderId: m.event.senderId,
          sentAt: m.event.sentAt,
          eventSeq: m.streamSeq,
        };
        jobs.push(publisher.publish(names.subjects.notify(job.conversationId), JSON.stringify(job), { msgId: notifyJobId(m.streamSeq, userIds[0]!) }));
        pushed += userIds.length;
      }
    }
    const [publishes] = await Promise.all([router.send(plan.routes, devices, 'live', plan.through), ...jobs]);
    this.stats.batches++;
    this.stats.routes += plan.routes.length;
    this.stats.publishes += publishes as number;
    this.stats.pushJobs += pushed;
  }
}
