import type { KV } from '@nats-io/kv';
import { Snapshot } from '@chat/contracts';

/**
 * Where aggregate snapshots live (the CHAT_SNAPSHOTS bucket, key = the aggregate's subject).
 * A put never moves a snapshot backwards: of two writers, the one covering more of the stream
 * wins, whatever order they arrive in.
 */
export interface SnapshotStore {
  get(subject: string): Promise<Snapshot | undefined>;
  /** The stream position the subject's snapshot covers (0: none), at least `atLeast` if it is known to be that far without a read. */
  position(subject: string, atLeast?: number): Promise<number>;
  /** Stores the snapshot unless the stored one already covers `snapshot.position`; resolves with whether it was written. */
  put(subject: string, snapshot: Snapshot): Promise<boolean>;
}

/** Attempts at a compare-and-set put before giving up (another writer kept moving the key). */
const PUT_ATTEMPTS = 5;

const isLive = (op: string): boolean => op === 'PUT';

/** Revisions remembered (subject → the revision this process last read or wrote), so a write needs no read first. */
const REMEMBERED_REVISIONS = 100_000;

export class KvSnapshotStore implements SnapshotStore {
  /** The revision and position of each key as this process last saw it; insertion ordered, oldest dropped first. */
  private readonly seen = new Map<string, { revision: number; position: number }>();

  constructor(private readonly kv: KV) {}

  async get(subject: string): Promise<Snapshot | undefined> {
    const e = await this.kv.get(subject);
    if (!e || !isLive(e.operation)) return undefined;
    const snapshot = Snapshot.parse(e.json());
    this.remember(subject, e.revision, snapshot.position);
    return snapshot;
  }

  async position(subject: string, atLeast = Number.POSITIVE_INFINITY): Promise<number> {
    // Positions only move forward: one this process saw is a lower bound.
    const known = this.seen.get(subject);
    if (known && known.position >= atLeast) return known.position;
    const e = await this.kv.get(subject);
    if (!e || !isLive(e.operation)) return 0;
    // Only the position: no validation of the whole state (the keeper asks this for every subject).
    const position = Number(e.json<{ position?: unknown }>().position) || 0;
    this.remember(subject, e.revision, position);
    return position;
  }

  async put(subject: string, snapshot: Snapshot): Promise<boolean> {
    const data = JSON.stringify(snapshot);
    // Usually this process wrote the key last: update that revision without reading first.
    const known = this.seen.get(subject);
    // Positions only move forward: one this process saw at or past ours still is.
    if (known && known.position >= snapshot.position) return false;
    if (known) {
      try {
        this.remember(subject, await this.kv.update(subject, data, known.revision), snapshot.position);
        return true;
      } catch {
        // Someone else wrote it since: read and compare below.
      }
    }
    for (let attempt = 1; ; attempt++) {
      const e = await this.kv.get(subject);
      try {
        if (!e || !isLive(e.operation)) {
          // Create expects no live value; after a delete marker, update its revision.
          const revision = e ? await this.kv.update(subject, data, e.revision) : await this.kv.create(subject, data);
          this.remember(subject, revision, snapshot.position);
          return true;
        }
        const stored = e.json<{ position?: number }>().position ?? 0;
        if (stored >= snapshot.position) {
          this.remember(subject, e.revision, stored);
          return false;
        }
        this.remember(subject, await this.kv.update(subject, data, e.revision), snapshot.position);
        return true;
      } catch (err) {
        // Another writer got in between (wrong last sequence): read again and compare.
        if (attempt >= PUT_ATTEMPTS) throw err;
      }
    }
  }

  private remember(subject: string, revision: number, position: number): void {
    this.seen.delete(subject);
    this.seen.set(subject, { revision, position });
    if (this.seen.size > REMEMBERED_REVISIONS) this.seen.delete(this.seen.keys().next().value!);
  }
}

/** SnapshotStore's in-memory twin for unit tests. */
export class InMemorySnapshotStore implements SnapshotStore {
  readonly entries = new Map<string, Snapshot>();
  puts = 0;

  async get(subject: string): Promise<Snapshot | undefined> {
    const s = this.entries.get(subject);
    return s ? structuredClone(s) : undefined;
  }

  async position(subject: string): Promise<number> {
    return this.entries.get(subject)?.position ?? 0;
  }

  async put(subject: string, snapshot: Snapshot): Promise<boolean> {
    const stored = this.entries.get(subject);
    if (stored && stored.position >= snapshot.position) return false;
    this.entries.set(subject, structuredClone(snapshot));
    this.puts++;
    return true;
  }
}
