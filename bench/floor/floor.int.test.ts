import { afterEach, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createTransport } from '../src/generators/transports/floor';
import type { LoadConn } from '../src/generators/transports/types';
import { startFloor, type FloorSystem } from './harness';

const natsUrl = inject('chatEnv')['NATS_URL']!;
let floor: FloorSystem | undefined;
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await floor?.stop();
  floor = undefined;
});

async function pair(f: FloorSystem): Promise<[LoadConn, LoadConn]> {
  const t = await createTransport({ url: f.url, userPrefix: `t${Date.now().toString(36)}` });
  closers.push(() => t.close());
  return t.connectPair(0);
}

type Frame = Record<string, unknown> & { type: string };

/** A raw client of the floor: frames sent in one write, frames received awaited by type in order. */
async function raw(f: FloorSystem, u: string, p: string) {
  const ws = new WebSocket(`${f.url}/?u=${u}&p=${p}&c=c-${u < p ? u + p : p + u}`);
  closers.push(async () => ws.close());
  const inbox: Frame[] = [];
  let wake: () => void = () => undefined;
  ws.on('message', (d) => {
    inbox.push(JSON.parse(String(d)) as Frame);
    wake();
  });
  await new Promise((r) => ws.once('open', r));
  const socket = (ws as unknown as { _socket: import('node:net').Socket })._socket;
  return {
    send(...frames: Array<object | string>): void {
      socket.cork();
      for (const fr of frames) ws.send(typeof fr === 'string' ? fr : JSON.stringify(fr));
      process.nextTick(() => socket.uncork());
    },
    /** The next frame; it must be of this type. */
    async next(type: string): Promise<Frame> {
      while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
      const fr = inbox.shift()!;
      expect(fr.type).toBe(type);
      return fr;
    },
  };
}

const next = <T>(register: (cb: (v: T) => void) => void): Promise<T> => new Promise((resolve) => register(resolve));

describe('the floor (bench/floor)', () => {
  it('appends a message before its sent and new frames, folds a delivered receipt into the read of the same turn, and the reader reads every event', async () => {
    floor = await startFloor({ natsUrl, layers: 'full' });
    const [x, y] = await Promise.all([raw(floor, 'x', 'y'), raw(floor, 'y', 'x')]);
    x.send({ type: 'send', id: 'm1', text: 'hello' });
    const sent = await x.next('sent');
    expect(sent['seq']).toBeGreaterThan(0);
    expect(await y.next('new')).toMatchObject({ text: 'hello', seq: sent['seq'], senderId: 'x' });

    // Both receipts in one write, so the server reads them in one turn: one event, one frame.
    y.send({ type: 'delivered', upToSeq: sent['seq'] }, { type: 'read', upToSeq: sent['seq'] });
    expect(await x.next('receipt')).toMatchObject({ status: 'read', upToSeq: sent['seq'], userId: 'y' });
    // The next receipt frame x gets is the second message's: no delivered came for the first.
    x.send({ type: 'send', id: 'm2', text: 'again' });
    const sent2 = await x.next('sent');
    await y.next('new');
    y.send({ type: 'delivered', upToSeq: sent2['seq'] });
    expect(await x.next('receipt')).toMatchObject({ status: 'delivered', upToSeq: sent2['seq'] });

    expect(await floor.storedMessages()).toBe(4);
    await floor.readerCaughtUp();
    const { server, reader } = await floor.stop();
    expect(server).toMatchObject({ messages: 2, receiptsIn: 3, receiptsFolded: 1, receiptsAppended: 2, badFrames: 0, appendErrors: 0 });
    expect(reader).toMatchObject({ events: 4, messages: 2, receipts: 2 });
  });

  it('with one append per turn, stores a turn’s events as one JetStream message and the reader still counts each event', async () => {
    floor = await startFloor({ natsUrl, layers: 'full', batch: 'turn' });
    const [a, b] = await pair(floor);
    const got = new Map<string, number>();
    const both = next<void>((cb) =>
      b.onMessage((text, seq) => {
        got.set(text, seq);
        if (got.size === 2) cb();
      }),
    );
    // Two sends in one turn: one append holds both.
    const [s1, s2] = await Promise.all([a.send('one'), a.send('two')]);
    await both;
    expect(s2).toBeGreaterThan(s1);
    expect(got).toEqual(new Map([['one', s1], ['two', s2]]));
    const messagesStored = await floor.storedMessages();
    expect(messagesStored).toBeGreaterThanOrEqual(1);
    expect(messagesStored).toBeLessThanOrEqual(2);
    await floor.readerCaughtUp();
    const { reader } = await floor.stop();
    expect(reader).toMatchObject({ events: 2, messages: 2 });
  });

  it('spreads conversations over several streams and deletes every stream it made on stop', async () => {
    floor = await startFloor({ natsUrl, layers: 'js', streams: 3 });
    expect(floor.streams).toHaveLength(3);
    const t = await createTransport({ url: floor.url, userPrefix: `s${Date.now().toString(36)}` });
    closers.push(() => t.close());
    const pairs = await Promise.all(Array.from({ length: 6 }, (_, i) => t.connectPair(i)));
    await Promise.all(pairs.map(([a]) => a.send('x')));
    expect(await floor.storedMessages()).toBe(6);
    const nc = await connect({ servers: natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const counts = await Promise.all(floor.streams.map(async (s) => (await jsm.streams.info(s)).state.messages));
      expect(counts.filter((n) => n > 0).length).toBeGreaterThan(1);
      const names = floor.streams;
      await floor.stop();
      for (const s of names) await expect(jsm.streams.info(s)).rejects.toThrow(/stream not found/);
    } finally {
      await nc.close();
    }
  });

  it('answers a malformed frame with an error and stores nothing for it; positions come from memory without JetStream', async () => {
    floor = await startFloor({ natsUrl, layers: 'ws' });
    expect(floor.streams).toEqual([]);
    const x = await raw(floor, 'x', 'y');
    x.send('not json');
    expect(await x.next('error')).toEqual({ type: 'error', message: 'not JSON' });
    x.send({ type: 'send', id: 'm1', text: 'hi' });
    expect(await x.next('sent')).toMatchObject({ id: 'm1', seq: 1 });
    const { server } = await floor.stop();
    expect(server).toMatchObject({ badFrames: 1, messages: 1 });
  });
});
