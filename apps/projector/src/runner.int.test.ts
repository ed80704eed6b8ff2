import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamApiError, type ConsumerInfo, type JsMsg } from '@nats-io/jetstream';
import { inTransaction, readCheckpoint, resetProjectionTables } from '@chat/postgres';
import { messagesProjection, MESSAGES_TABLES } from './messages/projection';
import { ProjectionRunner, type RunnerOptions } from './runner';
import { createTestEnv, created, publishEvents, sent, waitFor, waitForCheckpoint, type TestEnv } from './testing/env';

let env: TestEnv;
beforeAll(async () => {
  env = await createTestEnv();
}, 60_000);
afterAll(async () => {
  await env?.dispose();
}, 60_000);

const options = (batchSize = 5): RunnerOptions => ({
  pool: env.pool,
  js: env.nats.js,
  jsm: env.nats.jsm,
  names: env.names,
  log: env.log,
  batchSize,
  idleWaitMs: 1_000,
  standbyRetryMs: 100,
});

/** Loses the third delivery of its first pull, as a pull that ended on our side only would. */
class LossyRunner extends ProjectionRunner {
  lost: number | undefined;
  protected override async fetch(want: number, idle: boolean): Promise<JsMsg[]> {
    const msgs = await super.fetch(want, idle);
    if (this.lost === undefined && msgs.length >= 3) {
      this.lost = msgs[2]!.seq;
      return [...msgs.slice(0, 2), ...msgs.slice(3)];
    }
    return msgs;
  }
}

/** A consumer whose replica group is stuck: its info requests fail as unavailable until it is re-created. */
class StuckConsumerRunner extends ProjectionRunner {
  failures = 0;
  protected override async consumerInfo(stream: string, name: string): Promise<ConsumerInfo> {
    if (this.stats.resets === 0) {
      this.failures++;
      throw new JetStreamApiError({ code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' });
    }
    return super.consumerInfo(stream, name);
  }
}

async function inboxSeqs(user: string): Promise<number[]> {
  return (await env.pool.query('SELECT seq FROM inbox WHERE user_id = $1 ORDER BY stream_seq', [user])).rows.map((r) => r.seq);
}

describe('ProjectionRunner', () => {
  it('a lost delivery is noticed by its hole in the delivery sequence, and nothing overtakes it', async () => {
    const { names, pool, nats } = env;
    const seqs = await publishEvents(nats.js, names, [created('r1', ['a', 'b']), ...Array.from({ length: 12 }, (_, i) => sent('r1', i + 1, 'a'))]);
    const runner = new LossyRunner(options(5), messagesProjection(names, null)).start();
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, seqs[seqs.length - 1]!);
    } finally {
      await runner.stop();
    }
    expect(runner.lost).toBe(seqs[2]);
    expect(runner.stats.resets).toBe(1);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 60_000);

  it('a consumer ahead of its checkpoint (read model emptied) is moved back to it', async () => {
    const { names, pool, nats } = env;
    await inTransaction(pool, (tx) => resetProjectionTables(tx, names.consumers.projMessages, MESSAGES_TABLES));
    const info = await nats.jsm.consumers.info(names.streams.events, names.consumers.projMessages);
    expect(info.delivered.stream_seq).toBeGreaterThan(0);
    const runner = new ProjectionRunner(options(100), messagesProjection(names, null)).start();
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, info.delivered.stream_seq);
    } finally {
      await runner.stop();
    }
    expect(runner.stats.resets).toBe(1);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 60_000);

  it('a second instance of a projection stands by until the first one stops', async () => {
    const { names, pool, nats } = env;
    const a = new ProjectionRunner(options(), messagesProjection(names, null)).start();
    await waitFor(async () => a.stats.position > 0, 'the first instance to run');
    const b = new ProjectionRunner(options(), messagesProjection(names, null)).start();
    try {
      const [s1] = await publishEvents(nats.js, names, [sent('r1', 13, 'b')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s1!);
      expect(b.stats.batches).toBe(0);
      await a.stop();
      const [s2] = await publishEvents(nats.js, names, [sent('r1', 14, 'b')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s2!);
      expect(b.stats.applied).toBe(1);
      expect(await readCheckpoint(pool, names.consumers.projMessages)).toBe(s2);
    } finally {
      await a.stop();
      await b.stop();
    }
    expect(await inboxSeqs('a')).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
  }, 60_000);

  it('keeps running after its lock connection dies (Postgres restarted): pauses, takes the lock again, loses nothing', async () => {
    const { names, pool, nats } = env;
    const runner = new ProjectionRunner(options(), messagesProjection(names, null)).start();
    try {
      const [s1] = await publishEvents(nats.js, names, [sent('r1', 15, 'a')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, s1!);
      // What a Postgres restart does to the lock's session (this run's database only).
      const { rows } = await pool.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'chat-lock' AND datname = current_database()`,
      );
      expect(rows).toEqual([{ ok: true }]);
      await waitFor(async () => runner.stats.lockLosses === 1, 'the runner to notice');
      const seqs = await publishEvents(nats.js, names, [sent('r1', 16, 'b'), sent('r1', 17, 'a')]);
      await waitForCheckpoint(pool, names.consumers.projMessages, seqs[1]!);
      // Holding it again, on a new session.
      const held = await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'chat-lock' AND datname = current_database()`);
      expect(held.rows[0].n).toBe(1);
    } finally {
      await runner.stop();
    }
    expect(runner.stats.lockLosses).toBe(1);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 17 }, (_, i) => i + 1));
  }, 60_000);

  it('re-creates a consumer that stays unavailable while its stream answers, and goes on from the checkpoint', async () => {
    const { names, pool, nats } = env;
    const [s1] = await publishEvents(nats.js, names, [sent('r1', 18, 'a')]);
    const runner = new StuckConsumerRunner({ ...options(), stalledConsumerMs: 500 }, messagesProjection(names, null)).start();
    try {
      await waitForCheckpoint(pool, names.consumers.projMessages, s1!);
    } finally {
      await runner.stop();
    }
    expect(runner.failures).toBeGreaterThanOrEqual(2);
    expect(runner.stats.resets).toBe(1);
    expect(await inboxSeqs('b')).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
  }, 60_000);
});
