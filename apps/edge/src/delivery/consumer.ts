import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { DeliveryEnvelope, ROUTED_THROUGH_HEADER, type Names } from '@chat/contracts';
import { deadLetterMessage, shouldDeadLetter } from '@chat/nats';
import type { HubFanOut } from './fanOut';

/**
 * Pushes frames routed to this edge (chat.dlv.<edgeId>, consumer edge-<edgeId>) to the local
 * sockets of the users they name (through the HubFanOut). A device that is not here any more
 * simply misses it: its next `sync` returns it. A publish's ROUTED_THROUGH_HEADER is reported
 * once its envelopes are out (`onRoutedThrough`): the hand-over at the append relies on it.
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

/** An envelope as the projector writes it, or an error (no redelivery can fix it). */
function envelopeOf(json: unknown): DeliveryEnvelope {
  const e = json as Partial<DeliveryEnvelope> | null;
  if (!e || !Array.isArray(e.users) || typeof e.frame !== 'object' || e.frame === null || typeof (e.frame as { type?: unknown }).type !== 'string') {
    return DeliveryEnvelope.parse(json);
  }
  return e as DeliveryEnvelope;
}

export class DeliveryConsumer {
  private maxDeliver = -1;

  private messages?: ConsumerMessages;
  private done?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly consumerName: string,
    private readonly fanOut: HubFanOut,
    private readonly log: Logger,
    private readonly deadLetters?: DeliveryDeadLetters,
    /** Every routed frame up to this CHAT_EVENTS sequence has been handed to the sockets here. */
    private readonly onRoutedThrough?: (streamSeq: number) => void,
    /** Creates the consumer again when the server says it is gone (without it, reading stops there). */
    private readonly ensure?: () => Promise<unknown>,
  ) {}

  async start(): Promise<void> {
    let consumer: Consumer = await this.js.consumers.get(this.stream, this.consumerName);
    if (this.deadLetters) this.maxDeliver = this.deadLetters.maxDeliver ?? (await consumer.info(true)).config.max_deliver ?? -1;
    let messages = (this.messages = await consumer.consume({ max_messages: 512 }));
    this.done = (async () => {
      for (;;) {
        let gone = false;
        void this.watchForDeletion(messages, () => (gone = true));
        for await (const m of messages) await this.handle(m);
        if (this.stopped || !gone) return;
        consumer = await this.recreate();
        if (this.stopped) return;
        messages = this.messages = await consumer.consume({ max_messages: 512 });
      }
    })();
  }

  /**
   * Calls `onGone` and stops `messages` when the server says the consumer is gone (deleted by
   * an operator, by `chatctl streams apply` re-creating CHAT_DELIVERY, or by its idle
   * threshold while this edge could not pull). nats.js alone would notice only two missed
   * heartbeats later (about 45 s), and then pull from a consumer nobody re-creates.
   */
  private async watchForDeletion(messages: ConsumerMessages, onGone: () => void): Promise<void> {
    if (!this.ensure) return;
    for await (const s of messages.status()) {
      if (s.type === 'consumer_deleted' || s.type === 'consumer_not_found') {
        this.log.warn({ consumer: this.consumerName, status: s.type }, 'delivery consumer gone; re-creating it');
        onGone();
        messages.stop();
        return;
      }
    }
  }

  /** Re-creates the consumer (waiting for the stream if it is being re-created too); retried every second until it works or the edge stops. */
  private async recreate(): Promise<Consumer> {
    for (;;) {
      try {
        await this.ensure!();
        return await this.js.consumers.get(this.stream, this.consumerName);
      } catch (err) {
        if (this.stopped) throw err;
        this.log.warn({ err, consumer: this.consumerName }, 're-creating the delivery consumer failed; retrying');
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    let envelopes: DeliveryEnvelope[];
    try {
      // One envelope, or several for this edge batched into one publish. Written by the
      // projector: the shape is checked, not validated field by field again.
      const body = m.json<unknown>();
      envelopes = (Array.isArray(body) ? body : [body]).map(envelopeOf);
    } catch (e) {
      // Not JSON or not an envelope: no redelivery can fix it.
      await this.fail(m, e, true);
      return;
    }
    try {
      for (const env of envelopes) this.fanOut.deliver(env);
      m.ack();
      const through = Number(m.headers?.get(ROUTED_THROUGH_HEADER));
      if (through > 0) this.onRoutedThrough?.(through);
    } catch (e) {
      await this.fail(m, e, false);
    }
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

  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await this.done?.catch(() => undefined);
  }
}
