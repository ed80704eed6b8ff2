import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { metricValue } from '@chat/testing';
import { eventually, startSystem, type RunningSystem } from '../support/system';
import { rawSocket as openRawSocket } from '../support/socket';

/**
 * docs/protocol.md: a `sync` sent after a message was acknowledged (`message.sent` reached anyone)
 * includes that message. The projector is paused (SIGSTOP) so that the read model is certainly
 * behind the acknowledgements when the sync arrives. Its commit interval is a minute, far past
 * the edge's wait (CHAT_SYNC_WAIT, 2 s): a sync gets what it needs only because the edge asks
 * the projector to commit now (`chat.projector.commit`), not by waiting for the interval.
 */
let sys: RunningSystem;
const ns = `raa${Date.now().toString(36)}`;
const u = (name: string) => `${name}-${ns}`;

type Frame = Record<string, unknown>;

const socket = (user: string) => openRawSocket(sys.wsUrl, user);

/** `sync` frames the edge has received (chat_ws_frames_in_total on its /metrics). */
const syncFramesIn = (): Promise<number> => metricValue(sys.ops.edge, 'chat_ws_frames_in_total', { type: 'sync' });

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), { CHAT_PROJECTOR_COMMIT_INTERVAL: '60s' });
  // startSystem waits for each app's /readyz, which a projector answers once started, before it
  // holds the writer lock and has opened its consumer. Until then the first sync below would run
  // out the edge's wait (CHAT_SYNC_WAIT) and answer hasMore: true, which is correct but not the
  // state this test starts from: wait until the projector holds the lock and has its consumer.
  await eventually(
    async () => (await metricValue(sys.ops.projector, 'chat_projector_writer_lock')) === 1 && (await metricValue(sys.ops.projector, 'chat_projector_consumer_resets_total')) >= 1,
    (ready) => ready,
    30_000,
  );
}, 60_000);

afterAll(async () => {
  const projector = sys?.apps.find((a) => a.name === 'projector');
  projector?.child.kill('SIGCONT');
  await sys?.stop();
});

describe('read after ack', () => {
  it('a sync sent after message.sent returns the message, even while the read model is behind', async () => {
    const alice = await socket(u('alice'));
    const bob = await socket(u('bob'));
    alice.send({ type: 'conversation.create', ref: 'c', kind: 'direct', members: [u('bob')] });
    const { conversationId } = (await alice.next((f) => f['type'] === 'conversation.created')) as { conversationId: string };
    // bob's position: everything so far (the conversation's creation).
    bob.send({ type: 'sync', ref: 's0', cursor: null });
    const first = (await bob.next((f) => f['type'] === 'sync.batch' && f['ref'] === 's0')) as { cursor: string | null; hasMore: boolean };
    expect(first.hasMore).toBe(false);
    bob.close();

    const projector = sys.apps.find((a) => a.name === 'projector')!;
    projector.child.kill('SIGSTOP');
    try {
      for (const i of [1, 2, 3]) alice.send({ type: 'message.send', clientMsgId: `m${i}`, conversationId, body: { text: `hello ${i}` } });
      const acks = await Promise.all([1, 2, 3].map((i) => alice.next((f) => f['type'] === 'message.sent' && f['clientMsgId'] === `m${i}`)));
      expect(acks.map((a) => a['seq'])).toEqual([1, 2, 3]);

      // bob comes back and syncs from his cursor while the projector is still paused.
      const again = await socket(u('bob'));
      const syncsBefore = await syncFramesIn();
      again.send({ type: 'sync', ref: 's1', cursor: first.cursor });
      const answer = again.next((f) => f['type'] === 'sync.batch' && f['ref'] === 's1');
      // The edge has the sync (its frame counter moved), waiting; the projector resumes well
      // within the edge's bound.
      await eventually(syncFramesIn, (n) => n > syncsBefore);
      projector.child.kill('SIGCONT');
      const batch = (await answer) as { frames: Frame[]; hasMore: boolean };
      expect(batch.frames.filter((f) => f['type'] === 'message.new').map((f) => f['seq'])).toEqual([1, 2, 3]);
      expect(batch.hasMore).toBe(false);
      again.close();
    } finally {
      projector.child.kill('SIGCONT');
      alice.close();
    }
  }, 60_000);
});
