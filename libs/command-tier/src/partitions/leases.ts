import type { KV, KvEntry, KvWatchEntry } from '@nats-io/kv';
import type { Logger } from 'pino';
import { hash32 } from '@chat/nats';

/**
 * Who writes which partition of conversations: one owner per partition at a time, the command
 * processes sharing the partitions, a standby taking a dead owner's partitions over.
 *
 * State lives in a JetStream KV bucket whose entries expire (max age = the lease TTL) with a
 * delete marker (nats-server 2.11): `members.<instance>` (every live process, refreshed every
 * TTL / 3) and `partitions.<p>` (the owner of partition p, refreshed by that owner with an
 * update that expects its last revision, so two processes can never both refresh one lease).
 *
 * Which process should own a partition is computed by every process alike, without talking to
 * each other: rendezvous hashing over the live members (highest hash32(member/p) wins). A
 * process takes a partition when it is the preferred owner and the lease key is free (created
 * with "must not exist"), and hands one over when another member became preferred: it stops
 * taking the partition's commands, lets the running ones finish, then deletes its lease. When
 * an owner dies, its leases expire after the TTL and the new preferred owners take them.
 *
 * A lease is trusted locally only until its last successful refresh + TTL − margin; past that
 * (NATS unreachable, the process paused) the partition is dropped before another process can
 * have taken it.
 *
 * The watcher is not trusted to see every expiry: a delete marker lives one TTL, so a watcher
 * re-created after a NATS failure can resume past it, and its member or lease would stay here
 * for good (a dead member kept winning the hashing for partitions nobody then took: seen in a
 * chaos run). So a member or lease key not seen written for a TTL is forgotten (live ones are
 * rewritten every TTL / 3), and a watcher that does not echo this process's own membership
 * writes for a TTL is re-created.
 *
 * Two writers can still overlap around a pause; optimistic concurrency on every append
 * (Nats-Expected-Last-Subject-Sequence, checked by the stream leader once its log is applied)
 * keeps the conversation's seqs dense and unique even then.
 */
export interface LeaseHandlers {
  /** Start taking the partition's commands. */
  acquired(partition: number): void;
  /** Stop taking the partition's commands at once (the lease is lost or being handed over). */
  stopped(partition: number): void;
  /** Resolves when the partition's running commands have finished (before its lease is handed over). */
  drained(partition: number): Promise<void>;
}

export interface LeaseOptions {
  kv: KV;
  instanceId: string;
  partitions: number;
  ttlMs: number;
  log: Logger;
  handlers: LeaseHandlers;
}

const memberKey = (id: string) => `members.${id}`;
const partitionKey = (p: number) => `partitions.${p}`;

/** Pure: the preferred owner of a partition among the members (rendezvous hashing). */
export function preferredOwner(partition: number, members: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const m of members) {
    const score = hash32(`${m}/${partition}`);
    if (score > bestScore || (score === bestScore && best !== undefined && m < best)) {
      best = m;
      bestScore = score;
    }
  }
  return best;
}

export class PartitionLeases {
  /** Partitions held: lease revision and when it was last refreshed (monotonic ms). */
  private readonly held = new Map<number, { revision: number; refreshedAt: number }>();
  private readonly members = new Set<string>();
  /** Lease keys seen taken by someone (from the watcher). */
  private readonly owners = new Map<number, string>();
  /** When each member and lease key was last seen written (monotonic ms). */
  private readonly seen = new Map<string, number>();
  /** The watcher's start and the last time it echoed this process's own membership write. */
  private echoedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private watcher: { stop(): void } | undefined;
  private ticking: Promise<void> = Promise.resolve();
  private stopping = false;
  readonly stats = { acquired: 0, handedOver: 0, lost: 0, refreshFailures: 0, forgotten: 0, watcherRestarts: 0 };

  constructor(private readonly o: LeaseOptions) {}

  /** Partitions this process may write now. */
  owned(): number[] {
    return [...this.held.keys()].filter((p) => this.valid(p)).sort((a, b) => a - b);
  }

  owns(partition: number): boolean {
    return this.valid(partition);
  }

  async start(): Promise<void> {
    await this.o.kv.put(memberKey(this.o.instanceId), JSON.stringify({ at: new Date().toISOString() }));
    this.members.add(this.o.instanceId);
    await this.watch();
    this.schedule(0);
  }

  /** (Re-)creates the watcher: it delivers every live key, then each change. */
  private async watch(): Promise<void> {
    this.watcher?.stop();
    const iter = await this.o.kv.watch({ key: ['members.>', 'partitions.>'] });
    this.watcher = iter;
    this.echoedAt = performance.now();
    void (async () => {
      for await (const e of iter) if (this.watcher === iter) this.observe(e);
    })().catch((err: unknown) => this.o.log.warn({ err }, 'lease watcher stopped'));
  }

  /** Hands every partition over (drained first) and leaves. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.ticking;
    for (const p of [...this.held.keys()]) await this.release(p, 'stopping');
    await this.o.kv.delete(memberKey(this.o.instanceId)).catch(() => undefined);
    this.watcher?.stop();
  }

  /** Gives every lease up at once without draining (the process lost its footing). */
  dropAll(reason: string): void {
    for (const p of [...this.held.keys()]) this.lose(p, reason);
  }

  private valid(p: number): boolean {
    const h = this.held.get(p);
    // A margin of a third of the TTL: refreshes happen every third, so a healthy lease never gets near it.
    return !!h && performance.now() - h.refreshedAt < (this.o.ttlMs * 2) / 3;
  }

  private observe(e: KvEntry | KvWatchEntry): void {
    const gone = e.operation === 'DEL' || e.operation === 'PURGE';
    let changed = false;
    if (gone) this.seen.delete(e.key);
    else {
      this.seen.set(e.key, performance.now());
      if (e.key === memberKey(this.o.instanceId)) this.echoedAt = performance.now();
    }
    if (e.key.startsWith('members.')) {
      const id = e.key.slice('members.'.length);
      changed = gone ? this.members.delete(id) : !this.members.has(id);
      if (!gone) this.members.add(id);
    } else if (e.key.startsWith('partitions.')) {
      const p = Number(e.key.slice('partitions.'.length));
      if (gone) changed = this.owners.delete(p);
      else this.owners.set(p, e.string());
    }
    // A member came or went, or a lease was freed: act now rather than at the next tick
    // (refreshes, which change nothing, do not wake anyone).
    if (changed) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.ticking.then(() => this.tick()).catch((err: unknown) => this.o.log.warn({ err }, 'lease tick failed'));
      this.schedule(this.o.ttlMs / 3);
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopping) return;
    const { kv, instanceId, partitions } = this.o;
    let written = false;
    try {
      await kv.put(memberKey(instanceId), JSON.stringify({ at: new Date().toISOString() }));
      this.members.add(instanceId);
      written = true;
    } catch (err) {
      this.o.log.warn({ err }, 'cannot refresh membership');
    }
    const now = performance.now();
    if (written && now - this.echoedAt > this.o.ttlMs) {
      this.stats.watcherRestarts++;
      this.o.log.warn({ silentMs: Math.round(now - this.echoedAt) }, 'lease watcher stalled; re-creating it');
      await this.watch().catch((err: unknown) => this.o.log.warn({ err }, 'cannot re-create the lease watcher'));
    }
    this.forgetStale(now);
    const members = [...this.members].sort();
    const preferred = (p: number) => preferredOwner(p, members) === instanceId;
    // Every held lease at once (one round trip, not one per partition), then judge them.
    await Promise.all([...this.held.keys()].filter(preferred).map((p) => this.refresh(p)));
    for (const p of [...this.held.keys()]) if (!this.valid(p)) this.lose(p, 'lease not refreshed in time');
    for (const p of [...this.held.keys()]) {
      if (this.stopping) return;
      if (!preferred(p)) await this.release(p, 'another member is preferred');
    }
    const wanted: Array<Promise<void>> = [];
    for (let p = 0; p < partitions; p++) {
      if (this.held.has(p) || !preferred(p)) continue;
      if (!this.owners.has(p)) wanted.push(this.acquire(p));
      // Ours on the server, dropped here (it was not refreshed in time): take it back.
      else if (this.owners.get(p) === instanceId) wanted.push(this.reclaim(p));
    }
    await Promise.all(wanted);
  }

  /** Members and lease owners whose keys nobody wrote for a TTL: expired, whether or not the watcher saw it. */
  private forgetStale(now: number): void {
    const stale = (key: string) => now - (this.seen.get(key) ?? 0) > this.o.ttlMs;
    for (const m of [...this.members]) {
      if (m === this.o.instanceId || !stale(memberKey(m))) continue;
      this.members.delete(m);
      this.seen.delete(memberKey(m));
      this.stats.forgotten++;
      this.o.log.warn({ member: m }, 'member not seen for a lease TTL; forgotten');
    }
    for (const [p, owner] of [...this.owners]) {
      if (owner === this.o.instanceId || !stale(partitionKey(p))) continue;
      this.owners.delete(p);
      this.seen.delete(partitionKey(p));
      this.stats.forgotten++;
      this.o.log.warn({ partition: p, owner }, 'lease not seen for a lease TTL; forgotten');
    }
  }

  private async acquire(p: number): Promise<void> {
    const startedAt = performance.now();
    try {
      const revision = await this.o.kv.create(partitionKey(p), this.o.instanceId);
      this.held.set(p, { revision, refreshedAt: startedAt });
      this.owners.set(p, this.o.instanceId);
      this.stats.acquired++;
      this.o.log.info({ partition: p }, 'partition acquired');
      this.o.handlers.acquired(p);
    } catch {
      // Taken meanwhile (the watcher will say by whom), or KV unavailable: next tick.
    }
  }

  private async reclaim(p: number): Promise<void> {
    const startedAt = performance.now();
    try {
      const e = await this.o.kv.get(partitionKey(p));
      if (!e || e.operation !== 'PUT' || e.string() !== this.o.instanceId) return;
      const revision = await this.o.kv.update(partitionKey(p), this.o.instanceId, e.revision);
      this.held.set(p, { revision, refreshedAt: startedAt });
      this.stats.acquired++;
      this.o.log.info({ partition: p }, 'partition taken back');
      this.o.handlers.acquired(p);
    } catch {
      // Expired or taken meanwhile: the watcher tells, the next tick acts.
    }
  }

  private async refresh(p: number): Promise<void> {
    const h = this.held.get(p)!;
    const startedAt = performance.now();
    try {
      const revision = await this.o.kv.update(partitionKey(p), this.o.instanceId, h.revision);
      this.held.set(p, { revision, refreshedAt: startedAt });
    } catch (err) {
      this.stats.refreshFailures++;
      // Another revision means someone else holds it: stop now. Otherwise (KV unavailable) the
      // lease stays trusted until it runs out (valid()).
      if (/wrong last sequence/i.test(String((err as Error)?.message))) this.lose(p, 'lease taken by another member');
      else this.o.log.warn({ err, partition: p }, 'cannot refresh a lease; keeping it until it runs out');
    }
  }

  private async release(p: number, reason: string): Promise<void> {
    const h = this.held.get(p);
    if (!h) return;
    this.o.handlers.stopped(p);
    await this.o.handlers.drained(p);
    this.held.delete(p);
    this.stats.handedOver++;
    try {
      await this.o.kv.delete(partitionKey(p), { previousSeq: h.revision });
    } catch {
      // Already gone or refreshed by nobody but us: it expires by itself.
    }
    this.o.log.info({ partition: p, reason }, 'partition handed over');
  }

  private lose(p: number, reason: string): void {
    if (!this.held.delete(p)) return;
    this.stats.lost++;
    this.o.handlers.stopped(p);
    this.o.log.warn({ partition: p, reason }, 'partition lost');
  }
}
