import { describe, expect, it } from 'vitest';
import { CLIENT_FRAME_TYPES, ClientFrame, ServerFrame } from './frames';
import { decodeCursor, encodeCursor } from './cursor';
import { names } from './names';
import { Duration, parseDuration } from './duration';
import { readEvent, readPreferenceEvent } from './events';
import { LIMITS } from './limits';
import { ERROR_CODES } from './errors';

const AT = '2025-01-01T00:00:00.000Z';
const text = (t: string) => ({ text: t });

/** One valid example of every client frame type docs/protocol.md lists. */
const clientFrames = {
  'conversation.create': { type: 'conversation.create', ref: 'r1', kind: 'group', members: ['bob', 'carol'], title: 'team' },
  'message.send': { type: 'message.send', clientMsgId: 'k1', conversationId: 'g-01HZX', body: text('hi'), replyTo: 'm1' },
  'message.delivered': { type: 'message.delivered', conversationId: 'g-01HZX', upToSeq: 3 },
  'message.read': { type: 'message.read', conversationId: 'g-01HZX', upToSeq: 3 },
  sync: { type: 'sync', ref: 'r2', cursor: null, limit: 100 },
  ping: { type: 'ping', ref: 'r3' },
} as const;

const messageNew = {
  type: 'message.new',
  conversationId: 'd-ab12',
  messageId: 'm1',
  seq: 1,
  senderId: 'alice',
  body: text('hi'),
  sentAt: AT,
  cursor: 'c1_1',
} as const;

/** One valid example of every server frame type docs/protocol.md lists (and hello, pong, sync.*). */
const serverFrames = {
  hello: { type: 'hello', userId: 'alice', deviceId: 'phone', edgeId: 'edge-1', serverTime: AT },
  'conversation.created': { type: 'conversation.created', ref: 'r1', conversationId: 'd-ab12', kind: 'direct', members: ['alice', 'bob'] },
  'message.sent': { type: 'message.sent', clientMsgId: 'k1', conversationId: 'd-ab12', messageId: 'm1', seq: 1, sentAt: AT },
  'message.new': messageNew,
  receipt: { type: 'receipt', conversationId: 'd-ab12', userId: 'bob', status: 'read', upToSeq: 1, at: AT },
  'conversation.updated': { type: 'conversation.updated', conversationId: 'g-1', kind: 'group', title: 't', members: ['alice'], changed: ['title'] },
  'sync.batch': { type: 'sync.batch', ref: 'r2', frames: [messageNew], cursor: 'c1_1', hasMore: false },
  'sync.reset': { type: 'sync.reset', ref: 'r2', reason: 'cursor older than retention' },
  pong: { type: 'pong', ref: 'r3' },
  error: { type: 'error', code: 'rate_limited', message: 'slow down', clientMsgId: 'k1', retryAfterMs: 500 },
} as const;

const without = (o: object, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

describe('client frames', () => {
  // The protocol may grow (new frame types); the ones docs/protocol.md lists must stay.
  it('keeps every client frame type of docs/protocol.md', () => {
    expect(CLIENT_FRAME_TYPES).toEqual(expect.arrayContaining(Object.keys(clientFrames)));
  });

  it.each(Object.entries(clientFrames))('%s: a valid example parses unchanged', (_type, frame) => {
    expect(ClientFrame.parse(frame)).toEqual(frame);
  });

  it.each([
    ['conversation.create', { type: 'conversation.create', ref: 'r', kind: 'direct', members: ['bob'] }],
    ['message.send', { type: 'message.send', clientMsgId: 'k', conversationId: 'c', body: text('x'.repeat(LIMITS.maxTextLength)) }],
    ['sync', { type: 'sync', ref: 'r', cursor: 'c1_a' }],
    ['ping', { type: 'ping' }],
  ])('%s: optional fields may be left out', (_type, frame) => {
    expect(ClientFrame.safeParse(frame).success).toBe(true);
  });

  const required: Array<[keyof typeof clientFrames, string]> = [
    ['conversation.create', 'ref'],
    ['conversation.create', 'kind'],
    ['conversation.create', 'members'],
    ['message.send', 'clientMsgId'],
    ['message.send', 'conversationId'],
    ['message.send', 'body'],
    ['message.delivered', 'conversationId'],
    ['message.delivered', 'upToSeq'],
    ['message.read', 'conversationId'],
    ['message.read', 'upToSeq'],
    ['sync', 'ref'],
    ['sync', 'cursor'],
  ];
  it.each(required)('%s without %s is rejected', (type, field) => {
    expect(ClientFrame.safeParse(without(clientFrames[type], field)).success).toBe(false);
  });

  const send = clientFrames['message.send'];
  it.each<[string, unknown]>([
    ['no type', without(send, 'type')],
    ['an unknown type', { ...send, type: 'message.shout' }],
    ['a text over the limit', { ...send, body: text('x'.repeat(LIMITS.maxTextLength + 1)) }],
    ['an empty text', { ...send, body: text('') }],
    ['extra body fields', { ...send, body: { text: 'hi', html: '<b>hi</b>' } }],
    ['a conversation id with a subject separator', { ...send, conversationId: 'a.b' }],
    ['a conversation id with a wildcard', { ...send, conversationId: 'a*' }],
    ['a conversation id over 64 chars', { ...send, conversationId: 'c'.repeat(65) }],
    ['an empty clientMsgId', { ...send, clientMsgId: '' }],
    ['a clientMsgId over 64 chars', { ...send, clientMsgId: 'k'.repeat(65) }],
    ['a numeric clientMsgId', { ...send, clientMsgId: 7 }],
    ['a member id with a space', { ...clientFrames['conversation.create'], members: ['bob smith'] }],
    ['a member id over 64 chars', { ...clientFrames['conversation.create'], members: ['u'.repeat(65)] }],
    ['no members', { ...clientFrames['conversation.create'], members: [] }],
    ['an unknown conversation kind', { ...clientFrames['conversation.create'], kind: 'channel' }],
    ['a title over 200 chars', { ...clientFrames['conversation.create'], title: 't'.repeat(201) }],
    ['a zero watermark', { ...clientFrames['message.read'], upToSeq: 0 }],
    ['a fractional watermark', { ...clientFrames['message.delivered'], upToSeq: 1.5 }],
    ['a watermark as a string', { ...clientFrames['message.read'], upToSeq: '3' }],
    ['a sync limit over 500', { ...clientFrames.sync, limit: LIMITS.maxSyncLimit + 1 }],
    ['a sync limit of 0', { ...clientFrames.sync, limit: 0 }],
    ['a sync cursor over 128 chars', { ...clientFrames.sync, cursor: 'c'.repeat(129) }],
    ['an empty ref', { ...clientFrames.ping, ref: '' }],
    ['a ref over 64 chars', { ...clientFrames.ping, ref: 'r'.repeat(65) }],
    ['a non-object', 'ping'],
  ])('rejects %s', (_name, frame) => {
    expect(ClientFrame.safeParse(frame).success).toBe(false);
  });
});

describe('server frames', () => {
  it.each(Object.entries(serverFrames))('%s: a valid example parses unchanged', (_type, frame) => {
    expect(ServerFrame.parse(frame)).toEqual(frame);
  });

  it('keeps every server frame type of docs/protocol.md', () => {
    expect(ServerFrame.options.map((o) => o.shape.type.value)).toEqual(expect.arrayContaining(Object.keys(serverFrames)));
  });

  it.each(ERROR_CODES)('error code %s is part of the vocabulary', (code) => {
    expect(ServerFrame.safeParse({ type: 'error', code, message: 'm' }).success).toBe(true);
  });

  it.each<[string, unknown]>([
    ['hello without a user', without(serverFrames.hello, 'userId')],
    ['message.sent with seq 0', { ...serverFrames['message.sent'], seq: 0 }],
    ['message.new without a cursor', without(messageNew, 'cursor')],
    ['message.new with a bad sender id', { ...messageNew, senderId: 'a b' }],
    ['receipt with an unknown status', { ...serverFrames.receipt, status: 'seen' }],
    ['sync.batch without hasMore', without(serverFrames['sync.batch'], 'hasMore')],
    ['sync.batch with a frame that is not message.new', { ...serverFrames['sync.batch'], frames: [serverFrames.pong] }],
    ['sync.reset without a reason', without(serverFrames['sync.reset'], 'reason')],
    ['error with an unknown code', { ...serverFrames.error, code: 'teapot' }],
    ['error with a negative retryAfterMs', { ...serverFrames.error, retryAfterMs: -1 }],
  ])('rejects %s', (_name, frame) => {
    expect(ServerFrame.safeParse(frame).success).toBe(false);
  });
});

describe('sync cursors', () => {
  it.each([0, 1, 35, 36, 123_456_789, Number.MAX_SAFE_INTEGER])('round-trips stream sequence %d', (seq) => {
    const cursor = encodeCursor(seq);
    expect(cursor.startsWith('c1_')).toBe(true);
    expect(decodeCursor(cursor)).toBe(seq);
  });

  it.each(['', 'c1_', '1a', 'c2_1', 'c1_ABC', 'c1_-1', 'c1_1.5', `c1_${'z'.repeat(13)}`, 'c1_1 '])('rejects %j', (cursor) => {
    expect(decodeCursor(cursor)).toBeNull();
  });
});

describe('names', () => {
  it('gives the docs/architecture.md names without a namespace', () => {
    const n = names();
    expect(n.ns).toBe('');
    expect(n.streams).toMatchObject({ events: 'CHAT_EVENTS', delivery: 'CHAT_DELIVERY' });
    expect(n.streams.notify).toBe('CHAT_NOTIFY');
    expect(n.subjects.pref('c1', 'bob')).toBe('chat.pref.c1.bob');
    expect(n.subjects.prefAll).toBe('chat.pref.>');
    expect(n.subjects.notify('g-1')).toBe('chat.notify.g-1');
    expect(n.subjects.notifyAll).toBe('chat.notify.>');
    expect(n.consumers.notifier).toBe('notifier');
    expect(n.consumers.notifierJobs).toBe('notifier-jobs');
    expect(n.subjects.cmdAll).toBe('chat.cmd.*');
    expect(n.subjects.cmdPartition(3)).toBe('chat.cmd.3');
    expect(n.kv.commandOwners).toBe('CHAT_CMD_OWNERS');
    expect(n.subjects.evtAll).toBe('chat.evt.>');
    expect(n.subjects.evtConvAll).toBe('chat.evt.conv.*');
    expect(n.subjects.evtConv('c1')).toBe('chat.evt.conv.c1');
    expect(n.subjects.evtRcpt('c1', 'bob')).toBe('chat.evt.rcpt.c1.bob');
    expect(n.subjects.evtRcptAll).toBe('chat.evt.rcpt.>');
    expect(n.subjects.evtRcptConvAll('c1')).toBe('chat.evt.rcpt.c1.*');
    expect(n.subjects.dlvAll).toBe('chat.dlv.>');
    expect(n.subjects.dlv('e1')).toBe('chat.dlv.e1');
    expect(n.subjects.reply('e1', 'r1')).toBe('chat.reply.e1.r1');
    expect(n.subjects.replyAll('e1')).toBe('chat.reply.e1.*');
    expect(n.subjects.projectorPosition).toBe('chat.projector.position');
    expect(n.subjects.projectorCommit).toBe('chat.projector.commit');
    expect(n.consumers.projector).toBe('projector');
    expect(n.consumers.edge('e1')).toBe('edge-e1');
    expect(n.redisPrefix).toBe('');
  });

  it('prefixes streams, subjects and Redis keys with a namespace, not consumer names', () => {
    const n = names('t1');
    expect(n.streams).toMatchObject({ events: 't1_CHAT_EVENTS', delivery: 't1_CHAT_DELIVERY', notify: 't1_CHAT_NOTIFY' });
    expect(n.kv.commandOwners).toBe('t1_CHAT_CMD_OWNERS');
    expect(n.subjects.pref('c1', 'bob')).toBe('t1.chat.pref.c1.bob');
    expect(n.subjects.notify('g-1')).toBe('t1.chat.notify.g-1');
    expect(n.subjects.cmdAll).toBe('t1.chat.cmd.*');
    expect(n.subjects.evtConv('c1')).toBe('t1.chat.evt.conv.c1');
    expect(n.subjects.evtRcpt('c1', 'bob')).toBe('t1.chat.evt.rcpt.c1.bob');
    expect(n.subjects.dlv('e1')).toBe('t1.chat.dlv.e1');
    expect(n.subjects.reply('e1', 'r1')).toBe('t1.chat.reply.e1.r1');
    expect(n.subjects.cmdPartition(0)).toBe('t1.chat.cmd.0');
    expect(n.consumers.projMessages).toBe('proj-messages');
    expect(n.redisPrefix).toBe('t1:');
  });

  it.each(['a.b', 'a b', 'a*', 'x'.repeat(33)])('rejects namespace %j', (ns) => {
    expect(() => names(ns)).toThrow(/invalid namespace/);
  });
});

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['1.5s', 1_500],
    ['250', 250],
    [' 10s ', 10_000],
  ])('%j is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', 's', '10 s', '-5s', '5w', '1e3', 'soon'])('rejects %j', (input) => {
    expect(() => parseDuration(input)).toThrow(/invalid duration/);
  });

  it('is the zod Duration field used by the config', () => {
    expect(Duration.parse('2m')).toBe(120_000);
    expect(Duration.safeParse('2 minutes').success).toBe(false);
  });
});

describe('readEvent (the projector\'s reading of stored events)', () => {
  const sent = { type: 'MessageSent', v: 1, conversationId: 'c1', messageId: 'm1', seq: 1, senderId: 'a', senderDeviceId: 'd', clientMsgId: 'k', body: { text: 'x' }, sentAt: '2025-01-01T00:00:00.000Z' };
  it('takes an event of a known type and version as it is', () => {
    expect(readEvent(sent)).toBe(sent);
    expect(readPreferenceEvent({ type: 'MemberMuteChanged', v: 1, conversationId: 'c1', userId: 'a', muted: true, at: 'x' })).toMatchObject({ muted: true });
  });
  it('refuses, with the full validation\'s reason, what this version does not write', () => {
    expect(() => readEvent({ ...sent, type: 'MessageVanished' })).toThrow();
    expect(() => readEvent({ ...sent, v: 2 })).toThrow();
    expect(() => readEvent({ type: 'MessageSent', v: 1, 'this is not': 'an event' })).toThrow(/conversationId/);
    expect(() => readPreferenceEvent({ type: 'MemberMuteChanged', v: 1 })).toThrow();
  });
});
