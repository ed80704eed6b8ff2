/**
 * floor: the e2e-1to1 load (same generator, pairs, steps, receipts and report fields) against
 * the least any design of this product must do per message (bench/floor/server.ts): WebSocket
 * frames in and out, each message and each receipt appended to a JetStream file stream and
 * acknowledged before it is passed on, and a reader process that reads every event back
 * (bench/floor/reader.ts). No tokens, state, fences, Postgres, Redis, sync or presence. The real
 * system does all of this and more on the same machine, so the floor's sustained rate bounds
 * the real system's here: what the unavoidable operations leave for everything else.
 *
 * BENCH_FLOOR_LAYERS takes the floor apart: `ws` (frames only, no NATS), `js` (frames and
 * appends), `full` (default: frames, appends and the reader). BENCH_FLOOR_STREAMS (default 1,
 * as CHAT_EVENTS is one stream) spreads the events over that many streams by conversation.
 * BENCH_FLOOR_BATCH=turn appends each event-loop turn's events as one JetStream message
 * instead of one each. CPU: the floor's processes and nats-server.
 */
import type { BenchContext, Scenario } from '../context';
import { e2ePlan, receiptPlan, runE2eLoad } from '../lib/e2e';
import { serverEnv } from '../lib/env';
import { startFloor, type FloorBatch, type FloorLayers } from '../../floor/harness';

export async function runFloor(ctx: BenchContext): Promise<Record<string, unknown>> {
  const layers = (process.env['BENCH_FLOOR_LAYERS'] ?? 'full') as FloorLayers;
  if (!['ws', 'js', 'full'].includes(layers)) throw new Error(`BENCH_FLOOR_LAYERS must be ws, js or full, not ${layers}`);
  const plan = e2ePlan(ctx.quick);
  const natsUrl = serverEnv()['NATS_URL']!;
  const streams = Number(process.env['BENCH_FLOOR_STREAMS'] ?? 1);
  const batch = (process.env['BENCH_FLOOR_BATCH'] ?? 'event') as FloorBatch;
  if (batch !== 'event' && batch !== 'turn') throw new Error(`BENCH_FLOOR_BATCH must be event or turn, not ${String(batch)}`);
  ctx.progress(`starting the floor (layers: ${layers}, streams: ${streams}, appends: one per ${batch})`);
  const floor = await startFloor({ natsUrl, layers, streams, batch, log: (l) => ctx.progress(l) });
  let stopped = false;
  try {
    const result = await runE2eLoad(ctx, {
      transport: 'floor',
      url: floor.url,
      ...plan,
      ...receiptPlan(true),
      pids: { 'floor-server': floor.pids.server, ...(floor.pids.reader ? { 'floor-reader': floor.pids.reader } : {}) },
      ...(layers === 'ws' ? {} : { servers: { nats: natsUrl } }),
      generators: Number(process.env['BENCH_GENERATORS'] ?? 1),
    });
    const storedEvents = await floor.storedMessages();
    const processStats = await floor.stop();
    stopped = true;
    return { quick: ctx.quick, transport: 'floor', layers, streams, batch, durableBeforeAck: layers !== 'ws', plan, ...result, storedEvents, processStats };
  } finally {
    if (!stopped) await floor.stop().catch((e: unknown) => ctx.progress(`floor stop: ${(e as Error).message}`));
  }
}

export const scenario: Scenario = { name: 'floor', run: runFloor };
export default scenario;
