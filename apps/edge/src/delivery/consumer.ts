import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { DeliveryEnvelope, type Names, type ServerFrameOf } from '@chat/contracts';
import { deadLetterMessage, shouldDeadLetter } from '@chat/nats';
import type { Hub } from '../ws/hub';

/**
 * Pushes frames routed to this edge (chat.dlv.<edgeId>, consumer edge-<edgeId>) to the local
 * sockets of the users they name. Each frame is serialised once for all its sockets. A device
 * that is not here any more simply misses it: it was committed before routing, so its next
 * `sync` returns it.
 *
 * With `deadLetters` set, an envelope that fails is kept in CHAT_DLQ (`chat.dlq.edge-<id>`) and
 * termed: at once when it can never succeed (not JSON, not an envelope), otherwise naked and
 * retried until its last delivery (the consumer's max_deliver). Without it, it is logged and
 * dropped as before.
 */
export interface DeliveryDeadLetters {
  names: Names;
  /** The consumer's max_deliver; read from the server at start when unset. */
  maxDeliver?: number;
  /** Delay before a failed envelope is redelivered (default 1 s). */
  nakDelayMs?: number;
}

/** A `receipt.batch` as the standard `receipt` frames docs/protocol.md defines. */
export function receiptFrames(batch: ServerFrameOf<'receipt.batch'>): Array<ServerFrameOf<'receipt'>> {
  return batch.receipts.map((r) => ({ type: 'receipt', conversationId: batch.conversationId, userId: r.userId, status: r.status, upToSeq: r.upToSeq, at: r.at }));
}

/** An envelope as the projector writes it, or an error (no redelivery can fix it). */
function envelopeOf(json: unknown): DeliveryEnvelope {
  const e = json as Partial<DeliveryEnvelope> | null;
  if (!e || !Array.isArray(e.users) || typeof e.frame !== 'object' || e.frame === null || typeof (e.frame as { type?: unknown }).type !== 'string') {
    return DeliveryEnvelope.parse(json);
  }
  return e as DeliveryEnvelope;
}

/** What the edge learns from the frames passing through it. */
export interface DeliveryObserver {
  /** A `conversation.updated` (members after the change), routed to `users`. */
  conversationUpdated?(frame: ServerFrameOf<'conversation.updated'>, users: readonly string[]): void;
  /** A `message.new` handed to at least one of the user's devices here. */
  handed?(userId: string, conversationId: string, seq: number): void;
}

export class DeliveryConsumer {
  private maxDeliver = -1;

  private messages?: ConsumerMessages;
  private done?: Promise<void>;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly consumerName: string,
    private readonly hub: Hub,
    private readonly log: Logger,
    private readonly onDelivered: (n: number) => void,
    private readonly deadLetters?: DeliveryDeadLetters,
    private readonly observe: DeliveryObserver = {},
  ) {}

  async start(): Promise<void> {
    const consumer: Consumer = await this.js.consumers.get(this.stream, this.consumerName);
    if (this.deadLetters) this.maxDeliver = this.deadLetters.maxDeliver ?? (await consumer.info(true)).config.max_deliver ?? -1;
    this.messages = await consumer.consume({ max_messages: 512 });
    this.done = (async () => {
      for await (const m of this.messages!) {
        let envelopes: DeliveryEnvelope[];
        try {
          // One envelope, or several for this edge batched into one publish. Written by the
          // projector: the shape is checked, not validated field by field again.
          const body = m.json<unknown>();
          envelopes = (Array.isArray(body) ? body : [body]).map(envelopeOf);
        } catch (e) {
          // Not JSON or not an envelope: no redelivery can fix it.
          await this.fail(m, e, true);
          continue;
        }
        try {
          for (const env of envelopes) this.deliver(env);
          m.ack();
        } catch (e) {
          await this.fail(m, e, false);
        }
      }
    })();
  }

  private async fail(m: JsMsg, err: unknown, permanent: boolean): Promise<void> {
    const dl = this.deadLetters;
    if (!dl) {
      this.log.warn({ err, seq: m.seq }, 'undeliverable envelope dropped');
      m.ack();
      return;
    }
    if (!permanent && !shouldDeadLetter(m.info.deliveryCount, this.maxDeliver)) {
      this.log.warn({ err, seq: m.seq, delivery: m.info.deliveryCount }, 'delivering an envelope failed; retrying');
      m.nak(dl.nakDelayMs ?? 1_000);
      return;
    }
    try {
      await deadLetterMessage(this.js, dl.names, m, { consumer: this.consumerName, error: err });
      this.log.warn({ err, seq: m.seq, delivery: m.info.deliveryCount }, 'undeliverable envelope dead-lettered');
    } catch (e) {
      // Not stored: leave it to be redelivered (or to expire with CHAT_DELIVERY's max age).
      this.log.error({ err: e, seq: m.seq }, 'dead-lettering an envelope failed');
      m.nak(dl.nakDelayMs ?? 1_000);
    }
  }

  deliver(env: DeliveryEnvelope): void {
    const frame = env.frame;
    if (frame.type === 'conversation.updated') this.observe.conversationUpdated?.(frame, env.users);
    const handed = frame.type === 'message.new' && this.observe.handed ? frame : undefined;
    const json = JSON.stringify(frame);
    // Group receipts: one `receipt.batch` to connections that asked for it, the same content as
    // standard `receipt` frames (one per member and status) to the others.
    let receipts: string[] | undefined;
    let n = 0;
    for (const userId of env.users) {
      let here = false;
      for (const s of this.hub.devicesOf(userId)) {
        if (env.exceptDevice && env.exceptDevice.userId === userId && env.exceptDevice.deviceId === s.deviceId) continue;
        if (frame.type === 'receipt.batch' && !s.features.has('receipt.batch')) {
          receipts ??= receiptFrames(frame).map((r) => JSON.stringify(r));
          for (const r of receipts) s.sendRaw(r, 'receipt');
        } else s.sendRaw(json, frame.type);
        n++;
        here = true;
      }
      if (here && handed) this.observe.handed!(userId, handed.conversationId, handed.seq);
    }
    this.onDelivered(n);
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    await this.done?.catch(() => undefined);
  }
}
