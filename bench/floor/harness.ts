/**
 * Lifecycle of the floor (bench/floor/server.ts and reader.ts) for the `floor` scenario and its
 * test: per-run streams (`FLOOR_<run>`, subjects `floor.<run>.>`, file storage and a duplicate
 * window like CHAT_EVENTS'; with `streams: n > 1`, `FLOOR_<run>_<k>` for `floor.<run>.<k>.>`),
 * the server and, with `layers: 'full'`, the reader; `stop()` stops them and deletes the
 * streams.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { PROJECTION_MAX_ACK_PENDING } from '@chat/streams';
import { allReady, spawnBenchChild, type BenchChild } from '../src/lib/child';

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const READER = fileURLToPath(new URL('./reader.ts', import.meta.url));
/** The reader's durable consumer on each stream. */
const READER_CONSUMER = 'reader';

/**
 * `ws`: WebSocket frames only (positions from memory, no NATS); `js`: every message and receipt
 * appended to JetStream and acknowledged before it is passed on; `full`: `js` and a process
 * reading every event from the stream.
 */
export type FloorLayers = 'ws' | 'js' | 'full';

/** How events go to JetStream: one message each, or one message per turn holding them all (bench/floor/server.ts). */
export type FloorBatch = 'event' | 'turn';

export interface FloorServerStats {
  connections: number;
  messages: number;
  receiptsIn: number;
  receiptsFolded: number;
  receiptsAppended: number;
  badFrames: number;
  appendErrors: number;
}

export interface FloorReaderStats {
  events: number;
  messages: number;
  receipts: number;
  lastStreamSeq: number;
}

export interface FloorSystem {
  layers: FloorLayers;
  /** ws://127.0.0.1:<port> */
  url: string;
  /** The run's streams (none without JetStream). */
  streams: string[];
  pids: { server: number; reader?: number };
  /** Messages in the streams (0 without JetStream). */
  storedMessages(): Promise<number>;
  /** Resolves once the reader has acknowledged everything in the streams (layers `full`), polling its consumers. */
  readerCaughtUp(timeoutMs?: number): Promise<void>;
  /** Stops the processes (their counters) and deletes the streams. Idempotent. */
  stop(): Promise<{ server?: FloorServerStats; reader?: FloorReaderStats }>;
}

export async function startFloor(o: { natsUrl: string; layers: FloorLayers; streams?: number; batch?: FloorBatch; log?: (line: string) => void }): Promise<FloorSystem> {
  const log = o.log ?? (() => undefined);
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const withJs = o.layers !== 'ws';
  const prefix = `floor.${run}`;
  const n = o.streams ?? 1;
  const streams = !withJs ? [] : n === 1 ? [{ name: `FLOOR_${run}`, subject: `${prefix}.>` }] : Array.from({ length: n }, (_, k) => ({ name: `FLOOR_${run}_${k}`, subject: `${prefix}.${k}.>` }));
  const nc = withJs ? await connect({ servers: o.natsUrl, name: 'floor-harness' }) : undefined;
  const jsm = nc ? await jetstreamManager(nc) : undefined;

  let server: BenchChild<FloorServerStats> | undefined;
  let reader: BenchChild<FloorReaderStats> | undefined;
  let stopped: ReturnType<FloorSystem['stop']> | undefined;
  const stop = (): ReturnType<FloorSystem['stop']> =>
    (stopped ??= (async () => {
      server?.kill();
      reader?.kill();
      const [s, r] = await Promise.all([server?.exited, reader?.exited]);
      for (const { name } of streams) await jsm?.streams.delete(name).catch((e: unknown) => log(`deleting ${name}: ${(e as Error).message}`));
      await nc?.close();
      return { ...(s ? { server: s } : {}), ...(r ? { reader: r } : {}) };
    })());

  try {
    for (const { name, subject } of streams) {
      await jsm!.streams.add({
        name,
        subjects: [subject],
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        duplicate_window: 2 * 60 * 1_000_000_000,
        num_replicas: 1,
      });
      // The reader's consumer, configured as the projector's (streams/src/definitions.ts).
      if (o.layers === 'full') await jsm!.consumers.add(name, { durable_name: READER_CONSUMER, ack_policy: AckPolicy.All, deliver_policy: DeliverPolicy.All, max_ack_pending: PROJECTION_MAX_ACK_PENDING });
    }
    const env = { ...process.env, NATS_URL: o.natsUrl, FLOOR_LAYERS: withJs ? 'js' : 'ws', FLOOR_SUBJECT: prefix, FLOOR_STREAMS: String(n), FLOOR_CONSUMER: READER_CONSUMER, FLOOR_BATCH: o.batch ?? 'event', FLOOR_STREAM: streams.map((x) => x.name).join(',') };
    server = spawnBenchChild<FloorServerStats>(SERVER, env, (l) => log(`floor-server: ${l}`));
    if (o.layers === 'full') reader = spawnBenchChild<FloorReaderStats>(READER, env, (l) => log(`floor-reader: ${l}`));
    const [s, r] = await allReady(reader ? [server, reader] : [server], 30_000, 'the floor');
    return {
      layers: o.layers,
      url: `ws://127.0.0.1:${s!.port}`,
      streams: streams.map((x) => x.name),
      pids: { server: s!.pid, ...(r ? { reader: r.pid } : {}) },
      storedMessages: async () => {
        let total = 0;
        for (const { name } of streams) total += (await jsm!.streams.info(name)).state.messages;
        return total;
      },
      readerCaughtUp: async (timeoutMs = 10_000) => {
        const until = Date.now() + timeoutMs;
        for (const { name } of streams) {
          for (;;) {
            const [info, c] = await Promise.all([jsm!.streams.info(name), jsm!.consumers.info(name, READER_CONSUMER)]);
            if (c.ack_floor.stream_seq >= info.state.last_seq) break;
            if (Date.now() > until) throw new Error(`the reader of ${name} acknowledged up to ${c.ack_floor.stream_seq} of ${info.state.last_seq}`);
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      },
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
