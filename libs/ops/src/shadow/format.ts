import type { ProjectionKey } from '@chat/postgres';
import { formatTable } from '../table';
import type { DiffExample } from './diff';
import type { BuildReport, DiffReport, SwapReport } from './rebuild';

const value = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const keyText = (key: Record<string, unknown>): string =>
  Object.entries(key)
    .map(([k, v]) => `${k}=${value(v)}`)
    .join(' ');
const positionsText = (p: Partial<Record<ProjectionKey, number>>): string =>
  Object.entries(p)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');

function exampleText(table: string, e: DiffExample): string {
  const where = `${table} ${keyText(e.key)}`;
  if (e.kind === 'only-live') return `${where}: only live`;
  if (e.kind === 'only-shadow') return `${where}: only in the shadow`;
  const cols = Object.entries(e.columns ?? {}).map(([c, d]) => `${c} live ${value(d.live)}, shadow ${value(d.shadow)}`);
  return `${where}: ${cols.join('; ')}`;
}

/** What `chatctl rebuild --shadow` prints: the build, the table of counts, examples, what to do next. */
export function formatShadow(build: BuildReport, diff: DiffReport): string {
  const extra = build.built.filter((k) => !build.projections.includes(k));
  const lines = [
    `${build.schema}: ${build.projections.join(', ')}${extra.length ? ` (with ${extra.join(', ')}, which ${build.projections.length > 1 ? 'they read' : 'it reads'})` : ''} rebuilt: ${build.events} event(s) applied up to ${build.position}`,
  ];
  if (build.seed) {
    const s = build.seed.written;
    lines.push(
      `seed: ${build.seed.stats.snapshots} snapshot(s); restored ${s.conversations} conversation(s), ${s.members} member(s), ${s.listRows} list row(s), ${s.receipts} watermark(s), ${s.mutes} mute(s), ${s.userSettings} privacy setting(s), ${s.blocks} block(s)` +
        (build.seed.stats.invalid ? `; ${build.seed.stats.invalid} invalid key(s) skipped` : ''),
    );
  }
  lines.push(`compared at position ${diff.positions.shadow} (live: ${positionsText(diff.positions.live)})`);
  if (!diff.consistent) {
    lines.push(
      'warning: the live position kept moving (or the live checkpoints differ): rows the events in between touched show up as differences; compare again once the projector has caught up',
    );
  }
  lines.push(
    '',
    formatTable(diff.tables, [
      ['table', 'TABLE'],
      ['live', 'LIVE'],
      ['shadow', 'SHADOW'],
      ['onlyLive', 'ONLY LIVE'],
      ['onlyShadow', 'ONLY SHADOW'],
      ['different', 'DIFFERENT'],
    ]),
  );
  const examples = diff.tables.flatMap((t) => t.examples.map((e) => exampleText(t.table, e)));
  if (examples.length) lines.push('', ...examples);
  const ignored = Object.entries(diff.ignoredColumns).flatMap(([t, cols]) => cols.map((c) => `${t}.${c}`));
  if (ignored.length) lines.push('', `not compared: ${ignored.join(', ')}`);
  const keys = diff.projections.join(' ');
  lines.push(
    '',
    diff.differences
      ? `${diff.differences} row(s) differ. The swap would replace the live rows with the shadow's: chatctl rebuild ${keys} --swap (or drop the shadow: chatctl rebuild --discard)`
      : `no differences: the live tables equal the rebuild. Drop the shadow: chatctl rebuild --discard (or swap it in anyway: chatctl rebuild ${keys} --swap)`,
  );
  return lines.join('\n');
}

export function formatSwap(r: SwapReport): string {
  const moved = Object.entries(r.livePositions).filter(([, p]) => p !== r.position);
  return [
    `swapped ${r.projections.join(', ')} in from ${r.schema} at position ${r.position} (${r.tables.join(', ')}); the shadow is dropped`,
    moved.length
      ? `checkpoints moved: ${moved.map(([k, p]) => `${k} ${p} -> ${r.position}`).join(', ')} (a running projector re-reads from its lowest checkpoint)`
      : 'checkpoints unchanged: a running projector continues where it was',
    ...(r.cacheUsers ? [`conversation lists invalidated in the cache: ${r.cacheUsers} user(s)`] : []),
  ].join('\n');
}
