import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { ChatClient } from '@chat/client';
import { DEV_JWT_SECRET } from '@chat/contracts';
import { freePort, startApp as spawnApp, TEST_LIMITS, type AppName, type AppProcess } from '@chat/testing';

export { freePort, type AppProcess };

/** Starts one app (apps/<name>/src/main.ts) as its own process; TEST_APP_LOGS=1 echoes its logs. */
export const startApp = (name: AppName, env: Record<string, string>): AppProcess => spawnApp(name, env, { echoEnv: 'TEST_APP_LOGS' });

/** One app with its ops server on a port of its own (`opsUrl`). */
export const startAppWithOps = async (name: AppName, env: Record<string, string>): Promise<AppProcess & { opsUrl: string }> => {
  const a = startApp(name, { ...env, CHAT_OPS_PORT: String(await freePort()) });
  return a as AppProcess & { opsUrl: string };
};

/** A check that passes once `url` answers 200, and otherwise says what it answered. */
const answers200 =
  (url: string) =>
  async (): Promise<true | string> => {
    const r = await fetch(url);
    return r.ok ? true : `${r.status} ${await r.text()}`;
  };
const readyz = (httpUrl: string) => answers200(`${httpUrl}/readyz`);

/** Polls `check` until it returns true; on timeout the error names the last answer and the app's output. */
async function waitFor(check: () => Promise<boolean | string>, what: string, timeoutMs = 30_000, app?: AppProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'no answer';
  while (Date.now() < deadline) {
    last = await check().catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
    if (last === true) return;
    if (app && app.child.exitCode !== null) throw new Error(`${app.name} exited (${app.child.exitCode}):\n${app.output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last answer: ${String(last)})${app ? `:\n${app.output.join('')}` : ''}`);
}

/**
 * Runs `body`, which starts `apps`; if it fails, stops every one of them before rethrowing. A
 * test whose system did not come up must not leave processes behind: a projector left running
 * in a shared namespace holds its writer lock, and later files' projectors only stand by.
 */
async function untilReady<T>(apps: readonly AppProcess[], body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (e) {
    await Promise.all(apps.map((a) => a.stop().catch(() => undefined)));
    throw e;
  }
}

export interface RunningSystem {
  env: Record<string, string>;
  httpUrl: string;
  wsUrl: string;
  apps: AppProcess[];
  edge: AppProcess;
  /** Each app's ops server (`/metrics`, `/healthz`, `/readyz`). */
  ops: Record<'command' | 'projector' | 'edge' | 'notifier', string>;
  stop(): Promise<void>;
}

/** The production defaults (libs/contracts/src/config.ts), for tests that exercise them. */
export const DEFAULT_LIMITS: Record<string, string> = {
  CHAT_SEND_RATE: '100',
  CHAT_SEND_BURST: '20',
  CHAT_CREATE_RATE: '20',
  CHAT_CREATE_BURST: '20',
  CHAT_FRAME_RATE: '50',
  CHAT_FRAME_BURST: '100',
  CHAT_FLOOD_LIMIT: '100',
  CHAT_MAX_CONNECTIONS_PER_USER: '10',
  CHAT_MAX_BAD_FRAMES: '20',
};

/**
 * Command service, projector, one edge and the notifier, as separate processes, in the test
 * namespace. The edge gets TEST_LIMITS unless `extra` says otherwise. With
 * `CHAT_EDGE_COMMANDS: 'hosted'` in `extra` no command process starts: the edge hosts the
 * command tier (and `ops.command` is the edge's).
 */
export async function startSystem(baseEnv: Record<string, string>, extra: Record<string, string> = {}): Promise<RunningSystem> {
  const port = await freePort();
  const env: Record<string, string> = { LOG_LEVEL: 'warn', ...TEST_LIMITS, ...baseEnv, EDGE_ID: `e${port}`, CHAT_EDGE_PORT: String(port), ...extra };
  const apps: AppProcess[] = [];
  const start = async (name: AppName) => {
    const a = await startAppWithOps(name, env);
    apps.push(a);
    return a;
  };
  const httpUrl = `http://127.0.0.1:${port}`;
  const [command, projector, edge, notifier] = await untilReady(apps, async () => {
    const command = env['CHAT_EDGE_COMMANDS'] === 'hosted' ? undefined : await start('command');
    const rest = [await start('projector'), await start('edge'), await start('notifier')] as const;
    // Without CHAT_PUSH_URL (in `extra`) the notifier only logs the pushes it would send.
    await waitFor(readyz(httpUrl), 'edge /readyz', 30_000, rest[1]);
    // A ready edge says nothing of the other apps (a projector still starting refused a test's
    // first scrape, and had no checkpoints yet for another): wait until each is ready too.
    for (const a of apps) await waitFor(answers200(`${a.opsUrl}/readyz`), `${a.name} /readyz`, 30_000, a);
    return [command ?? rest[1], ...rest] as const;
  });
  return {
    env,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    apps,
    edge,
    ops: { command: command.opsUrl, projector: projector.opsUrl, edge: edge.opsUrl, notifier: notifier.opsUrl },
    async stop() {
      await Promise.all(apps.map((a) => a.stop()));
    },
  };
}

/** One more edge in the same system, with its own id, port and ops port. */
export async function startEdge(sys: RunningSystem, extra: Record<string, string> = {}): Promise<{ edge: AppProcess; edgeId: string; httpUrl: string; wsUrl: string; opsUrl: string }> {
  const port = await freePort();
  const opsPort = await freePort();
  const edgeId = `e${port}`;
  const edge = startApp('edge', { ...sys.env, EDGE_ID: edgeId, CHAT_EDGE_PORT: String(port), CHAT_OPS_PORT: String(opsPort), ...extra });
  const httpUrl = `http://127.0.0.1:${port}`;
  await untilReady([edge], () => waitFor(readyz(httpUrl), 'second edge /readyz', 30_000, edge));
  sys.apps.push(edge);
  return { edge, edgeId, httpUrl, wsUrl: `ws://127.0.0.1:${port}/v1/ws`, opsUrl: `http://127.0.0.1:${opsPort}` };
}

export async function token(userId: string, opts: { deviceId?: string; expiresIn?: string | number; secret?: string } = {}): Promise<string> {
  return new SignJWT({ ...(opts.deviceId ? { did: opts.deviceId } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(opts.secret ?? DEV_JWT_SECRET));
}

type ClientOptions = ConstructorParameters<typeof ChatClient>[0];

export async function connectClient(
  sys: RunningSystem,
  userId: string,
  deviceId = 'd1',
  opts: Partial<Omit<ClientOptions, 'token' | 'createSocket'>> = {},
): Promise<ChatClient> {
  const c = new ChatClient({
    url: sys.wsUrl,
    token: await token(userId, { deviceId }),
    createSocket: (u) => new WebSocket(u) as unknown as ReturnType<NonNullable<ClientOptions['createSocket']>>,
    ...opts,
  });
  await c.connect();
  return c;
}

/** Resolves with the next value `pick` returns for an emitted event, or rejects on timeout. */
export function nextEvent<T>(subscribe: (fn: (v: T) => void) => () => void, pick: (v: T) => boolean = () => true, timeoutMs = 10_000): Promise<T> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      off();
      rej(new Error('timed out waiting for event'));
    }, timeoutMs);
    const off = subscribe((v) => {
      if (!pick(v)) return;
      clearTimeout(timer);
      off();
      res(v);
    });
  });
}

export async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await fn();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await fn();
  }
  return last;
}

export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
