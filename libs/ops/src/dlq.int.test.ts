import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { names } from '@chat/contracts';
import { connectNats, deadLetter, type Nats } from '@chat/nats';
import { applyAll, listDeadLetters, replayDeadLetters } from './index';

const ns = `q${randomBytes(4).toString('hex')}`;
const n = names(ns);
const natsUrl = inject('chatEnv')['NATS_URL']!;
let nats: Nats;

beforeAll(async () => {
  nats = await connectNats(natsUrl, 'dlq-test');
  await applyAll({ natsUrl, ns, settings: { replicas: 1, maxAgeMs: 86_400_000 } });
});
afterAll(async () => {
  for (const s of [...Object.values(n.streams), ...Object.values(n.kv).map((b) => `KV_${b}`)]) await nats.jsm.streams.delete(s).catch(() => undefined);
  await nats.nc.close();
});

const chatctl = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', ...args], { env: { ...process.env, NATS_URL: natsUrl, CHAT_NS: ns }, encoding: 'utf8' });

describe('dead letters (chatctl dlq)', () => {
  it('lists an edge envelope, replays it to its edge subject once, and a second replay finds nothing', async () => {
    const envelope = JSON.stringify([{ users: ['bob'], frame: { type: 'message.new', conversationId: 'c1', seq: 1 } }]);
    const original = await nats.js.publish(n.subjects.dlv('e1'), envelope, { msgID: 'live-1-1-e1-0' });
    // Taken off the edge's queue as the edge does when it gives up on it.
    await nats.jsm.streams.deleteMessage(n.streams.delivery, original.seq);
    const input = {
      stream: n.streams.delivery,
      subject: n.subjects.dlv('e1'),
      streamSeq: original.seq,
      consumer: n.consumers.edge('e1'),
      deliveryCount: 5,
      error: 'socket buffer full',
      data: new TextEncoder().encode(envelope),
      headers: undefined,
    };
    await deadLetter(nats.js, n, input);
    // Dead-lettering the same message again (a retry after a lost term) is stored once.
    expect((await deadLetter(nats.js, n, { ...input, error: 'again' })).duplicate).toBe(true);

    const [entry, ...others] = await listDeadLetters(nats.js, n);
    expect(others).toEqual([]);
    expect(entry).toMatchObject({ stream: n.streams.delivery, subject: n.subjects.dlv('e1'), seq: original.seq, consumer: 'edge-e1', deliveries: 5, error: 'socket buffer full' });
    expect(Buffer.from(entry!.data, 'base64').toString()).toBe(envelope);

    const cli = chatctl('dlq', 'list', '--json', '--consumer', 'edge-e1');
    expect(cli.stderr).toBe('');
    expect(cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number })).toEqual([entry]);
    expect(chatctl('dlq', 'list').stdout).toContain('socket buffer full');

    const before = (await nats.jsm.streams.info(n.streams.delivery)).state.messages;
    expect(await replayDeadLetters(nats.js, n, [entry!.id])).toMatchObject([{ id: entry!.id, outcome: 'replayed', consumer: 'edge-e1' }]);
    expect((await nats.jsm.streams.info(n.streams.delivery)).state.messages).toBe(before + 1);
    const replayed = await nats.jsm.streams.getMessage(n.streams.delivery, { last_by_subj: n.subjects.dlv('e1') });
    expect(replayed?.string()).toBe(envelope);
    expect(await listDeadLetters(nats.js, n)).toEqual([]);
    expect(await replayDeadLetters(nats.js, n, [entry!.id])).toMatchObject([{ outcome: 'missing' }]);
  });

  it('leaves projection entries for a rebuild, and removes them with --rebuilt', async () => {
    const evt = await nats.js.publish(n.subjects.evtConv('g-dlq-p'), '{"not":"an event"}');
    await deadLetter(nats.js, n, {
      stream: n.streams.events,
      subject: n.subjects.evtConv('g-dlq-p'),
      streamSeq: evt.seq,
      consumer: n.consumers.projector,
      deliveryCount: 100,
      error: 'unreadable event',
      data: new TextEncoder().encode('{"not":"an event"}'),
      skipped: true,
    });
    const [entry] = await listDeadLetters(nats.js, n, { consumer: n.consumers.projector });
    expect(entry).toMatchObject({ skipped: true, seq: evt.seq, stream: n.streams.events });
    const lastBefore = (await nats.jsm.streams.info(n.streams.events)).state.last_seq;
    expect(await replayDeadLetters(nats.js, n, [entry!.id])).toMatchObject([{ outcome: 'needs-rebuild' }]);
    // Nothing republished to CHAT_EVENTS, the entry kept.
    expect((await nats.jsm.streams.info(n.streams.events)).state.last_seq).toBe(lastBefore);
    expect(await listDeadLetters(nats.js, n)).toHaveLength(1);
    expect(await replayDeadLetters(nats.js, n, [entry!.id], { rebuilt: true })).toMatchObject([{ outcome: 'replayed' }]);
    expect(await listDeadLetters(nats.js, n)).toEqual([]);
  });
});
