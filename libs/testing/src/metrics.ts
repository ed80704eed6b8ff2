/**
 * Reading an app's Prometheus metrics (its ops port's `/metrics`), for tests and the benchmark:
 * one parser instead of a regular expression per caller.
 */

/** One sample of the text exposition format. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const unescape = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/** Pure: the samples of a `/metrics` text (comments and malformed lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line.trim());
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = unescape(l[2]!);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/**
 * Pure: the sum of the samples named `name` whose labels include every one of `labels` (a
 * counter split by labels the caller does not name adds up); 0 when there is none.
 */
export function metricSum(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Fetches and parses an app's `/metrics` (`opsUrl`: its ops port, e.g. http://127.0.0.1:9470). */
export async function scrapeMetrics(opsUrl: string): Promise<MetricSample[]> {
  const res = await fetch(`${opsUrl}/metrics`);
  if (!res.ok) throw new Error(`${opsUrl}/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

/** `metricSum` of an app's current `/metrics`. */
export async function metricValue(opsUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return metricSum(await scrapeMetrics(opsUrl), name, labels);
}
