/**
 * The oldest nats-server this system runs on. Why (docs/architecture.md, "Minimum nats-server
 * version"): the stream leader enforces `Nats-Expected-Last-Subject-Sequence` only once it has
 * applied its log (leader completeness, 2.11); per-message TTL and KV key TTL with subject
 * delete markers (2.11); consumers with several filter subjects (2.10);
 * `jetstream { sync_interval: always }` (2.10).
 *
 * scripts/services.sh reads the version from the line below: keep it on one line, in this form.
 */
export const MIN_NATS_SERVER_VERSION = '2.11.0';

/** One line for error messages: what the minimum buys. */
export const MIN_NATS_SERVER_REASON =
  'optimistic concurrency on replicated streams needs leader completeness, leases need KV key TTL with delete markers (2.11); consumers use several filter subjects (2.10)';

interface Parsed {
  core: [number, number, number];
  pre: string[];
}

/** `2.9.10`, `v2.11.0`, `2.11.0-RC.1`, `2.10.1+build`; undefined when it is none of these. */
function parse(version: string): Parsed | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]*)?$/.exec(version.trim());
  if (!m) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)], pre: m[4] ? m[4].split('.') : [] };
}

/**
 * Semver order of two versions: negative when a < b, 0 when equal, positive when a > b. The
 * numbers compare as numbers (2.9.10 < 2.11.0), a pre-release sorts before its release
 * (2.11.0-RC.1 < 2.11.0), build metadata is ignored. Throws on something that is not a version.
 */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa) throw new Error(`not a version: "${a}"`);
  if (!pb) throw new Error(`not a version: "${b}"`);
  for (let i = 0; i < 3; i++) {
    const d = pa.core[i]! - pb.core[i]!;
    if (d !== 0) return Math.sign(d);
  }
  if (!pa.pre.length && !pb.pre.length) return 0;
  if (!pa.pre.length) return 1;
  if (!pb.pre.length) return -1;
  for (let i = 0; i < Math.max(pa.pre.length, pb.pre.length); i++) {
    const x = pa.pre[i];
    const y = pb.pre[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Math.sign(Number(x) - Number(y));
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** True when `version` (as a nats-server reports it) is at least the minimum; false for a missing or unreadable one. */
export function natsServerSupported(version: string | undefined, min: string = MIN_NATS_SERVER_VERSION): boolean {
  if (!version || !parse(version)) return false;
  return compareVersions(version, min) >= 0;
}
