import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ARCHIVE_HOUR_MS, archiveEventsPrefix, hourPath, parseArchiveKey, type ArchiveObject } from './layout';
import { mergeBySeq } from './merge';
import type { EventFilter } from './plan';
import { EventLine, rawFromLine, type RawEvent } from './record';
import type { S3Location } from './s3';
import type { Source } from './source';

export interface ArchiveSourceOptions {
  after: number;
  /** A line of an object that cannot be read (counted as a bad event), or an ignored key. */
  onBadLine(message: string): void;
  onIgnoredKey(key: string): void;
}

/** The objects of a namespace's archive that may hold events of the filter's seq and time range. */
export async function listArchive(s3: S3Client, loc: S3Location, ns: string, f: Pick<EventFilter, 'fromSeq' | 'toSeq' | 'sinceMs' | 'untilMs'>, onIgnoredKey: (key: string) => void = () => undefined): Promise<ArchiveObject[]> {
  const base = archiveEventsPrefix(loc.prefix, ns);
  // Hour directories sort in time order: listing starts at the --since hour.
  const startAfter = f.sinceMs !== undefined ? `${base}${hourPath(f.sinceMs)}` : undefined;
  const out: ArchiveObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: base, ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}) }),
    );
    for (const { Key: key } of page.Contents ?? []) {
      if (!key) continue;
      const o = parseArchiveKey(base, key);
      if (!o) {
        onIgnoredKey(key);
        continue;
      }
      if (f.untilMs !== undefined && o.hourMs >= f.untilMs) return out;
      if (f.sinceMs !== undefined && o.hourMs + ARCHIVE_HOUR_MS <= f.sinceMs) continue;
      if (o.lastSeq < (f.fromSeq ?? 1) || o.firstSeq > (f.toSeq ?? Infinity)) continue;
      out.push(o);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

/**
 * The archive (docs/analytics.md) read back: the objects that may hold the range, merged by seq
 * with duplicates dropped (an object may be rewritten after a crash of the archive).
 */
export async function openArchiveSource(s3: S3Client, loc: S3Location, ns: string, f: EventFilter, o: ArchiveSourceOptions): Promise<Source> {
  const lower = Math.max(f.fromSeq ?? 1, o.after + 1);
  const objects = await listArchive(s3, loc, ns, { ...f, fromSeq: lower }, o.onIgnoredKey);
  const from = Math.max(lower, objects.reduce((m, x) => Math.min(m, x.firstSeq), Infinity));
  const to = Math.min(f.toSeq ?? Infinity, objects.reduce((m, x) => Math.max(m, x.lastSeq), 0));
  return {
    from,
    to,
    estimate: () => undefined,
    events: () => mergeBySeq(objects.map((obj) => ({ firstSeq: obj.firstSeq, open: () => readObject(s3, loc.bucket, obj, o.onBadLine) }))),
  };
}

async function* readObject(s3: S3Client, bucket: string, obj: ArchiveObject, onBadLine: (message: string) => void): AsyncGenerator<RawEvent> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: obj.key }));
  const body = res.Body as Readable | undefined;
  if (!body) throw new Error(`archive object ${obj.key}: no body`);
  const lines = createInterface({ input: body.pipe(createGunzip()), crlfDelay: Infinity });
  let n = 0;
  let last = 0;
  try {
    for await (const text of lines) {
      n++;
      if (!text) continue;
      let line: EventLine;
      try {
        const r = EventLine.safeParse(JSON.parse(text));
        if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || '(line)'}: ${i.message}`).join('; '));
        line = r.data;
      } catch (e) {
        onBadLine(`archive object ${obj.key} line ${n}: ${(e as Error).message}`);
        continue;
      }
      // The key names the object's seq range and its lines are in order: a line outside either is not trusted.
      if (line.seq < obj.firstSeq || line.seq > obj.lastSeq || line.seq <= last) {
        onBadLine(`archive object ${obj.key} line ${n}: seq ${line.seq} out of order or outside ${obj.firstSeq}-${obj.lastSeq}`);
        continue;
      }
      last = line.seq;
      yield rawFromLine(line);
    }
  } catch (e) {
    throw new Error(`archive object ${obj.key}: ${(e as Error).message}`, { cause: e });
  } finally {
    lines.close();
    body.destroy();
  }
}
