import { describe, expect, it } from 'vitest';
import type { ChatEvent, CommandResult, StoredEvent } from '@chat/contracts';
import { conversation } from './kinds';
import { collectReplies, createGroup, resendUnavailable, send, sendCommand, useCommandTestEnv } from './testing/env';

const t = useCommandTestEnv();

/** Each instance takes every partition: two of them share each partition's commands, and race. */
const instance = (opts: Parameters<typeof t.instance>[0] = {}) => t.instance(opts, { takeAll: true });

const sentEvents = (events: StoredEvent[]) => events.filter((e): e is Extract<ChatEvent, { type: 'MessageSent' }> => e.type === 'MessageSent');

describe('SendMessage', () => {
  it('two instances racing on one conversation append 200 messages with seqs exactly 1..200', async () => {
    const conv = 'g-race';
    const subject = t.env.names.subjects.evtConv(conv);
    const a = await instance();
    const b = await instance();
    await a.execute(createGroup(conv, 'alice', ['bob']));
    // Both caches hold the conversation, so neither reloads before its first append: they race.
    await b.aggregates.get(subject, conversation);
    const replies = collectReplies(t.env.nats.nc, t.env.names);
    t.closeLater(async () => replies.close());

    const commands = Array.from({ length: 200 }, (_, i) => send(conv, i % 2 ? 'alice' : 'bob', `race-${i}`));
    for (const c of commands) sendCommand(t.env.nats.nc, t.env.names, c);
    await replies.waitFor(200, 60_000);
    // Commands that kept losing the race are answered `unavailable` and resent by the client.
    const resent = await resendUnavailable(t.env.nats.nc, t.env.names, replies, commands);

    const events = sentEvents((await t.store.load(subject)).events);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => e.clientMsgId)).size).toBe(200);
    const seqByClientMsgId = new Map(events.map((e) => [e.clientMsgId, e.seq]));
    for (const c of commands) {
      const answers = replies.replies.get(c.meta.requestId) ?? [];
      const answer = answers.at(-1)!;
      expect(answer.ok).toBe(true);
      if (!answer.ok || answer.result.kind !== 'message.sent') throw new Error('unexpected answer');
      expect(answer.result.seq).toBe(seqByClientMsgId.get(c.data.clientMsgId));
    }
    expect(a.stats.handled).toBeGreaterThan(0);
    expect(b.stats.handled).toBeGreaterThan(0);
    expect(a.stats.handled + b.stats.handled).toBe(200);
    expect(a.stats.failed + b.stats.failed).toBe(resent);
    expect(a.stats.conflicts + b.stats.conflicts).toBeGreaterThan(0);
  });

  it('answers a repeated clientMsgId with the original messageId and seq, also after the cache is gone', async () => {
    const conv = 'g-idem';
    const subject = t.env.names.subjects.evtConv(conv);
    const a = await instance();
    await a.execute(createGroup(conv, 'alice', ['bob']));
    await a.execute(send(conv, 'bob', 'before'));
    const first = await a.execute(send(conv, 'alice', 'same'));
    expect(first).toMatchObject({ kind: 'message.sent', seq: 2, clientMsgId: 'same' });

    const again = await a.execute(send(conv, 'alice', 'same', 'a retry'));
    a.aggregates.clear(); // hours later, or a restarted service
    const afterRestart = await a.execute(send(conv, 'alice', 'same', 'a late retry'));
    const otherInstance = await (await instance()).execute(send(conv, 'alice', 'same'));
    for (const r of [again, afterRestart, otherInstance]) expect(r).toEqual(first);

    // Another sender may use the same clientMsgId: ids are unique per sender only.
    expect(await a.execute(send(conv, 'bob', 'same'))).toMatchObject({ seq: 3 });
    const events = sentEvents((await t.store.load(subject)).events);
    expect(events.map((e) => `${e.senderId}:${e.clientMsgId}:${e.seq}`)).toEqual(['bob:before:1', 'alice:same:2', 'bob:same:3']);
  });

  it('a command redelivered to an instance with a stale cache answers like the first delivery and appends nothing', async () => {
    const conv = 'g-redelivered';
    const subject = t.env.names.subjects.evtConv(conv);
    const a = await instance();
    const b = await instance();
    await a.execute(createGroup(conv, 'alice', ['bob']));
    await b.aggregates.get(subject, conversation);
    await a.execute(send(conv, 'bob', 'other'));
    const command = send(conv, 'alice', 'once');
    const first: CommandResult = await a.execute(command);
    // b still believes the conversation is empty: it decides seq 1 and its append is the same
    // message id as a's, inside the duplicate window.
    const second = await b.execute(command);
    expect(second).toEqual(first);
    expect(first).toMatchObject({ seq: 2 });
    expect(sentEvents((await t.store.load(subject)).events).map((e) => e.clientMsgId)).toEqual(['other', 'once']);
    expect(b.stats.conflicts).toBe(1);
  });

  it('confirms a rejection decided on a cached state: a conversation created elsewhere is found', async () => {
    const conv = 'g-late';
    const a = await instance();
    const b = await instance();
    await expect(b.execute(send(conv, 'alice', 'too-early'))).rejects.toMatchObject({ code: 'not_found' });
    await a.execute(createGroup(conv, 'alice', ['bob']));
    expect(await b.execute(send(conv, 'alice', 'now'))).toMatchObject({ kind: 'message.sent', seq: 1 });
    await expect(b.execute(send(conv, 'mallory', 'x'))).rejects.toMatchObject({ code: 'forbidden' });
  });
});
