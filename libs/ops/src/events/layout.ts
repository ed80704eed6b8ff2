/**
 * The archive's object layout:
 *   <prefix>/<ns or "default">/events/YYYY/MM/DD/HH/<firstSeq>-<lastSeq>.ndjson.gz
 * HH is the UTC hour of the events' stream time: an object holds events of one hour only, in
 * seq order, gzipped NDJSON (EventLine). Several objects per hour are normal, and objects may
 * overlap (an object rewritten after a crash): readers merge by seq and keep one of each.
 */

const HOUR_MS = 3_600_000;
const KEY = /^(\d{4})\/(\d{2})\/(\d{2})\/(\d{2})\/(\d+)-(\d+)\.ndjson\.gz$/;

/** The key prefix of a namespace's archived events, ending in `/`. */
export function archiveEventsPrefix(prefix: string, ns: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return `${p ? `${p}/` : ''}${ns || 'default'}/events/`;
}

/** `YYYY/MM/DD/HH` of a time (UTC). */
export function hourPath(timeMs: number): string {
  return new Date(Math.floor(timeMs / HOUR_MS) * HOUR_MS).toISOString().slice(0, 13).replace(/[-T]/g, '/');
}

export function archiveObjectKey(eventsPrefix: string, hourMs: number, firstSeq: number, lastSeq: number): string {
  return `${eventsPrefix}${hourPath(hourMs)}/${firstSeq}-${lastSeq}.ndjson.gz`;
}

export interface ArchiveObject {
  key: string;
  /** Start of the hour its events belong to, ms. */
  hourMs: number;
  firstSeq: number;
  lastSeq: number;
}

/** An archive object from its key, or null for a key that is not one. */
export function parseArchiveKey(eventsPrefix: string, key: string): ArchiveObject | null {
  if (!key.startsWith(eventsPrefix)) return null;
  const m = KEY.exec(key.slice(eventsPrefix.length));
  if (!m) return null;
  const hourMs = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:00:00Z`);
  const firstSeq = Number(m[5]);
  const lastSeq = Number(m[6]);
  if (Number.isNaN(hourMs) || !Number.isSafeInteger(lastSeq) || firstSeq < 1 || firstSeq > lastSeq) return null;
  return { key, hourMs, firstSeq, lastSeq };
}

export const ARCHIVE_HOUR_MS = HOUR_MS;
