import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JetStreamApiCodes, JetStreamApiError, StorageType } from '@nats-io/jetstream';
import { names, type ChatEvent, type StoredEvent } from '@chat/contracts';
import { messageSent } from '@chat/domain/fixtures';
import { connectNats, type Nats } from './connect';
import { ConcurrencyError, JetStreamEventStore } from './eventStore';

const n = names(`t${Math.random().toString(36).slice(2, 10)}`);
let nats: Nats;
let store: JetStreamEventStore;

beforeAll(async () => {
  nats = await connectNats(inject('chatEnv')['NATS_URL']!, 'event-store-test');
  // The settings of CHAT_EVENTS this adapter relies on (streams/ owns the real definition;
  // importing it here would make streams and nats depend on each other).
  await nats.jsm.streams.add({
    name: n.streams.events,
    subjects: [n.subjects.evtAll],
    storage: StorageType.Memory,
    duplicate_window: 120_000 * 1_000_000,
    allow_direct: true,
  });
  store = new JetStreamEventStore(nats.js, nats.jsm, n.streams.events);
});
afterAll(async () => {
  for (const s of Object.values(n.streams)) await nats.jsm.streams.delete(s).catch(() => undefined);
  await nats.nc.close();
});

const at = '2030-01-01T00:00:00.000Z';
const created = (conversationId: string): ChatEvent => ({
  type: 'ConversationCreated',
  v: 1,
  conversationId,
  kind: 'group',
  createdBy: 'u1',
  members: [{ userId: 'u1', role: 'owner' }],
  at,
});
const sent = (conversationId: string, seq: number): ChatEvent =>
  messageSent({ conversationId, messageId: `m${seq}`, seq, senderId: 'u1', senderDeviceId: 'd1', clientMsgId: `c${seq}`, body: { text: `hello ${seq}` }, sentAt: at });
const seqsOf = (events: StoredEvent[]) => events.map((e) => (e.type === 'MessageSent' ? e.seq : 0));

describe('JetStreamEventStore', () => {
  it('loads an empty subject as no events at position 0', async () => {
    expect(await store.load(n.subjects.evtConv('nothing-here'))).toEqual({ events: [], lastSubjectSeq: 0 });
  });

  it('appends a batch with chained expectations and loads it back, whole or from a position', async () => {
    const subject = n.subjects.evtConv('c-batch');
    const last = await store.append(subject, [created('c-batch'), sent('c-batch', 1), sent('c-batch', 2)], 0, 'cmd-batch');
    const all = await store.load(subject);
    expect(all.lastSubjectSeq).toBe(last);
    expect(all.events.map((e) => e.type)).toEqual(['ConversationCreated', 'MessageSent', 'MessageSent']);
    expect(await store.load(subject, last)).toEqual({ events: [], lastSubjectSeq: last });
    expect(seqsOf((await store.load(subject, last - 1)).events)).toEqual([2]);
  });

  it('reads a long subject interleaved with other subjects in order (consumer path)', async () => {
    const subject = n.subjects.evtConv('c-long');
    let pos = await store.append(subject, [created('c-long')], 0, 'cmd-long-0');
    const first = pos;
    for (let seq = 1; seq <= 60; seq++) {
      pos = await store.append(subject, [sent('c-long', seq)], pos, `cmd-long-${seq}`);
      // Noise on another subject between every append.
      await nats.js.publish(n.subjects.evtConv('c-noise'), JSON.stringify(sent('c-noise', seq)));
    }
    const all = await store.load(subject);
    expect(all.lastSubjectSeq).toBe(pos);
    expect(seqsOf(all.events)).toEqual([0, ...Array.from({ length: 60 }, (_, i) => i + 1)]);
    const tail = await store.load(subject, first);
    expect(seqsOf(tail.events)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const last3 = await store.load(subject, pos - 6); // noise and events alternate: three events after it
    expect(seqsOf(last3.events)).toEqual([58, 59, 60]);
  });

  it('rejects an append with a stale expectation with ConcurrencyError (JetStream 10071)', async () => {
    const subject = n.subjects.evtConv('c-occ');
    const pos = await store.append(subject, [created('c-occ')], 0, 'cmd-occ-0');
    const stale = store.append(subject, [sent('c-occ', 1)], pos - 1 > 0 ? pos - 1 : 999, 'cmd-occ-1');
    await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
    const err = (await stale.catch((e: unknown) => e)) as ConcurrencyError;
    expect(err.reason).toBe('wrong-last-sequence');
    expect(err.cause).toBeInstanceOf(JetStreamApiError);
    expect((err.cause as JetStreamApiError).code).toBe(JetStreamApiCodes.StreamWrongLastSequence);
    // "must be empty" on a subject that is not
    await expect(store.append(subject, [sent('c-occ', 1)], 0, 'cmd-occ-2')).rejects.toBeInstanceOf(ConcurrencyError);
    // A rejected publish does not use up its message id: the same command appends once current.
    const next = await store.append(subject, [sent('c-occ', 1)], pos, 'cmd-occ-1');
    expect(next).toBeGreaterThan(pos);
    expect(seqsOf((await store.load(subject)).events)).toEqual([0, 1]);
  });

  it('turns a repeated append of the same command into a ConcurrencyError without a second event', async () => {
    const subject = n.subjects.evtConv('c-dup');
    const pos = await store.append(subject, [created('c-dup')], 0, 'cmd-dup-0');
    const after = await store.append(subject, [sent('c-dup', 1)], pos, 'cmd-dup-1');
    // The retry carries the stale expectation. nats-server 2.11+ checks the expectation first
    // (wrong last sequence); either way the caller reloads and decides again.
    const retry = await store.append(subject, [sent('c-dup', 1)], pos, 'cmd-dup-1').catch((e: unknown) => e);
    expect(retry).toBeInstanceOf(ConcurrencyError);
    expect(['duplicate', 'wrong-last-sequence']).toContain((retry as ConcurrencyError).reason);
    // With the current expectation, the same message id is a duplicate: no second event.
    const again = await store.append(subject, [sent('c-dup', 1)], after, 'cmd-dup-1').catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ConcurrencyError);
    expect((again as ConcurrencyError).reason).toBe('duplicate');
    expect(await store.load(subject)).toMatchObject({ lastSubjectSeq: after });
    expect(seqsOf((await store.load(subject)).events)).toEqual([0, 1]);
  });
});
