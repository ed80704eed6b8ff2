import { Command } from 'commander';
import { FAULT_KINDS, type FaultKind } from './faults';
import { defaults, runChaos } from './run';
import { runWriters, writersDefaults } from './writers';

/*
 * npm run chaos [-- --quick] [--seed N] [--faults edge-kill,nats-kill] [--users N] [--messages N] [--min-faults N]
 * npm run chaos -- --writers [N] [--seconds S] [--conversations C] [--seed N] [--allow-old-server]
 * Starts a private topology (3-node NATS cluster, Postgres, Redis, 2 edges, 2 command
 * services, the projector), runs the workload with faults, checks, prints the JSON summary and
 * writes it to chaos/results/. Exit 1 when a check failed.
 */
const program = new Command('chaos')
  .option('--quick', 'the short variant (≈ 2,000 messages, 7 faults)')
  .option('--seed <n>', 'PRNG seed (workload shape and fault schedule)')
  .option('--faults <kinds>', `comma-separated fault kinds (default all: ${FAULT_KINDS.join(',')}); "none" for a baseline`)
  .option('--users <n>', 'users')
  .option('--messages <n>', 'acknowledged messages to reach')
  .option('--min-faults <n>', 'faults to inject at least')
  .option('--rate <n>', 'sends per second')
  .option('--port-base <n>', 'first of 20 consecutive ports to use (default 34000, moved up if busy)')
  .option('--commands <n>', 'command-service instances (default 2); 0: the edges host the command tier (CHAT_EDGE_COMMANDS=hosted), command-kill is left out')
  .option('--keep-data', 'keep .data/chaos (NATS store, Postgres data dir) after the run')
  .option('--writers [n]', 'instead: the overlapping-writers experiment on an R3 stream across leader changes (n writers, default 4)')
  .option('--seconds <n>', 'with --writers: how long to write (default 60)')
  .option('--conversations <n>', 'with --writers: how many conversations they share (default 6)')
  .option('--allow-old-server', 'with --writers: also run on a nats-server older than the minimum (to compare)');
program.parse();
const opts = program.opts<{
  quick?: boolean; seed?: string; faults?: string; users?: string; messages?: string; minFaults?: string; rate?: string; portBase?: string; keepData?: boolean; commands?: string;
  writers?: string | boolean; seconds?: string; conversations?: string; allowOldServer?: boolean;
}>();

if (opts.writers !== undefined) {
  const w = writersDefaults(opts.seed !== undefined ? Number(opts.seed) : undefined);
  if (typeof opts.writers === 'string') w.writers = Number(opts.writers);
  if (opts.seconds) w.seconds = Number(opts.seconds);
  if (opts.conversations) w.conversations = Number(opts.conversations);
  if (opts.portBase) w.portBase = Number(opts.portBase);
  if (opts.allowOldServer) w.allowOldServer = true;
  if (opts.keepData) w.keepData = true;
  const { examples, ...head } = await runWriters(w);
  console.log(JSON.stringify(head));
  if (examples.length) console.error(examples.join('\n'));
  process.exit(head.ok ? 0 : 1);
}

const o = defaults(!!opts.quick, opts.seed !== undefined ? Number(opts.seed) : undefined);
if (opts.faults) {
  const kinds = opts.faults === 'none' ? [] : opts.faults.split(',').map((s) => s.trim());
  const bad = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (bad.length) {
    console.error(`unknown fault kind(s): ${bad.join(', ')} (known: ${FAULT_KINDS.join(', ')})`);
    process.exit(2);
  }
  o.kinds = kinds as FaultKind[];
  if (!kinds.length) o.minFaults = 0;
}
if (opts.users) o.users = Number(opts.users);
if (opts.messages) o.targetAcked = Number(opts.messages);
if (opts.minFaults) o.minFaults = Number(opts.minFaults);
if (opts.rate) o.rate = Number(opts.rate);
if (opts.portBase) o.portBase = Number(opts.portBase);
if (opts.keepData) o.keepData = true;
if (opts.commands !== undefined) {
  o.commands = Number(opts.commands);
  // No command process to kill: an edge-kill takes the edge's command tier with it.
  if (o.commands === 0) o.kinds = o.kinds.filter((k) => k !== 'command-kill');
}
if (!o.kinds.length) o.gapMs = [1e9, 1e9];

const summary = await runChaos(o);
const { details, ...head } = summary;
console.log(JSON.stringify(head));
console.error(JSON.stringify(details, null, 2));
process.exit(summary.ok ? 0 : 1);
