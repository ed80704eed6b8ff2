import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Command, type CommandReply } from '@chat/contracts';
import { commandSubject, connectNats, deadLetter, JetStreamEventStore, publishCommand, type EventStore, type Nats } from '@chat/nats';
import { listDeadLetters, replayDeadLetters } from '@chat/ops';
import { applyStreams } from '@chat/streams';
import { collectReplies, createGroup, createTestEnv, send, type TestEnv } from './testing/env';
import { CommandService } from './service';

let env: TestEnv;
let svcNats: Nats;
let service: CommandService;
/** Command ids whose append fails: the injected broken dependency. */
const poisoned = new Set<string>();
const MAX_DELIVER = 3;

beforeAll(async () => {
  env = await createTestEnv();
  // Small redelivery policy for the test only; production defaults are untouched.
  await applyStreams(env.nats.jsm, env.names, {
    replicas: 1,
    maxAgeMs: 30 * 86_400_000,
    delivery: { command: { maxDeliver: MAX_DELIVER, backoffMs: [5_000] } },
  });
  svcNats = await connectNats(env.natsUrl, `command-dlq-test-${env.names.ns}`);
  const real = new JetStreamEventStore(svcNats.js, svcNats.jsm, env.names.streams.events);
  const store: EventStore = {
    load: (subject, afterSeq) => real.load(subject, afterSeq),
    append: async (subject, events, expected, commandId) => {
      if (poisoned.has(commandId)) throw new Error(`injected failure for ${commandId}`);
      return real.append(subject, events, expected, commandId);
    },
  };
  service = new CommandService({
    nc: svcNats.nc,
    js: svcNats.js,
    jsm: svcNats.jsm,
    names: env.names,
    log: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
    store,
    batch: 16,
    cacheEntries: 100,
    summaryEveryMs: 0,
    redeliveryDelayMs: () => 50,
  });
  await service.start();
});

afterAll(async () => {
  await service?.stop();
  await svcNats?.nc.drain();
  await env.dispose();
});

describe('dead letters of the command service', () => {
  it('dead-letters a command failing on every delivery, answers the edge, moves on; list and replay round-trip it', async () => {
    const replies = collectReplies(env.nats.nc, env.names);
    const pub = (c: Command) => publishCommand(env.nats.js, commandSubject(env.names, c), c, { msgId: c.meta.commandId });
    const conv = 'g-dlq';
    await pub(createGroup(conv, 'alice', ['bob']));
    await replies.waitFor(1);

    const poison = send(conv, 'alice', 'poison');
    const next = send(conv, 'alice', 'next');
    poisoned.add(poison.meta.commandId);
    const pubAck = await pub(poison);
    await pub(next);
    await replies.waitFor(3);
    expect(replies.replies.get(poison.meta.requestId)).toEqual([{ requestId: poison.meta.requestId, ok: false, error: { code: 'internal', message: 'internal error' } }]);
    // The consumer moved on: the next command of the same conversation was handled.
    expect(replies.replies.get(next.meta.requestId)?.[0]).toMatchObject({ ok: true, result: { kind: 'message.sent', seq: 1 } });

    await new Promise((r) => setTimeout(r, 200));
    const ci = await env.nats.jsm.consumers.info(env.names.streams.cmd, env.names.consumers.commandHandler);
    expect({ pending: ci.num_pending, ackPending: ci.num_ack_pending }).toEqual({ pending: 0, ackPending: 0 });
    expect((await env.nats.jsm.streams.info(env.names.streams.cmd)).state.messages).toBe(0);
    expect(service.stats.deadLettered).toBe(1);

    const [entry, ...others] = await listDeadLetters(env.nats.js, env.names);
    expect(others).toEqual([]);
    expect(entry).toMatchObject({
      stream: env.names.streams.cmd,
      subject: commandSubject(env.names, poison),
      seq: pubAck.seq,
      consumer: 'command-handler',
      deliveries: MAX_DELIVER,
      error: `injected failure for ${poison.meta.commandId}`,
      headers: { 'Nats-Msg-Id': poison.meta.commandId },
    });
    expect(Date.now() - Date.parse(entry!.time)).toBeLessThan(60_000);
    expect(Command.parse(JSON.parse(Buffer.from(entry!.data, 'base64').toString()))).toEqual(poison);
    expect(await listDeadLetters(env.nats.js, env.names, { consumer: 'proj-messages' })).toEqual([]);

    // Dead-lettering the same message again (a retry after a lost term) is stored once.
    const again = await deadLetter(env.nats.js, env.names, {
      stream: entry!.stream,
      subject: entry!.subject,
      streamSeq: entry!.seq,
      consumer: entry!.consumer,
      deliveryCount: MAX_DELIVER,
      error: 'again',
      data: Buffer.from(entry!.data, 'base64'),
    });
    expect(again.duplicate).toBe(true);

    // chatctl dlq list shows it.
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', 'dlq', 'list', '--json', '--consumer', 'command-handler'], {
      env: { ...process.env, NATS_URL: env.natsUrl, CHAT_NS: env.names.ns },
      encoding: 'utf8',
    });
    expect(cli.stderr).toBe('');
    expect(cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: number })).toEqual([entry]);
    const table = spawnSync(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', 'dlq', 'list'], {
      env: { ...process.env, NATS_URL: env.natsUrl, CHAT_NS: env.names.ns },
      encoding: 'utf8',
    });
    expect(table.stdout).toContain('command-handler');
    expect(table.stdout).toContain(`injected failure for ${poison.meta.commandId}`);

    // The cause fixed, a replay runs the command again; the entry is gone; a second replay finds nothing.
    poisoned.clear();
    const replayed = await replayDeadLetters(env.nats.js, env.names, [entry!.id]);
    expect(replayed).toMatchObject([{ id: entry!.id, outcome: 'replayed', consumer: 'command-handler' }]);
    const deadline = Date.now() + 10_000;
    while ((replies.replies.get(poison.meta.requestId)?.length ?? 0) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const answers: CommandReply[] = replies.replies.get(poison.meta.requestId) ?? [];
    expect(answers[1]).toMatchObject({ ok: true, result: { kind: 'message.sent', clientMsgId: 'poison', seq: 2 } });
    expect(await listDeadLetters(env.nats.js, env.names)).toEqual([]);
    expect(await replayDeadLetters(env.nats.js, env.names, [entry!.id])).toMatchObject([{ outcome: 'missing' }]);
    replies.close();
  });

  it('leaves projection entries for a rebuild, and removes them with --rebuilt', async () => {
    const evt = await env.nats.js.publish(env.names.subjects.evtConv('g-dlq-p'), '{"not":"an event"}');
    await deadLetter(env.nats.js, env.names, {
      stream: env.names.streams.events,
      subject: env.names.subjects.evtConv('g-dlq-p'),
      streamSeq: evt.seq,
      consumer: 'proj-messages',
      deliveryCount: 100,
      error: 'unreadable event',
      data: new TextEncoder().encode('{"not":"an event"}'),
      skipped: true,
    });
    const [entry] = await listDeadLetters(env.nats.js, env.names, { consumer: 'proj-messages' });
    expect(entry).toMatchObject({ skipped: true, seq: evt.seq, stream: env.names.streams.events });
    const lastBefore = (await env.nats.jsm.streams.info(env.names.streams.events)).state.last_seq;
    expect(await replayDeadLetters(env.nats.js, env.names, [entry!.id])).toMatchObject([{ outcome: 'needs-rebuild' }]);
    // Nothing republished to CHAT_EVENTS, the entry kept.
    expect((await env.nats.jsm.streams.info(env.names.streams.events)).state.last_seq).toBe(lastBefore);
    expect(await listDeadLetters(env.nats.js, env.names)).toHaveLength(1);
    expect(await replayDeadLetters(env.nats.js, env.names, [entry!.id], { rebuilt: true })).toMatchObject([{ outcome: 'replayed' }]);
    expect(await listDeadLetters(env.nats.js, env.names)).toEqual([]);
  });
});
