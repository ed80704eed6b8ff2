import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { applyAll, consumersReport, createDatabase, dropDatabase, migrate, MIGRATIONS_DIR, readEvents, streamReport, streamsReport, withDatabase } from './index';

const ns = `o${randomBytes(4).toString('hex')}`;
const n = names(ns);
const env = inject('chatEnv');
const urls = { natsUrl: env['NATS_URL']!, databaseUrl: env['DATABASE_URL']! };
const databaseUrl = withDatabase(urls.databaseUrl, `chat_${ns}`);
let nats: Nats;

beforeAll(async () => {
  nats = await connectNats(urls.natsUrl, 'ops-test');
});
afterAll(async () => {
  for (const s of [...Object.values(n.streams), ...Object.values(n.kv).map((b) => `KV_${b}`)]) await nats.jsm.streams.delete(s).catch(() => undefined);
  await nats.nc.close();
  await dropDatabase(databaseUrl);
});

const tables = async (): Promise<string[]> => {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const { rows } = await c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
  await c.end();
  return rows.map((r) => r.t);
};

describe('database', () => {
  it('creates the database once, migrates up idempotently and reverts the last migration', async () => {
    const all = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.replace(/\.sql$/, ''))
      .sort();
    expect(await createDatabase(databaseUrl)).toBe('created');
    expect(await createDatabase(databaseUrl)).toBe('exists');
    expect(await migrate(databaseUrl)).toEqual(all);
    expect(await migrate(databaseUrl)).toEqual([]);
    expect(await tables()).toEqual(expect.arrayContaining(['messages', 'inbox', 'projection_checkpoints', 'pgmigrations']));
    expect(await migrate(databaseUrl, { direction: 'down' })).toEqual([all.at(-1)]);
    expect(await migrate(databaseUrl)).toEqual([all.at(-1)]);
  });
});

describe('streams', () => {
  it('applies the namespace streams and reports them and their consumers', async () => {
    const first = await applyAll({ natsUrl: urls.natsUrl, ns, settings: { replicas: 1, maxAgeMs: 86_400_000 }, edgeIds: ['e1'] });
    expect(first.streams.every((s) => s.action === 'created')).toBe(true);
    const again = await applyAll({ natsUrl: urls.natsUrl, ns, settings: { replicas: 1, maxAgeMs: 86_400_000 }, edgeIds: ['e1'] });
    expect([...again.streams, ...again.consumers].every((x) => x.action === 'unchanged')).toBe(true);

    const streams = await streamsReport(nats.jsm, n);
    expect(streams.map((s) => s.stream)).toEqual(expect.arrayContaining([n.streams.delivery, n.streams.dlq, n.streams.events, n.streams.notify]));
    expect(streams.find((s) => s.stream === n.streams.events)).toMatchObject({ maxAge: '1d', replicas: 1, storage: 'file' });

    await nats.js.publish(n.subjects.evtConv('c1'), JSON.stringify({ type: 'Probe' }));
    const lag = await consumersReport(nats.jsm, n);
    // One message in the stream, nothing delivered: all of it unprocessed.
    expect(lag.find((c) => c.consumer === 'projector')).toMatchObject({
      stream: n.streams.events,
      ackPolicy: 'all',
      numPending: 1,
      unprocessedPct: 100,
      numAckPending: 0,
      ackFloorStreamSeq: 0,
      lastDeliveryAgoMs: null,
    });
    expect(lag.map((c) => c.consumer)).toContain('edge-e1');
    expect(lag.some((c) => c.missing)).toBe(false);
    expect((await streamReport(nats.jsm, n)).find((s) => s.stream === n.streams.events)).toMatchObject({ messages: 1, lostMessages: 0, firstSeq: 1, lastSeq: 1, firstTime: expect.any(String) });

    // An expected consumer deleted (nothing would read its stream) is listed as missing, also by `chatctl consumers --json`.
    await nats.jsm.consumers.delete(n.streams.notify, n.consumers.notifierJobs);
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', 'consumers', '--json'], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      env: { ...process.env, NATS_URL: urls.natsUrl, CHAT_NS: ns },
      encoding: 'utf8',
    });
    expect(cli.status, cli.stderr).toBe(0);
    const rows = JSON.parse(cli.stdout.trim().split('\n').at(-1)!) as Array<Record<string, unknown>>;
    const keys = ['stream', 'consumer', 'ackPolicy', 'ackWaitMs', 'numAckPending', 'maxAckPending', 'numRedelivered', 'numPending', 'unprocessedPct', 'ackFloorStreamSeq', 'numWaiting', 'lastDeliveryAgoMs', 'lastAckAgoMs', 'cluster'];
    for (const r of rows) expect(Object.keys(r)).toEqual(expect.arrayContaining(keys));
    expect(rows.filter((r) => r['missing'] === true).map((r) => [r['stream'], r['consumer']])).toEqual([[n.streams.notify, n.consumers.notifierJobs]]);
    await applyAll({ natsUrl: urls.natsUrl, ns, settings: { replicas: 1, maxAgeMs: 86_400_000 }, edgeIds: ['e1'] });
  });

  it('replays events in order from a sequence, filtered by subject, up to a limit', async () => {
    await nats.js.publish(n.subjects.evtConv('c2'), JSON.stringify({ type: 'Probe', i: 2 }));
    await nats.js.publish(n.subjects.evtRcpt('c1', 'bob'), JSON.stringify({ type: 'Probe', i: 3 }));
    await nats.js.publish(n.subjects.evtConv('c1'), JSON.stringify({ type: 'Probe', i: 4 }));
    const collect = async (opts: Parameters<typeof readEvents>[2]) => {
      const out = [];
      for await (const e of readEvents(nats.js, n, opts)) out.push(e);
      return out;
    };
    expect((await collect({})).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect((await collect({ fromSeq: 2, limit: 2 })).map((e) => e.seq)).toEqual([2, 3]);
    const c1 = await collect({ subject: 'chat.evt.conv.c1' });
    expect(c1.map((e) => [e.seq, e.subject])).toEqual([
      [1, n.subjects.evtConv('c1')],
      [4, n.subjects.evtConv('c1')],
    ]);
    expect(c1[1]?.event).toEqual({ type: 'Probe', i: 4 });
    expect(await collect({ fromSeq: 99 })).toEqual([]);
    // The ordered consumers are gone once read: only the durable ones are left in the lag report.
    expect((await consumersReport(nats.jsm, n)).filter((c) => c.stream === n.streams.events).map((c) => c.consumer).sort()).toEqual(['projector']);
  });
});
