import { describe, expect, it } from 'vitest';
import { listDeadLetters } from '@chat/ops';
import { messagesProjection } from './messages/projection';
import { created, publishEvents, sent, startProjections, waitForCheckpoint, useTestEnv } from './testing/env';

const t = useTestEnv();

/** Three deliveries, one second apart at most: a poisoned event is passed within seconds. */
const delivery = { projection: { maxDeliver: 3, backoffMs: [1_000] } };

describe('a poisoned event', () => {
  it('is dead-lettered on its last delivery, marked skipped, and the projection moves on past it', async () => {
    const { names, pool, nats } = t.env;
    const stream = names.streams.events;

    const [createdSeq] = await publishEvents(nats.js, names, [created('p1', ['a', 'b'])]);
    const poison = (await nats.js.publish(names.subjects.evtConv('p1'), '{"type":"MessageSent","v":1,"this is not":"an event"}')).seq;
    const after = await publishEvents(nats.js, names, [sent('p1', 1, 'a'), sent('p1', 2, 'a')]);
    expect(poison).toBeGreaterThan(createdSeq!);

    const run = startProjections(t.env, (n) => [messagesProjection(n)], { batchSize: 10, idleWaitMs: 1_000, delivery });
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, after[after.length - 1]!, 30_000);
    } finally {
      await run.stop();
    }

    expect(run.projector.stats.deadLettered).toBe(1);
    const dead = await listDeadLetters(nats.js, names, { consumer: names.consumers.projector });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ stream, subject: names.subjects.evtConv('p1'), seq: poison, consumer: names.consumers.projector, deliveries: 3, skipped: true });
    expect(dead[0]!.error).toMatch(/./);
    const inbox = await pool.query('SELECT seq FROM inbox WHERE user_id = $1 ORDER BY stream_seq', ['b']);
    expect(inbox.rows.map((r) => r.seq)).toEqual([1, 2]);
  }, 60_000);
});
