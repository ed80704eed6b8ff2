import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Consumer, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ARCHIVE_HOUR_MS, archiveLine, archiveObjectKey, rawFromPayload, streamTimeMs } from '@chat/ops';

const gzip = promisify(gzipCb);

export interface ArchiveWorkerOptions {
  js: JetStreamClient;
  stream: string;
  /** The durable (archiveConsumerConfig); it must exist. */
  consumer: string;
  s3: S3Client;
  bucket: string;
  /** archiveEventsPrefix(CHAT_ARCHIVE_PREFIX, CHAT_NS). */
  eventsPrefix: string;
  maxEvents: number;
  maxBytes: number;
  maxDelayMs: number;
  log: Logger;
  /** Longest one pull waits for messages, ms (≥ 1000); bounds how long stop() takes. */
  fetchExpiresMs?: number;
  /** First wait after a failed upload, doubled up to 30 s. */
  retryMs?: number;
  /** Resolves once the server has every message sent so far (the connection's flush): the acks of an object. */
  flush: () => Promise<void>;
}

export interface ArchiveStats {
  events: number;
  objects: number;
  /** Gzipped bytes written. */
  bytes: number;
  uploadFailures: number;
  /** Deliveries of an event already in the object being filled (a redelivery after the ack wait). */
  redeliveries: number;
  /** The highest seq written to S3 (0: none yet). */
  lastSeq: number;
}

interface Pending {
  hourMs: number;
  /** When the first event of the object arrived, ms. */
  since: number;
  bytes: number;
  bySeq: Map<number, { msg: JsMsg; line: string }>;
}

/**
 * Writes CHAT_EVENTS to S3 as gzipped NDJSON objects, one hour of stream time per object
 * (docs/analytics.md, "The archive"). Events are gathered from the durable until the object has
 * `maxEvents` events or `maxBytes` bytes, its first event waited `maxDelayMs`, or an event of
 * another hour arrives; the object is then put, and only once S3 has it are its events acked.
 * A crash between the put and the acks re-sends those events, which land in a later object
 * again: harmless, since every line carries its seq and readers keep one line per seq.
 */
export class ArchiveWorker {
  readonly stats: ArchiveStats = { events: 0, objects: 0, bytes: 0, uploadFailures: 0, redeliveries: 0, lastSeq: 0 };
  /** Since when uploads fail (null: the last one succeeded). */
  failingSince: number | null = null;
  readonly done: Promise<void>;
  private pending: Pending | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly o: ArchiveWorkerOptions,
    consumer: Consumer,
  ) {
    this.done = this.run(consumer);
  }

  static async start(o: ArchiveWorkerOptions): Promise<ArchiveWorker> {
    return new ArchiveWorker(o, await o.js.consumers.get(o.stream, o.consumer));
  }

  /** Stops pulling, writes what is gathered (a few attempts), and resolves once done. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.done;
  }

  private async run(consumer: Consumer): Promise<void> {
    const expiresMs = Math.max(1_000, this.o.fetchExpiresMs ?? 5_000);
    while (!this.stopping) {
      const age = this.pending ? Date.now() - this.pending.since : 0;
      if (this.pending && age >= this.o.maxDelayMs) {
        await this.flush();
        continue;
      }
      const msgs: JsMsg[] = [];
      try {
        const room = this.o.maxEvents - (this.pending?.bySeq.size ?? 0);
        const wait = this.pending ? Math.min(expiresMs, Math.max(1_000, this.o.maxDelayMs - age)) : expiresMs;
        const batch = await consumer.fetch({ max_messages: Math.max(1, Math.min(1_000, room)), expires: wait });
        for await (const m of batch) msgs.push(m);
      } catch (err) {
        if (this.stopping) break;
        this.o.log.warn({ err }, 'pulling events failed; retrying');
        await this.sleep(this.o.retryMs ?? 1_000);
      }
      // Gathered first, then handled: a flush (an upload) must not hold a pull open.
      for (const m of msgs) await this.add(m);
    }
    await this.flush();
  }

  private async add(m: JsMsg): Promise<void> {
    const raw = rawFromPayload(m.seq, m.subject, streamTimeMs(m.info.timestampNanos), m.data);
    const hourMs = Math.floor(raw.timeMs / ARCHIVE_HOUR_MS) * ARCHIVE_HOUR_MS;
    if (this.pending && this.pending.hourMs !== hourMs) await this.flush();
    const p = (this.pending ??= { hourMs, since: Date.now(), bytes: 0, bySeq: new Map() });
    const known = p.bySeq.get(m.seq);
    if (known) {
      known.msg = m;
      this.stats.redeliveries++;
      return;
    }
    const line = archiveLine(raw);
    p.bySeq.set(m.seq, { msg: m, line });
    p.bytes += Buffer.byteLength(line) + 1;
    if (p.bySeq.size >= this.o.maxEvents || p.bytes >= this.o.maxBytes) await this.flush();
  }

  /** Puts the gathered object, retrying until S3 takes it, then acks its events. */
  private async flush(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    const entries = [...p.bySeq.entries()].sort((a, b) => a[0] - b[0]);
    const first = entries[0]![0];
    const last = entries.at(-1)![0];
    const key = archiveObjectKey(this.o.eventsPrefix, p.hourMs, first, last);
    const body = await gzip(`${entries.map(([, e]) => e.line).join('\n')}\n`);
    const md5 = createHash('md5').update(body).digest('base64');
    let delay = this.o.retryMs ?? 1_000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.s3.send(new PutObjectCommand({ Bucket: this.o.bucket, Key: key, Body: body, ContentType: 'application/gzip', ContentMD5: md5 }));
        this.failingSince = null;
        break;
      } catch (err) {
        this.stats.uploadFailures++;
        this.failingSince ??= Date.now();
        if (this.stopping && attempt >= 3) {
          // Never acked, so redelivered to the next archive once the ack wait passes.
          this.o.log.error({ err, key, events: entries.length }, 'writing the archive object failed; stopping without acknowledging its events');
          this.pending = undefined;
          return;
        }
        this.o.log.warn({ err, key, attempt }, 'writing the archive object failed; retrying');
        await this.sleep(delay);
        delay = Math.min(delay * 2, 30_000);
      }
    }
    // The object is in S3: only now may the stream forget these deliveries.
    for (const [, e] of entries) e.msg.ack();
    this.pending = undefined;
    // Acks are not confirmed one by one; waiting until the server has them all before the next
    // object bounds what a crash can re-send to this object's events.
    await this.o.flush().catch((err: unknown) => this.o.log.warn({ err, key }, 'the acks of an archive object may not have reached the server; its events may be archived again'));
    this.stats.events += entries.length;
    this.stats.objects++;
    this.stats.bytes += body.length;
    this.stats.lastSeq = Math.max(this.stats.lastSeq, last);
    this.o.log.debug({ key, events: entries.length, bytes: body.length }, 'archive object written');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
