import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import type { ServerFrameOf } from '@chat/client';
import { eventually, nextEvent, startSystem, type RunningSystem } from '../support/system';
import { harness, text } from '../support/harness';

let sys: RunningSystem;
let admin: pg.Client;
const { u, connect, closeAll } = harness(() => sys);

beforeAll(async () => {
  const env = inject('chatEnv');
  sys = await startSystem(env);
  admin = new pg.Client({ connectionString: env['DATABASE_URL'] });
  await admin.connect();
}, 60_000);

afterAll(async () => {
  closeAll();
  await admin?.end();
  await sys?.stop();
});

describe('recovery in process', () => {
  it('every app keeps serving after Postgres dropped all its connections (a restart, for this database)', async () => {
    const alice = await connect(u('alice'));
    const bob = await connect(u('bob'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob')] });
    await alice.send({ conversationId, body: text('before') });
    const held = async () =>
      (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'chat-lock'`)).rows[0].n as number;
    // The projector holds its lock before it is taken away: it may still be waiting for it when
    // the run's previous system (same database) let go of it only just now.
    await eventually(held, (n) => n >= 1, 30_000);

    // What a Postgres restart does to this run's database: every session ends, the projector's
    // lock with them (the command processes hold no Postgres lock: their partitions are NATS KV leases).
    const { rows } = await admin.query<{ application_name: string }>(
      `SELECT application_name, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    expect(rows.filter((r) => r.application_name === 'chat-lock').length).toBeGreaterThanOrEqual(1);

    // The projector takes its lock again and carries on; the command service never stopped.
    const incoming = nextEvent<ServerFrameOf<'message.new'>>((f) => bob.on('message', f), (m) => m.seq === 2, 30_000);
    const sent = await alice.send({ conversationId, body: text('after') });
    expect(sent).toMatchObject({ type: 'message.sent', seq: 2 });
    expect(await incoming).toMatchObject({ conversationId, seq: 2, body: text('after') });
    for (const app of sys.apps) expect({ app: app.name, exit: app.child.exitCode }).toEqual({ app: app.name, exit: null });
    // The lock is held again.
    const before = rows.filter((r) => r.application_name === 'chat-lock').length;
    expect(await eventually(held, (n) => n === before, 20_000)).toBe(before);
  }, 60_000);
});
