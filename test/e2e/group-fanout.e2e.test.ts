import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ChatClient } from '@chat/client';
import { names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { eventually, percentile, startSystem, type RunningSystem } from '../support/system';
import { harness, text } from '../support/harness';

/**
 * One message to a full 1,024-member group, every member online on one edge. Prints the
 * send → last member latency and how many JetStream publishes the live path made per message
 * (read from the CHAT_DELIVERY stream's sequence, not from the code's own counters).
 */
const MEMBERS = 1024;
const MESSAGES = 20;

let sys: RunningSystem;
let nats: Nats;
const { u, connect, closeAll } = harness(() => sys);

beforeAll(async () => {
  const env = inject('chatEnv');
  sys = await startSystem(env, process.env['CHAT_NODE_ARGS'] ? { CHAT_NODE_ARGS: process.env['CHAT_NODE_ARGS'] } : {});
  nats = await connectNats(env['NATS_URL']!, 'fanout-test');
}, 60_000);

afterAll(async () => {
  closeAll();
  await nats?.nc.close();
  await sys?.stop();
});

describe('group fan-out', () => {
  it(`delivers each message to all ${MEMBERS - 1} online members with one publish per edge`, async () => {
    const ids = Array.from({ length: MEMBERS }, (_, i) => u(`f${i}`));
    const clients: ChatClient[] = [];
    for (let i = 0; i < ids.length; i += 64) clients.push(...(await Promise.all(ids.slice(i, i + 64).map((id) => connect(id)))));
    const [owner, ...members] = clients as [ChatClient, ...ChatClient[]];
    const { conversationId } = await owner.createConversation({ kind: 'group', members: ids.slice(1), title: 'all hands' });

    const received = new Map<number, number>(); // seq → members that have it
    const lastAt = new Map<number, number>();
    const firstAt = new Map<number, number>();
    for (const m of members) {
      m.on('message', (f) => {
        if (f.conversationId !== conversationId) return;
        received.set(f.seq, (received.get(f.seq) ?? 0) + 1);
        lastAt.set(f.seq, performance.now());
        if (!firstAt.has(f.seq)) firstAt.set(f.seq, performance.now());
      });
    }
    // Warm-up: the conversation is projected and every route is known.
    const warm = await owner.send({ conversationId, body: text('warm-up') });
    await eventually(async () => received.get(warm.seq) ?? 0, (n) => n === members.length, 30_000);

    const n = names(inject('chatEnv')['CHAT_NS'] ?? '');
    const deliverySeq = async () => (await nats.jsm.streams.info(n.streams.delivery)).state.last_seq;
    const publishesBefore = await deliverySeq();
    const latencies: number[] = [];
    const firstLatencies: number[] = [];
    const ackLatencies: number[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const t0 = performance.now();
      const sent = await owner.send({ conversationId, body: text(`announcement ${i}`) });
      ackLatencies.push(performance.now() - t0);
      await eventually(async () => received.get(sent.seq) ?? 0, (k) => k === members.length, 30_000);
      latencies.push(lastAt.get(sent.seq)! - t0);
      firstLatencies.push(firstAt.get(sent.seq)! - t0);
    }
    // Trailing list updates (conversation.activity) are published after a batch commits and
    // before the projector acknowledges it: once it has acknowledged the stream's last event,
    // every publish for these messages is in CHAT_DELIVERY.
    const lastEvent = (await nats.jsm.streams.info(n.streams.events)).state.last_seq;
    await eventually(async () => (await nats.jsm.consumers.info(n.streams.events, n.consumers.projector)).ack_floor.stream_seq, (s) => s >= lastEvent, 30_000);
    const publishes = (await deliverySeq()) - publishesBefore;

    latencies.sort((a, b) => a - b);
    firstLatencies.sort((a, b) => a - b);
    ackLatencies.sort((a, b) => a - b);
    const figures = {
      members: MEMBERS,
      messages: MESSAGES,
      allMembersMs: { p50: +percentile(latencies, 50).toFixed(1), p99: +percentile(latencies, 99).toFixed(1), max: +latencies.at(-1)!.toFixed(1) },
      firstMemberMs: { p50: +percentile(firstLatencies, 50).toFixed(1), p99: +percentile(firstLatencies, 99).toFixed(1) },
      sentAckMs: { p50: +percentile(ackLatencies, 50).toFixed(1), p99: +percentile(ackLatencies, 99).toFixed(1) },
      deliveryPublishesPerMessage: +(publishes / MESSAGES).toFixed(2),
    };
    console.log(`group fan-out (1 edge): ${JSON.stringify(figures)}`);
    expect([...received.values()].every((k) => k === members.length)).toBe(true);
    // One edge: message.new and the list update, each routed once per edge per batch (a
    // batch may split in two now and then) — never once per member.
    expect(publishes / MESSAGES).toBeLessThan(4);
  });
});
