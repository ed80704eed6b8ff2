import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { promisify } from 'node:util';
import { createGzip, gzip as gzipCb } from 'node:zlib';
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { z } from 'zod';
import type { S3Location } from './s3';

const gzip = promisify(gzipCb);

/** Where the lines go. */
export interface Sink {
  /** Appends one NDJSON line (without its newline), the event of `seq`. */
  write(line: string, seq: number): Promise<void>;
  /** Every event up to `seq` has been read (written or left out): a point a resume may continue after. */
  covered(seq: number): void;
  /** Nothing arrived for a while (following): make what is buffered visible. */
  idle(): Promise<void>;
  /** The export is complete. */
  close(): Promise<void>;
  /** The export stopped early (an error, an interrupt): keep what is complete, or nothing. */
  abort(): Promise<void>;
}

/** An output: where a resumed export continues, and the sink for a seq range. */
export interface Target {
  /** Human-readable, for messages. */
  name: string;
  /** The seq a resumed export continues after (0 = from the start); refuses an output made with another selection. */
  resumeAfter(signature: string): Promise<number>;
  /** The sink for the range [from, to] (the names of S3 objects carry it). */
  open(range: { from: number; to: number }, signature: string): Promise<Sink>;
  /** Whether an empty range still makes an output (a file does; S3 writes no object for nothing). */
  writesEmpty: boolean;
}

async function writeAll(w: Writable, chunk: string | Buffer, failed?: Promise<never>): Promise<void> {
  if (!w.write(chunk)) await (failed ? Promise.race([once(w, 'drain'), failed]) : once(w, 'drain'));
}

/** Standard output, gzipped with --gzip. */
export function stdoutTarget(gz: boolean): Target {
  return {
    name: 'standard output',
    writesEmpty: true,
    resumeAfter: async () => 0,
    async open() {
      const out = process.stdout;
      if (!gz) {
        return {
          write: (line) => writeAll(out, `${line}\n`),
          covered: () => undefined,
          idle: async () => undefined,
          close: async () => undefined,
          abort: async () => undefined,
        };
      }
      const z = createGzip();
      z.pipe(out, { end: false });
      const end = async () => {
        z.end();
        await once(z, 'end');
      };
      return {
        write: (line) => writeAll(z, `${line}\n`),
        covered: () => undefined,
        // A sync flush makes what is compressed so far readable downstream (`--follow | zcat`).
        idle: () => new Promise<void>((r) => z.flush(r)),
        close: end,
        abort: end,
      };
    },
  };
}

/** `<out>.state` beside a gzip file: the file's size after its last complete member, and the last seq that member covers. */
const FileState = z.object({ v: z.literal(1), lastSeq: z.number().int().nonnegative(), size: z.number().int().nonnegative(), selection: z.string() });
type FileState = z.infer<typeof FileState>;

/** Lines buffered before a write (and, gzipped, one gzip member and one state update). */
const FILE_CHUNK_BYTES = 1024 * 1024;

/**
 * A file. Plain NDJSON: a resume drops a partial last line and continues after the last complete
 * one. Gzip: the file is a series of gzip members (one per write of about 1 MiB of lines, which
 * gunzip and zcat read as one stream); after each member is written and synced, `<out>.state`
 * records the file's size and the last seq read, so a resume cuts off whatever came after the
 * last recorded member and continues after its seq.
 */
export function fileTarget(path: string, gz: boolean, resume: boolean): Target {
  const statePath = `${path}.state`;
  let start: { size: number; lastSeq: number } | undefined;

  const size = async (p: string) => (await stat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e))))?.size ?? null;

  async function resumeAfter(signature: string): Promise<number> {
    const bytes = await size(path);
    if (!resume) {
      if (bytes) throw new Error(`${path} exists: --resume continues it; remove it to start over`);
      start = { size: 0, lastSeq: 0 };
      return 0;
    }
    if (!bytes) {
      start = { size: 0, lastSeq: 0 };
      return 0;
    }
    if (gz) {
      const text = await readFile(statePath, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
      if (text === null) throw new Error(`${statePath} is missing: without it the end of the last complete part of ${path} is unknown; remove ${path} to start over`);
      const parsed = FileState.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`${statePath} is not a state file of chatctl events`);
      const st: FileState = parsed.data;
      if (st.selection !== signature) throw new Error(`${path} was written with other --type/--conversation/--subject filters (${st.selection}); resume it with the same ones`);
      if (bytes < st.size) throw new Error(`${path} is shorter (${bytes} bytes) than its state says (${st.size}): it was changed; remove it and ${statePath} to start over`);
      start = { size: st.size, lastSeq: st.lastSeq };
      return st.lastSeq;
    }
    const tail = await lastCompleteLine(path, bytes);
    start = { size: tail.end, lastSeq: tail.seq };
    return tail.seq;
  }

  async function openSink(_range: { from: number; to: number }, signature: string): Promise<Sink> {
    if (!start) throw new Error('resumeAfter() first');
    const fh: FileHandle = await open(path, start.size > 0 ? 'r+' : 'w');
    // Whatever follows the last complete line (or recorded gzip member) is an interrupted write.
    await fh.truncate(start.size);
    if (gz && start.size === 0) await rm(statePath, { force: true });
    let position = start.size;
    let lines: string[] = [];
    let buffered = 0;
    let covered = start.lastSeq;
    let failed = false;

    const flush = async (): Promise<void> => {
      // A gzip file's state also moves on when only left-out events were read since.
      const nothingNew = !lines.length && (!gz || covered === start!.lastSeq);
      if (nothingNew) return;
      const text = lines.length ? `${lines.join('\n')}\n` : '';
      lines = [];
      buffered = 0;
      const data = gz ? (text ? await gzip(text) : Buffer.alloc(0)) : Buffer.from(text);
      for (let off = 0; off < data.length; ) {
        const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
        off += bytesWritten;
      }
      position += data.length;
      if (gz) {
        await fh.datasync();
        const state: FileState = { v: 1, lastSeq: covered, size: position, selection: signature };
        await writeFile(`${statePath}.tmp`, JSON.stringify(state));
        await rename(`${statePath}.tmp`, statePath);
        start = { size: position, lastSeq: covered };
      }
    };
    const finish = async () => {
      await flush();
      await fh.datasync();
      await fh.close();
    };
    return {
      async write(line, seq) {
        lines.push(line);
        covered = seq;
        buffered += Buffer.byteLength(line) + 1;
        if (buffered >= FILE_CHUNK_BYTES) {
          try {
            await flush();
          } catch (e) {
            failed = true;
            throw e;
          }
        }
      },
      covered: (seq) => void (covered = seq),
      idle: flush,
      close: finish,
      async abort() {
        // Buffered lines are complete: keep them, so that a resume does not read them again.
        if (failed) await fh.close().catch(() => undefined);
        else await finish().catch(() => fh.close().catch(() => undefined));
      },
    };
  }

  return { name: path, writesEmpty: true, resumeAfter, open: openSink };
}

/** The byte offset just past the file's last newline, and the seq of the line that newline ends. */
async function lastCompleteLine(path: string, bytes: number): Promise<{ end: number; seq: number }> {
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let pos = bytes;
    let end = -1;
    let line: string | undefined;
    while (pos > 0 && line === undefined) {
      const len = Math.min(64 * 1024, pos);
      pos -= len;
      const chunk = Buffer.alloc(len);
      await fh.read(chunk, 0, len, pos);
      buf = Buffer.concat([chunk, buf]);
      if (end < 0) {
        const nl = buf.lastIndexOf(0x0a);
        if (nl < 0) continue;
        end = pos + nl + 1;
      }
      const before = end - 2 - pos;
      const prev = before >= 0 ? buf.lastIndexOf(0x0a, before) : -1;
      if (prev >= 0 || pos === 0) line = buf.subarray(prev + 1, end - 1 - pos).toString('utf8');
    }
    if (end < 0 || line === undefined) return { end: 0, seq: 0 };
    const parsed = z.object({ seq: z.number().int().positive() }).safeParse(safeJson(line));
    if (!parsed.success) throw new Error(`${path}: its last complete line is not an event line of chatctl events; cannot resume it`);
    return { end, seq: parsed.data.seq };
  } finally {
    await fh.close();
  }
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};

const OBJECT = /^events-(\d+)-(\d+)\.ndjson(\.gz)?$/;
const selectionTag = (signature: string) => createHash('sha256').update(signature).digest('hex').slice(0, 32);

/**
 * One S3 object per export, `<prefix>/events-<from>-<to>.ndjson[.gz]`: every event of the
 * selection with a seq in from..to. Streamed through a multipart upload (parts of 8 MiB, four at
 * a time): memory stays bounded however long the range. The object exists only once the upload
 * completed, so an export that stopped left nothing half-written; a resume (`--resume`) lists the
 * objects under the prefix and continues after the highest `to`.
 */
export function s3Target(s3: S3Client, loc: S3Location, gz: boolean, resume: boolean): Target {
  const keyPrefix = loc.prefix ? `${loc.prefix}/` : '';
  return {
    name: `s3://${loc.bucket}/${loc.prefix}`,
    writesEmpty: false,
    async resumeAfter(signature) {
      if (!resume) return 0;
      let best: { key: string; to: number } | undefined;
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: loc.bucket, Prefix: `${keyPrefix}events-`, ...(token ? { ContinuationToken: token } : {}) }));
        for (const { Key } of page.Contents ?? []) {
          const m = Key ? OBJECT.exec(Key.slice(keyPrefix.length)) : null;
          if (m && (!best || Number(m[2]) > best.to)) best = { key: Key!, to: Number(m[2]) };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      if (!best) return 0;
      const head = await s3.send(new HeadObjectCommand({ Bucket: loc.bucket, Key: best.key }));
      if (head.Metadata?.['chat-selection'] !== selectionTag(signature)) {
        throw new Error(`s3://${loc.bucket}/${best.key} was exported with other --type/--conversation/--subject filters; resume with the same ones, or use another prefix`);
      }
      return best.to;
    },
    async open(range, signature) {
      const key = `${keyPrefix}events-${range.from}-${range.to}.ndjson${gz ? '.gz' : ''}`;
      const body = gz ? createGzip() : new PassThrough();
      const upload = new Upload({
        client: s3,
        params: {
          Bucket: loc.bucket,
          Key: key,
          Body: body,
          ContentType: gz ? 'application/gzip' : 'application/x-ndjson',
          Metadata: { 'chat-selection': selectionTag(signature) },
        },
        partSize: 8 * 1024 * 1024,
        queueSize: 4,
        leavePartsOnError: false,
      });
      const done = upload.done();
      const failed = done.then(
        () => new Promise<never>(() => undefined),
        (e: unknown) => Promise.reject(e),
      );
      failed.catch(() => undefined);
      return {
        write: (line) => writeAll(body, `${line}\n`, failed),
        covered: () => undefined,
        idle: async () => undefined,
        async close() {
          body.end();
          await done;
        },
        async abort() {
          await upload.abort().catch(() => undefined);
          body.destroy();
          await done.catch(() => undefined);
        },
      };
    },
  };
}
