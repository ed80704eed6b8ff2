import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SignJWT } from 'jose';
import type { BenchContext, BenchSystem, GeneratorOptions } from './context';
import { ROOT } from './lib/env';
import { startBenchSystem, topologyFromEnv } from './system';

const started = Date.now();
const clock = () => {
  const s = Math.floor((Date.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

export function say(line: string): void {
  process.stderr.write(`[${clock()}] ${line}\n`);
}

/** Runs bench/src/generators/<name>.ts as its own process; resolves with the JSON of its last stdout line. */
export function runGenerator<T>(name: string, args: unknown, onProgress: (line: string) => void, opts: GeneratorOptions & { nodeArgs?: string[] } = {}): Promise<T> {
  return new Promise((res, rej) => {
    // BENCH_GENERATOR_NODE_ARGS: node flags for the generators, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
    const envArgs = (process.env['BENCH_GENERATOR_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...envArgs, ...(opts.nodeArgs ?? []), '--import', 'tsx', resolve(ROOT, `bench/src/generators/${name}.ts`)], {
      cwd: ROOT,
      env: { ...process.env, BENCH_ARGS: JSON.stringify(args) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid && opts.nice) setPriority(child.pid, opts.nice);
    if (child.pid) opts.onSpawn?.(child.pid);
    let last = '';
    const errTail: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l.trim()) last = l;
    });
    createInterface({ input: child.stderr! }).on('line', (l) => {
      errTail.push(l);
      if (errTail.length > 30) errTail.shift();
      onProgress(l);
    });
    child.on('error', rej);
    child.on('close', (code) => {
      if (code !== 0) return rej(new Error(`generator ${name} exited with ${code}:\n${errTail.join('\n')}`));
      try {
        res(JSON.parse(last) as T);
      } catch {
        rej(new Error(`generator ${name} printed no JSON result; last line: ${last.slice(0, 200)}`));
      }
    });
  });
}

export interface HarnessContext extends BenchContext {
  /** Systems started by this scenario and not stopped yet (stopped by the harness after it). */
  readonly open: Set<BenchSystem>;
  /** CHAT_JWT_SECRET of the last started system. */
  secret?: string;
  /** Every system this scenario started (for the report's config). */
  readonly systems: BenchSystem[];
}

export function createContext(scenario: string, quick: boolean): HarnessContext {
  const open = new Set<BenchSystem>();
  const systems: BenchSystem[] = [];
  const ctx: HarnessContext = {
    quick,
    open,
    systems,
    progress: (line) => say(`[${scenario}] ${line}`),
    async startSystem(opts = {}) {
      const commands = opts.commands ?? topologyFromEnv().commands;
      ctx.progress(`starting system (${commands === 0 ? 'commands hosted by the edges' : `${commands} command process${commands > 1 ? 'es' : ''}`}, ${opts.edges ?? 1} edge${(opts.edges ?? 1) > 1 ? 's' : ''}${opts.natsUrl ? `, NATS ${opts.natsUrl}` : ''})`);
      const sys = await startBenchSystem(opts);
      ctx.secret = sys.secret;
      const wrapped: BenchSystem = {
        ...sys,
        stop: async () => {
          if (!open.delete(wrapped)) return;
          const t0 = Date.now();
          await sys.stop();
          ctx.progress(`system stopped in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        },
      };
      open.add(wrapped);
      systems.push(wrapped);
      ctx.progress(`system up: ${sys.wsUrls.join(', ')} (ns ${sys.env['CHAT_NS']})`);
      return wrapped;
    },
    runGenerator: <T>(name: string, args: unknown, opts?: GeneratorOptions) => runGenerator<T>(name, args, (l) => ctx.progress(`${name}: ${l}`), opts),
    async token(userId, deviceId = 'd1') {
      if (!ctx.secret) throw new Error('token(): start a system first');
      return new SignJWT({ did: deviceId })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime('12h')
        .sign(new TextEncoder().encode(ctx.secret));
    },
  };
  return ctx;
}
