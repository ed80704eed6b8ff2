import { randomBytes } from 'node:crypto';
import { createTestNamespace, freePort, startApp as spawnApp, type AppName, type AppProcess } from '@chat/testing';
import type { BenchSystem } from './context';
import { serverEnv } from './lib/env';

export { freePort };

/** One app as `npm start` runs it; BENCH_APP_LOGS=1 echoes its logs. */
const startApp = (label: string, app: string, env: Record<string, string>): AppProcess => spawnApp(app as AppName, env, { label, echoEnv: 'BENCH_APP_LOGS' });

async function waitReady(url: string, app: AppProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (app.child.exitCode !== null) throw new Error(`${app.name} exited (${app.child.exitCode}):\n${app.output.join('')}`);
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.ok) return;
    if (res) last = `${res.status} ${await res.text()}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${app.name} /readyz (last answer: ${last}):\n${app.output.join('')}`);
}

/** Edge abuse limits turned off for load (0 = no limit). Recorded in each result's config. */
export const BENCH_LIMITS: Record<string, string> = {
  CHAT_SEND_RATE: '0',
  CHAT_CREATE_RATE: '0',
  CHAT_FRAME_RATE: '0',
  CHAT_MAX_CONNECTIONS_PER_USER: '0',
};

/**
 * Processes per system from the environment: BENCH_COMMANDS command processes (default 0:
 * none, the edges host the command tier, CHAT_EDGE_COMMANDS=hosted; docs/performance.md says
 * why); BENCH_EDGES (default 1) edges (the 1:1 scenarios; the others choose their edges).
 */
export function topologyFromEnv(): { edges: number; commands: number } {
  const n = (k: string, d: number, min: number) => {
    const v = process.env[k] ? Number(process.env[k]) : d;
    if (!Number.isInteger(v) || v < min) throw new Error(`${k} must be an integer of at least ${min}, got ${process.env[k]}`);
    return v;
  };
  return { edges: n('BENCH_EDGES', 1, 1), commands: n('BENCH_COMMANDS', 0, 0) };
}

export interface StartOptions {
  edges?: number;
  /** Command service processes (default BENCH_COMMANDS, else 0): `command-1`, `command-2`, …; 0 = the edges host the command tier. */
  commands?: number;
  env?: Record<string, string>;
  natsUrl?: string;
}

/** N command processes, the projector, the notifier and N edges, each its own process, in a fresh namespace (database, streams, Redis prefix). */
export async function startBenchSystem(opts: StartOptions = {}): Promise<BenchSystem & { secret: string }> {
  const base = serverEnv();
  if (opts.natsUrl) base['NATS_URL'] = opts.natsUrl;
  const ns = await createTestNamespace(base);
  const secret = randomBytes(24).toString('hex');
  const env: Record<string, string> = {
    ...ns.env,
    NODE_ENV: 'production',
    LOG_LEVEL: process.env['BENCH_APP_LOG_LEVEL'] ?? 'warn',
    CHAT_JWT_SECRET: secret,
    // Load, not abuse: the per-user send/create and per-connection frame limits would cap a
    // generator user at a few messages per second. Scenarios may set them back via opts.env.
    ...BENCH_LIMITS,
    ...(opts.env ?? {}),
  };
  const apps: AppProcess[] = [];
  const pids: Record<string, number> = {};
  const stopAll = async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await ns.dispose().catch((e: unknown) => process.stderr.write(`dispose ${ns.ns}: ${String(e)}\n`));
  };
  try {
    const commands = opts.commands ?? topologyFromEnv().commands;
    const labels = [...Array.from({ length: commands }, (_, i) => [`command-${i + 1}`, 'command']), ['projector', 'projector'], ['notifier', 'notifier']];
    const ops: Record<string, string> = {};
    for (const [label, app] of labels) {
      // Each app its own ops port (the defaults are fixed, and a running system may hold them).
      const opsPort = await freePort();
      const a = startApp(label!, app!, { ...env, CHAT_OPS_PORT: String(opsPort) });
      apps.push(a);
      pids[label!] = a.child.pid!;
      ops[label!] = `http://127.0.0.1:${opsPort}`;
    }
    const edges = opts.edges ?? 1;
    const httpUrls: string[] = [];
    const opsUrls: string[] = [];
    const waits: Promise<void>[] = [];
    for (let i = 0; i < edges; i++) {
      const port = await freePort();
      const opsPort = await freePort();
      const a = startApp(`edge-${i}`, 'edge', { ...env, EDGE_ID: `b${port}`, CHAT_EDGE_PORT: String(port), CHAT_OPS_PORT: String(opsPort), ...(commands === 0 ? { CHAT_EDGE_COMMANDS: 'hosted' } : {}) });
      opsUrls.push(`http://127.0.0.1:${opsPort}`);
      apps.push(a);
      pids[`edge-${i}`] = a.child.pid!;
      ops[`edge-${i}`] = `http://127.0.0.1:${opsPort}`;
      const url = `http://127.0.0.1:${port}`;
      httpUrls.push(url);
      waits.push(waitReady(url, a));
    }
    await Promise.all(waits);
    // The edge is ready before the command service and the projector have their consumers: give them a moment.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const a of apps) if (a.child.exitCode !== null) throw new Error(`${a.name} exited (${a.child.exitCode}):\n${a.output.join('')}`);
    return {
      httpUrl: httpUrls[0]!,
      opsUrl: opsUrls[0]!,
      ops,
      wsUrls: httpUrls.map((u) => `${u.replace('http', 'ws')}/v1/ws`),
      env,
      pids,
      secret,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
