import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeCursor, HANDED_BY_HEADER, names } from '@chat/contracts';
import { connectNats, type Nats } from '@chat/nats';
import { metricSum, metricValue as metric, scrapeMetrics } from '@chat/testing';
import type { ServerFrameOf } from '@chat/client';
import { connectClient, eventually, nextEvent, startEdge, startSystem, type RunningSystem } from '../support/system';
import { rawSocket } from '../support/socket';
import { harness, text, type Json } from '../support/harness';

// CHAT_EDGE_COMMANDS=hosted: the edge runs the command tier itself and no command process is
// started. Commands of the partitions it holds run in the edge; another edge's commands reach
// it over NATS as they would reach a command process (docs/architecture.md, Where commands run).

let sys: RunningSystem;
let nats: Nats;
const { u, connect, closeAll } = harness(() => sys);
const PARTITIONS = 8;

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), { CHAT_EDGE_COMMANDS: 'hosted', CHAT_COMMAND_PARTITIONS: String(PARTITIONS) });
  nats = await connectNats(sys.env['NATS_URL']!, 'hosted-commands-test');
}, 60_000);

afterAll(async () => {
  closeAll();
  await nats?.nc.close();
  await sys?.stop();
});

describe('an edge hosting the command tier', () => {
  it('holds every partition, and sends, delivers and answers with no command process running', async () => {
    expect(sys.apps.map((a) => a.name)).not.toContain('command');
    expect(await metric(sys.ops.edge, 'chat_command_partitions_owned')).toBe(PARTITIONS);
    const hostedBefore = await metric(sys.ops.edge, 'chat_edge_command_batches_hosted');
    const alice = await connect(u('alice'));
    const bob = await connect(u('bob'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob')] });
    const incoming = nextEvent<ServerFrameOf<'message.new'>>((f) => bob.on('message', f));
    const sent = await alice.send({ conversationId, body: text('hosted') });
    expect(sent).toMatchObject({ type: 'message.sent', conversationId, seq: 1 });
    expect(await incoming).toMatchObject({ conversationId, seq: 1, messageId: sent.messageId, body: text('hosted') });
    // The create and the send ran in the edge's own command tier, not over NATS.
    expect(await metric(sys.ops.edge, 'chat_edge_command_batches_hosted')).toBeGreaterThanOrEqual(hostedBefore + 2);
    expect(await metric(sys.ops.edge, 'chat_edge_command_batches')).toBe(0);
  });

  it("serves another edge's commands over NATS, as a command process would", async () => {
    const other = await startEdge(sys, { CHAT_EDGE_COMMANDS: 'remote' });
    const carol = await connectClient({ ...sys, wsUrl: other.wsUrl }, u('carol'));
    try {
      const dave = await connect(u('dave'));
      const { conversationId } = await carol.createConversation({ kind: 'direct', members: [u('dave')] });
      const incoming = nextEvent<ServerFrameOf<'message.new'>>((f) => dave.on('message', f));
      const sent = await carol.send({ conversationId, body: text('from the other edge') });
      expect(sent).toMatchObject({ type: 'message.sent', conversationId, seq: 1 });
      expect(await incoming).toMatchObject({ messageId: sent.messageId, senderId: u('carol') });
      // They were served by the hosting edge's tier (the only one), reached over NATS.
      expect(await metric(other.opsUrl, 'chat_edge_command_batches')).toBeGreaterThanOrEqual(2);
    } finally {
      carol.close();
    }
  });

  it("hands a message to the devices on the hosting edge at the append, and the projector routes it to the other edges only", async () => {
    const n = names(sys.env['CHAT_NS'] ?? '');
    const other = await startEdge(sys, { CHAT_EDGE_COMMANDS: 'remote' });
    const alice = await connect(u('erin'));
    // Bob has one device on each edge; bare sockets, so that a duplicate would show.
    const here = await rawSocket(sys.wsUrl, u('frank'), 'f-here');
    const there = await rawSocket(other.wsUrl, u('frank'), 'f-there');
    try {
      const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('frank')] });
      const claimedBefore = await metric(sys.ops.edge, 'chat_edge_handover_claimed');
      const isNew = (seq: number) => (f: Json) => f.type === 'message.new' && f.conversationId === conversationId && f.seq === seq;
      const streamSeqs: number[] = [];
      for (const seq of [1, 2, 3]) {
        const sent = await alice.send({ conversationId, body: text(`m${seq}`) });
        const [a, b] = await Promise.all([here.next(isNew(seq)), there.next(isNew(seq))]);
        expect(a).toMatchObject({ messageId: sent.messageId, senderId: u('erin'), body: text(`m${seq}`) });
        expect(b).toEqual(a);
        streamSeqs.push(decodeCursor(a.cursor)!);
      }
      // The first message may have been left to the projector (nothing here had been routed
      // that far yet); the second and third follow a frame this edge has handed out.
      expect(await metric(sys.ops.edge, 'chat_edge_handover_claimed')).toBeGreaterThanOrEqual(claimedBefore + 2);
      const last = streamSeqs[2]!;
      const stored = await nats.jsm.streams.getMessage(n.streams.events, { seq: last });
      expect(stored?.header.get(HANDED_BY_HEADER)).toBe(sys.env['EDGE_ID']);

      // Nothing more reaches the device here: the projector has committed (so routed) past the
      // last message, and this edge's delivery consumer has nothing left to hand out.
      await eventually(async () => metricSum(await scrapeMetrics(sys.ops.projector), 'chat_projection_checkpoint', { projection: n.consumers.projMessages }), (p) => p >= last);
      await eventually(
        () => nats.jsm.consumers.info(n.streams.delivery, n.consumers.edge(sys.env['EDGE_ID']!)),
        (ci) => ci.num_pending === 0 && ci.num_ack_pending === 0,
      );
      // The other edge's three came from the projector: three envelopes at least.
      expect(await metric(sys.ops.projector, 'chat_projector_delivery_envelopes_total')).toBeGreaterThanOrEqual(3);
      for (const socket of [here, there]) {
        const seqs = socket.frames.filter((f) => f.type === 'message.new' && f.conversationId === conversationId).map((f) => f.seq);
        expect(seqs).toEqual([1, 2, 3]);
      }
    } finally {
      here.close();
      there.close();
    }
  });
});
