import { describe, expect, it } from 'vitest';
import { collectReplies, createGroup, createService, send, sendCommand, useCommandTestEnv } from './testing/env';

const t = useCommandTestEnv();
/** Command ids whose append fails: the injected broken dependency. */
const poisoned = new Set<string>();


describe('a command that fails', () => {
  it('is answered `unavailable` with nothing appended, the conversation goes on, and the same command resent later appends once', async () => {
    const svc = await createService(t.env, {
      store: (real) => ({
        load: (s, a) => real.load(s, a),
        append: async (subject, events, expected, commandId) => {
          if (poisoned.has(commandId)) throw new Error(`injected failure for ${commandId}`);
          return real.append(subject, events, expected, commandId);
        },
      }),
    });
    t.closeLater(svc.close);
    await svc.takeAll();
    const replies = collectReplies(t.env.nats.nc, t.env.names);
    t.closeLater(async () => replies.close());
    const conv = 'g-fail';
    sendCommand(t.env.nats.nc, t.env.names, createGroup(conv, 'alice', ['bob']));
    await replies.waitFor(1);

    const poison = send(conv, 'alice', 'poison');
    const next = send(conv, 'alice', 'next');
    poisoned.add(poison.meta.commandId);
    sendCommand(t.env.nats.nc, t.env.names, poison);
    sendCommand(t.env.nats.nc, t.env.names, next);
    await replies.waitFor(3);
    expect(replies.replies.get(poison.meta.requestId)).toEqual([
      { requestId: poison.meta.requestId, ok: false, error: { code: 'unavailable', message: 'could not store the command; retry' } },
    ]);
    // The next command of the same conversation went through.
    expect(replies.replies.get(next.meta.requestId)?.[0]).toMatchObject({ ok: true, result: { kind: 'message.sent', seq: 1 } });
    expect(svc.service.stats.failed).toBe(1);

    // The cause gone, the client resends the same command (same ids): appended once, after `next`.
    poisoned.clear();
    sendCommand(t.env.nats.nc, t.env.names, poison);
    const deadline = Date.now() + 10_000;
    while ((replies.replies.get(poison.meta.requestId)?.length ?? 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(replies.replies.get(poison.meta.requestId)?.[1]).toMatchObject({ ok: true, result: { kind: 'message.sent', clientMsgId: 'poison', seq: 2 } });
    const sent = (await t.store.load(t.env.names.subjects.evtConv(conv))).events.flatMap((e) => (e.type === 'MessageSent' ? [e.clientMsgId] : []));
    expect(sent).toEqual(['next', 'poison']);
  });
});
