/** latest.md and latest.svg from a result object (latest.json). No dependencies. */
import type { E2eStep } from './lib/e2e';

type R = Record<string, unknown> & { scenarios: Array<Record<string, unknown>> };

/**
 * Targets: each is checked against latest.json. A scenario may also return its own
 * `targets: [{metric, target, actual, met}]`; those rows are added as they are.
 */
export const TARGETS: Array<{ scenario: string; metric: string; target: string; check: (s: Record<string, unknown>) => { actual: string; met: boolean } | null }> = [
  {
    scenario: 'e2e-1to1',
    metric: 'connected clients',
    target: '≥ 1,000',
    check: (s) => (typeof s['connections'] === 'number' ? { actual: fmt(s['connections']), met: s['connections'] >= 1000 } : null),
  },
  {
    scenario: 'e2e-1to1',
    metric: 'max sustained 1:1 rate (≥ 99 % delivered, p99 < 100 ms)',
    target: '8,000 msg/s (top step)',
    check: (s) => ({ actual: s['maxSustainedPerSec'] == null ? 'none' : `${fmt(s['maxSustainedPerSec'])} msg/s`, met: Number(s['maxSustainedPerSec'] ?? 0) >= 8000 }),
  },
  {
    scenario: 'e2e-1to1',
    metric: 'p99 send → receive at the sustained rate',
    target: '< 100 ms',
    check: (s) => {
      const st = sustainedStep(s);
      return st ? { actual: `${st.latencyMs.p99} ms @ ${fmt(st.offeredPerSec)}/s`, met: (st.latencyMs.p99 ?? Infinity) < 100 } : { actual: 'no sustained step', met: false };
    },
  },
  {
    scenario: 'e2e-1to1-syncalways',
    metric: 'measured with fsync on every write (sync_interval: always)',
    target: 'measured',
    check: (s) => (s['supported'] === false ? { actual: `not measured: ${String(s['reason'] ?? '')}`, met: false } : { actual: `max sustained ${s['maxSustainedPerSec'] == null ? 'none' : `${fmt(s['maxSustainedPerSec'])} msg/s`}`, met: s['maxSustainedPerSec'] != null }),
  },
];

function sustainedStep(s: Record<string, unknown>): E2eStep | undefined {
  const steps = (s['steps'] as E2eStep[] | undefined) ?? [];
  return steps.filter((x) => x.sustained).sort((a, b) => b.offeredPerSec - a.offeredPerSec)[0];
}

const fmt = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : v == null ? '–' : String(v));

function isE2eSteps(v: unknown): v is E2eStep[] {
  return Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null && 'offeredPerSec' in v[0] && 'latencyMs' in v[0];
}

export function renderMarkdown(r: R): string {
  const m = (r['machine'] ?? {}) as Record<string, unknown>;
  const git = (r['git'] ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  out.push(`# Benchmark results${r['quick'] ? ' (quick)' : ''}`, '');
  out.push(
    `Started ${String(r['startedAt'])}, ${fmt(r['durationSeconds'])} s; commit ${String(git['commit'] ?? '?').slice(0, 10)}${git['dirty'] ? ' (dirty)' : ''}. ` +
      `Machine: ${fmt(m['cpus'])} CPUs (${String(m['cpuModel'] ?? '?')}), ${fmt(m['memGiB'])} GiB, Node ${String(m['node'])}, nats-server ${String(m['natsServer'])}.`,
  );
  if (r['quick']) out.push('', '**Quick run**: small steps and short durations; the figures are real but not comparable with a full run.');
  out.push('');

  const b = r['baselines'] as Record<string, unknown> | null;
  out.push('## Baselines (raw NATS, same server)', '');
  if (!b) out.push('Not run.');
  else if (b['error']) out.push(`Failed: ${String(b['error'])}`);
  else {
    const js = (b['jetstreamPublish'] ?? {}) as Record<string, unknown>;
    const ack = (js['ackMs'] ?? {}) as Record<string, unknown>;
    out.push('| baseline | msg/s | notes |', '|---|---:|---|');
    out.push(`| JetStream publish, acked, file stream | ${fmt(b['jetstreamPublishPerSec'])} | ${fmt(js['payloadBytes'])} B, ${fmt(js['window'])} in flight, ack p50 ${fmt(ack['p50'])} ms / p99 ${fmt(ack['p99'])} ms |`);
    out.push(`| core NATS pub/sub | ${fmt(b['corePubSubPerSec'])} | one publisher, one subscriber connection |`);
  }
  out.push('');

  out.push('## Against the targets', '', '| scenario | metric | target | measured | met |', '|---|---|---|---|---|');
  const byName = new Map(r.scenarios.map((s) => [String(s['name']), s]));
  for (const t of TARGETS) {
    const s = byName.get(t.scenario);
    if (!s || s['skipped'] || s['error']) {
      out.push(`| ${t.scenario} | ${t.metric} | ${t.target} | ${s ? (s['error'] ? `error: ${String(s['error']).slice(0, 80)}` : 'skipped') : 'not run'} | – |`);
      continue;
    }
    const c = t.check(s);
    out.push(`| ${t.scenario} | ${t.metric} | ${t.target} | ${c ? c.actual : '–'} | ${c ? (c.met ? '✅' : '❌') : '–'} |`);
  }
  for (const s of r.scenarios) {
    const own = s['targets'];
    if (!Array.isArray(own) && typeof s['meetsTarget'] === 'boolean') {
      const t = Object.entries(s).filter(([k]) => /^target/i.test(k)).map(([k, v]) => `${k} ${fmt(v)}`).join(', ');
      out.push(`| ${String(s['name'])} | its own target | ${t || '–'} | see below | ${s['meetsTarget'] ? '✅' : '❌'} |`);
    }
    if (!Array.isArray(own)) continue;
    for (const t of own as Array<Record<string, unknown>>)
      out.push(`| ${String(s['name'])} | ${String(t['metric'])} | ${fmt(t['target'])} | ${fmt(t['actual'])} | ${t['met'] === undefined ? '–' : t['met'] ? '✅' : '❌'} |`);
  }
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
    const scalars = Object.entries(s).filter(([k, v]) => k !== 'name' && k !== 'quick' && (typeof v !== 'object' || v === null));
    if (scalars.length) out.push(scalars.map(([k, v]) => `${k}: **${fmt(v)}**`).join(' · '), '');
    const steps = s['steps'];
    if (isE2eSteps(steps)) {
      out.push(
        '| offered/s | sent/s | delivered/s | delivered % | p50 ms | p95 ms | p99 ms | max ms | ack p50 ms | ack p99 ms | errors | not sent | gen lag p99 ms | gen CPU % | machine busy % | top processes (CPU %) | sustained |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
      );
      for (const st of steps) {
        const top = st.cpu
          ? Object.entries(st.cpu.perProcessPct)
              .filter(([, v]) => v >= 5)
              .sort((a, b) => b[1] - a[1])
              .slice(0, 5)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')
          : '';
        out.push(
          `| ${fmt(st.offeredPerSec)} | ${fmt(st.sentPerSec)} | ${fmt(st.deliveredPerSec)} | ${fmt(st.deliveredRatio * 100)} | ${fmt(st.latencyMs.p50)} | ${fmt(st.latencyMs.p95)} | ${fmt(st.latencyMs.p99)} | ${fmt(st.latencyMs.max)} | ${fmt(st.sentAckMs.p50)} | ${fmt(st.sentAckMs.p99)} | ${fmt(st.errors)} | ${fmt(st.notSent)} | ${fmt(st.generatorSendLagP99Ms)} | ${fmt(st.generatorCpuPct)} | ${fmt(st.cpu?.machineBusyPct)} | ${top} | ${st.sustained ? '✅' : '❌'} |`,
        );
      }
      out.push('');
    } else {
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
  const colors: Record<string, string> = { 'e2e-1to1': '#1f77b4', 'e2e-1to1-syncalways': '#d62728', 'peer-socketio': '#2ca02c' };
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
  e.push(`<text x="${L}" y="22" font-size="15" font-weight="bold">Send → receive latency vs delivered throughput${r['quick'] ? ' (quick run)' : ''}</text>`);
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

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
