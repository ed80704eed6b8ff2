/** latest.md and latest.svg from a result object (latest.json). No dependencies. */
import type { E2eStep } from './lib/e2e';

/** The presence storm's full size: 5,000 clients in groups of 51 (one watcher and 50 watched), rounded down. */
const PRESENCE_FULL_CLIENTS = Math.floor(5_000 / 51) * 51;

type R = Record<string, unknown> & { scenarios: Array<Record<string, unknown>> };

const fmt = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : v == null ? '–' : String(v));

/** The issue's targets ("Redesign the hot path: 5,000 msg/s with receipts on two cores, p99 under 100 ms"). */
export const BUDGET_US_PER_MSG = 300;
export const TARGET = {
  sustainedPerSec: 5000,
  p99Ms: 100,
  p99At1000Ms: 25,
  jetstreamShare: 0.15,
  peerRatio: 1.5,
  fanoutP99Ms: 100,
  fanoutMembers: 1024,
  connectionKiB: 10,
  stormClients: 10_000,
  stormWaiting: 20,
  stormSeconds: 10,
};

export interface TargetRow {
  scenario: string;
  metric: string;
  target: string;
  actual: string;
  /** The measured figure the row is about, when it is one number. */
  value: number | null;
  /** null: not measured in this run. */
  met: boolean | null;
}

type S = Record<string, unknown>;

function stepAt(s: S, rate: number): E2eStep | undefined {
  return ((s['steps'] as E2eStep[] | undefined) ?? []).find((x) => x.offeredPerSec === rate);
}

function sustainedStep(s: S): E2eStep | undefined {
  const steps = (s['steps'] as E2eStep[] | undefined) ?? [];
  return steps.filter((x) => x.sustained).sort((a, b) => b.offeredPerSec - a.offeredPerSec)[0];
}

const usable = (s: S | undefined): s is S => !!s && !s['skipped'] && !s['error'];
const notRun = (s: S | undefined): string => (!s ? 'not run' : s['error'] ? `error: ${String(s['error']).slice(0, 120)}` : s['skipped'] ? 'skipped' : 'not measured');

/**
 * Every target row, computed from the result object alone: main.ts stores them in latest.json
 * (`targets`) and latest.md prints those rows, so the two cannot disagree.
 */
export function evaluateTargets(r: R): TargetRow[] {
  const by = new Map(r.scenarios.map((s) => [String(s['name']), s]));
  const rows: TargetRow[] = [];
  const row = (scenario: string, metric: string, target: string, f: (s: S) => { actual: string; value: number | null; met: boolean | null }) => {
    const s = by.get(scenario);
    if (!usable(s)) return rows.push({ scenario, metric, target, actual: notRun(s), value: null, met: null });
    rows.push({ scenario, metric, target, ...f(s) });
  };
  const maxSustained = (s: S) => (typeof s['maxSustainedPerSec'] === 'number' ? (s['maxSustainedPerSec'] as number) : null);

  row('e2e-1to1', 'connected clients', '≥ 1,000', (s) => ({ actual: fmt(s['connections']), value: Number(s['connections'] ?? 0), met: Number(s['connections'] ?? 0) >= 1000 }));
  row('e2e-1to1', 'max sustained 1:1 rate with receipts (≥ 99 % of the step delivered, p99 < 100 ms)', `≥ ${fmt(TARGET.sustainedPerSec)} msg/s`, (s) => {
    const v = maxSustained(s);
    return { actual: v === null ? 'none of the steps' : `${fmt(v)} msg/s`, value: v, met: (v ?? 0) >= TARGET.sustainedPerSec };
  });
  row('e2e-1to1', `p99 send → receive at ${fmt(TARGET.sustainedPerSec)} msg/s`, `< ${TARGET.p99Ms} ms`, (s) => {
    const st = stepAt(s, TARGET.sustainedPerSec);
    if (!st) return { actual: `no ${fmt(TARGET.sustainedPerSec)}/s step in this run`, value: null, met: null };
    return { actual: `${fmt(st.latencyMs.p99)} ms (${fmt(st.deliveredRatio * 100)} % delivered)`, value: st.latencyMs.p99, met: st.latencyMs.p99 !== null && st.latencyMs.p99 < TARGET.p99Ms && st.sustained };
  });
  row('e2e-1to1', 'p99 send → receive at 1,000 msg/s', `< ${TARGET.p99At1000Ms} ms`, (s) => {
    const st = stepAt(s, 1000);
    if (!st) return { actual: 'no 1,000/s step in this run', value: null, met: null };
    return { actual: `${fmt(st.latencyMs.p99)} ms`, value: st.latencyMs.p99, met: st.latencyMs.p99 !== null && st.latencyMs.p99 < TARGET.p99At1000Ms && st.deliveredRatio >= 0.99 };
  });
  row('e2e-1to1', 'all-in CPU per delivered message (apps + NATS + Postgres + Redis), at the highest sustained step, else the last step', `≤ ${BUDGET_US_PER_MSG} µs`, (s) => {
    const steps = (s['steps'] as E2eStep[] | undefined) ?? [];
    const st = sustainedStep(s) ?? steps[steps.length - 1];
    const v = st?.cpu?.allInUsPerMsg ?? null;
    if (!st || v === null) return { actual: 'no CPU figures', value: null, met: null };
    return { actual: `${fmt(v)} µs @ ${fmt(st.offeredPerSec)}/s${st.sustained ? '' : ' (not sustained)'}`, value: v, met: v <= BUDGET_US_PER_MSG };
  });
  row('e2e-1to1', 'max sustained / JetStream publish baseline (jetstreamPublishPerSec)', `≥ ${TARGET.jetstreamShare * 100} %`, (s) => {
    const base = (r['baselines'] as S | null)?.['jetstreamPublishPerSec'];
    if (typeof base !== 'number' || base <= 0) return { actual: 'no baseline in this run', value: null, met: null };
    const v = maxSustained(s) ?? 0;
    const ratio = v / base;
    return { actual: `${fmt(Math.round(ratio * 1000) / 10)} % (${fmt(v)} / ${fmt(base)})`, value: Math.round(ratio * 10000) / 10000, met: ratio >= TARGET.jetstreamShare };
  });
  row('e2e-1to1', 'max sustained / peer-socketio max sustained', `≥ ${TARGET.peerRatio}×`, (s) => {
    const p = by.get('peer-socketio');
    if (!usable(p)) return { actual: `peer-socketio ${notRun(p)}`, value: null, met: null };
    const ours = maxSustained(s) ?? 0;
    const theirs = maxSustained(p);
    if (!theirs) return { actual: `${fmt(ours)} / none (the peer sustained none of the steps)`, value: null, met: ours > 0 };
    const ratio = ours / theirs;
    return { actual: `${fmt(Math.round(ratio * 100) / 100)}× (${fmt(ours)} / ${fmt(theirs)})`, value: Math.round(ratio * 100) / 100, met: ratio >= TARGET.peerRatio };
  });
  row('e2e-1to1-syncalways', 'measured with fsync on every write (sync_interval: always), receipts load', 'measured', (s) =>
    s['supported'] === false
      ? { actual: `not measured: ${String(s['reason'] ?? '')}`, value: null, met: false }
      : { actual: `nats-server ${String(s['natsServer'] ?? '?')}; max sustained ${maxSustained(s) === null ? 'none' : `${fmt(maxSustained(s))} msg/s`}`, value: maxSustained(s), met: true },
  );
  row('floor', 'max sustained rate with receipts of the least any design does per message here (frames, appends, a reader: bench/floor), and e2e-1to1 against it', 'measured', (s) => {
    const floor = maxSustained(s);
    const e = by.get('e2e-1to1');
    const ours = usable(e) ? maxSustained(e) : null;
    const share = floor && ours !== null ? ` (${fmt(Math.round((ours / floor) * 1000) / 10)} % of the floor)` : '';
    return { actual: `floor ${floor === null ? 'none of the steps' : `${fmt(floor)} msg/s`}; e2e-1to1 ${ours === null ? 'none' : `${fmt(ours)} msg/s`}${share}`, value: floor, met: true };
  });
  row('group-fanout', `p99 send → last member, ${fmt(TARGET.fanoutMembers)} members all online`, `< ${TARGET.fanoutP99Ms} ms`, (s) => {
    const p99 = (s['allMembersMs'] as S | undefined)?.['p99'];
    const v = typeof p99 === 'number' ? p99 : null;
    const complete = s['incompleteMessages'] === 0;
    return { actual: `${fmt(v)} ms, ${fmt(s['members'])} members${complete ? '' : `, ${fmt(s['incompleteMessages'])} messages missed someone`}`, value: v, met: v !== null && v < TARGET.fanoutP99Ms && complete && Number(s['members']) >= TARGET.fanoutMembers };
  });
  row('connections', 'edge RSS per idle connection, at the largest count the file limit allows', `≤ ${TARGET.connectionKiB} KiB`, (s) => {
    const v = typeof s['rssKiBPerConnection'] === 'number' ? (s['rssKiBPerConnection'] as number) : null;
    const fds = (s['edgeFds'] ?? {}) as S;
    return {
      actual: `${fmt(v)} KiB at ${fmt(s['count'])} connections (of ${fmt(s['attempted'])} attempted; edge file limit ${fmt(fds['softLimit'])})`,
      value: v,
      // A quick run opens a fixed small count: not the file limit's, so the target is not checked.
      met: s['limitedBy'] === 'quick size' ? null : v !== null && v <= TARGET.connectionKiB && Number(s['count']) >= Number(s['attempted']),
    };
  });
  row('reconnect-storm', `${fmt(TARGET.stormClients)} clients × ${TARGET.stormWaiting} waiting messages: all caught up after the reconnect, lost 0`, `≤ ${TARGET.stormSeconds} s, lost 0`, (s) => {
    const v = typeof s['allCaughtUpSeconds'] === 'number' ? (s['allCaughtUpSeconds'] as number) : null;
    const full = Number(s['clients']) >= TARGET.stormClients && Number(s['messagesPerClient']) >= TARGET.stormWaiting;
    return {
      actual: `${v === null ? 'not all caught up' : `${fmt(v)} s`}, lost ${fmt(s['lost'])}, ${fmt(s['clients'])} clients × ${fmt(s['messagesPerClient'])}${full ? '' : ' (smaller than the target)'}`,
      value: v,
      // A smaller run (quick, or capped by the file limit) does not check the target.
      met: !full ? null : v !== null && v <= TARGET.stormSeconds && s['lost'] === 0,
    };
  });
  row('e2e-1to1', 'p99 typing sent → received at 1,000 msg/s', '< 50 ms', (s) => {
    const st = stepAt(s, 1000);
    const t = st?.typing;
    if (!t) return { actual: 'no 1,000/s step with typing in this run', value: null, met: null };
    return { actual: `${fmt(t.latencyMs.p99)} ms (${fmt(t.received)} of ${fmt(t.sent)} received)`, value: t.latencyMs.p99, met: t.latencyMs.p99 !== null && t.latencyMs.p99 < 50 && t.received >= t.sent };
  });
  row('presence-storm', "p99 from a mover's close or connect to each watcher's first correct presence change, a fifth of the clients moving at once (back online; offline counted after the grace)", '< 500 ms', (s) => {
    const back = s['back'] as { firstCorrectFrameMs?: { p99: number }; told?: number; expected?: number } | undefined;
    const away = s['away'] as { afterGraceMs?: { p99: number }; told?: number; expected?: number } | undefined;
    if (!back?.firstCorrectFrameMs || !away?.afterGraceMs) return { actual: 'not run', value: null, met: null };
    const v = Math.max(back.firstCorrectFrameMs.p99, away.afterGraceMs.p99);
    const all = back.told === back.expected && away.told === away.expected;
    return {
      actual: `online ${fmt(back.firstCorrectFrameMs.p99)} ms, offline ${fmt(away.afterGraceMs.p99)} ms after the grace; ${fmt(s['movers'])} of ${fmt(s['clients'])} moving${all ? '' : ', some watchers never told'}`,
      value: v,
      // Judged at the full size only: 5,000 clients in whole groups of 51 are 4,998.
      met: Number(s['clients']) >= PRESENCE_FULL_CLIENTS ? v < 500 && all : null,
    };
  });
  row('presence-storm', 'presence frames caused by a flap (drop and reconnect inside the grace)', '0', (s) => {
    const flap = s['flap'] as { presenceFrames?: number } | undefined;
    if (flap?.presenceFrames === undefined) return { actual: 'not run', value: null, met: null };
    return { actual: fmt(flap.presenceFrames), value: flap.presenceFrames, met: flap.presenceFrames === 0 };
  });
  // Rows a scenario returns itself.
  for (const s of r.scenarios) {
    const own = s['targets'];
    if (!Array.isArray(own)) continue;
    for (const t of own as S[])
      rows.push({ scenario: String(s['name']), metric: String(t['metric']), target: fmt(t['target']), actual: fmt(t['actual']), value: typeof t['actual'] === 'number' ? t['actual'] : null, met: typeof t['met'] === 'boolean' ? t['met'] : null });
  }
  return rows;
}

function isE2eSteps(v: unknown): v is E2eStep[] {
  return Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null && 'offeredPerSec' in v[0] && 'latencyMs' in v[0];
}

/** Why a run is not final, in words (empty when it is). */
export function notFinalReasons(r: R): string[] {
  if (r['final'] === true) return [];
  const git = (r['git'] ?? {}) as S;
  const out: string[] = [];
  if (git['dirty'] !== false) out.push('dirty tree');
  const partial = Array.isArray(r['partial']) ? (r['partial'] as string[]) : r['quick'] ? ['--quick'] : [];
  if (partial.length) out.push(`partial run (${partial.join(', ')})`);
  if (!out.length) out.push('not marked final');
  return out;
}

const pct = (v: number | null | undefined) => (v == null ? '–' : fmt(v));

function e2eTables(s: S, steps: E2eStep[]): string[] {
  const out: string[] = [];
  out.push(
    `| offered/s | sent/s | delivered/s | delivered % | p50 ms | p95 ms | p99 ms | max ms | ack p50 ms | ack p99 ms | errors | not sent | gen lag p99 ms | gen CPU % | machine busy % | all-in µs/msg (budget ${BUDGET_US_PER_MSG}) | sustained |`,
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  for (const st of steps) {
    out.push(
      `| ${fmt(st.offeredPerSec)} | ${fmt(st.sentPerSec)} | ${fmt(st.deliveredPerSec)} | ${fmt(Math.round(st.deliveredRatio * 10000) / 100)} | ${fmt(st.latencyMs.p50)} | ${fmt(st.latencyMs.p95)} | ${fmt(st.latencyMs.p99)} | ${fmt(st.latencyMs.max)} | ${fmt(st.sentAckMs.p50)} | ${fmt(st.sentAckMs.p99)} | ${fmt(st.errors)} | ${fmt(st.notSent)} | ${fmt(st.generatorSendLagP99Ms)} | ${fmt(st.generatorCpuPct)} | ${pct(st.cpu?.machineBusyPct)} | ${fmt(st.cpu?.allInUsPerMsg)}${st.cpu?.allInUsPerMsg != null ? (st.cpu.allInUsPerMsg <= BUDGET_US_PER_MSG ? ' ✅' : ' ❌') : ''} | ${st.sustained ? '✅' : '❌'} |`,
    );
  }
  out.push('');
  if (s['receipts'] === true) {
    out.push(
      `Receipts (readShare ${fmt(s['readShare'])}): frames the receivers sent, receipt frames back at the senders, the share of acknowledged messages a delivered receipt came back for, and scheduled send → delivered receipt at the sender.`,
      '',
      '| offered/s | delivered sent | read sent | delivered back | read back | covered % | receipt p50 ms | p95 ms | p99 ms | max ms | errors answering nothing |',
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const st of steps) {
      const rc = st.receipts;
      const rl = st.receiptLatencyMs;
      out.push(
        `| ${fmt(st.offeredPerSec)} | ${fmt(rc?.deliveredSent)} | ${fmt(rc?.readSent)} | ${fmt(rc?.deliveredReceived)} | ${fmt(rc?.readReceived)} | ${rc ? fmt(Math.round(rc.coveredRatio * 10000) / 100) : '–'} | ${fmt(rl?.p50)} | ${fmt(rl?.p95)} | ${fmt(rl?.p99)} | ${fmt(rl?.max)} | ${fmt(rc?.unsolicitedErrors)} |`,
      );
    }
    out.push('');
  }
  if (steps.some((st) => st.typing)) {
    out.push(
      'Typing: a sender signals `typing` before a message at most every 4 s (BENCH_TYPING_EVERY_MS); starts sent and received in the step, and sent → received at the peer.',
      '',
      '| offered/s | typing sent | received | p50 ms | p95 ms | p99 ms | max ms |',
      '|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const st of steps) {
      const t = st.typing;
      out.push(`| ${fmt(st.offeredPerSec)} | ${fmt(t?.sent)} | ${fmt(t?.received)} | ${fmt(t?.latencyMs.p50)} | ${fmt(t?.latencyMs.p95)} | ${fmt(t?.latencyMs.p99)} | ${fmt(t?.latencyMs.max)} |`);
    }
    out.push('');
  }
  // CPU per process: % of a core · µs per delivered message.
  const procs = (s['processes'] ?? {}) as Record<string, { pid: number; role: string; withChildren?: boolean }>;
  const names = [...new Set([...Object.keys(procs), ...steps.flatMap((st) => Object.keys(st.cpu?.perProcessPct ?? {}))])];
  if (names.length && steps.some((st) => st.cpu)) {
    out.push(
      'CPU per process over each step: % of one core · µs of CPU per delivered message. All-in: the system\'s processes (apps, NATS, Postgres with all its backends, Redis), not the load generators.',
      '',
      `| offered/s | ${names.map((n) => `${n}${procs[n] ? ` (${procs[n].pid}${procs[n].withChildren ? '+children' : ''})` : ''}`).join(' | ')} | all-in | machine busy % · µs/msg |`,
      `|---:|${names.map(() => '---:').join('|')}|---:|---:|`,
    );
    for (const st of steps) {
      const c = st.cpu;
      const cell = (n: string) => (c && c.perProcessPct[n] !== undefined ? `${fmt(c.perProcessPct[n])} % · ${fmt(c.usPerMsg[n])}` : '–');
      out.push(`| ${fmt(st.offeredPerSec)} | ${names.map(cell).join(' | ')} | ${c ? `${fmt(c.allInPct)} % · **${fmt(c.allInUsPerMsg)}**` : '–'} | ${c ? `${pct(c.machineBusyPct)} % · ${fmt(c.machineUsPerMsg)}` : '–'} |`);
    }
    out.push('');
  }
  // Event loops: the worst second's delay and the GC time per app.
  const loops = [...new Set(steps.flatMap((st) => Object.keys(st.loop ?? {})))].sort();
  if (loops.length) {
    out.push(
      'Event loops of the apps over each step (their ops ports, once a second): how late a 10-ms timer fired at worst in any second · the highest p99 of any second (ms; an idle loop reads 0), and GC in ms per second.',
      '',
      `| offered/s | ${loops.join(' | ')} |`,
      `|---:|${loops.map(() => '---:').join('|')}|`,
    );
    for (const st of steps) {
      const cell = (n: string) => {
        const l = st.loop?.[n];
        return l ? `${fmt(l.lagMaxMs)} · ${fmt(l.lagP99Ms)} · GC ${fmt(l.gcMsPerSec)}` : '–';
      };
      out.push(`| ${fmt(st.offeredPerSec)} | ${loops.map(cell).join(' | ')} |`);
    }
    out.push('');
  }
  const missing = s['serversNotFound'];
  if (Array.isArray(missing) && missing.length) out.push(`Not in the CPU figures (server process not found): ${(missing as S[]).map((m) => `${String(m['name'])} ${String(m['url'])}${m['note'] ? ` (${String(m['note'])})` : ''}`).join('; ')}.`, '');
  return out;
}

export function renderMarkdown(r: R): string {
  const m = (r['machine'] ?? {}) as S;
  const git = (r['git'] ?? {}) as S;
  const out: string[] = [];
  out.push(`# Benchmark results${r['quick'] ? ' (quick)' : ''}`, '');
  const reasons = notFinalReasons(r);
  if (reasons.length) out.push(`**NOT FINAL: ${reasons.join(' / ')}.** These figures are not the project's published ones.`, '');
  else out.push('Final: a full run on a clean tree.', '');
  out.push(
    `Started ${String(r['startedAt'])}, ${fmt(r['durationSeconds'])} s; commit ${String(git['commit'] ?? '?').slice(0, 10)}${git['dirty'] ? ' (dirty)' : ''}. ` +
      `Machine: ${fmt(m['cpus'])} CPUs (${String(m['cpuModel'] ?? '?')}), ${fmt(m['memGiB'])} GiB, Node ${String(m['node'])}, nats-server ${String(m['natsServer'])} (the NATS_URL server's INFO).`,
  );
  const knobs = (r['knobs'] ?? {}) as S;
  if (Object.keys(knobs).length) out.push('', `Knobs set: ${Object.entries(knobs).map(([k, v]) => `\`${k}=${String(v)}\``).join(', ')}.`);
  if (r['quick']) out.push('', '**Quick run**: small steps and short durations; the figures are real but not comparable with a full run.');
  out.push('');

  const b = r['baselines'] as S | null;
  out.push('## Baselines (raw NATS, same server)', '');
  if (!b) out.push('Not run.');
  else if (b['error']) out.push(`Failed: ${String(b['error'])}`);
  else {
    const js = (b['jetstreamPublish'] ?? {}) as S;
    const ack = (js['ackMs'] ?? {}) as S;
    out.push('| baseline | msg/s | notes |', '|---|---:|---|');
    out.push(`| JetStream publish, acked, file stream | ${fmt(b['jetstreamPublishPerSec'])} | ${fmt(js['payloadBytes'])} B, ${fmt(js['window'])} in flight, ack p50 ${fmt(ack['p50'])} ms / p99 ${fmt(ack['p99'])} ms |`);
    out.push(`| core NATS pub/sub | ${fmt(b['corePubSubPerSec'])} | one publisher, one subscriber connection |`);
  }
  out.push('');

  out.push('## Against the targets', '', '| scenario | metric | target | measured | met |', '|---|---|---|---|---|');
  const rows = Array.isArray(r['targets']) ? (r['targets'] as TargetRow[]) : evaluateTargets(r);
  for (const t of rows) out.push(`| ${t.scenario} | ${t.metric} | ${t.target} | ${t.actual.replace(/\|/g, '\\|')} | ${t.met === null ? '–' : t.met ? '✅' : '❌'} |`);
  out.push('');

  for (const s of r.scenarios) {
    out.push(`## ${String(s['name'])}${s['quick'] ? ' (quick)' : ''}`, '');
    if (s['skipped']) {
      out.push(`Skipped: ${String(s['reason'])}.`, '');
      continue;
    }
    if (s['error']) {
      out.push(`**Failed**: ${String(s['error'])}`, '');
      continue;
    }
    if (s['supported'] === false) out.push(`**Not measured**: ${String(s['reason'])}`, '');
    const scalars = Object.entries(s).filter(([k, v]) => k !== 'name' && k !== 'quick' && k !== 'reason' && (typeof v !== 'object' || v === null));
    if (scalars.length) out.push(scalars.map(([k, v]) => `${k}: **${fmt(v)}**`).join(' · '), '');
    const steps = s['steps'];
    if (isE2eSteps(steps)) out.push(...e2eTables(s, steps));
    else {
      const objs = Object.entries(s).filter(([k, v]) => k !== 'targets' && typeof v === 'object' && v !== null);
      if (objs.length) out.push('```json', JSON.stringify(Object.fromEntries(objs), null, 2).slice(0, 4000), '```', '');
    }
  }
  out.push('![latency vs delivered throughput](latest.svg)', '');
  return out.join('\n');
}

/** p50 (solid) and p99 (dashed) latency against delivered throughput per step, log latency axis. */
export function renderSvg(r: R): string {
  const W = 860;
  const H = 500;
  const L = 70;
  const Rm = 220;
  const T = 40;
  const B = 60;
  const series: Array<{ name: string; color: string; pts: Array<{ x: number; p50: number; p99: number }> }> = [];
  const colors: Record<string, string> = { 'e2e-1to1': '#1f77b4', 'e2e-1to1-sendonly': '#9467bd', 'e2e-1to1-syncalways': '#d62728', 'peer-socketio': '#2ca02c', floor: '#7f7f7f' };
  for (const name of Object.keys(colors)) {
    const s = r.scenarios.find((x) => x['name'] === name);
    const steps = s?.['steps'];
    if (!isE2eSteps(steps)) continue;
    const pts = steps
      .filter((st) => st.latencyMs.p50 !== null && st.latencyMs.p99 !== null)
      .map((st) => ({ x: st.deliveredPerSec, p50: Math.max(0.1, st.latencyMs.p50!), p99: Math.max(0.1, st.latencyMs.p99!) }));
    if (pts.length) series.push({ name, color: colors[name]!, pts });
  }
  const all = series.flatMap((s) => s.pts);
  const xMax = niceCeil(Math.max(1000, ...all.map((p) => p.x)));
  const yMinExp = Math.floor(Math.log10(Math.min(1, ...all.map((p) => p.p50))));
  const yMaxExp = Math.ceil(Math.log10(Math.max(100, ...all.map((p) => p.p99))));
  const px = (x: number) => L + (x / xMax) * (W - L - Rm);
  const py = (y: number) => T + (1 - (Math.log10(y) - yMinExp) / (yMaxExp - yMinExp)) * (H - T - B);
  const e: string[] = [];
  e.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  e.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  const notFinal = notFinalReasons(r);
  e.push(`<text x="${L}" y="20" font-size="15" font-weight="bold">Send → receive latency vs delivered throughput${r['quick'] ? ' (quick run)' : ''}</text>`);
  if (notFinal.length) e.push(`<text x="${L}" y="35" fill="#c00">NOT FINAL: ${esc(notFinal.join(' / '))}</text>`);
  for (let k = 0; k <= 5; k++) {
    const v = (xMax * k) / 5;
    e.push(`<line x1="${px(v)}" y1="${T}" x2="${px(v)}" y2="${H - B}" stroke="#eee"/>`);
    e.push(`<text x="${px(v)}" y="${H - B + 18}" text-anchor="middle">${fmt(Math.round(v))}</text>`);
  }
  for (let ex = yMinExp; ex <= yMaxExp; ex++) {
    const v = 10 ** ex;
    e.push(`<line x1="${L}" y1="${py(v)}" x2="${W - Rm}" y2="${py(v)}" stroke="#ddd"/>`);
    e.push(`<text x="${L - 6}" y="${py(v) + 4}" text-anchor="end">${v >= 1 ? fmt(v) : v}</text>`);
  }
  e.push(`<line x1="${L}" y1="${py(100)}" x2="${W - Rm}" y2="${py(100)}" stroke="#999" stroke-dasharray="2,3"/><text x="${W - Rm - 4}" y="${py(100) - 4}" text-anchor="end" fill="#777">100 ms</text>`);
  if (TARGET.sustainedPerSec <= xMax)
    e.push(`<line x1="${px(TARGET.sustainedPerSec)}" y1="${T}" x2="${px(TARGET.sustainedPerSec)}" y2="${H - B}" stroke="#999" stroke-dasharray="2,3"/><text x="${px(TARGET.sustainedPerSec) + 4}" y="${T + 14}" fill="#777">target ${fmt(TARGET.sustainedPerSec)}/s</text>`);
  e.push(`<rect x="${L}" y="${T}" width="${W - L - Rm}" height="${H - T - B}" fill="none" stroke="#333"/>`);
  e.push(`<text x="${(L + W - Rm) / 2}" y="${H - 18}" text-anchor="middle">delivered messages/s</text>`);
  e.push(`<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">latency ms (log)</text>`);
  let ly = T + 10;
  for (const s of series) {
    for (const [key, dash] of [['p50', ''], ['p99', ' stroke-dasharray="6,4"']] as const) {
      const d = s.pts.map((p, i) => `${i ? 'L' : 'M'}${px(p.x).toFixed(1)},${py(p[key]).toFixed(1)}`).join(' ');
      e.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
      for (const p of s.pts) e.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p[key]).toFixed(1)}" r="3" fill="${s.color}"/>`);
      e.push(`<line x1="${W - Rm + 15}" y1="${ly}" x2="${W - Rm + 45}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
      e.push(`<text x="${W - Rm + 52}" y="${ly + 4}">${s.name} ${key}</text>`);
      ly += 20;
    }
  }
  if (!series.length) e.push(`<text x="${(L + W - Rm) / 2}" y="${(T + H - B) / 2}" text-anchor="middle" fill="#777">no 1:1 results in this run</text>`);
  e.push('</svg>');
  return `${e.join('\n')}\n`;
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
