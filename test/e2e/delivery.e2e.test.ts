import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatClient } from '@chat/client';
import { eventually, startEdge, startSystem, type RunningSystem } from '../support/system';
import { harness, text } from '../support/harness';

/**
 * The delivery promise under flapping connections and a dying edge: every acknowledged
 * message reaches every device of the recipient exactly once (after SDK de-duplication), in
 * seq order per conversation.
 */
let sys: RunningSystem;
const { u, connect, closeAll } = harness(() => sys);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), { CHAT_DRAIN_GRACE: '2s' });
}, 60_000);

afterAll(async () => {
  closeAll();
  await sys?.stop();
});

/** What one device saw: seqs per conversation in emission order. */
function recorder(c: ChatClient) {
  const seqs = new Map<string, number[]>();
  c.on('message', (m) => {
    let s = seqs.get(m.conversationId);
    if (!s) seqs.set(m.conversationId, (s = []));
    s.push(m.seq);
  });
  return {
    seqs,
    total: () => [...seqs.values()].reduce((n, s) => n + s.length, 0),
  };
}

/** Checks one device's record against what the senders were told was stored. */
function check(seen: Map<string, number[]>, acked: Map<string, number>) {
  let lost = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  for (const [conversationId, last] of acked) {
    const got = seen.get(conversationId) ?? [];
    duplicates += got.length - new Set(got).size;
    for (let i = 1; i < got.length; i++) if (got[i]! <= got[i - 1]!) outOfOrder++;
    for (let seq = 1; seq <= last; seq++) if (!got.includes(seq)) lost++;
  }
  return { lost, outOfOrder, duplicates };
}

const reconnect = { initialDelayMs: 50, maxDelayMs: 400 };

describe('delivery under failures', () => {
  it('a receiver with two flapping devices gets all 1,000 messages from three senders exactly once, in order', async () => {
    const receiver = u('rx');
    const senders = await Promise.all([0, 1, 2].map((i) => connect(u(`tx${i}`))));
    const conversations = await Promise.all(senders.map((s) => s.createConversation({ kind: 'direct', members: [receiver] }).then((c) => c.conversationId)));
    const devices = await Promise.all(['phone', 'laptop'].map((d) => connect(receiver, d, { reconnect, autoAck: true })));
    const records = devices.map(recorder);
    // A trace per device, printed if a message goes missing.
    const traces = devices.map((d) => {
      const t: string[] = [];
      d.on('frame', (f) => t.push(f.type === 'message.new' || f.type === 'sync.batch' ? `${f.type}:${f.type === 'message.new' ? `${f.conversationId.slice(0, 6)}@${f.seq}/${f.cursor}` : `${f.frames.length}->${f.cursor}`}` : f.type));
      d.on('message', (m) => t.push(`emit ${m.conversationId.slice(0, 6)}@${m.seq} cursor=${d.cursor}`));
      d.on('close', (c) => t.push(`close ${c.code}`));
      d.on('reconnected', () => t.push('reconnected'));
      return t;
    });

    let flapping = true;
    // Drops of a connected socket, per device: each one is a reconnect to come.
    const drops = devices.map(() => 0);
    const flaps = devices.map(async (d, i) => {
      while (flapping) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
        if (flapping && d.connected) {
          d.drop();
          drops[i]!++;
        }
      }
    });

    const TOTAL = 1000;
    const acked = new Map<string, number>();
    let next = 0;
    // The sends keep pace with the flapping, whatever the machine's speed: message k goes out
    // only once every device has been dropped ⌊k / 200⌋ times, so each drops 5 times while
    // messages are in flight (the last one before message 1,000).
    const flapsBehind = () => drops.some((n) => n < Math.floor((next + 1) / 200));
    await Promise.all(
      senders.map(async (s, i) => {
        const conversationId = conversations[i]!;
        while (next < TOTAL) {
          while (flapsBehind()) await new Promise((r) => setTimeout(r, 20));
          if (next >= TOTAL) break;
          next++;
          const sent = await s.send({ conversationId, body: text(`n${next}`) });
          acked.set(conversationId, Math.max(acked.get(conversationId) ?? 0, sent.seq));
        }
      }),
    );
    flapping = false;
    await Promise.all(flaps);
    const ackedTotal = [...acked.values()].reduce((a, b) => a + b, 0);
    expect(ackedTotal).toBe(TOTAL);

    // Quiet now: each device reconnects (if it was down) and syncs to the end.
    for (const d of devices) await eventually(async () => d.connected, (ok) => ok, 15_000);
    for (const [i, d] of devices.entries()) {
      await eventually(
        async () => {
          if (records[i]!.total() < TOTAL) await d.syncAll();
          return records[i]!.total();
        },
        (n) => n >= TOTAL,
        30_000,
      ).catch((e) => {
        const missing = [...acked].flatMap(([c, last]) => Array.from({ length: last }, (_, k) => k + 1).filter((q) => !records[i]!.seqs.get(c)?.includes(q)).map((q) => `${c.slice(0, 6)}@${q}`));
        console.log(`device ${i} missing ${missing.join(',')}; trace:\n${traces[i]!.join('\n')}`);
        throw e;
      });
    }
    const results = devices.map((d, i) => ({
      device: i === 0 ? 'phone' : 'laptop',
      messages: records[i]!.total(),
      reconnects: d.stats.reconnects,
      duplicatesRemovedBySdk: d.stats.duplicatesDropped,
      gapsRepaired: d.stats.gapsRepaired,
      ...check(records[i]!.seqs, acked),
    }));
    console.log(`flap test (${TOTAL} messages, 3 senders, 2 devices): ${JSON.stringify(results)}`);
    for (const r of results) {
      expect(r).toMatchObject({ messages: TOTAL, lost: 0, outOfOrder: 0, duplicates: 0 });
      expect(r.reconnects).toBeGreaterThan(3);
    }
  });

  it('clients of an edge killed with SIGKILL reconnect to a second edge and lose nothing', async () => {
    const second = await startEdge(sys);
    const receiver = u('rx2');
    const sender = await connect(u('tx2-sender'), 'd1', { url: second.wsUrl });
    const { conversationId } = await sender.createConversation({ kind: 'direct', members: [receiver] });
    // The receiver starts on the first edge and knows both.
    const device = await connect(receiver, 'phone', { url: [sys.wsUrl, second.wsUrl], reconnect });
    const record = recorder(device);

    let last = 0;
    const sending = (async () => {
      for (let i = 1; i <= 300; i++) last = (await sender.send({ conversationId, body: text(`k${i}`) })).seq;
    })();
    await eventually(async () => record.total(), (n) => n >= 50);
    await sys.edge.stop('SIGKILL');
    await sending;
    await eventually(async () => device.connected && device.hello?.edgeId === second.edgeId, (ok) => ok, 15_000);
    await eventually(
      async () => {
        if (record.total() < last) await device.syncAll();
        return record.total();
      },
      (n) => n >= last,
      30_000,
    );
    expect(device.stats.reconnects).toBeGreaterThanOrEqual(1);
    expect(check(record.seqs, new Map([[conversationId, last]]))).toEqual({ lost: 0, outOfOrder: 0, duplicates: 0 });
  });

  it('a draining edge tells its clients to move, and they do before it closes', async () => {
    const edgeA = await startEdge(sys);
    const edgeB = await startEdge(sys);
    const device = await connect(u('mover'), 'phone', { url: [edgeA.wsUrl, edgeB.wsUrl], reconnect });
    const draining = new Promise((r) => device.on('draining', r));
    const startedOn = device.hello!.edgeId;
    const stopped = edgeA.edge.stop('SIGTERM');
    expect(await draining).toMatchObject({ type: 'server.draining' });
    await eventually(async () => device.connected && device.hello!.edgeId !== startedOn, (ok) => ok, 10_000);
    expect(await stopped).toBe(0);
    await expect(device.ping()).resolves.toBeUndefined();
  });
});
