import { describe, expect, it } from 'vitest';
import { resetConsumer, projectorConsumerConfig } from '@chat/streams';
import { readCheckpoint } from '@chat/postgres';
import { messagesProjection } from './messages/projection';
import { receiptsProjection } from './receipts/projection';
import { conversationsProjection } from './conversations/projection';
import { applyBatch } from './pipeline/applier';
import type { StoredEvent } from './projection';
import { created, publishEvents, readModelSnapshot, receipt, sent, startProjections, waitForCheckpoint, useTestEnv, type TestEnv } from './testing/env';

const t = useTestEnv();

const all = (names: TestEnv['names']) => [messagesProjection(names), receiptsProjection(names, null), conversationsProjection(names)];

const snapshot = () => readModelSnapshot(t.env.pool);

describe('projections (a): basics', () => {
  it('builds messages, inbox, receipts and exact unread counts', async () => {
    const { names, pool } = t.env;
    const run = startProjections(t.env, all, { batchSize: 4 });
    try {
      const seqs = await publishEvents(t.env.nats.js, names, [
        created('g1', ['alice', 'bob']),
        ...[1, 2, 3, 4, 5].map((s) => sent('g1', s, 'alice', { text: s === 5 ? 'x'.repeat(150) : undefined })),
      ]);
      const last = seqs[seqs.length - 1]!;
      await waitForCheckpoint(pool, names.consumers.projMessages, last);
      await waitForCheckpoint(pool, names.consumers.projConversations, last);

      const msgs = (await pool.query('SELECT seq, stream_seq, sender_id, body FROM messages WHERE conversation_id = $1 ORDER BY seq', ['g1'])).rows;
      expect(msgs.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(msgs.map((m) => m.stream_seq)).toEqual(seqs.slice(1));
      expect(msgs[0].body).toEqual({ text: 'message 1 in g1' });

      for (const user of ['alice', 'bob']) {
        const inbox = (await pool.query('SELECT seq, stream_seq FROM inbox WHERE user_id = $1 ORDER BY stream_seq', [user])).rows;
        expect(inbox.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
        expect(inbox.map((r) => r.stream_seq)).toEqual(seqs.slice(1));
      }
      expect((await pool.query('SELECT last_seq FROM conversations WHERE id = $1', ['g1'])).rows[0].last_seq).toBe(5);

      const uc = async () =>
        Object.fromEntries(
          (await pool.query('SELECT user_id, unread_count, read_seq, last_seq, last_message, members FROM user_conversations WHERE conversation_id = $1', ['g1'])).rows.map(
            (r) => [r.user_id, r],
          ),
        );
      let list = await uc();
      expect(list['alice'].unread_count).toBe(0);
      expect(list['bob'].unread_count).toBe(5);
      expect(list['bob'].last_seq).toBe(5);
      expect(list['bob'].members).toEqual(['alice', 'bob']);
      expect(list['bob'].last_message).toMatchObject({ seq: 5, senderId: 'alice', messageId: 'm-g1-5', preview: 'x'.repeat(100) });

      // bob's devices: delivered everything, then read up to 3.
      const rseqs = await publishEvents(t.env.nats.js, names, [receipt('MessagesDelivered', 'g1', 'bob', 5, { i: 50 }), receipt('MessagesRead', 'g1', 'bob', 3, { i: 60 })]);
      const rlast = rseqs[1]!;
      await waitForCheckpoint(pool, names.consumers.projReceipts, rlast);
      await waitForCheckpoint(pool, names.consumers.projConversations, rlast);

      const rc = (await pool.query('SELECT * FROM member_receipts WHERE conversation_id = $1', ['g1'])).rows;
      expect(rc).toHaveLength(1);
      expect(rc[0]).toMatchObject({ user_id: 'bob', delivered_seq: 5, read_seq: 3 });
      expect(rc[0].read_at.toISOString()).toBe('2024-05-01T10:01:00.000Z');
      expect(rc[0].delivered_at.toISOString()).toBe('2024-05-01T10:00:50.000Z');

      list = await uc();
      expect(list['bob'].unread_count).toBe(2);
      expect(list['bob'].read_seq).toBe(3);
      expect(list['alice'].unread_count).toBe(0);

      // bob answers: alice's unread grows, bob's own message never counts for him.
      const [s6] = await publishEvents(t.env.nats.js, names, [sent('g1', 6, 'bob')]);
      await waitForCheckpoint(pool, names.consumers.projConversations, s6!);
      list = await uc();
      expect(list['alice'].unread_count).toBe(1);
      expect(list['bob'].unread_count).toBe(2);
      expect((await pool.query('SELECT count(*)::int AS n FROM inbox')).rows[0].n).toBe(12);
    } finally {
      await run.stop();
    }
  }, 60_000);
});

describe('projections (b): redelivery is a no-op', () => {
  it('applying the same batch twice changes nothing', async () => {
    const { names, pool } = t.env;
    const before = await snapshot();
    const rows = (await pool.query('SELECT stream_seq FROM messages ORDER BY stream_seq')).rows;
    expect(rows.length).toBeGreaterThan(0);
    // The same events again, as JetStream would redeliver them.
    const events: StoredEvent[] = [];
    for await (const m of await (await t.env.nats.js.consumers.get(names.streams.events)).fetch({ max_messages: 1000, expires: 1000 })) {
      events.push({ streamSeq: m.seq, event: JSON.parse(m.string()) });
    }
    expect(events.length).toBe(9);
    const res = await applyBatch(pool, all(names), events);
    expect(res.applied).toBe(0);
    expect(res.last).toBe(events[events.length - 1]!.streamSeq);
    expect(await snapshot()).toEqual(before);
  }, 60_000);

  it('a consumer rewound to sequence 1 is re-created at the checkpoint: nothing is applied twice', async () => {
    const { names, pool, nats } = t.env;
    const before = await snapshot();
    const { stream, config } = projectorConsumerConfig(names);
    await resetConsumer(nats.jsm, stream, config, 1);
    const run = startProjections(t.env, all, { batchSize: 3 });
    let next = 0;
    try {
      // One new event: applied once, and it is the only one.
      [next] = (await publishEvents(t.env.nats.js, names, [sent('g1', 7, 'alice')])) as [number];
      await waitForCheckpoint(pool, names.consumers.projMessages, next);
      expect(run.projector.stats.applied).toBe(1);
    } finally {
      await run.stop();
    }
    const after = await snapshot();
    expect(after.messages).toHaveLength(before.messages!.length + 1);
    expect(after.receipts).toEqual(before.receipts);
    expect(await Promise.all(all(names).map((p) => readCheckpoint(pool, p.name)))).toEqual([next, next, next]);
  }, 60_000);
});
