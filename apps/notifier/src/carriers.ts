import type { JsMsg } from '@nats-io/jetstream';
import type { Carrier } from './collapse';

/** The job message itself as the carrier of its one recipient's push. */
export const carrierOf = (msg: JsMsg): Carrier => ({
  ack: () => msg.ack(),
  nak: (d) => msg.nak(d),
  term: () => msg.term(),
  working: () => msg.working(),
  get deliveryCount() {
    return msg.info.deliveryCount;
  },
});

/**
 * One carrier per recipient of a job message that names several (`v: 2`): the message is
 * settled once every recipient's carrier is. Acked when all were acked or terminated (terminated
 * when all were); nak'ed when any asked to retry, with the longest delay asked, so a retry
 * waits for the job's other recipients (at most a collapse window: a held push is settled when
 * its window ends). The redelivery brings every recipient back: those whose slot remembers the
 * job are acked at once, and one whose slot was forgotten meanwhile is pushed again (with the
 * same idempotency key). A recipient's carrier settles once; later calls are ignored.
 */
export function sharedCarriers(message: Carrier, count: number): Carrier[] {
  let open = count;
  let termed = 0;
  let nakDelay: number | undefined;
  const settled = (): void => {
    if (--open > 0) return;
    if (nakDelay !== undefined) message.nak(nakDelay);
    else if (termed === count) message.term();
    else message.ack();
  };
  return Array.from({ length: count }, () => {
    let done = false;
    const once = (f: () => void) => () => {
      if (done) return;
      done = true;
      f();
      settled();
    };
    return {
      ack: once(() => undefined),
      term: once(() => void termed++),
      nak: (delayMs: number) => once(() => void (nakDelay = Math.max(nakDelay ?? 0, delayMs)))(),
      working: () => message.working?.(),
      get deliveryCount() {
        return message.deliveryCount;
      },
    };
  });
}
