/**
 * The floor's server (bench/floor/harness.ts starts it): the least any design of this product
 * must do per message on one edge, and nothing more, so that the `floor` scenario measures what
 * the unavoidable operations alone cost on this machine. Its rate bounds what the real system
 * can reach here: the real system does everything below and more.
 *
 *   node --import tsx bench/floor/server.ts
 *
 * Environment:
 *   NATS_URL          the NATS server (with JetStream).
 *   FLOOR_SUBJECT     the run's subject prefix (`floor.<run>`): the harness made a stream for
 *                     `<prefix>.>`; messages go to `<prefix>.m.<conversation>`, receipts to
 *                     `<prefix>.r.<conversation>.<user>` (with FLOOR_STREAMS, `<prefix>.<k>.m.…`).
 *   FLOOR_STREAMS     how many streams the events are spread over (default 1): conversation c's
 *                     events go to `<prefix>.<k>.…` with k = hash(c) mod FLOOR_STREAMS, one stream
 *                     per k (the harness made them).
 *   FLOOR_BATCH       `event` (default): one JetStream message per event, as CHAT_EVENTS holds
 *                     them; `turn`: the events of one event-loop turn go to their stream as one
 *                     JetStream message (a JSON array on `<base>.b`, at most 1,000 events),
 *                     one append and one acknowledgement for all of them, each event's position
 *                     its batch's stream sequence × 4096 + its index.
 *   FLOOR_LAYERS      `js` (default): every message and receipt is appended to the stream and
 *                     acknowledged by JetStream before anything is sent on; `ws`: no NATS at all,
 *                     the positions come from a counter in memory (the WebSocket floor alone).
 *
 * What it keeps of the real system: one WebSocket per device (`ws`, no compression), JSON
 * frames parsed and written one by one, a message appended with a `Nats-Msg-Id` (dedup)
 * before its `sent` frame and its `new` frame to the recipient, a device's delivered receipt
 * dropped when its read receipt of the same turn covers it (the real edge folds them the
 * same way), each receipt appended before the `receipt` frame to the sender.
 *
 * What it leaves out, each of which the real system pays for: tokens (identity is the
 * connection URL's `u`, the peer its `p`, the conversation its `c`, all trusted), validation
 * beyond JSON, membership and blocks, the per-conversation order fence
 * (Nats-Expected-Last-Subject-Sequence), the conversation's state, the read model and its
 * Postgres rows (the reader process only parses what the stream holds), sync, presence,
 * typing, push, metrics, logs.
 *
 * Prints `{"ready":true,"port":N,"pid":P}` once listening; on SIGTERM `{"stats":{…}}`, then exits.
 */
import { createServer } from 'node:http';
import { connect } from '@nats-io/transport-node';
import { WebSocketServer, type WebSocket } from 'ws';
import { JetStreamPublisher } from '@chat/nats';
// The edge's own per-turn batching: one call for the requests of one event-loop turn.
import { TurnBatch } from '../../apps/edge/src/turnBatch';

const layers = process.env['FLOOR_LAYERS'] ?? 'js';
if (layers !== 'js' && layers !== 'ws') throw new Error(`FLOOR_LAYERS must be js or ws, not ${layers}`);
const prefix = process.env['FLOOR_SUBJECT'];
if (layers === 'js' && !prefix) throw new Error('FLOOR_SUBJECT is required');

const streams = Number(process.env['FLOOR_STREAMS'] ?? 1);
if (!Number.isInteger(streams) || streams < 1) throw new Error('FLOOR_STREAMS must be a positive integer');
const batching = process.env['FLOOR_BATCH'] ?? 'event';
if (batching !== 'event' && batching !== 'turn') throw new Error(`FLOOR_BATCH must be event or turn, not ${batching}`);
const nc = layers === 'js' ? await connect({ servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', name: 'floor-server' }) : undefined;
const publisher = nc ? new JetStreamPublisher(nc) : undefined;

const stats = { connections: 0, messages: 0, receiptsIn: 0, receiptsFolded: 0, receiptsAppended: 0, badFrames: 0, appendErrors: 0 };

interface Device {
  ws: WebSocket;
  /** Where the conversation's events go: `<prefix>` or `<prefix>.<k>`. */
  base: string;
  userId: string;
  peerId: string;
  conversationId: string;
  /** This turn's receipts (highest of each status), folded and appended at the turn's end. */
  receipts?: { delivered: number; read: number };
}

/** FNV-1a of the conversation id, mod n. */
function shardOf(id: string, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h >>> 0) % n;
}

const byUser = new Map<string, Device>();
/** Positions without JetStream (FLOOR_LAYERS=ws): a counter per conversation. */
const counters = new Map<string, number>();

/** Appends one event; resolves with its position (increasing per conversation). */
function append(base: string, subject: string, body: string, msgId?: string): Promise<number> {
  if (!publisher) return Promise.resolve(0);
  if (batching === 'turn') return appendInTurn(base, body);
  return publisher.publish(`${base}.${subject}`, body, msgId === undefined ? {} : { msgId }).then((ack) => ack.seq);
}

/** A turn's events in one append at most (positions are the batch's sequence × 4096 + the index; NATS payloads ≤ 1 MiB). */
const MAX_PER_APPEND = 1000;
/** FLOOR_BATCH=turn: each stream base's events of this turn, appended together at the turn's end. */
const turnAppends = new Map<string, TurnBatch<string, number>>();
let batchId = 0;

function appendInTurn(base: string, body: string): Promise<number> {
  let b = turnAppends.get(base);
  if (!b) {
    const run = (bodies: readonly string[]) =>
      publisher!.publish(`${base}.b`, `[${bodies.join(',')}]`, { msgId: `${process.pid}:${++batchId}` }).then((ack) => bodies.map((_, i) => ack.seq * 4096 + i));
    turnAppends.set(base, (b = new TurnBatch({ run, maxWeight: MAX_PER_APPEND })));
  }
  return b.get(body);
}

function nextPosition(d: Device, body: string, msgId: string): Promise<number> {
  if (publisher) return append(d.base, `m.${d.conversationId}`, body, msgId);
  const seq = (counters.get(d.conversationId) ?? 0) + 1;
  counters.set(d.conversationId, seq);
  return Promise.resolve(seq);
}

function send(userId: string, frame: string): void {
  const d = byUser.get(userId);
  if (d && d.ws.readyState === d.ws.OPEN) d.ws.send(frame);
}

function onSend(d: Device, f: { id?: unknown; text?: unknown }): void {
  if (typeof f.id !== 'string' || typeof f.text !== 'string') {
    stats.badFrames++;
    d.ws.send(JSON.stringify({ type: 'error', message: 'send needs id and text' }));
    return;
  }
  const id = f.id;
  const sentAt = new Date().toISOString();
  const event = JSON.stringify({ type: 'MessageSent', conversationId: d.conversationId, messageId: id, senderId: d.userId, text: f.text, sentAt });
  nextPosition(d, event, `${d.userId}:${id}`).then(
    (seq) => {
      stats.messages++;
      d.ws.send(JSON.stringify({ type: 'sent', id, seq, sentAt }));
      send(d.peerId, JSON.stringify({ type: 'new', conversationId: d.conversationId, messageId: id, senderId: d.userId, seq, text: f.text, sentAt }));
    },
    (e: unknown) => {
      stats.appendErrors++;
      d.ws.send(JSON.stringify({ type: 'error', id, message: (e as Error).message }));
    },
  );
}

const turn = new Set<Device>();
let flushing = false;

function onReceipt(d: Device, status: 'delivered' | 'read', upToSeq: unknown): void {
  if (!Number.isSafeInteger(upToSeq) || (upToSeq as number) < 1) {
    stats.badFrames++;
    return;
  }
  stats.receiptsIn++;
  const r = (d.receipts ??= { delivered: 0, read: 0 });
  r[status] = Math.max(r[status], upToSeq as number);
  turn.add(d);
  if (!flushing) {
    flushing = true;
    setImmediate(flushReceipts);
  }
}

/** A read covers a delivered up to the same position: one event instead of two. */
function flushReceipts(): void {
  flushing = false;
  for (const d of turn) {
    const r = d.receipts!;
    d.receipts = undefined;
    if (r.read >= r.delivered && r.delivered > 0) stats.receiptsFolded++;
    for (const status of ['delivered', 'read'] as const) {
      const upToSeq = r[status];
      if (upToSeq === 0 || (status === 'delivered' && r.read >= upToSeq)) continue;
      const at = new Date().toISOString();
      const event = JSON.stringify({ type: status === 'read' ? 'MessagesRead' : 'MessagesDelivered', conversationId: d.conversationId, userId: d.userId, upToSeq, at });
      append(d.base, `r.${d.conversationId}.${d.userId}`, event).then(
        () => {
          stats.receiptsAppended++;
          send(d.peerId, JSON.stringify({ type: 'receipt', conversationId: d.conversationId, userId: d.userId, status, upToSeq, at }));
        },
        () => stats.appendErrors++,
      );
    }
  }
  turn.clear();
}

const http = createServer();
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 });
wss.on('connection', (ws, req) => {
  const q = new URL(req.url ?? '/', 'http://floor').searchParams;
  const [userId, peerId, conversationId] = [q.get('u'), q.get('p'), q.get('c')];
  if (!userId || !peerId || !conversationId) return ws.close(4400, 'u, p and c are required');
  const d: Device = { ws, userId, peerId, conversationId, base: streams === 1 ? `${prefix}` : `${prefix}.${shardOf(conversationId, streams)}` };
  byUser.set(userId, d);
  stats.connections++;
  ws.on('close', () => {
    if (byUser.get(userId) === d) byUser.delete(userId);
  });
  ws.on('message', (data) => {
    let f: { type?: unknown; id?: unknown; text?: unknown; upToSeq?: unknown };
    try {
      f = JSON.parse(String(data)) as typeof f;
    } catch {
      stats.badFrames++;
      return ws.send(JSON.stringify({ type: 'error', message: 'not JSON' }));
    }
    if (f.type === 'send') onSend(d, f);
    else if (f.type === 'delivered' || f.type === 'read') onReceipt(d, f.type, f.upToSeq);
    else {
      stats.badFrames++;
      ws.send(JSON.stringify({ type: 'error', message: 'unknown type' }));
    }
  });
});

await new Promise<void>((resolve, reject) => {
  http.once('error', reject);
  http.listen(0, '127.0.0.1', () => resolve());
});
const addr = http.address();
process.stdout.write(JSON.stringify({ ready: true, port: typeof addr === 'object' && addr ? addr.port : 0, pid: process.pid }) + '\n');

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(1), 5_000);
  for (const c of wss.clients) c.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  http.close();
  publisher?.close();
  await nc?.drain().catch(() => undefined);
  clearTimeout(timer);
  process.stdout.write(JSON.stringify({ stats }) + '\n', () => process.exit(0));
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
