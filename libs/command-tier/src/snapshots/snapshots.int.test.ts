import { beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ulid } from 'ulid';
import type { CommandOf } from '@chat/contracts';
import { Aggregates } from '../aggregates';
import { conversation } from '../kinds';
import { conv, createGroup, markRead, meta, openSnapshotBucket, send, useCommandTestEnv } from '../testing/env';
import { KEEPER_POSITION_KEY, SnapshotKeeper } from './keeper';
import { KvSnapshotStore, type SnapshotStore } from './store';

const t = useCommandTestEnv();
let snapshots: KvSnapshotStore;
beforeAll(async () => {
  snapshots = new KvSnapshotStore(await openSnapshotBucket(t.env));
});

const instance = (opts: Parameters<typeof t.instance>[0] = {}) => t.instance(opts);

const mute = (conversationId: string, by: string, muted: boolean): CommandOf<'MuteConversation'> => ({ type: 'MuteConversation', v: 1, meta: meta(by), data: { conversationId, muted } });

/** A snapshot store whose writes are lost, like those of a process that crashed before writing. */
const losingWrites = (real: SnapshotStore): SnapshotStore => ({ get: (s) => real.get(s), position: (s, atLeast) => real.position(s, atLeast), put: async () => false });

/** Removes a subject's events from CHAT_EVENTS, as max age does. */
const ageOut = (subject: string) => t.env.nats.jsm.streams.purge(t.env.names.streams.events, { filter: subject });

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('snapshots (real JetStream and KV)', () => {
  it('a conversation, a watermark and a mute outlive their events: a fresh instance continues from the snapshots', async () => {
    const id = 'g-outlive';
    const subject = t.env.names.subjects.evtConv(id);
    const a = await instance();
    await a.execute(createGroup(id, 'alice', ['bob']));
    const first = await a.execute(send(id, 'alice', 'k1'));
    await a.execute(send(id, 'bob', 'k2'));
    await a.execute(markRead(id, 'bob', 2));
    expect(await a.execute(mute(id, 'bob', true))).toMatchObject({ muted: true });
    await a.stop(); // writes every state not yet snapshotted

    for (const s of [subject, t.env.names.subjects.evtRcpt(id, 'bob'), t.env.names.subjects.pref(id, 'bob')]) {
      expect((await snapshots.get(s))?.position).toBe((await t.store.load(s)).lastSubjectSeq);
      await ageOut(s);
      expect((await t.store.load(s)).events).toEqual([]);
    }

    const b = await instance();
    // The retry of a send still inside the idempotency window gets the first answer…
    expect(await b.execute({ ...send(id, 'alice', 'k1'), data: { ...send(id, 'alice', 'k1').data } })).toEqual(first);
    // …a new send the next seq, members and roles are known…
    expect(await b.execute(send(id, 'bob', 'k3'))).toMatchObject({ kind: 'message.sent', seq: 3 });
    await expect(b.execute(send(id, 'mallory', 'k4'))).rejects.toMatchObject({ code: 'forbidden' });
    expect(await b.execute(conv('UpdateConversation', id, 'alice', { title: 'renamed' }))).toMatchObject({ changed: ['title'] });
    // …the watermark does not go back, and the mute is still on: unmuting appends an event.
    await b.execute(markRead(id, 'bob', 1));
    expect((await t.store.load(t.env.names.subjects.evtRcpt(id, 'bob'))).events).toEqual([]);
    expect(await b.execute(mute(id, 'bob', false))).toEqual({ kind: 'conversation.muted', conversationId: id, muted: false });
    expect((await t.store.load(t.env.names.subjects.pref(id, 'bob'))).events).toMatchObject([{ type: 'MemberMuteChanged', muted: false }]);
    expect(b.aggregates.stats.snapshotLoads).toBeGreaterThanOrEqual(3);
  });

  it('the keeper writes the snapshots a crashed process did not, and resumes from its position', async () => {
    const id = 'g-keeper';
    const subject = t.env.names.subjects.evtConv(id);
    const crashed = await instance({ snapshots: losingWrites });
    await crashed.execute(createGroup(id, 'alice', ['bob']));
    for (let i = 0; i < 5; i++) await crashed.execute(send(id, 'alice', `k${i}`));
    await crashed.execute(markRead(id, 'bob', 5));
    await crashed.stop();
    expect(await snapshots.get(subject)).toBeUndefined();

    const kv = await openSnapshotBucket(t.env);
    const keeperOf = () =>
      new SnapshotKeeper({
        js: t.env.nats.js,
        kv,
        names: t.env.names,
        aggregates: new Aggregates(t.store, snapshots, { cacheBytes: 0, snapshotEvery: Number.POSITIVE_INFINITY, snapshotAfterMs: 100 }),
        log: pino({ level: 'silent' }),
        graceMs: 200,
      });
    const keeper = keeperOf();
    keeper.start();
    t.closeLater(() => keeper.stop());
    const last = (await t.env.nats.jsm.streams.info(t.env.names.streams.events)).state.last_seq;
    await until('the keeper to pass the stream end', async () => keeper.stats.position, (p) => p >= last);
    expect((await snapshots.get(subject))?.state).toMatchObject({ lastSeq: 5, members: [{ userId: 'alice' }, { userId: 'bob' }] });
    expect((await snapshots.get(t.env.names.subjects.evtRcpt(id, 'bob')))?.state).toMatchObject({ readSeq: 5 });
    expect(keeper.stats.repaired).toBeGreaterThanOrEqual(2);
    expect(keeper.stats.lost).toBe(0);
    // It reads headers only: the subject, sequence and time of each event, never a payload.
    const readers = await t.env.nats.jsm.consumers.list(t.env.names.streams.events).next();
    expect(readers.filter((c) => c.config.headers_only)).toHaveLength(1);
    expect(Number((await kv.get(KEEPER_POSITION_KEY))!.string())).toBe(keeper.stats.position);
    await keeper.stop();

    // Restarted, it reads on from its position: none of the events above again.
    const again = keeperOf();
    const a = await instance();
    await a.execute(send(id, 'bob', 'after'));
    again.start();
    t.closeLater(() => again.stop());
    const end = (await t.env.nats.jsm.streams.info(t.env.names.streams.events)).state.last_seq;
    await until('the second keeper to reach the end', async () => again.stats.position, (p) => p >= end);
    expect(again.stats.events).toBe(end - keeper.stats.position);
  });

  it('replies to, hides and deletes (as an admin) a message older than the state keeps, found in the stream', async () => {
    const id = 'g-old';
    const a = await instance();
    await a.execute(createGroup(id, 'alice', ['bob']));
    const old = ulid();
    const ulidSend = (by: string, k: string, extra: Partial<CommandOf<'SendMessage'>['data']> = {}): CommandOf<'SendMessage'> => {
      const c = send(id, by, k);
      return { ...c, data: { ...c.data, messageId: ulid(), ...extra } };
    };
    await a.execute({ ...ulidSend('bob', 'first'), data: { ...ulidSend('bob', 'first').data, messageId: old } });
    // More messages than the state keeps records of (1,024).
    for (let i = 0; i < 1_030; i++) a.execute(ulidSend('alice', `fill-${i}`)).catch(() => undefined);
    await until('the fill to be stored', async () => (await a.execute(ulidSend('alice', 'probe'))) as { seq: number }, (r) => r.seq >= 1_032);
    const state = (await a.aggregates.get(t.env.names.subjects.evtConv(id), conversation)).state;
    expect(state.status === 'active' && state.messages.has(old)).toBe(false);

    expect(await a.execute(ulidSend('bob', 'reply', { replyTo: old }))).toMatchObject({ kind: 'message.sent' });
    expect(await a.execute(conv('DeleteMessage', id, 'bob', { messageId: old, scope: 'me' }))).toMatchObject({ kind: 'message.deleted', seq: 1, scope: 'me' });
    expect(await a.execute(conv('DeleteMessage', id, 'alice', { messageId: old, scope: 'everyone' }))).toMatchObject({ kind: 'message.deleted', seq: 1, scope: 'everyone' });
    // An id that is no message of this conversation stays unknown.
    await expect(a.execute(conv('DeleteMessage', id, 'bob', { messageId: ulid(), scope: 'me' }))).rejects.toMatchObject({ code: 'not_found' });
    await expect(a.execute(ulidSend('bob', 'bad-reply', { replyTo: 'not-a-ulid' }))).rejects.toMatchObject({ code: 'bad_request' });
  }, 60_000);
});
