import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectNats, type Nats } from '@chat/nats';
import { commandKey, names as namesFor, type Command, type CommandReply } from '@chat/contracts';
import { createTestNamespace, type TestNamespace } from '@chat/testing';
import { CommandGateway, type LocalCommands } from './commands';

let ns: TestNamespace;
let nats: Nats;
const PARTITIONS = 4;

beforeAll(async () => {
  ns = await createTestNamespace(inject('chatEnv'));
  nats = await connectNats(ns.natsUrl, `gateway-test-${ns.ns}`);
});
afterAll(async () => {
  await nats?.nc.close();
  await ns?.dispose();
});

/** A stand-in command service: records every batch it gets on every partition and answers each command `accepted`. */
async function responder(n: ReturnType<typeof namesFor>) {
  const batches: Command[][] = [];
  const subs = Array.from({ length: PARTITIONS }, (_, p) =>
    nats.nc.subscribe(n.subjects.cmdPartition(p), {
      callback: (_e, m) => {
        const batch = m.json<Command[]>();
        batches.push(batch);
        m.respond(JSON.stringify(batch.map((c): CommandReply => ({ requestId: c.meta.requestId, ok: true, result: { kind: 'accepted' } }))));
      },
    }),
  );
  await nats.nc.flush();
  return { batches, stop: () => subs.forEach((s) => s.unsubscribe()) };
}

const receipt = (gw: CommandGateway, type: 'MarkRead' | 'MarkDelivered', conversationId: string, upToSeq: number, deviceId = 'phone'): Command =>
  ({ type, v: 1, meta: gw.meta('bob', deviceId), data: { conversationId, upToSeq } }) as Command;

describe('command gateway', () => {
  it('sends the commands of one turn to a partition as one batch, and drops a delivered that a read of the same device covers', async () => {
    const n = namesFor(ns.ns);
    const r = await responder(n);
    const gw = new CommandGateway(nats.nc, n, 'e1', 5_000, PARTITIONS);
    gw.start();
    try {
      const conv = 'c-batch';
      const sameTurn = [
        gw.execute(receipt(gw, 'MarkDelivered', conv, 5)),
        gw.execute(receipt(gw, 'MarkRead', conv, 5)),
        // Further than the read: kept. Another device: kept.
        gw.execute(receipt(gw, 'MarkDelivered', conv, 6)),
        gw.execute(receipt(gw, 'MarkDelivered', conv, 5, 'laptop')),
      ];
      expect(await Promise.all(sameTurn)).toEqual(Array(4).fill({ kind: 'accepted' }));
      expect(r.batches).toHaveLength(1);
      expect(r.batches[0]!.map((c) => [c.type, c.meta.deviceId, (c.data as { upToSeq: number }).upToSeq])).toEqual([
        ['MarkRead', 'phone', 5],
        ['MarkDelivered', 'phone', 6],
        ['MarkDelivered', 'laptop', 5],
      ]);
      expect(gw.stats.coalesced).toBe(1);
    } finally {
      r.stop();
      await gw.stop();
    }
  });

  it('resends a batch nobody answered (no responders) until its partition has an owner', async () => {
    const n = namesFor(ns.ns);
    const gw = new CommandGateway(nats.nc, n, 'e2', 10_000, PARTITIONS);
    gw.start();
    try {
      const answer = gw.execute(receipt(gw, 'MarkRead', 'c-late', 1));
      // The marker: the first send was refused with "no responders" and a resend is scheduled.
      const deadline = Date.now() + 5_000;
      while (gw.stats.resent === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
      expect(gw.stats.resent).toBeGreaterThan(0);
      const r = await responder(n);
      expect(await answer).toEqual({ kind: 'accepted' });
      expect(r.batches.flat().map((c) => commandKey(c))).toEqual(['c-late']);
      r.stop();
    } finally {
      await gw.stop();
    }
  });

  it('counts a reply that is not a reply array and resends its commands, which are then answered', async () => {
    const n = namesFor(ns.ns);
    let garbled = 0;
    const subs = Array.from({ length: PARTITIONS }, (_, p) =>
      nats.nc.subscribe(n.subjects.cmdPartition(p), {
        callback: (_e, m) => {
          const batch = m.json<Command[]>();
          // The first answer is broken, the next ones are right.
          if (garbled++ === 0) {
            m.respond('{"not":"an array"}');
            return;
          }
          m.respond(JSON.stringify(batch.map((c): CommandReply => ({ requestId: c.meta.requestId, ok: true, result: { kind: 'accepted' } }))));
        },
      }),
    );
    await nats.nc.flush();
    const gw = new CommandGateway(nats.nc, n, 'e4', 10_000, PARTITIONS);
    gw.start();
    try {
      expect(await gw.execute(receipt(gw, 'MarkRead', 'c-garbled', 1))).toEqual({ kind: 'accepted' });
      expect(gw.stats).toMatchObject({ badReplies: 1, resent: 1, timedOut: 0 });
    } finally {
      subs.forEach((sub) => sub.unsubscribe());
      await gw.stop();
    }
  });

  it('runs the partitions a hosted command tier holds in process, and sends a command it answers `moved` (its lease went) to the owner over NATS', async () => {
    const n = namesFor(ns.ns);
    const r = await responder(n);
    let leaseHeld = true;
    const ranHere: Command[][] = [];
    const local: LocalCommands = {
      owns: () => leaseHeld,
      async handle(_partition, commands) {
        ranHere.push([...commands]);
        // The first batch runs here; then the lease is gone, as when another process took it.
        const moved = ranHere.length > 1;
        if (moved) leaseHeld = false;
        return commands.map((c): CommandReply => (moved ? { requestId: c.meta.requestId, ok: false, error: { code: 'unavailable', message: 'partition moving; resend' }, moved: true } : { requestId: c.meta.requestId, ok: true, result: { kind: 'accepted' } }));
      },
    };
    const gw = new CommandGateway(nats.nc, n, 'e5', 10_000, PARTITIONS, local);
    gw.start();
    try {
      expect(await gw.execute(receipt(gw, 'MarkRead', 'c-here', 1))).toEqual({ kind: 'accepted' });
      expect(r.batches).toEqual([]);
      expect(await gw.execute(receipt(gw, 'MarkRead', 'c-moved', 2))).toEqual({ kind: 'accepted' });
      expect(ranHere.map((b) => b.map((c) => commandKey(c)))).toEqual([['c-here'], ['c-moved']]);
      expect(r.batches.map((b) => b.map((c) => commandKey(c)))).toEqual([['c-moved']]);
      expect(gw.stats).toMatchObject({ local: 2, resent: 1, timedOut: 0 });
    } finally {
      r.stop();
      await gw.stop();
    }
  });

  it('answers `unavailable` at its timeout when nobody ever answers', async () => {
    const gw = new CommandGateway(nats.nc, namesFor(ns.ns), 'e3', 300, PARTITIONS);
    gw.start();
    try {
      await expect(gw.execute(receipt(gw, 'MarkRead', 'c-never', 1))).rejects.toMatchObject({ code: 'unavailable' });
      expect(gw.stats.timedOut).toBe(1);
    } finally {
      await gw.stop();
    }
  });
});
