import { describe, expect, it } from 'vitest';
import { ChatError, encodeCursor, ServerFrame, type Command, type CommandResult, type SyncedFrame } from '@chat/contracts';
import { Session, directConversationId, type SessionDeps } from './session';

function harness(over: Partial<SessionDeps> = {}) {
  const sent: ServerFrame[] = [];
  const closes: Array<[number, string]> = [];
  const commands: Command[] = [];
  let clock = 1_000_000;
  const deps: SessionDeps = {
    execute: async (c) => {
      commands.push(c);
      if (c.type === 'SendMessage') {
        return { kind: 'message.sent', conversationId: c.data.conversationId, clientMsgId: c.data.clientMsgId, messageId: 'm1', seq: 1, sentAt: c.meta.at } satisfies CommandResult;
      }
      return { kind: 'accepted' };
    },
    meta: (userId, deviceId) => ({ commandId: 'c', requestId: 'r', userId, deviceId, edgeId: 'e', at: '2026-01-01T00:00:00.000Z' }),
    sync: async () => ({ frames: [], hasMore: false }),
    forwardable: async () => ({ text: 'forwarded text' }),
    sendableMedia: async (userId, mediaId) => {
      if (mediaId !== 'up1' || userId !== 'alice') throw new ChatError('bad_request', `media ${mediaId} is not an upload of yours`);
      return { mediaId, contentType: 'image/png', size: 10, sha256: 'a'.repeat(64), width: 4, height: 2 };
    },
    blocks: {
      checkSend: async (userId, conversationId) => {
        if (conversationId === directConversationId(userId, 'blocker')) throw new ChatError('forbidden', 'this user does not accept your messages');
      },
      checkCreateDirect: async (_u, other) => {
        if (other === 'blocker') throw new ChatError('forbidden', 'this user does not accept your messages');
      },
    },
    watchPresence: async (_s, userIds) => userIds.filter((u) => u !== 'stranger').map((userId) => ({ userId, online: true, lastSeenAt: null })),
    typing: async (_u, conversationId) => {
      if (conversationId !== 'd-1') throw new ChatError('forbidden', 'not a member of this conversation');
    },
    oldestPosition: async () => 1,
    maxBadFramesPerMinute: 3,
    now: () => clock,
    onFrameIn: () => undefined,
    onCommand: () => undefined,
    ...over,
  };
  const session = new Session('alice', 'd1', deps, {
    send: (f) => sent.push(typeof f === 'string' ? JSON.parse(f) : f),
    close: (code, reason) => closes.push([code, reason]),
  });
  return { session, sent, closes, commands, tick: (ms: number) => (clock += ms) };
}

describe('Session', () => {
  it.each([
    ['malformed JSON', '{nope', 'bad_request'],
    ['non-object', '42', 'bad_request'],
    ['missing type', '{"ref":"x"}', 'bad_request'],
    ['unknown type', '{"type":"rm -rf"}', 'bad_request'],
    ['schema violation', '{"type":"message.send","clientMsgId":"a","conversationId":"bad id!","body":{"text":"x"}}', 'bad_request'],
    ['text too long', JSON.stringify({ type: 'message.send', clientMsgId: 'a', conversationId: 'd-1', body: { text: 'x'.repeat(16_001) } }), 'payload_too_large'],
  ])('answers %s with an error and stays open', async (_name, raw, code) => {
    const h = harness();
    await h.session.onText(raw);
    expect(h.sent).toEqual([expect.objectContaining({ type: 'error', code })]);
    expect(h.closes).toEqual([]);
    expect(h.commands).toEqual([]);
  });

  it('tags an error with the ref or clientMsgId of the frame it answers', async () => {
    const h = harness();
    await h.session.onText('{"type":"sync","ref":"r1","cursor":"garbage"}');
    await h.session.onText('{"type":"message.send","clientMsgId":"k1","conversationId":"d-1"}');
    expect(h.sent).toEqual([
      expect.objectContaining({ type: 'error', code: 'bad_request', ref: 'r1' }),
      expect.objectContaining({ type: 'error', code: 'bad_request', clientMsgId: 'k1' }),
    ]);
  });

  it('closes with 1008 after too many bad frames within a minute, not before', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) await h.session.onText('x');
    expect(h.closes).toEqual([]);
    h.tick(61_000);
    for (let i = 0; i < 3; i++) await h.session.onText('x');
    expect(h.closes).toEqual([]);
    await h.session.onText('x');
    expect(h.closes).toEqual([[1008, 'too many invalid frames']]);
  });

  it('sends media by id as the full media description, and refuses media that is not a ready upload of the sender', async () => {
    const h = harness();
    await h.session.onText(JSON.stringify({ type: 'message.send', clientMsgId: 'k1', conversationId: 'd-1', body: { media: { mediaId: 'up1' }, text: 'look' } }));
    expect(h.commands).toEqual([
      expect.objectContaining({ type: 'SendMessage', data: expect.objectContaining({ body: { media: { mediaId: 'up1', contentType: 'image/png', size: 10, sha256: 'a'.repeat(64), width: 4, height: 2 }, text: 'look' } }) }),
    ]);
    await h.session.onText(JSON.stringify({ type: 'message.send', clientMsgId: 'k2', conversationId: 'd-1', body: { media: { mediaId: 'other' } } }));
    // A client cannot describe media itself: only { mediaId } is accepted.
    await h.session.onText(JSON.stringify({ type: 'message.send', clientMsgId: 'k3', conversationId: 'd-1', body: { media: { mediaId: 'up1', size: 1 } } }));
    expect(h.commands).toHaveLength(1);
    expect(h.sent.slice(1)).toEqual([
      expect.objectContaining({ type: 'error', code: 'bad_request', clientMsgId: 'k2' }),
      expect.objectContaining({ type: 'error', code: 'bad_request', clientMsgId: 'k3' }),
    ]);
  });

  it('closes with 1003 on a binary frame', () => {
    const h = harness();
    h.session.onBinary();
    expect(h.closes[0]?.[0]).toBe(1003);
  });

  it('answers sync with its frames, the last cursor and hasMore, as the contract has it, each frame the same however often it is sent', async () => {
    const message: SyncedFrame = { type: 'message.new', conversationId: 'd-1', messageId: 'm1', seq: 1, senderId: 'bob', body: { text: 'say "hi"\n\u2028' }, sentAt: '2026-01-01T00:00:00.000Z', cursor: encodeCursor(7) };
    const deleted: SyncedFrame = { type: 'message.deleted', conversationId: 'd-1', messageId: 'm0', seq: 2, scope: 'me', deletedAt: '2026-01-01T00:00:01.000Z', cursor: encodeCursor(9) };
    const pages = [
      { frames: [message, deleted], hasMore: true },
      { frames: [message], hasMore: false },
      { frames: [], hasMore: false },
    ];
    const h = harness({ sync: async () => pages.shift()! });
    await h.session.onText('{"type":"sync","ref":"s1","cursor":null}');
    await h.session.onText(`{"type":"sync","ref":"s2","cursor":"${encodeCursor(3)}"}`);
    await h.session.onText(`{"type":"sync","ref":"s3","cursor":"${encodeCursor(9)}"}`);
    expect(h.sent).toEqual([
      { type: 'sync.batch', ref: 's1', frames: [message, deleted], cursor: encodeCursor(9), hasMore: true },
      { type: 'sync.batch', ref: 's2', frames: [message], cursor: encodeCursor(7), hasMore: false },
      { type: 'sync.batch', ref: 's3', frames: [], cursor: encodeCursor(9), hasMore: false },
    ]);
    for (const f of h.sent) expect(ServerFrame.parse(f)).toEqual(f);
  });

  it('answers ping with pong carrying the ref', async () => {
    const h = harness();
    await h.session.onText('{"type":"ping","ref":"p1"}');
    expect(h.sent).toEqual([{ type: 'pong', ref: 'p1' }]);
  });

  it('sends message.sent with the command answer', async () => {
    const h = harness();
    await h.session.onText('{"type":"message.send","clientMsgId":"k1","conversationId":"d-1","body":{"text":"hi"}}');
    expect(h.commands[0]).toMatchObject({ type: 'SendMessage', data: { conversationId: 'd-1', clientMsgId: 'k1', body: { text: 'hi' } }, meta: { userId: 'alice', deviceId: 'd1' } });
    expect(h.sent).toEqual([{ type: 'message.sent', conversationId: 'd-1', clientMsgId: 'k1', messageId: 'm1', seq: 1, sentAt: '2026-01-01T00:00:00.000Z' }]);
  });

  it('maps a command failure to an error frame with its code', async () => {
    const h = harness({ execute: async () => Promise.reject(new ChatError('forbidden', 'not a member')) });
    await h.session.onText('{"type":"message.read","conversationId":"d-1","upToSeq":3}');
    expect(h.sent).toEqual([{ type: 'error', code: 'forbidden', message: 'not a member' }]);
  });

  it('hides unexpected failures behind `internal`', async () => {
    const h = harness({ execute: async () => Promise.reject(new Error('pg exploded: password=secret')) });
    await h.session.onText('{"type":"message.send","clientMsgId":"k1","conversationId":"d-1","body":{"text":"hi"}}');
    expect(h.sent).toEqual([{ type: 'error', code: 'internal', message: 'internal error', clientMsgId: 'k1' }]);
  });

  it('creates direct conversations with a deterministic id and refuses a direct chat with several members', async () => {
    const h = harness();
    await h.session.onText('{"type":"conversation.create","ref":"c1","kind":"direct","members":["bob"]}');
    expect(h.commands[0]).toMatchObject({ type: 'CreateConversation', data: { conversationId: directConversationId('bob', 'alice'), members: ['alice', 'bob'] } });
    await h.session.onText('{"type":"conversation.create","ref":"c2","kind":"direct","members":["bob","carol"]}');
    expect(h.sent.at(-1)).toMatchObject({ type: 'error', code: 'bad_request', ref: 'c2' });
    expect(directConversationId('a', 'b')).toBe(directConversationId('b', 'a'));
    expect(directConversationId('a', 'b')).not.toBe(directConversationId('a', 'c'));
  });

  it('answers a cursor older than the retained stream with sync.reset', async () => {
    const h = harness({ oldestPosition: async () => 500 });
    await h.session.onText(JSON.stringify({ type: 'sync', ref: 's1', cursor: encodeCursor(10) }));
    expect(h.sent).toEqual([expect.objectContaining({ type: 'sync.reset', ref: 's1' })]);
  });

  it('returns sync batches with the last frame cursor', async () => {
    const frame = { type: 'message.new' as const, conversationId: 'd-1', messageId: 'm', seq: 1, senderId: 'bob', body: { text: 'x' }, sentAt: 'now', cursor: encodeCursor(42) };
    const h = harness({ sync: async (_u, after, limit) => (after === 0 && limit === 100 ? { frames: [frame], hasMore: true } : { frames: [], hasMore: false }) });
    await h.session.onText('{"type":"sync","ref":"s1","cursor":null}');
    expect(h.sent).toEqual([{ type: 'sync.batch', ref: 's1', frames: [frame], cursor: encodeCursor(42), hasMore: true }]);
  });
});

describe('Session rate limits', () => {
  it('over the connection frame rate: rate_limited with retryAfterMs and the ref; flooding closes with 1008', async () => {
    const h = harness({ frameRate: { perSecond: 10, burst: 5 }, floodLimitPerMinute: 3 });
    for (let i = 0; i < 5; i++) await h.session.onText(`{"type":"ping","ref":"p${i}"}`);
    expect(h.sent.map((f) => f.type)).toEqual(['pong', 'pong', 'pong', 'pong', 'pong']);
    await h.session.onText('{"type":"ping","ref":"p5"}');
    expect(h.sent[5]).toMatchObject({ type: 'error', code: 'rate_limited', ref: 'p5', retryAfterMs: 100 });
    h.tick(100);
    await h.session.onText('{"type":"ping","ref":"p6"}');
    expect(h.sent[6]).toMatchObject({ type: 'pong', ref: 'p6' });
    // p5 was the first rate-limited frame; the 4th in a minute is over the flood limit (3).
    for (let i = 0; i < 2; i++) await h.session.onText('{nope');
    expect(h.closes).toEqual([]);
    await h.session.onText('{nope');
    expect(h.closes).toEqual([[1008, expect.stringContaining('flooding')]]);
  });

  it('a user over the send limit gets rate_limited with the clientMsgId, and nothing is published', async () => {
    let allowed = 2;
    const kinds: string[] = [];
    const h = harness({
      limit: async (kind) => {
        kinds.push(kind);
        return allowed-- > 0 ? { allowed: true, retryAfterMs: 0 } : { allowed: false, retryAfterMs: 1234 };
      },
    });
    const send = (id: string) => h.session.onText(JSON.stringify({ type: 'message.send', clientMsgId: id, conversationId: 'd-1', body: { text: 'x' } }));
    await send('a');
    await send('b');
    await send('c');
    await h.session.onText(JSON.stringify({ type: 'message.forward', clientMsgId: 'f', conversationId: 'd-1', from: { conversationId: 'd-2', messageId: '01HZZZZZZZZZZZZZZZZZZZZZZZ' } }));
    await h.session.onText(JSON.stringify({ type: 'conversation.create', ref: 'r', kind: 'direct', members: ['bob'] }));
    expect(kinds).toEqual(['send', 'send', 'send', 'send', 'create']);
    expect(h.commands).toHaveLength(2);
    expect(h.sent.slice(2)).toEqual([
      expect.objectContaining({ type: 'error', code: 'rate_limited', clientMsgId: 'c', retryAfterMs: 1234 }),
      expect.objectContaining({ type: 'error', code: 'rate_limited', clientMsgId: 'f', retryAfterMs: 1234 }),
      expect.objectContaining({ type: 'error', code: 'rate_limited', ref: 'r', retryAfterMs: 1234 }),
    ]);
    expect(h.closes).toEqual([]);
  });

  it('answers presence.subscribe with the snapshot of those it may see; typing from a non-member is forbidden, from a member answers nothing', async () => {
    const h = harness();
    await h.session.onText(JSON.stringify({ type: 'presence.subscribe', ref: 'p1', userIds: ['bob', 'stranger'] }));
    await h.session.onText(JSON.stringify({ type: 'typing', conversationId: 'd-1', state: 'start' }));
    await h.session.onText(JSON.stringify({ type: 'typing', conversationId: 'g-other', state: 'start' }));
    await h.session.onText(JSON.stringify({ type: 'presence.subscribe', ref: 'p2', userIds: Array.from({ length: 501 }, (_, i) => `u${i}`) }));
    expect(h.sent).toEqual([
      { type: 'presence.snapshot', ref: 'p1', users: [{ userId: 'bob', online: true, lastSeenAt: null }] },
      expect.objectContaining({ type: 'error', code: 'forbidden' }),
      expect.objectContaining({ type: 'error', code: 'bad_request', ref: 'p2' }),
    ]);
  });

  it('a send to, or a direct conversation with, a user who blocks the sender is forbidden before any command', async () => {
    const h = harness();
    await h.session.onText(JSON.stringify({ type: 'message.send', clientMsgId: 'k1', conversationId: directConversationId('alice', 'blocker'), body: { text: 'hi' } }));
    await h.session.onText(JSON.stringify({ type: 'conversation.create', ref: 'c1', kind: 'direct', members: ['blocker'] }));
    expect(h.sent).toEqual([
      expect.objectContaining({ type: 'error', code: 'forbidden', clientMsgId: 'k1' }),
      expect.objectContaining({ type: 'error', code: 'forbidden', ref: 'c1' }),
    ]);
    expect(h.commands).toEqual([]);
  });
});
