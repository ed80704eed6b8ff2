/**
 * `npm run fuzz [-- --seed N --frames N --connections N --rate N]`: starts a system (command,
 * projector, edge, notifier) in a throwaway namespace on the local servers, with the edge's
 * default limits, fuzzes its WebSocket and prints the figures (JSON). Exit status 1 if the edge
 * died, stopped being ready, or answered a frame otherwise than docs/protocol.md says.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createTestNamespace } from '@chat/testing';
import { DEFAULT_LIMITS, startSystem } from '../support/system';
import { runFuzz } from './fuzzer';

const envFile = new URL('../../.data/env', import.meta.url);
if (existsSync(envFile)) {
  for (const [, key, value] of readFileSync(envFile, 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)) {
    if (key && value !== undefined) process.env[key] ??= value;
  }
}

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    frames: { type: 'string', default: '100000' },
    connections: { type: 'string', default: '50' },
    rate: { type: 'string', default: '40' },
    pairs: { type: 'string', default: '3' },
  },
});

const ns = await createTestNamespace();
let code = 1;
try {
  const sys = await startSystem(ns.env, DEFAULT_LIMITS);
  try {
    const report = await runFuzz({
      wsUrl: sys.wsUrl,
      httpUrl: sys.httpUrl,
      edgePid: sys.edge.child.pid,
      seed: Number(values.seed),
      frames: Number(values.frames),
      connections: Number(values.connections),
      ratePerConnection: Number(values.rate),
      wellBehavedPairs: Number(values.pairs),
      run: `fz${Number(values.seed)}`,
      log: (l) => console.error(l),
    });
    const alive = sys.edge.child.exitCode === null;
    const ready = (await fetch(`${sys.httpUrl}/readyz`).catch(() => undefined))?.status === 200;
    console.log(JSON.stringify({ ...report, edgeAlive: alive, readyAfter: ready }, null, 2));
    const ok = alive && ready && report.readyz.failures === 0 && Object.keys(report.unexpected).length === 0 && report.wellBehaved.delivered > 0;
    code = ok ? 0 : 1;
    if (!ok) console.error('fuzz: FAILED (see edgeAlive, readyAfter, readyz.failures, unexpected, wellBehaved)');
  } finally {
    await sys.stop();
  }
} finally {
  await ns.dispose().catch((e) => console.error(e));
}
process.exit(code);
