/**
 * peer-socketio: the e2e-1to1 load (same generator, same pairs and steps, same receipts, same
 * report fields) against what many Node teams would build instead — a Socket.IO v4 server with
 * the Redis adapter (bench/peer/server.ts), two server processes sharing Redis, each message
 * INSERTed into Postgres before the sender's ack and then emitted to the recipient's room
 * `user:<id>`; each delivered/read receipt one upsert of the member's watermark row in Postgres
 * and an emit to the sender. Each pair's user a is on server 1 and user b on server 2, so every
 * delivery and every receipt crosses processes through Redis pub/sub. Per run: its own Postgres
 * database (dropped afterwards) and Redis adapter key. CPU: the two peer processes, Postgres and
 * Redis (the peer uses no NATS).
 */
import type { BenchContext, Scenario } from '../context';
import { e2ePlan, receiptPlan, runE2eLoad } from '../lib/e2e';
import { serverEnv } from '../lib/env';
import { startPeer } from '../../peer/harness';

/** The peer scenario, with or without receipts (peer-socketio-sendonly). */
export async function runPeerScenario(ctx: BenchContext, o: { receipts: boolean }): Promise<Record<string, unknown>> {
  const plan = e2ePlan(ctx.quick);
  const receipts = receiptPlan(o.receipts);
  // knobs: BENCH_PEER_PG_POOL (pg pool per server, default 10); BENCH_PEER_SYNC_COMMIT=off acks
  // before the WAL flush (closer to JetStream's default interval fsync; default on = fsync per ack)
  const poolSize = Number(process.env['BENCH_PEER_PG_POOL'] ?? 10);
  const synchronousCommit = process.env['BENCH_PEER_SYNC_COMMIT'] === 'off' ? 'off' : 'on';
  const servers = serverEnv();
  ctx.progress(`starting 2 Socket.IO servers (Redis adapter, Postgres, synchronous_commit=${synchronousCommit})`);
  const peer = await startPeer({ servers: 2, poolSize, synchronousCommit, databaseUrl: servers['DATABASE_URL']!, redisUrl: servers['REDIS_URL']!, log: (l) => ctx.progress(l) });
  let stopped = false;
  try {
    ctx.progress(`peer servers ready: ${peer.urls.join(', ')}`);
    const result = await runE2eLoad(ctx, {
      transport: 'socketio',
      url: peer.urls.join(','),
      ...plan,
      ...receipts,
      pids: { 'peer-0': peer.pids[0]!, 'peer-1': peer.pids[1]! },
      servers: { postgres: servers['DATABASE_URL']!, redis: servers['REDIS_URL']! },
      generators: Number(process.env['BENCH_GENERATORS'] ?? 1),
    });
    const rowsStored = await peer.countRows();
    const serverStats = await peer.stop();
    stopped = true;
    return {
      quick: ctx.quick,
      transport: 'socketio',
      servers: 2,
      durableBeforeAck: true,
      pgPoolPerServer: poolSize,
      postgres: peer.postgres,
      plan,
      ...result,
      rowsStored,
      serverStats,
    };
  } finally {
    if (!stopped) await peer.stop().catch((e: unknown) => ctx.progress(`peer stop: ${(e as Error).message}`));
  }
}

export const scenario: Scenario = {
  name: 'peer-socketio',
  run: (ctx) => runPeerScenario(ctx, { receipts: true }),
};
export default scenario;
