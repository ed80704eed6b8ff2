import { Worker } from 'node:worker_threads';
import type { MediaStoreConfig } from './client';
// Types only: sharp loads in the workers, not here.
import type { InspectOptions, Inspection } from './inspect';

export interface InspectJob {
  id: number;
  key: string;
  contentType: string;
}
export type InspectReply = { id: number; ok: true; inspection: Inspection } | { id: number; ok: false; error: { name: string; message: string } };

const DEFAULT_THUMBNAIL_PX = 320;
/** Inspections one worker runs at once; more wait their turn. Bounds memory: each may hold an image. */
const PER_WORKER = 4;
/** Larger images are hashed only: decoding one needs all of it in memory (sharp reads no partial files). */
const DEFAULT_MAX_IMAGE_BYTES = 50 * 1024 * 1024;

interface Pending {
  key: string;
  resolve(i: Inspection): void;
  reject(e: Error): void;
}
interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** A JavaScript entry that loads the TypeScript worker through tsx, in vitest and under `node --import tsx` alike. */
const WORKER_URL = new URL('./inspector-worker-boot.mjs', import.meta.url);

/**
 * Reads objects off the caller's event loop: a small pool of worker_threads (default 1), each
 * with its own S3 client and sharp. The first worker starts with the inspector, the others
 * when inspections overlap; each runs up to PER_WORKER at once, and the rest wait in order.
 * Idle workers are unref'd (an idle pool does not keep the process alive). A worker that dies
 * is replaced; the inspections it was running are rejected.
 */
export class MediaInspector {
  private readonly slots: Slot[] = [];
  private readonly queue: { job: InspectJob; pending: Pending }[] = [];
  private readonly size: number;
  private readonly options: InspectOptions;
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly cfg: MediaStoreConfig,
    o: { workers?: number; thumbnailPx?: number; maxImageBytes?: number } = {},
  ) {
    this.size = Math.max(1, o.workers ?? 1);
    this.options = { thumbnailPx: o.thumbnailPx ?? DEFAULT_THUMBNAIL_PX, maxImageBytes: o.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES };
    // Loading tsx, the S3 client and sharp takes a worker the better part of a second: done
    // now rather than in the first upload's request.
    this.spawn().worker.unref();
  }

  /**
   * Streams the object, hashing it (SHA-256) and counting bytes; for image/* content types also
   * reads dimensions and makes the thumbnail (an unreadable image is not an error: no
   * dimensions, no thumbnail). Rejects if the object is missing.
   */
  inspect(key: string, contentType: string): Promise<Inspection> {
    if (this.closed) return Promise.reject(new Error('MediaInspector is closed'));
    const job = { id: this.nextId++, key, contentType };
    return new Promise<Inspection>((resolve, reject) => {
      this.queue.push({ job, pending: { key, resolve, reject } });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
    const closed = new Error('MediaInspector closed');
    for (const s of slots) fail(s, closed);
    for (const { pending } of this.queue.splice(0)) pending.reject(closed);
  }

  private dispatch(): void {
    while (this.queue.length) {
      const slot = this.pick();
      if (!slot) return;
      const { job, pending } = this.queue.shift()!;
      slot.pending.set(job.id, pending);
      slot.worker.ref();
      slot.worker.postMessage(job);
    }
  }

  /** The least busy worker with room, starting another while the pool is not full and all are busy. */
  private pick(): Slot | undefined {
    if (this.closed) return undefined;
    const idlest = this.slots.reduce<Slot | undefined>((best, s) => (!best || s.pending.size < best.pending.size ? s : best), undefined);
    if (!idlest || (idlest.pending.size > 0 && this.slots.length < this.size)) return this.spawn();
    return idlest.pending.size < PER_WORKER ? idlest : undefined;
  }

  private spawn(): Slot {
    // None of the parent's node flags (`--input-type`, `--import tsx`, profilers): the entry brings tsx itself.
    const worker = new Worker(WORKER_URL, { workerData: { config: this.cfg, options: this.options }, execArgv: [] });
    const slot: Slot = { worker, pending: new Map() };
    this.slots.push(slot);
    const retire = (e: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      fail(slot, e);
      this.dispatch();
    };
    worker.on('message', (reply: InspectReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if (reply.ok) {
        const t = reply.inspection.thumbnail;
        // Buffers arrive as plain Uint8Arrays.
        p.resolve(t ? { ...reply.inspection, thumbnail: { ...t, jpeg: Buffer.from(t.jpeg.buffer, t.jpeg.byteOffset, t.jpeg.byteLength) } } : reply.inspection);
      } else {
        p.reject(Object.assign(new Error(`inspecting ${p.key}: ${reply.error.message}`), { name: reply.error.name }));
      }
      this.dispatch();
    });
    worker.on('error', (e) => retire(new Error(`media inspector worker failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => retire(new Error(`media inspector worker exited (code ${code})`)));
    return slot;
  }
}

function fail(slot: Slot, e: Error): void {
  for (const p of slot.pending.values()) p.reject(e);
  slot.pending.clear();
}
