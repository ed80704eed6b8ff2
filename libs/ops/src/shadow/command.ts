import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { loadConfig, names as namesFor, StreamsConfig, type Names } from '@chat/contracts';
import type { Nats } from '@chat/nats';
import { parseProjectionKeys, PROJECTION_KEYS, type ProjectionKey } from '@chat/postgres';
import { loadOpsConfig } from '../config';
import { withNats } from '../streams';
import { formatShadow, formatSwap } from './format';
import { buildShadow, diffShadow, discardShadow, swapShadow, type ShadowApplier } from './rebuild';

export type RebuildMode = 'shadow' | 'swap' | 'discard';

export interface RebuildRequest {
  mode: RebuildMode;
  /** Empty: the default (every projection for --shadow, the shadow's own for --swap). */
  keys: ProjectionKey[];
  json: boolean;
}

const MODES: readonly RebuildMode[] = ['shadow', 'swap', 'discard'];

/** Checks a `chatctl rebuild` invocation: exactly one mode, known projections, none with --discard. */
export function rebuildRequest(keys: readonly string[], flags: Partial<Record<RebuildMode | 'json', boolean>>): RebuildRequest {
  const modes = MODES.filter((m) => flags[m]);
  if (modes.length !== 1) throw new Error(`give one of --shadow (build and diff), --swap (swap the shadow in), --discard (drop it)${modes.length ? `, not ${modes.map((m) => `--${m}`).join(' and ')}` : ''}`);
  const mode = modes[0]!;
  if (mode === 'discard' && keys.length) throw new Error('--discard drops the whole shadow: name no projections');
  return { mode, keys: keys.length ? parseProjectionKeys(keys.join(',')) : [], json: flags.json === true };
}

/** The request as arguments (what the projector's shadow-cli takes). */
export const rebuildArgv = (r: RebuildRequest): string[] => [...r.keys, `--${r.mode}`, ...(r.json ? ['--json'] : [])];

export function parseRebuildArgv(argv: readonly string[]): RebuildRequest {
  const flags: Partial<Record<RebuildMode | 'json', boolean>> = {};
  const keys: string[] = [];
  for (const a of argv) {
    if (!a.startsWith('--')) keys.push(a);
    else if ((MODES as readonly string[]).includes(a.slice(2)) || a === '--json') flags[a.slice(2) as RebuildMode | 'json'] = true;
    else throw new Error(`unknown option ${a} (known: --shadow, --swap, --discard, --json)`);
  }
  return rebuildRequest(keys, flags);
}

/**
 * Carries out a request with the given applier (the projector's); prints the report and returns
 * the exit status: 0, or 2 when the shadow differs from the live tables.
 */
export async function runRebuild(
  req: RebuildRequest,
  applier: (nats: Nats, names: Names) => ShadowApplier,
  print: (text: string) => void = (t) => console.log(t),
): Promise<number> {
  const cfg = loadOpsConfig();
  if (req.mode === 'discard') {
    const r = await discardShadow(cfg.DATABASE_URL);
    print(req.json ? JSON.stringify(r) : r.dropped ? `dropped schema ${r.schema}` : `no shadow (schema ${r.schema} does not exist)`);
    return 0;
  }
  const names = namesFor(cfg.CHAT_NS);
  // Part of the snapshot bucket's name, as the streams were applied with it.
  const replicas = loadConfig(StreamsConfig.pick({ CHAT_STREAM_REPLICAS: true })).CHAT_STREAM_REPLICAS;
  return withNats(cfg.NATS_URL, async (nats) => {
    const deps = { databaseUrl: cfg.DATABASE_URL, nats, names, apply: applier(nats, names), replicas, redisUrl: cfg.REDIS_URL };
    if (req.mode === 'shadow') {
      const build = await buildShadow(deps, req.keys.length ? req.keys : PROJECTION_KEYS);
      const diff = await diffShadow(deps);
      print(req.json ? JSON.stringify({ build, diff }) : formatShadow(build, diff));
      return diff.differences ? 2 : 0;
    }
    const swap = await swapShadow(deps, req.keys.length ? req.keys : undefined);
    print(req.json ? JSON.stringify(swap) : formatSwap(swap));
    return 0;
  });
}

/**
 * The projector's shadow-cli.ts, run in a child process with chatctl's stdio: the rebuild
 * applies events with the projector's own code, which this library may not import (libs never
 * depend on apps). Resolved through the workspace package, so a missing projector says so.
 */
async function runProjectorCli(args: readonly string[]): Promise<number> {
  const require = createRequire(import.meta.url);
  let cli: string;
  try {
    // eslint-disable-next-line @nx/enforce-module-boundaries -- a process started, not a module imported: chatctl runs the projector's CLI
    cli = join(dirname(require.resolve('@chat/projector/package.json')), 'src', 'shadow-cli.ts');
  } catch {
    throw new Error('chatctl rebuild runs the projector\'s apply code, and @chat/projector is not installed next to chatctl');
  }
  const child = spawn(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, cli, ...args], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** `chatctl rebuild [projections...] --shadow|--swap|--discard [--json]`. */
export function registerRebuildCommand(program: Command): void {
  program
    .command('rebuild')
    .description('rebuild projections beside the live ones while the projector runs: into a shadow schema, diffed row by row (--shadow), then swapped in (--swap); see docs/rebuild.md')
    .argument('[projections...]', 'messages, receipts, conversations, preferences (--shadow: default all; --swap: default those of the shadow)')
    .option('--shadow', 'build them into <schema>_shadow from the snapshots and CHAT_EVENTS, then diff against the live tables (exit 2 when rows differ)')
    .option('--swap', 'catch the shadow up with the live position and swap its tables in, in one transaction')
    .option('--discard', 'drop the shadow')
    .option('--json', 'the report as JSON')
    .action(async (keys: string[], o: Partial<Record<RebuildMode | 'json', boolean>>) => {
      process.exitCode = await runProjectorCli(rebuildArgv(rebuildRequest(keys, o)));
    });
}
