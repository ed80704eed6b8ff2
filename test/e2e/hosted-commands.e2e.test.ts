import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricValue as metric } from '@chat/testing';
import type { ServerFrameOf } from '@chat/client';
import { connectClient, nextEvent, startEdge, startSystem, type RunningSystem } from '../support/system';
import { harness, text } from '../support/harness';

// CHAT_EDGE_COMMANDS=hosted: the edge runs the command tier itself and no command process is
// started. Commands of the partitions it holds run in the edge; another edge's commands reach
// it over NATS as they would reach a command process (docs/architecture.md, Where commands run).

let sys: RunningSystem;
const { u, connect, closeAll } = harness(() => sys);
const PARTITIONS = 8;

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), { CHAT_EDGE_COMMANDS: 'hosted', CHAT_COMMAND_PARTITIONS: String(PARTITIONS) });
}, 60_000);

afterAll(async () => {
  closeAll();
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
});
