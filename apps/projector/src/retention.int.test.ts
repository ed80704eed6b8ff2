import { describe, expect, it } from 'vitest';
import { messagesProjection } from './messages/projection';
import { receiptsProjection, type Retention } from './receipts/projection';
import { conversationsProjection, EXPIRED_PREVIEW } from './conversations/projection';
import { sweep, sweepIntervalMs } from './sweeper';
import { at, created, edited, hidden, publishEvents, receipt, sent, startProjections, waitForCheckpoint, useTestEnv, type TestEnv } from './testing/env';

const t = useTestEnv();

const build = (retention: Retention) => (names: TestEnv['names']) => [
  messagesProjection(names),
  receiptsProjection(names, null, { retention }),
  conversationsProjection(names, { retention }),
];

/** Publishes events and waits until every projection applied them. */
async function publishAndWait(events: Parameters<typeof publishEvents>[2]): Promise<number[]> {
  const seqs = await publishEvents(t.env.nats.js, t.env.names, events);
  const isReceipt = (e: (typeof events)[number]) => e.type === 'MessagesDelivered' || e.type === 'MessagesRead';
  const lastOf = (pick: (e: (typeof events)[number]) => boolean) => Math.max(0, ...seqs.filter((_, i) => pick(events[i]!)));
  // Each consumer sees only its subjects, so its checkpoint stops at the last event it gets.
  await waitForCheckpoint(t.env.pool, t.env.names.consumers.projMessages, lastOf((e) => !isReceipt(e)));
  await waitForCheckpoint(t.env.pool, t.env.names.consumers.projReceipts, lastOf(isReceipt));
  await waitForCheckpoint(t.env.pool, t.env.names.consumers.projConversations, seqs[seqs.length - 1]!);
  return seqs;
}

const bodies = async (conversationId: string) =>
  Object.fromEntries(
    (await t.env.pool.query<{ seq: number; body: unknown; expunged_at: Date | null }>('SELECT seq, body, expunged_at FROM messages WHERE conversation_id = $1 ORDER BY seq', [conversationId])).rows.map(
      (r) => [r.seq, r.body === null ? null : 'body'],
    ),
  );

describe('retention: device watermarks (history mode)', () => {
  it('keeps a never-decreasing watermark per device and the devices of each user; bodies stay', async () => {
    const run = startProjections(t.env, build('history'), { batchSize: 3 });
    try {
      await publishAndWait([
        created('d1', ['alice', 'bob'], 0, 'direct'),
        sent('d1', 1, 'alice'),
        sent('d1', 2, 'alice'),
        sent('d1', 3, 'alice'),
        receipt('MessagesDelivered', 'd1', 'bob', 2, { device: 'bob-phone', i: 100 }),
        receipt('MessagesRead', 'd1', 'bob', 3, { device: 'bob-laptop', i: 101 }),
        receipt('MessagesDelivered', 'd1', 'bob', 1, { device: 'bob-phone', i: 102 }),
        receipt('MessagesDelivered', 'd1', 'alice', 3, { device: 'alice-phone', i: 103 }),
      ]);
      // Times to the hour (toHour): at(100)…at(103) are all 10:00.
      const hour = (h: number) => new Date(Date.parse(at(0)) + h * 3_600_000);
      const devices = async () => (await t.env.pool.query('SELECT user_id, device_id, delivered_seq, delivered_at FROM device_receipts WHERE conversation_id = $1 ORDER BY user_id, device_id', ['d1'])).rows;
      expect(await devices()).toEqual([
        { user_id: 'alice', device_id: 'alice-phone', delivered_seq: 3, delivered_at: hour(0) },
        { user_id: 'bob', device_id: 'bob-laptop', delivered_seq: 3, delivered_at: hour(0) },
        { user_id: 'bob', device_id: 'bob-phone', delivered_seq: 2, delivered_at: hour(0) },
      ]);
      const known = async () => (await t.env.pool.query("SELECT device_id, first_seen_at, last_seen_at, xmin::text AS version FROM user_devices WHERE user_id = 'bob' ORDER BY device_id")).rows;
      const before = await known();
      expect(before.map(({ version: _, ...row }) => row)).toEqual([
        { device_id: 'bob-laptop', first_seen_at: hour(0), last_seen_at: hour(0) },
        { device_id: 'bob-phone', first_seen_at: hour(0), last_seen_at: hour(0) },
      ]);
      // Later in the same hour: the phone's watermark moves, its time does not; the devices'
      // rows are not written at all. Two hours later: the time moves with the watermark, and
      // the phone was last seen then.
      await publishAndWait([sent('d1', 4, 'alice', { i: 1000 }), receipt('MessagesDelivered', 'd1', 'bob', 3, { device: 'bob-phone', i: 1800 })]);
      expect((await devices())[2]).toEqual({ user_id: 'bob', device_id: 'bob-phone', delivered_seq: 3, delivered_at: hour(0) });
      expect(await known()).toEqual(before);
      await publishAndWait([receipt('MessagesDelivered', 'd1', 'bob', 4, { device: 'bob-phone', i: 7300 })]);
      expect((await devices())[2]).toEqual({ user_id: 'bob', device_id: 'bob-phone', delivered_seq: 4, delivered_at: hour(2) });
      const after = await known();
      expect(after[0]).toEqual(before[0]);
      expect(after[1]).toMatchObject({ device_id: 'bob-phone', first_seen_at: hour(0), last_seen_at: hour(2) });
      // The member watermark is unchanged in meaning: the highest of any device.
      const member = (await t.env.pool.query("SELECT delivered_seq, read_seq FROM member_receipts WHERE conversation_id = 'd1' AND user_id = 'bob'")).rows[0];
      expect(member).toEqual({ delivered_seq: 4, read_seq: 3 });
      // History mode: every device acknowledged everything, the bodies stay.
      expect(await bodies('d1')).toEqual({ 1: 'body', 2: 'body', 3: 'body', 4: 'body' });
    } finally {
      await run.stop();
    }
  });
});

describe('retention: ephemeral', () => {
  it('nulls a body exactly when the last recipient device acknowledges it, and expires the list preview', async () => {
    const run = startProjections(t.env, build('ephemeral'), { batchSize: 1 });
    try {
      // bob-laptop becomes known by acknowledging in another conversation first.
      await publishAndWait([
        created('x1', ['carol', 'bob'], 200, 'direct'),
        sent('x1', 1, 'carol', { i: 201 }),
        receipt('MessagesDelivered', 'x1', 'bob', 1, { device: 'bob-laptop', i: 202 }),
        created('e1', ['alice', 'bob'], 210, 'direct'),
        sent('e1', 1, 'alice', { i: 211 }),
        sent('e1', 2, 'alice', { i: 212 }),
        // The sender's own devices do not matter.
        receipt('MessagesRead', 'e1', 'alice', 2, { device: 'alice-phone', i: 213 }),
        receipt('MessagesDelivered', 'e1', 'bob', 2, { device: 'bob-phone', i: 214 }),
      ]);
      // bob-laptop has not acknowledged e1 yet.
      expect(await bodies('e1')).toEqual({ 1: 'body', 2: 'body' });

      await publishAndWait([receipt('MessagesDelivered', 'e1', 'bob', 1, { device: 'bob-laptop', i: 215 })]);
      expect(await bodies('e1')).toEqual({ 1: null, 2: 'body' });
      const m1 = (await t.env.pool.query("SELECT expunged_at FROM messages WHERE conversation_id = 'e1' AND seq = 1")).rows[0];
      expect(m1.expunged_at).toEqual(new Date(at(215)));
      let preview = (await t.env.pool.query("SELECT user_id, last_message FROM user_conversations WHERE conversation_id = 'e1' ORDER BY user_id")).rows;
      expect(preview.map((r) => r.last_message.preview)).toEqual(['message 2 in e1', 'message 2 in e1']);

      const seqs = await publishAndWait([receipt('MessagesDelivered', 'e1', 'bob', 2, { device: 'bob-laptop', i: 216 })]);
      expect(await bodies('e1')).toEqual({ 1: null, 2: null });
      preview = (await t.env.pool.query("SELECT user_id, last_message, version FROM user_conversations WHERE conversation_id = 'e1' ORDER BY user_id")).rows;
      for (const r of preview) {
        expect(r.last_message).toMatchObject({ seq: 2, preview: EXPIRED_PREVIEW, expired: true });
        expect(Number(r.version)).toBe(seqs[0]);
      }
      // x1: bob has two known devices and only the laptop acknowledged.
      expect(await bodies('x1')).toEqual({ 1: 'body' });
    } finally {
      await run.stop();
    }
  });

  it('a recipient without a known device holds the body; group members who joined later do not count', async () => {
    const run = startProjections(t.env, build('ephemeral'), { batchSize: 2 });
    try {
      await publishAndWait([
        created('g1', ['alice', 'bob', 'dave'], 300),
        sent('g1', 1, 'alice', { i: 301 }),
        receipt('MessagesDelivered', 'g1', 'bob', 1, { device: 'bob-phone', i: 302 }),
        receipt('MessagesDelivered', 'g1', 'bob', 1, { device: 'bob-laptop', i: 303 }),
      ]);
      // dave has never acknowledged anything: no known device, not acknowledged.
      expect(await bodies('g1')).toEqual({ 1: 'body' });
      await publishAndWait([receipt('MessagesDelivered', 'g1', 'dave', 1, { device: 'dave-phone', i: 304 })]);
      expect(await bodies('g1')).toEqual({ 1: null });
    } finally {
      await run.stop();
    }
  });
});

describe('retention: sweeper', () => {
  it('deletes rows older than the max age in chunks, keeps newer ones, and is idempotent', async () => {
    const run = startProjections(t.env, build('history'));
    try {
      await publishAndWait([
        created('s1', ['alice', 'bob'], 400),
        ...[1, 2, 3, 4, 5, 6].map((s) => sent('s1', s, 'alice', { i: 400 + s })),
        edited('s1', 2, 'alice', 'edited', 407),
        hidden('s1', 1, 'bob', 408),
        hidden('s1', 6, 'bob', 409),
        created('s2', ['alice', 'carol'], 390),
        sent('s2', 1, 'carol', { i: 391 }),
        receipt('MessagesDelivered', 's2', 'alice', 1, { device: 'alice-old', i: 392 }),
        // Device times are kept to the hour (toHour): the tablet is seen in the next hour, the
        // old phone in the hour of the cutoff, which is before the cutoff.
        receipt('MessagesDelivered', 's1', 'bob', 6, { device: 'bob-tablet', i: 3_610 }),
      ]);
    } finally {
      await run.stop();
    }
    // Max age 2 s at "now" = at(406): anything sent before at(404) is expired.
    const opts = { maxAgeMs: 2_000, now: () => new Date(at(406)), chunk: 2 };
    const first = await sweep(t.env.pool, opts);
    expect(first.messages).toBeGreaterThanOrEqual(4); // s1 1..3, s2 1 (and older rows of other tests)
    const q = async (sql: string, p: unknown[] = []) => (await t.env.pool.query(sql, p)).rows;
    expect((await q("SELECT seq FROM messages WHERE conversation_id = 's1' ORDER BY seq")).map((r) => r.seq)).toEqual([4, 5, 6]);
    expect(await q("SELECT seq FROM messages WHERE conversation_id = 's2'")).toEqual([]);
    expect((await q("SELECT DISTINCT seq FROM inbox WHERE conversation_id = 's1' ORDER BY seq")).map((r) => r.seq)).toEqual([4, 5, 6]);
    expect((await q("SELECT seq FROM hidden_messages WHERE conversation_id = 's1'")).map((r) => r.seq)).toEqual([6]);
    expect((await q("SELECT seq FROM conversation_senders WHERE conversation_id = 's1' ORDER BY seq")).map((r) => r.seq)).toEqual([4, 5, 6]);
    // The list row stays; a last message older than the max age loses its preview.
    const s2 = await q("SELECT last_message FROM user_conversations WHERE conversation_id = 's2'");
    expect(s2).toHaveLength(2);
    for (const r of s2) expect(r.last_message).toMatchObject({ seq: 1, preview: EXPIRED_PREVIEW, expired: true });
    expect((await q("SELECT last_message FROM user_conversations WHERE conversation_id = 's1'"))[0].last_message.preview).toBe('message 6 in s1');
    // Devices and device watermarks not seen since the cutoff go; newer ones stay.
    expect(await q("SELECT device_id FROM user_devices WHERE device_id = 'alice-old'")).toEqual([]);
    expect(await q("SELECT device_id FROM device_receipts WHERE device_id = 'alice-old'")).toEqual([]);
    expect(await q("SELECT device_id FROM user_devices WHERE device_id = 'bob-tablet'")).toHaveLength(1);
    // Member watermarks are not time-bound.
    expect(await q("SELECT user_id FROM member_receipts WHERE conversation_id = 's2'")).toHaveLength(1);

    const second = await sweep(t.env.pool, opts);
    expect(second).toEqual({ messages: 0, inbox: 0, hidden: 0, senders: 0, previews: 0, deviceReceipts: 0, devices: 0, mediaUploads: 0, mediaObjects: 0 });
  });

  it('sweeps every min(1 minute, max age / 10) unless configured', () => {
    expect(sweepIntervalMs(30 * 86_400_000)).toBe(60_000);
    expect(sweepIntervalMs(2_000)).toBe(200);
    expect(sweepIntervalMs(2_000, 50)).toBe(50);
  });
});
