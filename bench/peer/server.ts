/**
 * The peer system for the `peer-socketio` benchmark: what many Node teams would build instead of
 * the event-sourced backend. A plain Socket.IO v4 server with the Redis adapter
 * (`@socket.io/redis-adapter`, ioredis pub/sub clients), run as several processes sharing Redis.
 *
 *   node --import tsx bench/peer/server.ts [port]
 *
 * Environment:
 *   PORT             listening port (or argv[2]); 0 picks a free one. Default 0.
 *   PEER_DATABASE_URL Postgres database that holds `peer_messages` (bench/peer/db.ts creates it).
 *   REDIS_URL        Redis for the adapter. Default redis://127.0.0.1:6379.
 *   PEER_KEY         adapter key prefix (pub/sub channels `<key>#/#…`); unique per run. Default `peer`.
 *   PEER_PG_POOL     pg Pool size per process. Default 10.
 *   PEER_SYNCHRONOUS_COMMIT  Postgres `synchronous_commit` for the pool's sessions. Default `on`
 *                    (the ack waits for the WAL flush); `off` acks after the commit reached the OS,
 *                    which is closer to JetStream's default (fsync on an interval).
 *
 * Auth: NONE beyond identification. The client passes `auth: { userId }` in the handshake and the
 * server trusts it (no JWT, no membership check on `conversationId`) — this favours the peer, since
 * the real system verifies a signed token and the conversation's membership.
 *
 * Protocol: each socket joins room `user:<userId>`. Event `send` `{to, conversationId, clientMsgId,
 * text}` with an ack callback: the message is INSERTed into Postgres (idempotent per (sender,
 * clientMsgId): a retry acks the original id and is not delivered again), THEN acked `{ok: true,
 * id}`, THEN emitted as `message` `{id, from, conversationId, clientMsgId, text, sentAt}` to room
 * `user:<to>` — through the Redis adapter when the recipient sits on another process. Errors ack
 * `{ok: false, error}`. Durable before ack, like the real system; delivery is at-most-once (a
 * recipient that is offline at emit time never gets it; there is no sync).
 *
 * Receipts: events `delivered` / `read` `{conversationId, upToSeq, to}` (no ack): one upsert of
 * the member's watermark row in `peer_receipts` (delivered_up_to / read_up_to only move forward;
 * read implies delivered), THEN `receipt` `{conversationId, userId, status, upToSeq, at}` is
 * emitted to room `user:<to>` (the sender). `upToSeq` is a message id (ids only grow, so they
 * serve as the watermark). `to` comes from the client, like the send's: no lookup of the
 * conversation's members (again in the peer's favour).
 *
 * Prints one JSON line `{"ready":true,"port":N,"pid":P}` on stdout once listening with its Redis
 * subscriptions in place; on SIGTERM/SIGINT closes and prints `{"stats":{…}}`, then exits.
 */
import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import pg from 'pg';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const databaseUrl = process.env.PEER_DATABASE_URL;
if (!databaseUrl) throw new Error('PEER_DATABASE_URL is required');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const key = process.env.PEER_KEY ?? 'peer';
const poolSize = Number(process.env.PEER_PG_POOL ?? 10);
const synchronousCommit = process.env.PEER_SYNCHRONOUS_COMMIT ?? 'on';
if (!/^(on|off|local|remote_write|remote_apply)$/.test(synchronousCommit)) throw new Error(`bad PEER_SYNCHRONOUS_COMMIT ${synchronousCommit}`);

interface SendPayload {
  to: string;
  conversationId: string;
  clientMsgId: string;
  text: string;
}
type Ack = (reply: { ok: true; id: string } | { ok: false; error: string }) => void;

interface ReceiptPayload {
  conversationId: string;
  upToSeq: number;
  to: string;
}

const stats = { connections: 0, inserted: 0, duplicates: 0, errors: 0, emitted: 0, receipts: 0, receiptsEmitted: 0, receiptErrors: 0 };

const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, options: `-c synchronous_commit=${synchronousCommit}` });
pool.on('error', (err) => process.stderr.write(`pg pool: ${err.message}\n`));

const pub = new Redis(redisUrl, { lazyConnect: true });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on('error', (err) => process.stderr.write(`redis: ${err.message}\n`));
await Promise.all([pub.connect(), sub.connect()]);

const httpServer = createServer();
const io = new Server(httpServer, {
  adapter: createAdapter(pub, sub, { key }),
  serveClient: false,
  // a client's ack can take a while under load; keep the defaults for heartbeats
});

// The adapter issues its (P)SUBSCRIBE on `sub` when the namespace is created (above); a PING on the
// same connection is answered after them, so once it returns cross-process broadcasts are received.
await sub.ping();

// Idempotent insert: fresh row → its id; conflict → the original row's id (the CTE's snapshot does
// not see the row the INSERT would have added, so exactly one branch yields a row).
const INSERT = `
  WITH ins AS (
    INSERT INTO peer_messages (conversation_id, sender, recipient, client_msg_id, body)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (sender, client_msg_id) DO NOTHING
    RETURNING id, sent_at
  )
  SELECT id, sent_at, true AS fresh FROM ins
  UNION ALL
  SELECT id, sent_at, false AS fresh FROM peer_messages WHERE sender = $2 AND client_msg_id = $4
  LIMIT 1`;

// One statement per receipt: the member's watermark row, created on the first receipt.
const RECEIPT = {
  delivered: `
    INSERT INTO peer_receipts AS r (conversation_id, user_id, delivered_up_to, delivered_at)
    VALUES ($1, $2, $3, now())
    ON CONFLICT (conversation_id, user_id) DO UPDATE
      SET delivered_up_to = excluded.delivered_up_to, delivered_at = excluded.delivered_at
      WHERE r.delivered_up_to < excluded.delivered_up_to`,
  read: `
    INSERT INTO peer_receipts AS r (conversation_id, user_id, delivered_up_to, delivered_at, read_up_to, read_at)
    VALUES ($1, $2, $3, now(), $3, now())
    ON CONFLICT (conversation_id, user_id) DO UPDATE
      SET read_up_to = excluded.read_up_to, read_at = excluded.read_at,
          delivered_up_to = GREATEST(r.delivered_up_to, excluded.delivered_up_to),
          delivered_at = CASE WHEN r.delivered_up_to < excluded.delivered_up_to THEN excluded.delivered_at ELSE r.delivered_at END
      WHERE r.read_up_to < excluded.read_up_to`,
} as const;

io.use((socket, next) => {
  const userId = (socket.handshake.auth as { userId?: unknown } | undefined)?.userId;
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 200) return next(new Error('auth.userId required'));
  socket.data.userId = userId;
  next();
});

io.on('connection', (socket: Socket) => {
  const userId = socket.data.userId as string;
  stats.connections++;
  void socket.join(`user:${userId}`);

  socket.on('send', async (payload: SendPayload, ack?: Ack) => {
    const reply: Ack = typeof ack === 'function' ? ack : () => {};
    const { to, conversationId, clientMsgId, text } = payload ?? ({} as SendPayload);
    if (typeof to !== 'string' || typeof conversationId !== 'string' || typeof clientMsgId !== 'string' || typeof text !== 'string') {
      stats.errors++;
      return reply({ ok: false, error: 'bad request' });
    }
    let row: { id: string; sent_at: Date; fresh: boolean } | undefined;
    try {
      const res = await pool.query<{ id: string; sent_at: Date; fresh: boolean }>(INSERT, [conversationId, userId, to, clientMsgId, text]);
      row = res.rows[0];
      if (!row) throw new Error('insert returned no row');
    } catch (err) {
      stats.errors++;
      return reply({ ok: false, error: (err as Error).message });
    }
    const id = String(row.id);
    reply({ ok: true, id }); // durable: the INSERT committed (autocommit) before this ack
    if (!row.fresh) {
      stats.duplicates++;
      return;
    }
    stats.inserted++;
    io.to(`user:${to}`).emit('message', { id, from: userId, conversationId, clientMsgId, text, sentAt: row.sent_at.toISOString() });
    stats.emitted++;
  });

  for (const status of ['delivered', 'read'] as const) {
    socket.on(status, async (payload: ReceiptPayload) => {
      const { conversationId, upToSeq, to } = payload ?? ({} as ReceiptPayload);
      if (typeof conversationId !== 'string' || typeof to !== 'string' || !Number.isSafeInteger(upToSeq) || upToSeq < 1) {
        stats.receiptErrors++;
        return;
      }
      stats.receipts++;
      try {
        const res = await pool.query(RECEIPT[status], [conversationId, userId, upToSeq]);
        if (!res.rowCount) return; // the watermark did not move: nothing to tell
      } catch (err) {
        stats.receiptErrors++;
        process.stderr.write(`receipt: ${(err as Error).message}\n`);
        return;
      }
      io.to(`user:${to}`).emit('receipt', { conversationId, userId, status, upToSeq, at: new Date().toISOString() });
      stats.receiptsEmitted++;
    });
  }
});

await new Promise<void>((resolve, reject) => {
  httpServer.once('error', reject);
  httpServer.listen(port, '127.0.0.1', () => resolve());
});
const addr = httpServer.address();
const actualPort = typeof addr === 'object' && addr ? addr.port : port;
process.stdout.write(JSON.stringify({ ready: true, port: actualPort, pid: process.pid }) + '\n');

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(1), 5000);
  try {
    io.disconnectSockets(true);
    await new Promise<void>((resolve) => io.close(() => resolve()));
    await pool.end();
    pub.disconnect();
    sub.disconnect();
  } catch (err) {
    process.stderr.write(`shutdown: ${(err as Error).message}\n`);
  }
  clearTimeout(timer);
  process.stdout.write(JSON.stringify({ stats }) + '\n', () => process.exit(0));
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
