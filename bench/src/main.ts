/**
 * `npm run bench [-- --quick] [-- --only <name>[,<name>…]]`: baselines, then every scenario in
 * bench/src/scenarios, each against systems it starts itself; load generators run as their
 * own processes. Writes bench/results/<timestamp>.json, latest.json, latest.md, latest.svg.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import type { Scenario } from './context';
import { createContext, runGenerator, say } from './harness';
import { ROOT, serverEnv } from './lib/env';
import { renderMarkdown, renderSvg } from './report';

const ORDER = ['e2e-1to1', 'e2e-1to1-syncalways', 'peer-socketio', 'group-fanout', 'connections', 'reconnect-storm'];

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
          'env: BENCH_PAIRS, BENCH_STEPS (e.g. 500,1000), BENCH_STEP_SECONDS, BENCH_GENERATORS, BENCH_NATS_SERVER (binary for syncalways), BENCH_APP_LOGS=1\n',
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

function natsServerBinaryVersion(): string | null {
  for (const bin of ['nats-server', '/usr/sbin/nats-server']) {
    try {
      return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^nats-server:\s*v?/, '');
    } catch {
      // next
    }
  }
  return null;
}

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
  const servers = serverEnv();
  const names = o.only ?? ORDER;
  for (const n of names) if (!ORDER.includes(n) && !existsSync(resolve(ROOT, `bench/src/scenarios/${n}.ts`))) throw new Error(`no scenario ${n}`);
  say(`bench${o.quick ? ' --quick' : ''}: ${names.join(', ')}; NATS ${servers['NATS_URL']}, Postgres ${servers['DATABASE_URL']}, Redis ${servers['REDIS_URL']}`);

  const result: Record<string, unknown> & { scenarios: Array<Record<string, unknown>> } = {
    startedAt: startedAt.toISOString(),
    quick: o.quick,
    git: { commit: git(['rev-parse', 'HEAD']), dirty: (git(['status', '--porcelain']) ?? '') !== '' },
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, node: process.version, natsServer: natsServerBinaryVersion() },
    servers: { nats: servers['NATS_URL'], postgres: servers['DATABASE_URL']?.replace(/\/\/[^@]*@/, '//'), redis: servers['REDIS_URL'] },
    baselines: null,
    scenarios: [],
  };

  if (o.baselines) {
    say('[baselines] raw NATS on the same server');
    try {
      const b = await runGenerator<Record<string, unknown>>('baselines', { natsUrl: servers['NATS_URL'], seconds: o.quick ? 2 : 5 }, (l) => say(`[baselines] ${l}`));
      if (b['natsServer']) (result['machine'] as Record<string, unknown>)['natsServer'] = b['natsServer'];
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
