import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '@chat/contracts';
import { readCheckpoint } from '@chat/postgres';
import { messagesProjection } from './messages/projection';
import { receiptsProjection } from './receipts/projection';
import { conversationsProjection } from './conversations/projection';
import { rebuildProjections, PROJECTION_KEYS } from './rebuild';
import { created, publishEvents, readModelSnapshot, receipt, sent, startProjections, waitFor, waitForCheckpoint, useTestEnv, type TestEnv } from './testing/env';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Projector {
  child: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function startProjector(env: TestEnv, extra: Record<string, string> = {}): Projector {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/projector/src/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NATS_URL: t.env.natsUrl,
      DATABASE_URL: t.env.databaseUrl,
      REDIS_URL: t.env.redisUrl,
      CHAT_NS: t.env.ns,
      LOG_LEVEL: 'debug',
      // The test events are dated 2024: the sweeper would expire them.
      CHAT_SWEEP_INTERVAL: '0',
      CHAT_OPS_PORT: '0',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (b: Buffer) => {
    buf += b.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (b: Buffer) => lines.push(b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, lines, exited };
}

const logs = (p: Projector) =>
  p.lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

// 20 groups of 3 over 10 users, 100 messages each sent round-robin, receipts every 10 rounds.
const users = Array.from({ length: 10 }, (_, i) => `u${i}`);
const convs = Array.from({ length: 20 }, (_, k) => ({ id: `g${String(k).padStart(2, '0')}`, members: [users[k % 10]!, users[(k + 1) % 10]!, users[(k + 3) % 10]!] }));
function workload(): ChatEvent[] {
  const events: ChatEvent[] = convs.map((c, k) => created(c.id, c.members, k));
  for (let r = 1; r <= 100; r++) {
    convs.forEach((c, k) => events.push(sent(c.id, r, c.members[(r + k) % 3]!, { i: r * 100 + k })));
    if (r % 10 === 0) {
      convs.forEach((c, k) => {
        const who = c.members[(r / 10 + k) % 3]!;
        events.push(k % 2 === 0 ? receipt('MessagesRead', c.id, who, r - (k % 5), { i: r * 100 + 50 + k }) : receipt('MessagesDelivered', c.id, who, r, { i: r * 100 + 50 + k }));
      });
    }
  }
  return events;
}

/** What the read models must say, computed from the events alone. */
function expected(events: readonly ChatEvent[]) {
  const senders = new Map<string, string[]>();
  const marks = new Map<string, { delivered: number; read: number }>();
  for (const e of events) {
    if (e.type === 'MessageSent') (senders.get(e.conversationId) ?? senders.set(e.conversationId, []).get(e.conversationId)!)[e.seq] = e.senderId;
    if (e.type === 'MessagesDelivered' || e.type === 'MessagesRead') {
      const k = `${e.conversationId}/${e.userId}`;
      const m = marks.get(k) ?? { delivered: 0, read: 0 };
      m.delivered = Math.max(m.delivered, e.upToSeq);
      if (e.type === 'MessagesRead') m.read = Math.max(m.read, e.upToSeq);
      marks.set(k, m);
    }
  }
  const unread: Record<string, number> = {};
  for (const c of convs) {
    for (const u of c.members) {
      const read = marks.get(`${c.id}/${u}`)?.read ?? 0;
      unread[`${c.id}/${u}`] = senders.get(c.id)!.filter((s, seq) => seq > read && s !== u).length;
    }
  }
  return { marks, unread };
}

const t = useTestEnv();

const snapshot = () => readModelSnapshot(t.env.pool);

describe('projector killed mid-batch (c)', () => {
  it('converges after SIGKILL and a restart, applying nothing twice, to what a rebuild produces', async () => {
    const { names, pool, nats } = t.env;
    const events = workload();
    const isRcpt = (e: ChatEvent) => e.type === 'MessagesDelivered' || e.type === 'MessagesRead';
    const proj = [names.consumers.projMessages, names.consumers.projReceipts, names.consumers.projConversations] as const;

    const first = startProjector(t.env, { CHAT_PROJECTOR_BATCH: '20' });
    let seqs: number[];
    let killedAt: number[];
    try {
      await waitFor(async () => logs(first).some((l) => l['msg'] === 'projector reading'), 'the projector to start');
      // Published while the projector works: it is killed somewhere in the middle.
      const publishing = publishEvents(nats.js, names, events);
      await waitFor(async () => ((await readCheckpoint(pool, proj[0])) ?? 0) > events.length * 0.4, 'proj-messages to get going', 60_000);
      first.child.kill('SIGKILL');
      await first.exited;
      seqs = await publishing;
      killedAt = await Promise.all(proj.map(async (n) => (await readCheckpoint(pool, n)) ?? 0));
    } finally {
      first.child.kill('SIGKILL');
    }
    const bySeq = events.map((e, i) => ({ e, seq: seqs[i]! }));
    const lastOf = (pred: (e: ChatEvent) => boolean) => Math.max(...bySeq.filter((x) => pred(x.e)).map((x) => x.seq));
    const targets = [lastOf((e) => !isRcpt(e)), lastOf(isRcpt), lastOf(() => true)];
    // Killed while working, not after the end.
    expect(killedAt[0]).toBeLessThan(targets[0]!);
    expect(killedAt[2]).toBeLessThan(targets[2]!);

    const second = startProjector(t.env);
    try {
      for (let i = 0; i < 3; i++) await waitForCheckpoint(pool, proj[i]!, targets[i]!, 60_000);
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill('SIGKILL');
    }

    // The restarted process applied exactly the events after the checkpoint it found (one
    // transaction moves every projection's checkpoint, so they are all the same).
    const secondLogs = logs(second);
    expect(new Set(killedAt).size).toBe(1);
    const applied = secondLogs.filter((l) => l['msg'] === 'batch committed').reduce((n, l) => n + (l['applied'] as number), 0);
    expect(applied).toBe(bySeq.filter((x) => x.seq > killedAt[0]!).length);
    expect(secondLogs.some((l) => l['msg'] === 'stopped')).toBe(true);
    expect(secondLogs.filter((l) => (l['level'] as number) >= 50)).toEqual([]);

    // Read models equal what the events say.
    const q1 = async (sql: string) => (await pool.query(sql)).rows[0];
    expect(await q1('SELECT count(*)::int AS n, count(DISTINCT message_id)::int AS d FROM messages')).toEqual({ n: 2000, d: 2000 });
    expect(await q1('SELECT count(*)::int AS n FROM inbox')).toEqual({ n: 6000 });
    const dense = (await pool.query('SELECT conversation_id, min(seq) AS lo, max(seq) AS hi, count(*)::int AS n FROM messages GROUP BY 1')).rows;
    expect(dense).toHaveLength(20);
    for (const r of dense) expect([r.lo, r.hi, r.n]).toEqual([1, 100, 100]);
    // Every member's inbox holds each message once, at the message's stream sequence.
    expect(
      await q1(`SELECT count(*)::int AS n FROM inbox i JOIN messages m ON m.conversation_id = i.conversation_id AND m.seq = i.seq AND m.stream_seq = i.stream_seq`),
    ).toEqual({ n: 6000 });
    expect(await q1('SELECT count(*)::int AS n FROM conversations WHERE last_seq = 100')).toEqual({ n: 20 });

    const want = expected(events);
    const uc = (await pool.query('SELECT user_id, conversation_id, unread_count, last_seq FROM user_conversations')).rows;
    expect(uc).toHaveLength(60);
    expect(Object.fromEntries(uc.map((r) => [`${r.conversation_id}/${r.user_id}`, r.unread_count]))).toEqual(want.unread);
    expect(uc.every((r) => r.last_seq === 100)).toBe(true);
    const mr = (await pool.query('SELECT conversation_id, user_id, delivered_seq, read_seq FROM member_receipts')).rows;
    expect(Object.fromEntries(mr.map((r) => [`${r.conversation_id}/${r.user_id}`, { delivered: r.delivered_seq, read: r.read_seq }]))).toEqual(
      Object.fromEntries(want.marks),
    );

    // And equal, row for row, what a rebuild from the stream produces.
    const before = await snapshot();
    await rebuildProjections(pool, names, PROJECTION_KEYS, (await nats.jsm.streams.info(names.streams.events)).state.last_seq);
    expect(await q1('SELECT count(*)::int AS n FROM messages')).toEqual({ n: 0 });
    const run = startProjections(t.env, (n) => [messagesProjection(n), receiptsProjection(n, null), conversationsProjection(n)], { batchSize: 250 });
    try {
      for (let i = 0; i < 3; i++) await waitForCheckpoint(pool, proj[i]!, targets[i]!, 60_000);
    } finally {
      await run.stop();
    }
    expect(await snapshot()).toEqual(before);
  }, 180_000);
});
