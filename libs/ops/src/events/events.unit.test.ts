import { describe, expect, it } from 'vitest';
import { names } from '@chat/contracts';
import { archiveEventsPrefix, archiveObjectKey, parseArchiveKey } from './layout';
import { mergeBySeq } from './merge';
import { buildFilter, parseTimeArg, PlanError, subjectMatches } from './plan';
import { archiveLine, EventLine, rawFromLine, rawFromPayload, upcaster } from './record';
import { parseS3Url } from './s3';

const n = names('t1');
const NOW = Date.parse('2025-03-10T12:00:00Z');

describe('time arguments', () => {
  it('takes ISO times and durations ago', () => {
    expect(parseTimeArg('--since', '2h', NOW)).toBe(NOW - 2 * 3_600_000);
    expect(parseTimeArg('--since', '90s', NOW)).toBe(NOW - 90_000);
    expect(parseTimeArg('--since', '2025-03-01', NOW)).toBe(Date.parse('2025-03-01T00:00:00Z'));
    expect(parseTimeArg('--since', '2025-03-01T10:30:00+02:00', NOW)).toBe(Date.parse('2025-03-01T08:30:00Z'));
  });

  it('refuses anything else, naming the flag', () => {
    for (const bad of ['yesterday', '2', '2025-13-45', '-2h', '']) expect(() => parseTimeArg('--until', bad, NOW)).toThrow(/--until/);
  });
});

describe('the filter of the flags', () => {
  it('narrows subjects by type family and conversation without overlapping filters', () => {
    expect(buildFilter(n, {}).subjects).toBeUndefined();
    expect(buildFilter(n, { types: ['MessageSent', 'MessageEdited'] }).subjects).toEqual(['t1.chat.evt.conv.*']);
    expect(buildFilter(n, { types: ['MessagesRead', 'MessageSent'] }).subjects).toEqual(['t1.chat.evt.conv.*', 't1.chat.evt.rcpt.>']);
    expect(buildFilter(n, { types: ['MemberMuteChanged', 'UserBlocked'] }).subjects).toEqual(['t1.chat.pref.>']);
    expect(buildFilter(n, { types: ['UserBlocked'] }).subjects).toEqual(['t1.chat.pref.user.*']);
    expect(buildFilter(n, { conversation: 'g-1' }).subjects).toEqual(['t1.chat.evt.conv.g-1', 't1.chat.evt.rcpt.g-1.*', 't1.chat.pref.g-1.*']);
    expect(buildFilter(n, { conversation: 'g-1', types: ['MessagesDelivered'] }).subjects).toEqual(['t1.chat.evt.rcpt.g-1.*']);
    expect(buildFilter(n, { subject: 'chat.evt.rcpt.>' }).subjects).toEqual(['t1.chat.evt.rcpt.>']);
    expect(buildFilter(n, { types: ['MessageSent'] }).types).toEqual(new Set(['MessageSent']));
  });

  it('gives the same selection signature whatever the order of the types, another one for other filters', () => {
    const a = buildFilter(n, { types: ['MessageSent', 'MessagesRead'], fromSeq: 3 }).signature;
    expect(buildFilter(n, { types: ['MessagesRead', 'MessageSent'], toSeq: 9 }).signature).toBe(a);
    expect(buildFilter(n, { types: ['MessageSent'] }).signature).not.toBe(a);
  });

  it('refuses contradictions and unknown values with a message naming the flag', () => {
    const cases: Array<[Parameters<typeof buildFilter>[1], RegExp]> = [
      [{ types: ['MessageSend'] }, /--type: unknown event type MessageSend/],
      [{ conversation: 'a.b' }, /--conversation/],
      [{ conversation: 'user' }, /--conversation/],
      [{ conversation: 'g-1', subject: 'chat.evt.>' }, /--conversation and --subject/],
      [{ conversation: 'g-1', types: ['PrivacyChanged'] }, /not events of a conversation/],
      [{ fromSeq: 9, toSeq: 3 }, /--from-seq 9 is after --to-seq 3/],
      [{ since: '1h', until: '2h' }, /--since .* must be before --until/],
    ];
    for (const [args, message] of cases) expect(() => buildFilter(n, args, NOW)).toThrow(message);
    expect(() => buildFilter(n, { types: ['x'] })).toThrow(PlanError);
  });
});

describe('subject matching', () => {
  it('follows NATS wildcards', () => {
    expect(subjectMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.*.c', 'a.b.c.d')).toBe(false);
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('a.b', 'a.b')).toBe(true);
    expect(subjectMatches('a.b', 'a.bb')).toBe(false);
  });
});

describe('event lines', () => {
  it('keeps a payload that is not JSON as base64, losslessly', () => {
    const bytes = new Uint8Array([0xff, 0x00, 0x7b]);
    const raw = rawFromPayload(7, 'x.chat.evt.conv.g-1', NOW, bytes);
    const line = EventLine.parse(JSON.parse(archiveLine(raw)));
    expect(line).toMatchObject({ seq: 7, time: '2025-03-10T12:00:00.000Z', data: Buffer.from(bytes).toString('base64') });
    expect(rawFromLine(line)).toEqual({ ...raw, payload: { notJson: Buffer.from(bytes) } });
  });

  it('upcasts through the contracts parser of the subject family and says why an event is refused', () => {
    const upcast = upcaster(n);
    const mute = { type: 'MemberMuteChanged', v: 1, conversationId: 'g-1', userId: 'bob', muted: true, at: 'now' };
    expect(upcast(rawFromPayload(1, 't1.chat.pref.g-1.bob', NOW, Buffer.from(JSON.stringify({ ...mute, junk: 1 }))))).toEqual({ ok: true, event: mute });
    // The same event on a chat.evt subject is not one of ChatEvent's.
    expect(upcast(rawFromPayload(2, 't1.chat.evt.conv.g-1', NOW, Buffer.from(JSON.stringify(mute))))).toMatchObject({ ok: false, error: expect.stringContaining('type') });
    expect(upcast(rawFromPayload(3, 't1.chat.evt.conv.g-1', NOW, Buffer.from('{')))).toEqual({ ok: false, error: 'the payload is not JSON' });
  });
});

describe('archive layout', () => {
  it('names objects by hour and seq range, and reads the names back', () => {
    const base = archiveEventsPrefix('arch/v1/', 'ns1');
    expect(base).toBe('arch/v1/ns1/events/');
    expect(archiveEventsPrefix('arch', '')).toBe('arch/default/events/');
    const key = archiveObjectKey(base, Date.parse('2025-03-10T07:59:59.999Z'), 10, 42);
    expect(key).toBe('arch/v1/ns1/events/2025/03/10/07/10-42.ndjson.gz');
    expect(parseArchiveKey(base, key)).toEqual({ key, hourMs: Date.parse('2025-03-10T07:00:00Z'), firstSeq: 10, lastSeq: 42 });
    for (const other of ['arch/v1/ns1/events/2025/03/10/07/42-10.ndjson.gz', 'arch/v1/ns1/events/2025/03/10/07/x.ndjson.gz', 'arch/v1/ns2/events/2025/03/10/07/1-2.ndjson.gz']) {
      expect(parseArchiveKey(base, other)).toBeNull();
    }
  });

  it('parses S3 locations and refuses others', () => {
    expect(parseS3Url('s3://my-bucket/a/b/')).toEqual({ bucket: 'my-bucket', prefix: 'a/b' });
    expect(parseS3Url('s3://my-bucket')).toEqual({ bucket: 'my-bucket', prefix: '' });
    for (const bad of ['http://x/y', 's3://B/x', 's3://bucket/a//b', 's3://bucket/../x']) expect(() => parseS3Url(bad)).toThrow(/s3:\/\/|prefix/);
  });
});

describe('merging archive objects by seq', () => {
  const run = (seqs: number[]) => ({
    firstSeq: seqs[0] ?? 1,
    opened: 0,
    open() {
      this.opened++;
      return (async function* () {
        for (const seq of seqs) yield { seq, from: seqs.join(',') };
      })();
    },
  });
  const collect = async (runs: ReturnType<typeof run>[]) => {
    const out: number[] = [];
    for await (const x of mergeBySeq(runs)) out.push(x.seq);
    return out;
  };

  it('yields every seq once, in order, across overlaps, rewrites and late redeliveries', async () => {
    // An object rewritten after a crash (1-5 again as 1-8), and an event redelivered late
    // into an object with a gap (3, then 20-22), listed in any order.
    const runs = [run([20, 21, 22]), run([1, 2, 3, 4, 5]), run([9, 10]), run([3, 20, 21, 22]), run([1, 2, 3, 4, 5, 6, 7, 8])];
    expect(await collect(runs)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 22]);
    expect(runs.every((r) => r.opened === 1)).toBe(true);
  });

  it('opens an object only when the merge reaches its first seq', async () => {
    const runs = [run([1, 2]), run([3, 4]), run([5])];
    const it = mergeBySeq(runs)[Symbol.asyncIterator]();
    await it.next();
    expect(runs.map((r) => r.opened)).toEqual([1, 0, 0]);
    await it.return?.(undefined);
    expect(await collect([run([]), run([2])])).toEqual([2]);
  });
});
