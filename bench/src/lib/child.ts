/**
 * A benchmark's own server process (the Socket.IO peer's servers, the floor's server and
 * reader): `node --import tsx <script>`, which prints one JSON line `{"ready":true,…}` once it
 * serves and, on SIGTERM, `{"stats":{…}}` before it exits. Any other line, and stderr, go to
 * `log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ROOT } from './env';

export interface ReadyLine {
  ready: true;
  pid: number;
  port?: number;
}

export interface BenchChild<S> {
  child: ChildProcess;
  /** Resolves with the ready line; rejects if the process exits first. */
  ready: Promise<ReadyLine>;
  /** Resolves once the process has exited, with the last stats line it printed (if any). */
  exited: Promise<S | undefined>;
  /** SIGTERM if still running. */
  kill(): void;
}

export function spawnBenchChild<S>(script: string, env: NodeJS.ProcessEnv, log: (line: string) => void, args: string[] = []): BenchChild<S> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let onReady: (v: ReadyLine) => void = () => undefined;
  let onFail: (e: Error) => void = () => undefined;
  const ready = new Promise<ReadyLine>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  // Awaited by whoever starts the process; this keeps an early exit from going unhandled meanwhile.
  ready.catch(() => undefined);
  let lastStats: S | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const msg = JSON.parse(line) as { ready?: boolean; port?: number; pid?: number; stats?: S };
      if (msg.ready) onReady({ ready: true, pid: msg.pid!, ...(msg.port !== undefined ? { port: msg.port } : {}) });
      if (msg.stats) lastStats = msg.stats;
    } catch {
      log(line);
    }
  });
  createInterface({ input: child.stderr! }).on('line', log);
  const exited = new Promise<S | undefined>((resolve) =>
    child.once('close', (code, signal) => {
      onFail(new Error(`${script} exited (${code ?? signal}) before it was ready`));
      resolve(lastStats);
    }),
  );
  return {
    child,
    ready,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/** Waits for every child's ready line, at most `ms`. */
export function allReady(children: readonly BenchChild<unknown>[], ms: number, what: string): Promise<ReadyLine[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} not ready after ${ms / 1000} s`)), ms);
    timer.unref();
  });
  return Promise.race([Promise.all(children.map((c) => c.ready)), timeout]).finally(() => clearTimeout(timer));
}
