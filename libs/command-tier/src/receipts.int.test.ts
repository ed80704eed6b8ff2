import { describe, expect, it } from 'vitest';
import { conversation } from './kinds';
import { createGroup, markDelivered, markRead, send, useCommandTestEnv } from './testing/env';

const t = useCommandTestEnv();

const instance = (opts: Parameters<typeof t.instance>[0] = {}) => t.instance(opts);

const receipts = async (conv: string, user: string) =>
  (await t.store.load(t.env.names.subjects.evtRcpt(conv, user))).events.map((e) => `${e.type}:${'upToSeq' in e ? e.upToSeq : ''}`);

describe('MarkRead / MarkDelivered', () => {
  it('moves the member watermark on its own subject, clamped to the last message, forward only', async () => {
    const conv = 'g-rcpt';
    const a = await instance();
    await a.execute(createGroup(conv, 'alice', ['bob']));
    for (const id of ['m1', 'm2', 'm3']) await a.execute(send(conv, 'alice', id));

    expect(await a.execute(markRead(conv, 'bob', 10))).toEqual({ kind: 'accepted' });
    expect(await receipts(conv, 'bob')).toEqual(['MessagesRead:3']);
    // Lower or equal watermarks change nothing; read implies delivered.
    await a.execute(markRead(conv, 'bob', 2));
    await a.execute(markRead(conv, 'bob', 3));
    await a.execute(markDelivered(conv, 'bob', 3));
    expect(await receipts(conv, 'bob')).toEqual(['MessagesRead:3']);

    await a.execute(markDelivered(conv, 'alice', 2));
    await a.execute(markDelivered(conv, 'alice', 1));
    expect(await receipts(conv, 'alice')).toEqual(['MessagesDelivered:2']);
    // Message appends never touched the receipt subjects.
    expect((await t.store.load(t.env.names.subjects.evtConv(conv))).events).toHaveLength(4);
  });

  it('refuses non-members and unknown conversations', async () => {
    const conv = 'g-rcpt-private';
    const a = await instance();
    await a.execute(createGroup(conv, 'alice', ['bob']));
    await a.execute(send(conv, 'alice', 'm1'));
    await expect(a.execute(markRead(conv, 'mallory', 1))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.execute(markDelivered(conv, 'mallory', 1))).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.execute(markRead('g-nowhere', 'bob', 1))).rejects.toMatchObject({ code: 'not_found' });
    expect(await receipts(conv, 'mallory')).toEqual([]);
  });

  it('refreshes a cached conversation that is behind the watermark instead of clamping to stale state', async () => {
    const conv = 'g-rcpt-stale';
    const a = await instance();
    const b = await instance();
    await a.execute(createGroup(conv, 'alice', ['bob']));
    await a.execute(send(conv, 'alice', 'm1'));
    await b.aggregates.get(t.env.names.subjects.evtConv(conv), conversation);
    for (const id of ['m2', 'm3', 'm4', 'm5']) await a.execute(send(conv, 'alice', id));
    await b.execute(markRead(conv, 'bob', 5));
    expect(await receipts(conv, 'bob')).toEqual(['MessagesRead:5']);
  });

  it('two instances moving the same watermark append each step once, in order', async () => {
    const conv = 'g-rcpt-race';
    const a = await instance();
    const b = await instance();
    await a.execute(createGroup(conv, 'alice', ['bob']));
    for (let i = 1; i <= 20; i++) await a.execute(send(conv, 'alice', `m${i}`));
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => a.execute(markDelivered(conv, 'bob', i + 1))),
      ...Array.from({ length: 20 }, (_, i) => b.execute(markDelivered(conv, 'bob', i + 1))),
    ]);
    const marks = (await receipts(conv, 'bob')).map((r) => Number(r.split(':')[1]));
    expect(marks.at(-1)).toBe(20);
    for (let i = 1; i < marks.length; i++) expect(marks[i]).toBeGreaterThan(marks[i - 1]!);
  });
});
