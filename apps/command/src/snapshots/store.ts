import type { KV } from '@nats-io/kv';
import { Snapshot } from '@chat/contracts';

/**
 * Where aggregate snapshots live (the CHAT_SNAPSHOTS bucket, key = the aggregate's subject).
 * A put never moves a snapshot backwards: of two writers, the one covering more of the stream
 * wins, whatever order they arrive in.
 */
export interface SnapshotStore {
  get(subject: string): Promise<Snapshot | undefined>;
  /** Stores the snapshot unless the stored one already covers `snapshot.position`; resolves with whether it was written. */
  put(subject: string, snapshot: Snapshot): Promise<boolean>;
}

/** Attempts at a compare-and-set put before giving up (another writer kept moving the key). */
const PUT_ATTEMPTS = 5;

const isLive = (op: string): boolean => op === 'PUT';

export class KvSnapshotStore implements SnapshotStore {
  constructor(private readonly kv: KV) {}

  async get(subject: string): Promise<Snapshot | undefined> {
    const e = await this.kv.get(subject);
    if (!e || !isLive(e.operation)) return undefined;
    return Snapshot.parse(e.json());
  }

  async put(subject: string, snapshot: Snapshot): Promise<boolean> {
    const data = JSON.stringify(snapshot);
    for (let attempt = 1; ; attempt++) {
      const e = await this.kv.get(subject);
      try {
        if (!e || !isLive(e.operation)) {
          // Create expects no live value; after a delete marker, update its revision.
          if (e) await this.kv.update(subject, data, e.revision);
          else await this.kv.create(subject, data);
          return true;
        }
        const stored = e.json<{ position?: number }>();
        if ((stored.position ?? 0) >= snapshot.position) return false;
        await this.kv.update(subject, data, e.revision);
        return true;
      } catch (err) {
        // Another writer got in between (wrong last sequence): read again and compare.
        if (attempt >= PUT_ATTEMPTS) throw err;
      }
    }
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

  async put(subject: string, snapshot: Snapshot): Promise<boolean> {
    const stored = this.entries.get(subject);
    if (stored && stored.position >= snapshot.position) return false;
    this.entries.set(subject, structuredClone(snapshot));
    this.puts++;
    return true;
  }
}
