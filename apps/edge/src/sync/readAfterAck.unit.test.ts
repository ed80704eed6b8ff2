import { describe, expect, it } from 'vitest';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { ReadAfterAck } from './readAfterAck';

/** A connection that records the commit requests and lets the test announce positions. */
function harness(readPosition = 0) {
  const published: string[] = [];
  let announce: (position: number) => void = () => undefined;
  const nc = {
    publish: (subject: string) => void published.push(subject),
    subscribe: (_subject: string, o: { callback: (err: Error | null, msg: Msg) => void }) => {
      announce = (position) => o.callback(null, { json: () => ({ position }) } as unknown as Msg);
      return { drain: async () => undefined };
    },
  } as unknown as NatsConnection;
  const raa = new ReadAfterAck({
    nc,
    jsm: {} as JetStreamManager,
    stream: 'CHAT_EVENTS',
    positionSubject: 'pos',
    commitSubject: 'commit',
    readPosition: async () => readPosition,
    maxWaitMs: 5_000,
  });
  raa.start();
  return { raa, published, announce: (p: number) => announce(p) };
}

describe('ReadAfterAck', () => {
  it('asks for a commit once per higher target, and again when a commit leaves a waiter short', async () => {
    const { raa, published, announce } = harness();
    const reached = raa.reach(10);
    await new Promise((r) => setImmediate(r));
    expect(published).toEqual(['commit']);

    // The projector had routed only up to 6 when asked: it committed that, and is asked again.
    announce(6);
    expect(published).toEqual(['commit', 'commit']);
    announce(10);
    await expect(reached).resolves.toBe(true);
    // Nobody waits any more: no more requests.
    announce(12);
    expect(published).toEqual(['commit', 'commit']);
    await raa.stop();
  });

  it('a target already reached asks for nothing', async () => {
    const { raa, published } = harness(20);
    await expect(raa.reach(15)).resolves.toBe(true);
    expect(published).toEqual([]);
    await raa.stop();
  });
});
