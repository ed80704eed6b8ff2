/**
 * The floor's reader (bench/floor/harness.ts starts it): the least a read side must do, reading
 * every event the floor's server appends, in stream order, and parsing it. It stands in for the
 * projector without its work (no Postgres rows, no routing, no checkpoint, no acks: an ordered
 * consumer, JetStream's cheapest way to read a stream).
 *
 *   node --import tsx bench/floor/reader.ts
 *
 * Environment: NATS_URL; FLOOR_STREAM, the stream to read (several: comma-separated);
 * FLOOR_CONSUMER, the durable consumer on each (the harness made it; default `reader`).
 * Prints `{"ready":true,"pid":P}` once its consumer is open; on SIGTERM `{"stats":{…}}`, then exits.
 */
import { connect } from '@nats-io/transport-node';
import { jetstream, type JsMsg } from '@nats-io/jetstream';

const stream = process.env['FLOOR_STREAM'];
if (!stream) throw new Error('FLOOR_STREAM is required');
const nc = await connect({ servers: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', name: 'floor-reader' });
const durable = process.env['FLOOR_CONSUMER'] ?? 'reader';
const js = jetstream(nc);
const all = await Promise.all(stream.split(',').map(async (name) => (await js.consumers.get(name, durable)).consume({ max_messages: 1_000 })));

const stats = { events: 0, messages: 0, receipts: 0, lastStreamSeq: 0 };
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');

const reading = Promise.all(
  all.map(async (messages) => {
    let unacked = 0;
    let last: JsMsg | undefined;
    let timer: NodeJS.Timeout | undefined;
    const ack = () => {
      clearTimeout(timer);
      timer = undefined;
      last?.ack();
      last = undefined;
      unacked = 0;
    };
    for await (const m of messages) {
      const data = m.json<{ type: string } | Array<{ type: string }>>();
      for (const e of Array.isArray(data) ? data : [data]) {
        stats.events++;
        if (e.type === 'MessageSent') stats.messages++;
        else stats.receipts++;
      }
      stats.lastStreamSeq = Math.max(stats.lastStreamSeq, m.seq);
      last = m;
      if (++unacked >= 500) ack();
      else timer ??= setTimeout(ack, 5);
    }
    ack();
  }),
);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(1), 5_000);
  await Promise.all(all.map((messages) => messages.close().catch(() => undefined)));
  await reading.catch(() => undefined);
  await nc.drain().catch(() => undefined);
  clearTimeout(timer);
  process.stdout.write(JSON.stringify({ stats }) + '\n', () => process.exit(0));
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
