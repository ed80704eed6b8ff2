import { afterAll, beforeAll, inject } from 'vitest';
import { pino } from 'pino';
import { CommandReply, names as namesFor, type Command, type CommandOf, type Names } from '@chat/contracts';
import type { ConversationRules } from '@chat/domain';
import { commandSubject, connectNats, JetStreamEventStore, type EventStore, type Nats } from '@chat/nats';
import { createTestNamespace } from '@chat/testing';
import { Kvm } from '@nats-io/kv';
import { ensureSnapshots, snapshotsBucket } from '@chat/streams';
import { CommandService } from '../service';
import { StreamMessageLookup } from '../messageLookup';
import { KvSnapshotStore, type SnapshotStore } from '../snapshots/store';

/** A throwaway namespace (streams, consumers) on the run's servers (libs/testing); dispose() removes it. */
export interface TestEnv {
  names: Names;
  natsUrl: string;
  nats: Nats;
  dispose(): Promise<void>;
}

export async function createTestEnv(): Promise<TestEnv> {
  const ns = await createTestNamespace(inject('chatEnv'));
  const nats = await connectNats(ns.natsUrl, `command-test-${ns.ns}`);
  return {
    names: namesFor(ns.ns),
    natsUrl: ns.natsUrl,
    nats,
    async dispose() {
      await nats.nc.close();
      await ns.dispose();
    },
  };
}

/**
 * The one setup of a command-service integration test file: a throwaway namespace before its
 * tests, and after them every instance and subscription closed and the namespace removed.
 * `env` and `store` are there once the file's tests run.
 */
export function useCommandTestEnv() {
  const closers: Array<() => Promise<void>> = [];
  const t = {
    env: undefined as unknown as TestEnv,
    /** The namespace's CHAT_EVENTS, to read what was appended. */
    store: undefined as unknown as JetStreamEventStore,
    /** Closes `close` after the file's tests (in the order registered). */
    closeLater(close: () => Promise<void> | void): void {
      closers.push(async () => close());
    },
    /** A command service instance (like a separate process), closed after the file; with `takeAll` it subscribes to every partition. */
    async instance(opts: Parameters<typeof createService>[1] = {}, how: { takeAll?: boolean } = {}): Promise<CommandService> {
      const svc = await createService(t.env, opts);
      closers.push(svc.close);
      if (how.takeAll) await svc.takeAll();
      return svc.service;
    },
  };
  beforeAll(async () => {
    t.env = await createTestEnv();
    t.store = new JetStreamEventStore(t.env.nats.js, t.env.nats.jsm, t.env.names.streams.events);
  });
  afterAll(async () => {
    for (const close of closers) await close().catch(() => undefined);
    await t.env?.dispose();
  });
  return t;
}

/** Partitions in the command tests (CHAT_COMMAND_PARTITIONS). */
export const TEST_PARTITIONS = 4;

/**
 * A command service instance with its own NATS connection and cache, like a separate process.
 * Unless `owns` says otherwise it owns every partition, and `takeAll()` subscribes to them
 * (two such instances share each partition's commands through the queue group, and race).
 */
export async function createService(
  env: TestEnv,
  opts: {
    cacheBytes?: number;
    rules?: Partial<ConversationRules>;
    store?: (real: EventStore) => EventStore;
    snapshots?: (real: SnapshotStore) => SnapshotStore;
    snapshotEvery?: number;
    snapshotAfterMs?: number;
    owns?: (p: number) => boolean;
  } = {},
): Promise<{ service: CommandService; nats: Nats; takeAll(): Promise<void>; close(): Promise<void> }> {
  const nats = await connectNats(env.natsUrl, `command-test-svc-${env.names.ns}`);
  const real = new JetStreamEventStore(nats.js, nats.jsm, env.names.streams.events);
  const snapshots = new KvSnapshotStore(await openSnapshotBucket(env));
  const service = new CommandService({
    nc: nats.nc,
    js: nats.js,
    jsm: nats.jsm,
    names: env.names,
    log: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
    store: opts.store ? opts.store(real) : real,
    snapshots: opts.snapshots ? opts.snapshots(snapshots) : snapshots,
    messages: new StreamMessageLookup(nats.js, env.names.streams.events),
    partitions: TEST_PARTITIONS,
    owns: opts.owns ?? (() => true),
    cacheBytes: opts.cacheBytes ?? 64 * 1024 * 1024,
    ...(opts.snapshotEvery !== undefined ? { snapshotEvery: opts.snapshotEvery } : {}),
    ...(opts.snapshotAfterMs !== undefined ? { snapshotAfterMs: opts.snapshotAfterMs } : {}),
    ...(opts.rules ? { rules: opts.rules } : {}),
  }).start();
  return {
    service,
    nats,
    /** Subscribes to every partition; resolves once the server has the subscriptions (commands sent after it reach them). */
    async takeAll() {
      for (let p = 0; p < TEST_PARTITIONS; p++) service.take(p);
      await nats.nc.flush();
    },
    async close() {
      await service.stop();
      await nats.nc.drain();
    },
  };
}

/** The namespace's snapshot bucket (created with the streams). */
export async function openSnapshotBucket(env: TestEnv) {
  await ensureSnapshots(env.nats.jsm, env.names, { replicas: 1 });
  return new Kvm(env.nats.js).open(snapshotsBucket(env.names, { replicas: 1 }).name);
}

/** Sends a command as an edge does: to its partition, as a batch of one, the reply subject named by its request id. */
export function sendCommand(nc: Nats['nc'], names: Names, command: Command): void {
  nc.publish(commandSubject(names, command, TEST_PARTITIONS), JSON.stringify([command]), { reply: names.subjects.reply(command.meta.edgeId, command.meta.requestId) });
}

let counter = 0;
const nextId = () => `cmd-${Date.now().toString(36)}-${(counter++).toString(36)}`;

export function meta(userId: string, edgeId = 'edge-t'): Command['meta'] {
  const id = nextId();
  return { commandId: id, requestId: id, userId, deviceId: 'd1', edgeId, at: new Date().toISOString() };
}

export const createGroup = (conversationId: string, by: string, members: string[]): CommandOf<'CreateConversation'> => ({
  type: 'CreateConversation',
  v: 1,
  meta: meta(by),
  data: { conversationId, kind: 'group', members: [by, ...members], title: 'test' },
});

export const send = (conversationId: string, by: string, clientMsgId: string, text = clientMsgId): CommandOf<'SendMessage'> => ({
  type: 'SendMessage',
  v: 1,
  meta: meta(by),
  data: { conversationId, messageId: `m-${clientMsgId}-${nextId()}`, clientMsgId, body: { text } },
});

export const markRead = (conversationId: string, by: string, upToSeq: number): CommandOf<'MarkRead'> => ({
  type: 'MarkRead',
  v: 1,
  meta: meta(by),
  data: { conversationId, upToSeq },
});

export const markDelivered = (conversationId: string, by: string, upToSeq: number): CommandOf<'MarkDelivered'> => ({
  type: 'MarkDelivered',
  v: 1,
  meta: meta(by),
  data: { conversationId, upToSeq },
});

/** Collects the answers published to one edge's reply subject, by request id. */
export function collectReplies(nc: Nats['nc'], names: Names, edgeId = 'edge-t') {
  const replies = new Map<string, CommandReply[]>();
  const sub = nc.subscribe(names.subjects.replyAll(edgeId), {
    callback: (err, msg) => {
      // "No responders" (status 503, no body) are left to the test that waits for them.
      if (err || msg.headers?.code === 503) return;
      for (const r of CommandReply.array().parse(msg.json())) replies.set(r.requestId, [...(replies.get(r.requestId) ?? []), r]);
    },
  });
  return {
    replies,
    async waitFor(count: number, timeoutMs = 20_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (replies.size < count) {
        if (Date.now() > deadline) throw new Error(`${replies.size} of ${count} replies after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => sub.unsubscribe(),
  };
}

/**
 * Resends, with the same ids (as a client does), every command whose last answer is
 * `unavailable` (it kept losing an optimistic-concurrency race to another instance), until each
 * has an answer that is not. Returns how many resends it took.
 */
export async function resendUnavailable(nc: Nats['nc'], names: Names, replies: ReturnType<typeof collectReplies>, commands: readonly Command[], timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const last = (c: Command) => replies.replies.get(c.meta.requestId)?.at(-1);
  let resent = 0;
  for (;;) {
    const busy = commands.filter((c) => { const r = last(c); return r && !r.ok && r.error.code === 'unavailable'; });
    if (busy.length === 0) return resent;
    if (Date.now() > deadline) throw new Error(`${busy.length} commands still unavailable after ${timeoutMs} ms`);
    const before = busy.map((c) => replies.replies.get(c.meta.requestId)!.length);
    for (const c of busy) sendCommand(nc, names, c);
    resent += busy.length;
    while (busy.some((c, i) => replies.replies.get(c.meta.requestId)!.length === before[i]) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }
}

/** Any conversation command of the groups and message operations, by `by`, at now (or `at`). */
export const conv = <T extends 'AddMembers' | 'RemoveMember' | 'LeaveConversation' | 'ChangeRole' | 'UpdateConversation' | 'EditMessage' | 'DeleteMessage'>(
  type: T,
  conversationId: string,
  by: string,
  data: Omit<CommandOf<T>['data'], 'conversationId'>,
  at?: string,
): CommandOf<T> => ({ type, v: 1, meta: { ...meta(by), ...(at ? { at } : {}) }, data: { conversationId, ...data } }) as unknown as CommandOf<T>;
