import type { Consumer, ConsumerMessages, JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { DeliveryEnvelope, type ServerFrame } from '@chat/contracts';
import type { Hub } from '../ws/hub';

/**
 * Pushes frames routed to this edge (chat.dlv.<edgeId>, consumer edge-<edgeId>) to the local
 * sockets of the users they name. Each frame is serialised once for all its sockets. A device
 * that is not here any more simply misses it: it was committed before routing, so its next
 * `sync` returns it.
 */
export class DeliveryConsumer {
  private messages?: ConsumerMessages;
  private done?: Promise<void>;

  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly consumerName: string,
    private readonly hub: Hub,
    private readonly log: Logger,
    private readonly onDelivered: (n: number) => void,
  ) {}

  async start(): Promise<void> {
    const consumer: Consumer = await this.js.consumers.get(this.stream, this.consumerName);
    this.messages = await consumer.consume({ max_messages: 512 });
    this.done = (async () => {
      for await (const m of this.messages!) {
        try {
          this.deliver(DeliveryEnvelope.parse(m.json()));
        } catch (e) {
          this.log.warn({ err: e, seq: m.seq }, 'undeliverable envelope dropped');
        }
        m.ack();
      }
    })();
  }

  deliver(env: DeliveryEnvelope): void {
    const frame = env.frame as ServerFrame;
    const json = JSON.stringify(frame);
    let n = 0;
    for (const userId of env.users) {
      for (const s of this.hub.devicesOf(userId)) {
        if (env.exceptDevice && env.exceptDevice.userId === userId && env.exceptDevice.deviceId === s.deviceId) continue;
        s.sendRaw(json, frame.type);
        n++;
      }
    }
    this.onDelivered(n);
  }

  async stop(): Promise<void> {
    this.messages?.stop();
    await this.done?.catch(() => undefined);
  }
}
