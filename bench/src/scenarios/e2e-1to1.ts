/**
 * e2e-1to1: 1,000 clients in 500 pairs, each pair a direct conversation, over the chat
 * protocol; offered rate stepped up open loop. Latency is send → the peer's `message.new`
 * (write path, projection, routing, delivery), on the generator's clock. The receivers
 * acknowledge like the SDK: `message.delivered` coalesced per conversation (100 ms window,
 * highest seq) and `message.read` on every other flush (BENCH_READ_SHARE, default 0.5); the
 * senders count the `receipt` frames that come back and time send → delivered receipt.
 */
import type { Scenario } from '../context';
import { runE2eScenario } from '../lib/e2e';

export const scenario: Scenario = {
  name: 'e2e-1to1',
  run: (ctx) => runE2eScenario(ctx, { receipts: true }),
};
export default scenario;
