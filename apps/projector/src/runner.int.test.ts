import { describe, expect, it } from 'vitest';
import { JetStreamApiError, type ConsumerInfo, type JsMsg } from '@nats-io/jetstream';
import { inTransaction, readCheckpoint, resetProjectionTables } from '@chat/postgres';
import { projectorConsumerConfig } from '@chat/streams';
import { messagesProjection, MESSAGES_TABLES } from './messages/projection';
import { OrderedConsumer } from './pipeline/orderedConsumer';
import { created, publishEvents, sent, startProjections, waitFor, waitForCheckpoint, useTestEnv, type TestEnv } from './testing/env';

const t = useTestEnv();

const messagesOnly = (names: TestEnv['names']) => [messagesProjection(names)];

/**
 * The first time, the server's consumer starts three events later than the one asked for (as a
 * consumer whose old state came back on a node that returned would): deliveries contiguous in
 * the delivery sequence that jump over stored events.
 */
class SkippingConsumer extends OrderedConsumer {
  opens = 0;
  protected override recreate(startSeq: number): Promise<void> {
    return super.recreate(++this.opens === 1 ? startSeq + 3 : startSeq);
  }
}

/** Loses the third delivery it reads, as a pull that ended on our side only would. */
class LossyConsumer extends OrderedConsumer {
  lost: number | undefined;
  private seen = 0;
  protected override accept(m: JsMsg): boolean {
    if (this.lost === undefined && ++this.seen === 3) {
      this.lost = m.seq;
      return false;
    }
    return true;
  }
}

/** A consumer whose replica group is stuck: it delivers nothing and its info fails as unavailable until it is re-created. */
class StuckConsumer extends OrderedConsumer {
  opens = 0;
  infoFailures = 0;
  override async open(startSeq: number): Promise<void> {
    this.opens++;
    await super.open(startSeq);
  }
  override async take(max: number, waitMs: number): Promise<JsMsg[]> {
    if (this.opens >= 2) return super.take(max, waitMs);
    await new Promise((r) => setTimeout(r, Math.min(waitMs, 200)));
    return [];
  }
  override async info(): Promise<ConsumerInfo> {
    if (this.opens < 2) {
      this.infoFailures++;
      throw new JetStreamApiError({ code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' });
    }
    return super.info();
  }
}

/**
 * Re-opens itself at `start` from inside its reader, at its `at`-th delivery: the old
 * `consume()` is stopped while it is still handing out one socket read (as when a failed commit
 * re-reads from the checkpoint while deliveries stream in). `unreadAtReopen`: how many
 * deliveries of that read the stopped `consume()` still held.
 */
class ReopeningConsumer extends OrderedConsumer {
  reopening: Promise<void> | undefined;
  unreadAtReopen = 0;
  private seen = 0;
  constructor(
    o: ConstructorParameters<typeof OrderedConsumer>[0],
    private readonly start: number,
    private readonly at: number,
  ) {
    super(o);
  }
  protected override accept(_m: JsMsg): boolean {
    if (!this.reopening && ++this.seen === this.at) {
      this.unreadAtReopen = this.messages?.getPending() ?? 0;
      this.reopening = this.open(this.start);
    }
    return true;
  }
}

async function inboxSeqs(user: string): Promise<number[]> {
  return (await t.env.pool.query('SELECT seq FROM inbox WHERE user_id = $1 ORDER BY stream_seq', [user])).rows.map((r) => r.seq);
}

describe('Projector', () => {
  it('a lost delivery is noticed by its hole in the delivery sequence, and nothing overtakes it', async () => {
    const { names, pool, nats } = t.env;
    const seqs = await publishEvents(nats.js, names, [created('r1', ['a', 'b']), ...Array.from({ length: 12 }, (_, i) => sent('r1', i + 1, 'a'))]);
    let lossy: LossyConsumer | undefined;
    const run = startProjections(t.env, messagesOnly, { batchSize: 5, consumer: (o) => (lossy = new LossyConsumer(o)) });
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, seqs[seqs.length - 1]!);
    } finally {
      await run.stop();
    }
    expect(lossy?.lost).toBe(seqs[2]);
    // Opened at start, then once more at the hole.
    expect(run.projector.stats.resets).toBe(2);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 60_000);

  it('a consumer ahead of its checkpoint (read model emptied) is moved back to it', async () => {
    const { names, pool, nats } = t.env;
    await inTransaction(pool, (tx) => resetProjectionTables(tx, names.consumers.projMessages, MESSAGES_TABLES));
    const info = await nats.jsm.consumers.info(names.streams.events, names.consumers.projector);
    expect(info.delivered.stream_seq).toBeGreaterThan(0);
    const run = startProjections(t.env, messagesOnly);
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, info.delivered.stream_seq);
    } finally {
      await run.stop();
    }
    expect(run.projector.stats.resets).toBe(1);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 60_000);

  it('a second projector stands by until the first one stops', async () => {
    const { names, pool, nats } = t.env;
    const a = startProjections(t.env, messagesOnly, { standbyRetryMs: 100 });
    await waitFor(async () => a.projector.stats.position > 0, 'the first instance to run');
    const b = startProjections(t.env, messagesOnly, { standbyRetryMs: 100 });
    try {
      const [s1] = await publishEvents(nats.js, names, [sent('r1', 13, 'b')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s1!);
      expect(b.projector.stats.batches).toBe(0);
      await a.stop();
      const [s2] = await publishEvents(nats.js, names, [sent('r1', 14, 'b')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s2!);
      expect(b.projector.stats.applied).toBe(1);
      expect(await readCheckpoint(pool, names.consumers.projMessages)).toBe(s2);
    } finally {
      await a.stop();
      await b.stop();
    }
    expect(await inboxSeqs('a')).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  }, 60_000);

  it('keeps running after its lock connection dies (Postgres restarted): pauses, takes the lock again, loses nothing', async () => {
    const { names, pool, nats } = t.env;
    const run = startProjections(t.env, messagesOnly, { standbyRetryMs: 100 });
    try {
      const [s1] = await publishEvents(nats.js, names, [sent('r1', 15, 'a')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s1!);
      // What a Postgres restart does to the lock's session (this run's database only).
      const { rows } = await pool.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'chat-lock' AND datname = current_database()`,
      );
      expect(rows).toEqual([{ ok: true }]);
      await waitFor(async () => run.projector.stats.lockLosses === 1, 'the projector to notice');
      const seqs = await publishEvents(nats.js, names, [sent('r1', 16, 'b'), sent('r1', 17, 'a')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, seqs[1]!);
      // Holding it again, on a new session.
      const held = await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'chat-lock' AND datname = current_database()`);
      expect(held.rows[0].n).toBe(1);
    } finally {
      await run.stop();
    }
    expect(run.projector.stats.lockLosses).toBe(1);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
  }, 60_000);

  it('re-creates a consumer that stays unavailable while its stream answers, and goes on from the checkpoint', async () => {
    const { names, pool, nats } = t.env;
    const [s1] = await publishEvents(nats.js, names, [sent('r1', 18, 'a')]);
    let stuck: StuckConsumer | undefined;
    const run = startProjections(t.env, messagesOnly, { stalledConsumerMs: 500, idleWaitMs: 200, consumer: (o) => (stuck = new StuckConsumer(o)) });
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, s1!);
    } finally {
      await run.stop();
    }
    expect(stuck!.infoFailures).toBeGreaterThanOrEqual(2);
    expect(stuck!.opens).toBe(2);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
  }, 60_000);

  it('deliveries that jump over stored events are noticed, and the consumer is read again from the checkpoint', async () => {
    const { names, pool, nats } = t.env;
    const seqs = await publishEvents(nats.js, names, Array.from({ length: 6 }, (_, i) => sent('r1', 19 + i, 'a')));
    let skipping: SkippingConsumer | undefined;
    const run = startProjections(t.env, messagesOnly, { consumer: (o) => (skipping = new SkippingConsumer(o)) });
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, seqs[seqs.length - 1]!);
    } finally {
      await run.stop();
    }
    expect(skipping!.opens).toBe(2);
    expect(run.projector.stats.resets).toBe(2);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  }, 60_000);
});

describe('OrderedConsumer', () => {
  it('after a re-open, takes only what the new durable delivers, none of the read the stopped one was still handing out', async () => {
    const { names, nats, log } = t.env;
    const seqs = await publishEvents(nats.js, names, Array.from({ length: 200 }, (_, i) => sent('r-reopen', i + 1, 'a')));
    const { stream, config } = projectorConsumerConfig(names);
    const durable = `${config.durable_name}-reopen`;
    const consumer = new ReopeningConsumer({ js: nats.js, jsm: nats.jsm, stream, config: { ...config, durable_name: durable, name: durable }, log, bufferSize: 400 }, seqs[0]!, 5);
    try {
      await consumer.open(seqs[0]!);
      await waitFor(async () => consumer.reopening !== undefined, 'the re-open from inside the reader');
      await consumer.reopening;
      const taken: number[] = [];
      while (taken.length < seqs.length) {
        const batch = await consumer.take(500, 5_000);
        if (batch.length === 0) break;
        taken.push(...batch.map((m) => m.seq));
      }
      // The stopped consume() still had deliveries of its read to hand out.
      expect(consumer.unreadAtReopen).toBeGreaterThan(0);
      expect(consumer.broken).toBeNull();
      expect(taken).toEqual(seqs);
    } finally {
      await consumer.close();
      await nats.jsm.consumers.delete(stream, durable).catch(() => undefined);
    }
  }, 60_000);
});
