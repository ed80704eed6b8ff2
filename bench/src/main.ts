/**
 * `npm run bench [-- --quick] [-- --only <name>[,<name>…]]`: baselines, then every scenario in
 * bench/src/scenarios, each against systems it starts itself; load generators run as their
 * own processes. Writes bench/results/<timestamp>.json, latest.json, latest.md, latest.svg.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { Scenario } from './context';
import { createContext, runGenerator, say } from './harness';
import { ROOT, serverEnv } from './lib/env';
import { natsInfo } from './lib/nats-info';
import { evaluateTargets, renderMarkdown, renderSvg } from './report';

const ORDER = ['e2e-1to1', 'e2e-1to1-sendonly', 'e2e-1to1-syncalways', 'peer-socketio', 'peer-socketio-sendonly', 'floor', 'group-fanout', 'connections', 'reconnect-storm', 'presence-storm'];

/** Environment knobs recorded with each run (a run with any of them set is not the standard plan). */
const KNOBS = /^(BENCH_|CHAT_NODE_ARGS$)/;

/**
 * `.data/env` (scripts/services.sh) into process.env for the variables not set, as
 * vitest.config.ts does: NATS_URL, DATABASE_URL, REDIS_URL, NATS_SERVER_BIN, ….
 */
function loadDataEnv(): string[] {
  const file = resolve(ROOT, '.data/env');
  if (!existsSync(file)) return [];
  const loaded: string[] = [];
  for (const [, key, value] of readFileSync(file, 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)) {
    if (key && value !== undefined && process.env[key] === undefined) {
      process.env[key] = value;
      loaded.push(key);
    }
  }
  return loaded;
}

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * NATS_SERVER_BIN (the nats-server for the bench's private servers): from the environment or
 * .data/env, else what `bash scripts/services.sh nats-bin` prints; unset if neither gives an
 * executable (the scenarios then search PATH and say so).
 */
function resolveNatsServerBin(fromDataEnv: boolean): { path: string | null; source: string; note?: string } {
  const set = process.env['NATS_SERVER_BIN'];
  if (set) return { path: set, source: fromDataEnv ? '.data/env' : 'environment', ...(executable(set) ? {} : { note: `${set} is not executable` }) };
  try {
    const out = execFileSync('bash', ['scripts/services.sh', 'nats-bin'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    const path = out.trim().split('\n').pop()?.trim() ?? '';
    if (path && executable(path)) {
      process.env['NATS_SERVER_BIN'] = path;
      return { path, source: 'scripts/services.sh nats-bin' };
    }
    return { path: null, source: 'unset', note: `scripts/services.sh nats-bin printed no executable path (${JSON.stringify(out.trim().slice(-200))}); nats-server from PATH` };
  } catch (e) {
    const err = e as { status?: number; stderr?: string; message: string };
    return { path: null, source: 'unset', note: `scripts/services.sh nats-bin failed (${err.status ?? err.message}: ${(err.stderr ?? '').trim().split('\n').pop() ?? ''}); nats-server from PATH` };
  }
}

function parseArgs(argv: string[]) {
  const o = { quick: false, only: null as string[] | null, baselines: true, out: resolve(ROOT, 'bench/results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.quick = true;
    else if (a === '--only') o.only = argv[++i]!.split(',');
    else if (a.startsWith('--only=')) o.only = a.slice(7).split(',');
    else if (a === '--no-baselines') o.baselines = false;
    else if (a === '--out') o.out = resolve(argv[++i]!);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(
        'usage: npm run bench -- [--quick] [--only name[,name]] [--no-baselines] [--out dir]\n' +
          `scenarios: ${ORDER.join(', ')}\n` +
          'env: BENCH_PAIRS, BENCH_STEPS (e.g. 500,1000), BENCH_STEP_SECONDS, BENCH_READ_SHARE (0..1), BENCH_GENERATORS, BENCH_EDGES, BENCH_COMMANDS, BENCH_CONNECTIONS, BENCH_PEER_PG_POOL, BENCH_PEER_SYNC_COMMIT=off, BENCH_APP_LOGS=1, NATS_SERVER_BIN (nats-server for the private servers), CHAT_NODE_ARGS (node flags for the apps), BENCH_GENERATOR_NODE_ARGS (for the generators)\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

const isDirty = () => (git(['status', '--porcelain']) ?? '') !== '';

async function loadScenario(name: string): Promise<Scenario | null> {
  const file = resolve(ROOT, `bench/src/scenarios/${name}.ts`);
  if (!existsSync(file)) return null;
  const mod = (await import(file)) as { scenario?: Scenario; default?: Scenario };
  const s = mod.scenario ?? mod.default;
  if (!s) throw new Error(`${file} exports no scenario`);
  return s;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const fromDataEnv = loadDataEnv();
  const natsServerBin = resolveNatsServerBin(fromDataEnv.includes('NATS_SERVER_BIN'));
  const servers = serverEnv();
  const dirtyAtStart = isDirty();
  const names = o.only ?? ORDER;
  for (const n of names) if (!ORDER.includes(n) && !existsSync(resolve(ROOT, `bench/src/scenarios/${n}.ts`))) throw new Error(`no scenario ${n}`);
  say(`bench${o.quick ? ' --quick' : ''}: ${names.join(', ')}; NATS ${servers['NATS_URL']}, Postgres ${servers['DATABASE_URL']}, Redis ${servers['REDIS_URL']}`);
  say(`NATS_SERVER_BIN (private servers): ${natsServerBin.path ?? 'unset'} (${natsServerBin.source})${natsServerBin.note ? `: ${natsServerBin.note}` : ''}`);
  const info = await natsInfo(servers['NATS_URL']!);
  const partial = [...(o.quick ? ['--quick'] : []), ...(o.only ? ['--only'] : []), ...(o.baselines ? [] : ['--no-baselines'])];
  const knobs = Object.fromEntries(Object.entries(process.env).filter(([k]) => KNOBS.test(k)));

  const result: Record<string, unknown> & { scenarios: Array<Record<string, unknown>> } = {
    startedAt: startedAt.toISOString(),
    quick: o.quick,
    // Set at the end: a full run (no --quick, --only or --no-baselines) on a tree that was clean before and after.
    final: false,
    partial,
    knobs,
    git: { commit: git(['rev-parse', 'HEAD']), dirty: dirtyAtStart },
    // natsServer: the version the NATS_URL server announced (the server the systems ran on).
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, node: process.version, natsServer: info?.version ?? null },
    servers: { nats: servers['NATS_URL'], postgres: servers['DATABASE_URL']?.replace(/\/\/[^@]*@/, '//'), redis: servers['REDIS_URL'], natsServerBin },
    baselines: null,
    scenarios: [],
  };

  if (o.baselines) {
    say('[baselines] raw NATS on the same server');
    try {
      const b = await runGenerator<Record<string, unknown>>('baselines', { natsUrl: servers['NATS_URL'], seconds: o.quick ? 2 : 5 }, (l) => say(`[baselines] ${l}`));
      const machine = result['machine'] as Record<string, unknown>;
      if (b['natsServer'] && !machine['natsServer']) machine['natsServer'] = b['natsServer'];
      delete b['natsServer'];
      result['baselines'] = { quick: o.quick, ...b };
    } catch (e) {
      say(`[baselines] failed: ${(e as Error).message}`);
      result['baselines'] = { error: (e as Error).message };
    }
  }

  for (const name of names) {
    const scenario = await loadScenario(name);
    if (!scenario) {
      say(`[${name}] skipped: bench/src/scenarios/${name}.ts does not exist`);
      result.scenarios.push({ name, skipped: true, reason: 'scenario file missing' });
      continue;
    }
    const ctx = createContext(name, o.quick);
    const t0 = Date.now();
    say(`[${name}] start`);
    try {
      const r = await scenario.run(ctx);
      result.scenarios.push({ name, quick: o.quick, ...r, durationSeconds: Math.round((Date.now() - t0) / 100) / 10 });
      say(`[${name}] done in ${Math.round((Date.now() - t0) / 1000)} s`);
    } catch (e) {
      say(`[${name}] FAILED: ${(e as Error).stack ?? String(e)}`);
      result.scenarios.push({ name, quick: o.quick, error: (e as Error).message, durationSeconds: Math.round((Date.now() - t0) / 100) / 10 });
    } finally {
      for (const sys of [...ctx.open]) await sys.stop().catch((e: unknown) => say(`[${name}] stopping a system: ${String(e)}`));
    }
  }
  result['finishedAt'] = new Date().toISOString();
  result['durationSeconds'] = Math.round((Date.now() - startedAt.getTime()) / 1000);
  // Dirty if it was at the start or is now, or if HEAD moved during the run (the code measured is then unclear).
  const g = result['git'] as Record<string, unknown>;
  const headAtEnd = git(['rev-parse', 'HEAD']);
  if (headAtEnd !== g['commit']) g['headAtEnd'] = headAtEnd;
  const dirty = dirtyAtStart || isDirty() || headAtEnd !== g['commit'];
  g['dirty'] = dirty;
  result['final'] = partial.length === 0 && !dirty;
  result['targets'] = evaluateTargets(result);

  mkdirSync(o.out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(resolve(o.out, `${stamp}${o.quick ? '-quick' : ''}.json`), json);
  writeFileSync(resolve(o.out, 'latest.json'), json);
  writeFileSync(resolve(o.out, 'latest.md'), renderMarkdown(result));
  writeFileSync(resolve(o.out, 'latest.svg'), renderSvg(result));
  say(`wrote ${o.out}/{${stamp}${o.quick ? '-quick' : ''}.json,latest.json,latest.md,latest.svg} in ${result['durationSeconds']} s`);
  process.exit(result.scenarios.some((s) => s['error']) ? 1 : 0);
}

main().catch((e: unknown) => {
  say(`bench failed: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
