import { randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { applyAll } from '../streams';
import { createS3, loadArchiveLocationConfig } from './s3';
import { chatctl, deletePrefix, ensureBucket, listKeys, parseLines, publishSample, type Line, type Published } from './testEvents';

const ns = `v${randomBytes(4).toString('hex')}`;
const n = names(ns);
const chatEnv = inject('chatEnv');
const env: Record<string, string> = { ...chatEnv, CHAT_NS: ns };
const bucket = chatEnv['S3_BUCKET']!;
const s3Prefix = `${ns}-export`;
let nats: Nats;
let s3: S3Client;
let dir: string;
const published: Published[] = [];
/** The stream time of the first event of the second batch (every earlier one is older). */
let secondBatchAt: number;

const events = (...args: string[]) => chatctl(env, 'events', ...args);
const ok = (...args: string[]): Line[] => {
  const r = events(...args);
  expect(r.status, r.stderr).toBe(0);
  return parseLines(r.stdout);
};
const seqs = (lines: Line[]) => lines.map((l) => l.seq);

beforeAll(async () => {
  nats = await connectNats(env['NATS_URL']!, 'events-test');
  await applyAll({ natsUrl: env['NATS_URL']!, ns, settings: { replicas: 1, maxAgeMs: 86_400_000 } });
  s3 = createS3(loadArchiveLocationConfig(env));
  await ensureBucket(s3, bucket);
  dir = await mkdtemp(join(tmpdir(), 'chat-events-'));

  const first: Array<[string, string]> = [
    ['ConversationCreated', 'g-a'],
    ['ConversationCreated', 'g-b'],
    ['MessageSent', 'g-a'],
    ['MessagesRead', 'g-a'],
    ['MemberMuteChanged', 'g-a'],
    ['UserBlocked', 'alice'],
    ['MessageSent', 'g-b'],
  ];
  for (const [type, id] of first) published.push(await publishSample(nats.js, n, type, id, published.length + 1));
  // Far enough apart that no event of the first batch shares a millisecond with the second.
  await new Promise((r) => setTimeout(r, 30));
  const second: Array<[string, string]> = [
    ['MessageSent', 'g-a'],
    ['MessageEdited', 'g-a'],
    ['MessagesDelivered', 'g-b'],
    ['MessageSent', 'g-b'],
    ['MemberMuteChanged', 'g-b'],
  ];
  for (const [type, id] of second) published.push(await publishSample(nats.js, n, type, id, published.length + 1));
  const firstOfSecond = await nats.jsm.streams.getMessage(n.streams.events, { seq: published[first.length]!.seq });
  secondBatchAt = firstOfSecond!.time.getTime();
  // Enough MessageSent for the exports below to be more than a handful of lines.
  for (let i = 0; i < 60; i++) published.push(await publishSample(nats.js, n, 'MessageSent', i % 2 ? 'g-a' : 'g-b', published.length + 1));
});

afterAll(async () => {
  for (const s of [...Object.values(n.streams), ...Object.values(n.kv).map((b) => `KV_${b}`)]) await nats?.jsm.streams.delete(s).catch(() => undefined);
  await nats?.nc.close();
  await deletePrefix(s3, bucket, `${s3Prefix}/`).catch(() => undefined);
  s3?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('chatctl events', () => {
  it('prints every event once, in seq order, as the contracts parse it', async () => {
    const all = ok();
    expect(seqs(all)).toEqual(published.map((p) => p.seq));
    expect(all.map((l) => [l.subject, l.event.type])).toEqual(published.map((p) => [p.subject, p.type]));
    expect(all.every((l) => !Number.isNaN(Date.parse(l.time)))).toBe(true);

    // Fields the contract does not know are dropped by its parser: proof the event went through it.
    const extra = await nats.js.publish(n.subjects.evtConv('g-c'), JSON.stringify({ ...JSON.parse(JSON.stringify(all[0]!.event)), conversationId: 'g-c', legacyField: 1 }));
    const [line] = ok('--from-seq', String(extra.seq));
    expect(line?.event).toEqual({ ...all[0]!.event, conversationId: 'g-c' });
    published.push({ seq: extra.seq, subject: n.subjects.evtConv('g-c'), type: 'ConversationCreated', conversationId: 'g-c' });
  });

  it('selects by seq range, with --from as --from-seq, and stops at --limit', () => {
    const s = published.map((p) => p.seq);
    expect(seqs(ok('--from-seq', String(s[2]), '--to-seq', String(s[5])))).toEqual(s.slice(2, 6));
    expect(seqs(ok('--from', String(s[2]), '--limit', '2'))).toEqual(s.slice(2, 4));
    expect(ok('--from-seq', String(s.at(-1)! + 10))).toEqual([]);
  });

  it('selects by stream time: --since from its first event (inclusive), --until before it (exclusive), durations ago', () => {
    const since = new Date(secondBatchAt).toISOString();
    const all = ok();
    const later = all.filter((l) => Date.parse(l.time) >= secondBatchAt);
    expect(later.length).toBeGreaterThan(0);
    expect(later.length).toBeLessThan(all.length);
    expect(ok('--since', since)).toEqual(later);
    expect(ok('--until', since)).toEqual(all.filter((l) => Date.parse(l.time) < secondBatchAt));
    expect(seqs(ok('--since', since, '--to-seq', String(later[2]!.seq)))).toEqual(seqs(later.slice(0, 3)));
    expect(ok('--since', '1h')).toEqual(all);
    expect(ok('--until', '1h')).toEqual([]);
  });

  it('selects by type and by conversation, alone and together', () => {
    const byType = (types: string[]) => published.filter((p) => types.includes(p.type)).map((p) => p.seq);
    expect(seqs(ok('--type', 'MessageSent'))).toEqual(byType(['MessageSent']));
    // Several families at once, comma separated and repeated.
    expect(seqs(ok('--type', 'MessagesRead,UserBlocked', '--type', 'MemberMuteChanged'))).toEqual(byType(['MessagesRead', 'UserBlocked', 'MemberMuteChanged']));

    const ofA = published.filter((p) => p.conversationId === 'g-a');
    const a = ok('--conversation', 'g-a');
    expect(seqs(a)).toEqual(ofA.map((p) => p.seq));
    // Its own events, its members' receipts and preferences: every family but users' settings.
    expect(new Set(a.map((l) => l.event.type))).toEqual(new Set(['ConversationCreated', 'MessageSent', 'MessagesRead', 'MemberMuteChanged', 'MessageEdited']));
    const since = new Date(secondBatchAt).toISOString();
    const sentLaterInA = ok('--conversation', 'g-a', '--type', 'MessageSent', '--since', since);
    expect(sentLaterInA.length).toBeGreaterThan(1);
    expect(sentLaterInA).toEqual(a.filter((l) => l.event.type === 'MessageSent' && Date.parse(l.time) >= secondBatchAt));
  });

  it('refuses bad flags with a message saying what is wrong', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--type', 'MessageSend'], /unknown event type MessageSend/],
      [['--since', 'yesterday'], /--since: "yesterday" is neither an ISO time/],
      [['--from', '2', '--from-seq', '3'], /give one of them/],
      [['--from-seq', '0'], /positive integer/],
      [['--conversation', 'g.a'], /not a conversation id/],
      [['--resume'], /--resume needs --out/],
      [['--out', `s3://${bucket}/x`, '--limit', '3'], /--limit with an s3:\/\/ output/],
      [['--out', `s3://${bucket}/x`, '--follow'], /--follow cannot write to S3/],
    ];
    for (const [args, message] of cases) {
      const r = events(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  }, 60_000);

  it('writes a gzip file and resumes it after --limit and after an interrupted write, every event once, in order', async () => {
    const all = events().stdout;
    const out = join(dir, 'events.ndjson.gz');
    expect(events('--out', out, '--limit', '5').status).toBe(0);
    expect(seqs(parseLines(gunzipSync(await readFile(out)).toString()))).toEqual(published.slice(0, 5).map((p) => p.seq));
    expect(JSON.parse(await readFile(`${out}.state`, 'utf8'))).toMatchObject({ lastSeq: published[4]!.seq });

    const again = events('--out', out);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/exists: --resume continues it/);

    // A crash while writing: part of a gzip member after the last recorded one.
    const torn = gzipSync(`${JSON.stringify({ seq: 999, subject: 'x', time: 'x', event: {} })}\n`);
    await appendFile(out, torn.subarray(0, torn.length - 6));
    const second = events('--out', out, '--resume', '--limit', '20');
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/20 event\(s\) written .*resumed after seq/);
    await appendFile(out, torn.subarray(0, 12));
    expect(events('--out', out, '--resume').status).toBe(0);
    expect(gunzipSync(await readFile(out)).toString()).toBe(all);
    // Nothing new: resuming again adds nothing.
    expect(events('--out', out, '--resume').status).toBe(0);
    expect(gunzipSync(await readFile(out)).toString()).toBe(all);
  });

  it('resumes a plain file after its last complete line', async () => {
    const all = events().stdout;
    const out = join(dir, 'events.ndjson');
    expect(events('--out', out, '--limit', '3').status).toBe(0);
    await appendFile(out, '{"seq":999,"subj');
    expect(events('--out', out, '--resume').status).toBe(0);
    expect(await readFile(out, 'utf8')).toBe(all);
  });

  it('refuses to resume a file with other filters, or a gzip file without its state', async () => {
    const out = join(dir, 'typed.ndjson.gz');
    expect(events('--out', out, '--type', 'MessageSent', '--limit', '2').status).toBe(0);
    const r = events('--out', out, '--type', 'MessagesRead', '--resume');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/other --type\/--conversation\/--subject filters/);
    await rm(`${out}.state`);
    expect(events('--out', out, '--type', 'MessageSent', '--resume').stderr).toMatch(/typed\.ndjson\.gz\.state is missing/);
  });

  it('uploads one object per run to S3, named by its seq range, and a resume writes only what is new', async () => {
    const all = events().stdout;
    const last = published.at(-1)!.seq;
    const url = `s3://${bucket}/${s3Prefix}`;
    const first = events('--out', url, '--gzip');
    expect(first.status, first.stderr).toBe(0);
    expect(await listKeys(s3, bucket, `${s3Prefix}/`)).toEqual([`${s3Prefix}/events-1-${last}.ndjson.gz`]);
    expect(gunzipSync(await getObject(`${s3Prefix}/events-1-${last}.ndjson.gz`)).toString()).toBe(all);
    expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${s3Prefix}/events-1-${last}.ndjson.gz` }))).ContentType).toBe('application/gzip');

    const more = [await publishSample(nats.js, n, 'MessageSent', 'g-a', 500), await publishSample(nats.js, n, 'MessagesRead', 'g-a', 500)];
    published.push(...more);
    expect(events('--out', url, '--gzip', '--resume').status).toBe(0);
    const secondKey = `${s3Prefix}/events-${last + 1}-${more[1]!.seq}.ndjson.gz`;
    expect(await listKeys(s3, bucket, `${s3Prefix}/`)).toContain(secondKey);
    expect(seqs(parseLines(gunzipSync(await getObject(secondKey)).toString()))).toEqual(more.map((p) => p.seq));

    const none = events('--out', url, '--gzip', '--resume');
    expect(none.status).toBe(0);
    expect(none.stderr).toMatch(/nothing new/);
    expect(await listKeys(s3, bucket, `${s3Prefix}/`)).toHaveLength(2);
    const other = events('--out', url, '--gzip', '--resume', '--type', 'MessageSent');
    expect(other.status).toBe(1);
    expect(other.stderr).toMatch(/other --type\/--conversation\/--subject filters/);
  });

  it('reports an event that does not parse with its seq, writes the others, and exits 2', async () => {
    const before = await publishSample(nats.js, n, 'MessageSent', 'g-a', 900);
    const notJson = await nats.js.publish(n.subjects.evtConv('g-a'), 'not json');
    const invalid = await nats.js.publish(n.subjects.evtRcpt('g-a', 'bob'), JSON.stringify({ type: 'MessagesRead', v: 1, conversationId: 'g-a' }));
    const after = await publishSample(nats.js, n, 'MessageSent', 'g-a', 901);
    const r = events('--from-seq', String(before.seq));
    expect(r.status).toBe(2);
    expect(seqs(parseLines(r.stdout))).toEqual([before.seq, after.seq]);
    expect(r.stderr).toContain(`seq ${notJson.seq} (${n.subjects.evtConv('g-a')}`);
    expect(r.stderr).toMatch(new RegExp(`seq ${invalid.seq} \\(${n.subjects.evtRcpt('g-a', 'bob').replace(/\./g, '\\.')}.*not a valid event: userId`));
    expect(r.stderr).toMatch(/2 event\(s\) could not be parsed/);
    // A type filter does not hide one on a subject it reads: it has no type to compare.
    const typed = events('--from-seq', String(before.seq), '--type', 'MessageSent');
    expect(typed.status).toBe(2);
    expect(typed.stderr).toContain(`seq ${notJson.seq} (`);
  });
});

async function getObject(key: string): Promise<Buffer> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}
