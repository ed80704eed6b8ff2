import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { ChatClient } from '@chat/client';
import { DEV_JWT_SECRET } from '@chat/contracts';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

export interface AppProcess {
  name: string;
  child: ChildProcess;
  output: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts one app (apps/<name>/src/main.ts) as its own process. */
export function startApp(name: 'command' | 'projector' | 'edge', env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, `apps/${name}/src/main.ts`)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (b: Buffer) => {
    output.push(b.toString());
    if (output.length > 200) output.shift();
    if (process.env['TEST_APP_LOGS']) process.stderr.write(`[${name}] ${b}`);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    name,
    child,
    output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000, app?: AppProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    if (app && app.child.exitCode !== null) throw new Error(`${app.name} exited (${app.child.exitCode}):\n${app.output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${app ? `:\n${app.output.join('')}` : ''}`);
}

export interface RunningSystem {
  env: Record<string, string>;
  httpUrl: string;
  wsUrl: string;
  apps: AppProcess[];
  edge: AppProcess;
  stop(): Promise<void>;
}

/** Command service, projector and one edge, as separate processes, in the test namespace. */
export async function startSystem(baseEnv: Record<string, string>, extra: Record<string, string> = {}): Promise<RunningSystem> {
  const port = await freePort();
  const env = { LOG_LEVEL: 'warn', ...baseEnv, EDGE_ID: `e${port}`, CHAT_EDGE_PORT: String(port), ...extra };
  const command = startApp('command', env);
  const projector = startApp('projector', env);
  const edge = startApp('edge', env);
  const httpUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${httpUrl}/readyz`)).ok, 'edge /readyz', 30_000, edge);
  const apps = [command, projector, edge];
  return {
    env,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    apps,
    edge,
    async stop() {
      await Promise.all(apps.map((a) => a.stop()));
    },
  };
}

export async function token(userId: string, opts: { deviceId?: string; expiresIn?: string | number; secret?: string } = {}): Promise<string> {
  return new SignJWT({ ...(opts.deviceId ? { did: opts.deviceId } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(opts.secret ?? DEV_JWT_SECRET));
}

export async function connectClient(sys: RunningSystem, userId: string, deviceId = 'd1'): Promise<ChatClient> {
  const c = new ChatClient({
    url: sys.wsUrl,
    token: await token(userId, { deviceId }),
    createSocket: (u) => new WebSocket(u) as unknown as ReturnType<NonNullable<ConstructorParameters<typeof ChatClient>[0]['createSocket']>>,
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
