import { randomBytes } from 'node:crypto';
import { createTestNamespace, freePort, startApp as spawnApp, type AppName, type AppProcess } from '@chat/testing';
import type { BenchSystem } from './context';
import { serverEnv } from './lib/env';

export { freePort };

/** One app as `npm start` runs it; BENCH_APP_LOGS=1 echoes its logs. */
const startApp = (label: string, app: string, env: Record<string, string>): AppProcess => spawnApp(app as AppName, env, { label, echoEnv: 'BENCH_APP_LOGS' });

async function waitReady(url: string, app: AppProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (app.child.exitCode !== null) throw new Error(`${app.name} exited (${app.child.exitCode}):\n${app.output.join('')}`);
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${app.name} /readyz:\n${app.output.join('')}`);
}

/** Edge abuse limits turned off for load (0 = no limit). Recorded in each result's config. */
export const BENCH_LIMITS: Record<string, string> = {
  CHAT_SEND_RATE: '0',
  CHAT_CREATE_RATE: '0',
  CHAT_FRAME_RATE: '0',
  CHAT_MAX_CONNECTIONS_PER_USER: '0',
};

export interface StartOptions {
  edges?: number;
  env?: Record<string, string>;
  natsUrl?: string;
}

/** Command, projector, notifier and N edges, each its own process, in a fresh namespace (database, streams, Redis prefix). */
export async function startBenchSystem(opts: StartOptions = {}): Promise<BenchSystem & { secret: string }> {
  const base = serverEnv();
  if (opts.natsUrl) base['NATS_URL'] = opts.natsUrl;
  const ns = await createTestNamespace(base);
  const secret = randomBytes(24).toString('hex');
  const env: Record<string, string> = {
    ...ns.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
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
    for (const app of ['command', 'projector', 'notifier']) {
      const a = startApp(app, app, env);
      apps.push(a);
      pids[app] = a.child.pid!;
    }
    const edges = opts.edges ?? 1;
    const httpUrls: string[] = [];
    const waits: Promise<void>[] = [];
    for (let i = 0; i < edges; i++) {
      const port = await freePort();
      const a = startApp(`edge-${i}`, 'edge', { ...env, EDGE_ID: `b${port}`, CHAT_EDGE_PORT: String(port) });
      apps.push(a);
      pids[`edge-${i}`] = a.child.pid!;
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
