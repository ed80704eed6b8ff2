import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm, type KV } from '@nats-io/kv';
import { pino } from 'pino';
import { ensureCommandOwners, commandOwnersBucket } from '@chat/streams';
import { createTestEnv, type TestEnv } from '../testing/env';
import { PartitionLeases, preferredOwner } from './leases';

let env: TestEnv;
let kv: KV;
const PARTITIONS = 16;
/** The bucket's real TTL: leases of a dead member run out after it. */
let ttlMs: number;
const running: PartitionLeases[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  await ensureCommandOwners(env.nats.jsm, env.names, { replicas: 1 });
  ttlMs = commandOwnersBucket(env.names, { replicas: 1 }).ttlMs;
  kv = await new Kvm(env.nats.js).open(env.names.kv.commandOwners);
});
afterAll(async () => {
  for (const l of running) await l.stop().catch(() => undefined);
  await env.dispose();
});

/** One process's leases; `held` mirrors what its command service would subscribe to. */
function member(id: string, store: KV = kv) {
  const held = new Set<number>();
  const drains: number[] = [];
  const leases = new PartitionLeases({
    kv: store,
    instanceId: id,
    partitions: PARTITIONS,
    ttlMs,
    log: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
    handlers: {
      acquired: (p) => void held.add(p),
      stopped: (p) => void held.delete(p),
      drained: async (p) => void drains.push(p),
    },
  });
  running.push(leases);
  return { id, leases, held, drains };
}

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const all = Array.from({ length: PARTITIONS }, (_, p) => p);

describe('partition leases', () => {
  it('rendezvous hashing spreads partitions over members and moves only those of a member that leaves', () => {
    const three = ['a', 'b', 'c'];
    const owners = all.map((p) => preferredOwner(p, three));
    for (const m of three) expect(owners.filter((o) => o === m).length).toBeGreaterThan(0);
    const two = all.map((p) => preferredOwner(p, ['a', 'b']));
    all.forEach((p) => {
      if (owners[p] !== 'c') expect(two[p]).toBe(owners[p]);
    });
  });

  it('one member owns every partition; a second shares them (each partition with one owner); a graceful stop hands them over drained', async () => {
    const a = member('a-proc');
    await a.leases.start();
    await until(() => a.held.size === PARTITIONS, 'a to own every partition');

    const b = member('b-proc');
    await b.leases.start();
    const wantB = all.filter((p) => preferredOwner(p, ['a-proc', 'b-proc'].sort()) === 'b-proc');
    expect(wantB.length).toBeGreaterThan(0);
    expect(wantB.length).toBeLessThan(PARTITIONS);
    await until(() => b.held.size === wantB.length && a.held.size === PARTITIONS - wantB.length, 'the partitions to be shared');
    expect([...b.held].sort((x, y) => x - y)).toEqual(wantB);
    for (const p of all) expect(a.held.has(p) !== b.held.has(p)).toBe(true);
    // a drained each partition before handing it over.
    expect(a.drains.sort((x, y) => x - y)).toEqual(wantB);
    expect(b.leases.owned()).toEqual(wantB);

    const started = Date.now();
    await a.leases.stop();
    running.splice(running.indexOf(a.leases), 1);
    await until(() => b.held.size === PARTITIONS, 'b to take everything over');
    // A graceful stop deletes the leases: taken over well before they would expire.
    expect(Date.now() - started).toBeLessThan(ttlMs);
  }, 60_000);

  it('a member that dies (no hand-over) loses its partitions to the others once its leases run out', async () => {
    const [b] = running;
    const c = member('c-proc');
    await c.leases.start();
    const wantC = all.filter((p) => preferredOwner(p, ['b-proc', 'c-proc']) === 'c-proc');
    await until(() => c.held.size === wantC.length, 'c to take its share');
    // c dies: nothing refreshes or releases its leases any more.
    (c.leases as unknown as { stopping: boolean }).stopping = true;
    const died = Date.now();
    const held = () => (b as PartitionLeases).owned().length;
    await until(() => held() === PARTITIONS, 'b to take the dead member\'s partitions', 4 * ttlMs);
    const took = Date.now() - died;
    expect(took).toBeGreaterThanOrEqual(ttlMs / 2);
    expect(took).toBeLessThan(3 * ttlMs);
    // And the dead one, were it to wake up, no longer trusts its leases.
    expect(c.leases.owned()).toEqual([]);
  }, 60_000);

  it('forgets a member whose expiry its watcher never saw, and takes that member\'s partitions', async () => {
    for (const l of running.splice(0)) await l.stop().catch(() => undefined);
    // y's watcher loses every delete and expiry marker (as one re-created past them would).
    const lossy = withWatch(kv, async (opts) => {
      const it = await kv.watch(opts);
      return {
        stop: () => it.stop(),
        async *[Symbol.asyncIterator]() {
          for await (const e of it) if (e.operation === 'PUT') yield e;
        },
      };
    });
    const x = member('x-proc');
    const y = member('y-proc', lossy);
    await x.leases.start();
    await y.leases.start();
    const wantY = all.filter((p) => preferredOwner(p, ['x-proc', 'y-proc']) === 'y-proc');
    await until(() => y.held.size === wantY.length && x.held.size === PARTITIONS - wantY.length, 'x and y to share the partitions');
    // x dies: its member key and leases expire; y never hears of it.
    (x.leases as unknown as { stopping: boolean }).stopping = true;
    await until(() => y.leases.owned().length === PARTITIONS, "y to take the dead member's partitions", 5 * ttlMs);
    expect(y.leases.stats.forgotten).toBeGreaterThan(0);
  }, 60_000);

  it('re-creates a lease watcher that stops delivering', async () => {
    for (const l of running.splice(0)) await l.stop().catch(() => undefined);
    const w = member('w-proc');
    await w.leases.start();
    await until(() => w.held.size === PARTITIONS, 'w to own every partition');
    let watches = 0;
    // z's first watcher never delivers anything.
    const stalling = withWatch(kv, async (opts) => {
      if (++watches > 1) return kv.watch(opts);
      const it = await kv.watch(opts);
      return { stop: () => it.stop(), async *[Symbol.asyncIterator]() { await new Promise(() => undefined); } };
    });
    const z = member('z-proc', stalling);
    await z.leases.start();
    const wantZ = all.filter((p) => preferredOwner(p, ['w-proc', 'z-proc']) === 'z-proc');
    await until(() => watches >= 2, 'the watcher to be re-created', 4 * ttlMs);
    expect(z.leases.stats.watcherRestarts).toBe(1);
    await until(() => z.leases.owned().length === wantZ.length && w.leases.owned().length === PARTITIONS - wantZ.length, 'w and z to share the partitions', 4 * ttlMs);
    expect(z.leases.owned()).toEqual(wantZ);
  }, 60_000);
});

/** The same bucket, with `watch` replaced. */
function withWatch(target: KV, watch: (opts: Parameters<KV['watch']>[0]) => Promise<unknown>): KV {
  return new Proxy(target, {
    get(t, k) {
      if (k === 'watch') return watch;
      const v = (t as unknown as Record<string | symbol, unknown>)[k];
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}
