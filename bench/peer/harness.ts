/**
 * Lifecycle of the Socket.IO peer (bench/peer/server.ts) for the `peer-socketio` scenario and
 * bench/peer/smoke.ts: a per-run Postgres database with `peer_messages` and `peer_receipts`, N server processes
 * sharing Redis under a per-run adapter key, and cleanup (processes stopped, database dropped,
 * Redis has nothing to clean: the adapter only uses pub/sub channels).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { allReady, spawnBenchChild, type BenchChild } from '../src/lib/child';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));

export interface PeerServerStats {
  connections: number;
  inserted: number;
  duplicates: number;
  errors: number;
  emitted: number;
  receipts: number;
  receiptsEmitted: number;
  receiptErrors: number;
}

export interface PeerSystem {
  runId: string;
  databaseUrl: string;
  /** http://127.0.0.1:<port>, one per server process. */
  urls: string[];
  pids: number[];
  /** The Postgres settings that decide what "durable" means for the ack. */
  postgres: { synchronousCommit: string; fsync: string };
  /** Rows in peer_messages (i.e. durably stored messages). */
  countRows(): Promise<number>;
  /** Stops the servers (returns their counters) and drops the database. Idempotent. */
  stop(): Promise<PeerServerStats[]>;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function startPeer(
  opts: { servers?: number; poolSize?: number; synchronousCommit?: 'on' | 'off'; databaseUrl?: string; redisUrl?: string; log?: (line: string) => void } = {},
): Promise<PeerSystem> {
  const servers = opts.servers ?? 2;
  const log = opts.log ?? (() => {});
  const baseUrl = opts.databaseUrl ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/chat';
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dbName = `peer_${runId}`;
  const databaseUrl = withDatabase(baseUrl, dbName);
  const adminUrl = withDatabase(baseUrl, 'postgres');

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
  } finally {
    await admin.end();
  }
  const dropDatabase = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    } finally {
      await c.end();
    }
  };

  const children: BenchChild<PeerServerStats>[] = [];
  let rowsClient: pg.Client | undefined;
  let stopped: Promise<PeerServerStats[]> | undefined;

  const stop = (): Promise<PeerServerStats[]> =>
    (stopped ??= (async () => {
      for (const c of children) c.kill();
      const stats = (await Promise.all(children.map((c) => c.exited))).filter((s): s is PeerServerStats => s !== undefined);
      await rowsClient?.end().catch(() => {});
      await dropDatabase();
      return stats;
    })());

  try {
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query(`
        CREATE TABLE peer_messages (
          id bigserial PRIMARY KEY,
          conversation_id text NOT NULL,
          sender text NOT NULL,
          recipient text NOT NULL,
          client_msg_id text NOT NULL,
          body text NOT NULL,
          sent_at timestamptz NOT NULL DEFAULT now(),
          UNIQUE (sender, client_msg_id)
        )`);
      await db.query(`
        CREATE TABLE peer_receipts (
          conversation_id text NOT NULL,
          user_id text NOT NULL,
          delivered_up_to bigint NOT NULL DEFAULT 0,
          delivered_at timestamptz,
          read_up_to bigint NOT NULL DEFAULT 0,
          read_at timestamptz,
          PRIMARY KEY (conversation_id, user_id)
        )`);
    } finally {
      await db.end();
    }

    for (let i = 0; i < servers; i++) {
      const env = {
        ...process.env,
        PEER_DATABASE_URL: databaseUrl,
        REDIS_URL: redisUrl,
        PEER_KEY: `peer-${runId}`,
        PEER_PG_POOL: String(opts.poolSize ?? 10),
        PEER_SYNCHRONOUS_COMMIT: opts.synchronousCommit ?? 'on',
      };
      children.push(spawnBenchChild<PeerServerStats>(SERVER, env, (line) => log(`peer-${i}: ${line}`), ['0']));
    }
    const started = await allReady(children, 30_000, 'peer servers');

    // same session settings as the servers' pools, so the settings reported below are theirs
    rowsClient = new pg.Client({ connectionString: databaseUrl, options: `-c synchronous_commit=${opts.synchronousCommit ?? 'on'}` });
    await rowsClient.connect();
    const rc = rowsClient;
    const setting = async (name: string) => (await rc.query<{ v: string }>('SELECT current_setting($1) AS v', [name])).rows[0]!.v;
    const postgres = { synchronousCommit: await setting('synchronous_commit'), fsync: await setting('fsync') };
    return {
      postgres,
      runId,
      databaseUrl,
      urls: started.map((s) => `http://127.0.0.1:${s.port}`),
      pids: started.map((s) => s.pid),
      countRows: async () => Number((await rc.query<{ n: string }>('SELECT count(*) AS n FROM peer_messages')).rows[0]!.n),
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}
