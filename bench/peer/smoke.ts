/**
 * Smoke test for the Socket.IO peer and its load transport (no generator needed):
 *   node --import tsx bench/peer/smoke.ts [pairs=50] [perConn=4]
 * Starts the peer (2 servers, per-run database), connects `pairs` pairs through the socketio
 * transport, sends `perConn` messages from each side, and checks:
 *   - every message reaches the other side exactly once (and nothing else arrives),
 *   - at every ack, the row count is ≥ the number of acks so far (ack after INSERT), and at the end
 *     rows == messages sent,
 *   - a delivered receipt from each b (its highest message id) reaches a as a `receipt`,
 *   - the servers' counters agree.
 * Exits non-zero on any failure.
 */
import { io } from 'socket.io-client';
import { startPeer } from './harness';
import { createTransport } from '../src/generators/transports/socketio';
import type { LoadConn } from '../src/generators/transports/types';

const pairs = Number(process.argv[2] ?? 50);
const perConn = Number(process.argv[3] ?? 4);

const peer = await startPeer({ servers: 2, log: (l) => process.stderr.write(l + '\n') });
const failures: string[] = [];
try {
  console.log(`peer up: ${peer.urls.join(', ')} db=${peer.databaseUrl}`);
  const transport = await createTransport({ url: peer.urls.join(',') });
  const t0 = performance.now();
  const conns: [LoadConn, LoadConn][] = await Promise.all(Array.from({ length: pairs }, (_, i) => transport.connectPair(i)));
  console.log(`${pairs * 2} connections in ${(performance.now() - t0).toFixed(0)} ms`);

  const received = new Map<string, number>(); // text -> times received by the right side
  const wrong: string[] = [];
  const highestAtB = new Map<number, number>();
  conns.forEach(([a, b], i) => {
    a.onMessage((t) => (t.startsWith(`p${i}:b:`) ? received.set(t, (received.get(t) ?? 0) + 1) : wrong.push(`a${i} got ${t}`)));
    b.onMessage((t, seq) => {
      highestAtB.set(i, Math.max(highestAtB.get(i) ?? 0, seq));
      return t.startsWith(`p${i}:a:`) ? received.set(t, (received.get(t) ?? 0) + 1) : wrong.push(`b${i} got ${t}`);
    });
  });

  let acked = 0;
  let ackBeforeRow = 0;
  const latencies: number[] = [];
  const sendAll = async (conn: LoadConn, prefix: string): Promise<void> => {
    for (let k = 0; k < perConn; k++) {
      const s = performance.now();
      await conn.send(`${prefix}${k}`);
      latencies.push(performance.now() - s);
      acked++;
    }
  };
  // sample: after some acks, check that rows >= acks seen before the query started
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const ackedBefore = acked;
      const rows = await peer.countRows();
      if (rows < ackedBefore) ackBeforeRow++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const t1 = performance.now();
  await Promise.all(conns.flatMap(([a, b], i) => [sendAll(a, `p${i}:a:`), sendAll(b, `p${i}:b:`)]));
  const sendMs = performance.now() - t1;
  sampling = false;
  await sampler;

  const total = pairs * 2 * perConn;
  const deadline = Date.now() + 10_000;
  while (received.size < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 300)); // catch late duplicates

  const rows = await peer.countRows();
  const dup = [...received.values()].filter((n) => n !== 1).length;
  latencies.sort((x, y) => x - y);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(1);
  console.log(
    `sent ${total} in ${sendMs.toFixed(0)} ms (${((total / sendMs) * 1000).toFixed(0)}/s), acked ${acked}, received ${received.size} distinct, dup ${dup}, wrong ${wrong.length}, rows ${rows}, ack-before-row ${ackBeforeRow}; ack p50 ${q(0.5)} p99 ${q(0.99)} ms`,
  );
  if (acked !== total) failures.push(`acked ${acked} != ${total}`);
  if (received.size !== total) failures.push(`received ${received.size} != ${total}`);
  if (dup) failures.push(`${dup} messages received more than once`);
  if (wrong.length) failures.push(`${wrong.length} misrouted: ${wrong.slice(0, 3).join('; ')}`);
  if (rows !== total) failures.push(`rows ${rows} != ${total}`);
  if (ackBeforeRow) failures.push(`${ackBeforeRow} samples saw more acks than rows`);

  // receipts: each b acknowledges the highest id it got; each a must get that watermark back
  const receiptsAtA = new Map<number, number>();
  conns.forEach(([a], i) => a.onReceipt((status, upTo) => status === 'delivered' && receiptsAtA.set(i, upTo)));
  conns.forEach(([, b], i) => b.sendReceipt('delivered', highestAtB.get(i)!));
  const receiptDeadline = Date.now() + 10_000;
  while (receiptsAtA.size < pairs && Date.now() < receiptDeadline) await new Promise((r) => setTimeout(r, 50));
  const badReceipts = conns.filter((_, i) => receiptsAtA.get(i) !== highestAtB.get(i)).length;
  console.log(`receipts: ${receiptsAtA.size}/${pairs} delivered receipts back at the senders, ${badReceipts} wrong or missing`);
  if (badReceipts) failures.push(`${badReceipts} pairs: the delivered receipt did not come back with the receiver's watermark`);

  await transport.close();

  // idempotent retry: the same clientMsgId twice → same id, one more row, one delivery
  const [ua, ub] = ['smoke-retry-a', 'smoke-retry-b'];
  const sa = io(peer.urls[0]!, { auth: { userId: ua }, transports: ['websocket'], forceNew: true });
  const sb = io(peer.urls[1]!, { auth: { userId: ub }, transports: ['websocket'], forceNew: true });
  await Promise.all([sa, sb].map((s) => new Promise((r) => s.once('connect', () => r(null)))));
  let deliveries = 0;
  sb.on('message', () => deliveries++);
  const msg = { to: ub, conversationId: 'smoke-retry', clientMsgId: 'same', text: 'retry' };
  const r1 = (await sa.timeout(5000).emitWithAck('send', msg)) as { ok: boolean; id: string };
  const r2 = (await sa.timeout(5000).emitWithAck('send', msg)) as { ok: boolean; id: string };
  await new Promise((r) => setTimeout(r, 300));
  const rows2 = await peer.countRows();
  console.log(`retry: ${JSON.stringify(r1)} ${JSON.stringify(r2)} deliveries ${deliveries} rows ${rows2}`);
  if (!r1.ok || !r2.ok || r1.id !== r2.id) failures.push('retry did not ack the same id');
  if (deliveries !== 1) failures.push(`retry delivered ${deliveries} times`);
  if (rows2 !== total + 1) failures.push(`retry: rows ${rows2} != ${total + 1}`);
  // a handshake without userId is refused
  const anon = io(peer.urls[0]!, { transports: ['websocket'], forceNew: true, reconnection: false });
  const refused = await new Promise<string>((r) => {
    anon.once('connect', () => r('connected'));
    anon.once('connect_error', (e) => r(e.message));
  });
  anon.disconnect();
  if (refused !== 'auth.userId required') failures.push(`anonymous handshake: ${refused}`);
  sa.disconnect();
  sb.disconnect();
} catch (err) {
  failures.push(`error: ${(err as Error).stack ?? err}`);
} finally {
  const stats = await peer.stop();
  console.log(`server stats: ${JSON.stringify(stats)}`);
}
if (failures.length) {
  console.error(`FAIL\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log('OK');
process.exit(0);
