import { pino } from 'pino';
import { CommandReply, names as namesFor, type Command, type CommandOf, type Names } from '@chat/contracts';
import type { ConversationRules } from '@chat/domain';
import { connectNats, JetStreamEventStore, type Nats } from '@chat/nats';
import { createTestNamespace } from '@chat/testing';
import { CommandService } from '../service';

/** A throwaway namespace (streams, consumers) on the real servers; dispose() removes it. */
export interface TestEnv {
  names: Names;
  natsUrl: string;
  nats: Nats;
  dispose(): Promise<void>;
}

export async function createTestEnv(): Promise<TestEnv> {
  const ns = await createTestNamespace();
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

/** A command service instance with its own NATS connection and cache, like a separate process. */
export async function createService(env: TestEnv, opts: { batch?: number; cacheEntries?: number; rules?: Partial<ConversationRules> } = {}): Promise<{ service: CommandService; nats: Nats; close(): Promise<void> }> {
  const nats = await connectNats(env.natsUrl, `command-test-svc-${env.names.ns}`);
  const service = new CommandService({
    nc: nats.nc,
    js: nats.js,
    jsm: nats.jsm,
    names: env.names,
    log: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
    store: new JetStreamEventStore(nats.js, nats.jsm, env.names.streams.events),
    batch: opts.batch ?? 128,
    cacheEntries: opts.cacheEntries ?? 1000,
    ...(opts.rules ? { rules: opts.rules } : {}),
    summaryEveryMs: 0,
  });
  return {
    service,
    nats,
    async close() {
      await service.stop();
      await nats.nc.drain();
    },
  };
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
  const sub = nc.subscribe(names.subjects.reply(edgeId), {
    callback: (err, msg) => {
      if (err) return;
      const r = CommandReply.parse(msg.json());
      replies.set(r.requestId, [...(replies.get(r.requestId) ?? []), r]);
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

/** Any conversation command of the groups and message operations, by `by`, at now (or `at`). */
export const conv = <T extends 'AddMembers' | 'RemoveMember' | 'LeaveConversation' | 'ChangeRole' | 'UpdateConversation' | 'EditMessage' | 'DeleteMessage'>(
  type: T,
  conversationId: string,
  by: string,
  data: Omit<CommandOf<T>['data'], 'conversationId'>,
  at?: string,
): CommandOf<T> => ({ type, v: 1, meta: { ...meta(by), ...(at ? { at } : {}) }, data: { conversationId, ...data } }) as unknown as CommandOf<T>;
