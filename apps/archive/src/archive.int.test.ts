import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { applyAll, archiveEventsPrefix, createS3, EventLine, eventsTestSupport as t, loadArchiveLocationConfig, parseArchiveKey } from '@chat/ops';
import { archiveConsumerConfig, ensureConsumer, resetConsumer } from '@chat/streams';
import { ArchiveWorker, type ArchiveWorkerOptions } from './worker';

const ns = `w${randomBytes(4).toString('hex')}`;
const n = names(ns);
const chatEnv = inject('chatEnv');
const env: Record<string, string> = { ...chatEnv, CHAT_NS: ns };
const bucket = chatEnv['S3_BUCKET']!;
const prefix = `${ns}-archive`;
const eventsPrefix = archiveEventsPrefix(prefix, ns);
const archiveUrl = `s3://${bucket}/${prefix}`;
const { stream, config } = archiveConsumerConfig(n);
const log = pino({ level: 'silent' });
/** One event of each kind first, then a batch of messages a little later. */
const samples: Array<[string, string]> = [
  ['ConversationCreated', 'g-a'],
  ['ConversationCreated', 'g-b'],
  ['MessagesRead', 'g-a'],
  ['MemberMuteChanged', 'g-b'],
  ['UserBlocked', 'alice'],
  ['MessageEdited', 'g-a'],
  ['MessagesDelivered', 'g-b'],
];
let nats: Nats;
let s3: S3Client;
const published: t.Published[] = [];

const worker = (o: Partial<ArchiveWorkerOptions> = {}) =>
  ArchiveWorker.start({ js: nats.js, stream, consumer: config.durable_name, s3, bucket, eventsPrefix, maxEvents: 7, maxBytes: 1024 * 1024, maxDelayMs: 1_000, fetchExpiresMs: 1_000, retryMs: 200, log, flush: () => nats.nc.flush(), ...o });

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every event of the stream acknowledged by the archive's durable. */
const allAcked = async (name = config.durable_name) => {
  const [ci, si] = await Promise.all([nats.jsm.consumers.info(stream, name), nats.jsm.streams.info(stream)]);
  return ci.num_pending === 0 && ci.num_ack_pending === 0 && ci.ack_floor.stream_seq === si.state.last_seq;
};

async function objects(): Promise<Array<{ key: string; hourMs: number; firstSeq: number; lastSeq: number; lines: EventLine[] }>> {
  const out = [];
  for (const key of await t.listKeys(s3, bucket, eventsPrefix)) {
    const o = parseArchiveKey(eventsPrefix, key);
    expect(o, key).not.toBeNull();
    const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray();
    const lines = gunzipSync(body)
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => EventLine.parse(JSON.parse(l)));
    out.push({ ...o!, lines });
  }
  return out;
}

const events = (...args: string[]) => t.chatctl(env, 'events', ...args);

beforeAll(async () => {
  nats = await connectNats(env['NATS_URL']!, 'archive-test');
  await applyAll({ natsUrl: env['NATS_URL']!, ns, settings: { replicas: 1, maxAgeMs: 86_400_000 } });
  s3 = createS3(loadArchiveLocationConfig(env));
  await t.ensureBucket(s3, bucket);
  for (const [type, id] of samples) published.push(await t.publishSample(nats.js, n, type, id, published.length + 1));
  // A gap in stream time, for --since/--until between the two groups.
  await new Promise((r) => setTimeout(r, 30));
  for (let i = 0; i < 30; i++) published.push(await t.publishSample(nats.js, n, 'MessageSent', i % 3 ? 'g-a' : 'g-b', published.length + 1));
});

afterAll(async () => {
  for (const s of [...Object.values(n.streams), ...Object.values(n.kv).map((b) => `KV_${b}`)]) await nats?.jsm.streams.delete(s).catch(() => undefined);
  await nats?.nc.close();
  await t.deletePrefix(s3, bucket, `${prefix}/`).catch(() => undefined);
  s3?.destroy();
});

describe('archive', () => {
  it('acknowledges nothing while its object cannot be written', async () => {
    const failing = { ...config, durable_name: 'archive-failing', name: 'archive-failing' };
    await ensureConsumer(nats.jsm, stream, failing);
    const w = await worker({ consumer: failing.durable_name, bucket: `${ns}-missing-bucket`, maxEvents: 1_000 });
    await waitFor('failed uploads', () => w.stats.uploadFailures >= 2);
    const during = await nats.jsm.consumers.info(stream, failing.durable_name);
    expect(during.num_ack_pending).toBe(published.length);
    expect(during.ack_floor.stream_seq).toBe(0);
    await w.stop();
    expect(w.stats.objects).toBe(0);
    expect((await nats.jsm.consumers.info(stream, failing.durable_name)).ack_floor.stream_seq).toBe(0);
    await nats.jsm.consumers.delete(stream, failing.durable_name);
  });

  it('writes the stream as gzipped NDJSON objects of one hour each, then acknowledges them', async () => {
    await ensureConsumer(nats.jsm, stream, config);
    const w = await worker();
    await waitFor('the archive to acknowledge every event', () => allAcked());
    await w.stop();
    const objs = await objects();
    expect(objs.length).toBeGreaterThanOrEqual(Math.ceil(published.length / 7));
    for (const o of objs) {
      expect(o.lines.length).toBeGreaterThan(0);
      expect(o.lines.length).toBeLessThanOrEqual(7);
      expect(o.lines.map((l) => l.seq)).toEqual([...o.lines.map((l) => l.seq)].sort((a, b) => a - b));
      expect([o.lines[0]!.seq, o.lines.at(-1)!.seq]).toEqual([o.firstSeq, o.lastSeq]);
      for (const l of o.lines) expect(Math.floor(Date.parse(l.time) / 3_600_000) * 3_600_000).toBe(o.hourMs);
    }
    const archived = objs.flatMap((o) => o.lines).sort((a, b) => a.seq - b.seq);
    expect(archived.map((l) => [l.seq, l.subject])).toEqual(published.map((p) => [p.seq, p.subject]));
    expect(w.stats).toMatchObject({ events: published.length, objects: objs.length, lastSeq: published.at(-1)!.seq });
  });

  it('reads back with --from-archive exactly what the live stream gives, with the same filters', () => {
    const since = t.parseLines(events('--from-seq', String(published[samples.length]!.seq), '--limit', '1').stdout)[0]!.time;
    const filters = [[], ['--type', 'MessageSent'], ['--conversation', 'g-a'], ['--type', 'MessagesRead,UserBlocked'], ['--from-seq', '5', '--to-seq', '20'], ['--since', since], ['--until', since], ['--since', '1h']];
    for (const f of filters) {
      const live = events(...f);
      const archived = events('--from-archive', archiveUrl, ...f);
      expect(live.status, live.stderr).toBe(0);
      expect(archived.status, archived.stderr).toBe(0);
      expect(archived.stdout, f.join(' ')).toBe(live.stdout);
      expect(live.stdout.length, f.join(' ')).toBeGreaterThan(0);
    }
  }, 90_000);

  it('keeps one line per event when objects were written twice (acks lost in a crash)', async () => {
    const before = await objects();
    // As after a crash between the upload and the acks: everything is delivered again.
    await resetConsumer(nats.jsm, stream, config, 1);
    const w = await worker({ maxEvents: 11 });
    await waitFor('the archive to acknowledge every event again', () => allAcked());
    await w.stop();
    const after = await objects();
    // Each event is now in two objects (unless both runs cut the same object, which S3 then holds once).
    expect(after.flatMap((o) => o.lines).length).toBeGreaterThan(published.length);
    expect(after.length).toBeGreaterThan(before.length);
    const live = events();
    const archived = events('--from-archive', archiveUrl);
    expect(archived.stdout).toBe(live.stdout);
    expect(t.parseLines(archived.stdout).map((l) => l.seq)).toEqual(published.map((p) => p.seq));
  });

  it('archives an event that does not parse as it is stored, and reports it when read back', async () => {
    const bad = await nats.js.publish(n.subjects.evtConv('g-a'), new Uint8Array([0x7b, 0xff]));
    const good = await t.publishSample(nats.js, n, 'MessageSent', 'g-a', 99);
    const w = await worker();
    await waitFor('the archive to acknowledge the new events', () => allAcked());
    await w.stop();
    const stored = (await objects()).flatMap((o) => o.lines).find((l) => l.seq === bad.seq);
    expect(stored).toMatchObject({ data: Buffer.from([0x7b, 0xff]).toString('base64') });
    const r = events('--from-archive', archiveUrl, '--from-seq', String(bad.seq));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`seq ${bad.seq} (${n.subjects.evtConv('g-a')}`);
    expect(t.parseLines(r.stdout).map((l) => l.seq)).toEqual([good.seq]);
    expect(r.stdout).toBe(events('--from-seq', String(bad.seq)).stdout);
  });

  it('runs as an app: ensures its consumer, archives new events, and stops cleanly on SIGTERM', async () => {
    const app = spawn(process.execPath, ['--import', 'tsx', 'apps/archive/src/main.ts'], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      env: { ...process.env, ...env, CHAT_OPS_PORT: '0', CHAT_ARCHIVE_PREFIX: prefix, CHAT_ARCHIVE_MAX_DELAY: '1s', LOG_LEVEL: 'info', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    app.stdout.on('data', (b: Buffer) => (output += b.toString()));
    app.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const exited = new Promise<number | null>((r) => app.once('exit', (code) => r(code)));
    try {
      await waitFor('the archive app to start', () => output.includes('archive started'));
      const fresh = [await t.publishSample(nats.js, n, 'MessageSent', 'g-b', 200), await t.publishSample(nats.js, n, 'MessagesRead', 'g-b', 200)];
      await waitFor('the app to archive the new events', () => allAcked());
      const keys = (await objects()).filter((o) => o.lines.some((l) => l.seq === fresh[1]!.seq));
      expect(keys).toHaveLength(1);
      const ci = await nats.jsm.consumers.info(stream, config.durable_name);
      expect(ci.config).toMatchObject({ ack_policy: 'explicit', max_deliver: -1, filter_subjects: [n.subjects.evtAll, n.subjects.prefAll] });
    } finally {
      app.kill('SIGTERM');
    }
    expect(await exited, output).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});
