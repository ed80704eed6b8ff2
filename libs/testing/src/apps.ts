import { spawn, type ChildProcess } from 'node:child_process';
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

/** A TCP port nothing listens on right now. */
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
