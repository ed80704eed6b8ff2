import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (apps are started from there, as `npm start` does). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

export type AppName = 'command' | 'projector' | 'edge' | 'notifier';

export interface AppProcess {
  name: string;
  child: ChildProcess;
  /** Its ops server (`/metrics`, `/healthz`, `/readyz`), when `CHAT_OPS_PORT` was given. */
  opsUrl?: string;
  /** The last lines it printed (stdout and stderr), for error messages. */
  output: string[];
  /** Signals it (SIGTERM by default; SIGKILL after 10 s) and resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * One app (apps/<app>/src/main.ts) as its own process, exactly as `npm start` runs it
 * (`node --import tsx`). `CHAT_NODE_ARGS` (in `env` or the environment) adds node flags, e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`; with the variable named by `echoEnv` set, its output
 * is echoed to stderr. Without `CHAT_OPS_PORT` in `env` its ops server takes any free port
 * (the apps' fixed defaults would collide between the systems of parallel tests).
 */
export function startApp(app: AppName, env: Record<string, string>, opts: { label?: string; echoEnv?: string } = {}): AppProcess {
  const name = opts.label ?? app;
  const nodeArgs = (env['CHAT_NODE_ARGS'] ?? process.env['CHAT_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', resolve(REPO_ROOT, `apps/${app}/src/main.ts`)], {
    cwd: REPO_ROOT,
    env: { ...process.env, CHAT_OPS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const echo = opts.echoEnv !== undefined && Boolean(process.env[opts.echoEnv]);
  const keep = (b: Buffer) => {
    output.push(b.toString());
    if (output.length > 200) output.shift();
    if (echo) process.stderr.write(`[${name}] ${b}`);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const opsPort = Number(env['CHAT_OPS_PORT'] ?? 0);
  return {
    name,
    child,
    ...(opsPort > 0 ? { opsUrl: `http://127.0.0.1:${opsPort}` } : {}),
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

/** Where the kernel hands out local ports to outgoing connections (Linux); ports below it are never taken that way. */
function ephemeralStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(start);
    if (Number.isInteger(n) && n > 2_000) return n;
  } catch {
    // not Linux: the IANA ephemeral range
  }
  return 49_152;
}

const tryListen = (port: number): Promise<boolean> =>
  new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });

/**
 * A port that is free now, for an app to listen on a moment later. Chosen below the kernel's
 * ephemeral range: a port taken from that range (listen on 0) was seen handed to an outgoing
 * connection in the seconds an app takes to start, and the app then failed with EADDRINUSE.
 */
export async function freePort(): Promise<number> {
  const top = ephemeralStart() - 1;
  const bottom = Math.max(1_024, top - 20_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom + 1));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port found between ${bottom} and ${top}`);
}
