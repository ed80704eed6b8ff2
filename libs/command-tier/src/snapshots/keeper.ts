import { DeliverPolicy, type Consumer, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { aggregateSubjectParser, type Names, type Snapshot } from '@chat/contracts';
import type { Aggregates } from '../aggregates';
import { KINDS, type AggregateKind } from '../kinds';

/** The keeper's position in the snapshot bucket: every event at or below it is in a snapshot. */
export const KEEPER_POSITION_KEY = 'keeper.position';

export interface KeeperOptions {
  js: JetStreamClient;
  /** The snapshot bucket (also holds the keeper's position). */
  kv: KV;
  names: Names;
  /** Loads states (snapshot + events) and writes snapshots; its cache is not used. */
  aggregates: Aggregates;
  log: Logger;
  /**
   * An event not in a snapshot this long after it was stored is snapshotted by the keeper
   * (the command service snapshots its cached states sooner; this catches what a crash left).
   * Must be well under CHAT_MAX_AGE.
   */
  graceMs: number;
  now?: () => number;
}

export interface KeeperStats {
  /** Events read from CHAT_EVENTS. */
  events: number;
  /** Subjects found already covered by a snapshot. */
  covered: number;
  /** Subjects whose snapshot the keeper wrote itself. */
  repaired: number;
  /** Subjects whose events aged out before any snapshot covered them (should stay 0). */
  lost: number;
  position: number;
}

interface Pending {
  first: number;
  last: number;
  /** When `first` was stored (ms). */
  firstAt: number;
}

/**
 * Events asked for per fetch at most (headers only: a few hundred bytes each). The process's
 * commands run between two fetches, so one fetch's worth is the longest the keeper holds the
 * event loop (with fetches of 10,000 the keeper's process showed event-loop stalls of 80–125 ms
 * at every check under 1,000 msg/s; with 1,000, 50–77 ms).
 */
const FETCH_MAX = 1_000;
/** How long a fetch waits for events when the stream has nothing new (the check then ends). */
const FETCH_EXPIRES_MS = 1_000;

/**
 * Makes sure every event of CHAT_EVENTS is covered by its aggregate's snapshot before it can
 * age out, whatever happened to the process that appended it. At every check (every quarter of
 * `graceMs`) it reads what the stream got since the last one, in order and in bursts of up to
 * 1,000 (an ordered consumer from its own position, headers only: it needs each event's
 * subject, sequence and time, never its payload), notes each subject's events, and once an
 * event is `graceMs` old checks the subject's snapshot: covered (the usual case: the owning
 * command process snapshotted it), or else it loads the state (snapshot + events) and writes
 * the snapshot itself. Its position (the highest sequence below which every event is covered)
 * is kept in the snapshot bucket, so a restart resumes there.
 *
 * Reading in bursts rather than following the stream live matters on the hot path: a live
 * consumer costs the server one delivery and the process one wake-up per event, all day; a
 * burst every few seconds costs a few large socket writes. Nothing here needs the events
 * sooner: an event is looked at only once it is `graceMs` old, and its age is the time the
 * stream stored it, not the time the keeper read it.
 *
 * One keeper runs per system, in the command process that holds partition 0; two for a moment
 * during a handover are harmless (snapshot writes never move a snapshot backwards).
 */
export class SnapshotKeeper {
  readonly stats: KeeperStats = { events: 0, covered: 0, repaired: 0, lost: 0, position: 0 };
  private readonly pending = new Map<string, Pending>();
  private consumer?: Consumer;
  /** The fetch in progress (closed by `stop`). */
  private fetching?: ConsumerMessages;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private lastSeen = 0;
  /** `lastSeen` was read from the bucket since the start. */
  private positioned = false;
  private stopped = true;
  private readonly parse: ReturnType<typeof aggregateSubjectParser>;
  private readonly now: () => number;

  constructor(private readonly o: KeeperOptions) {
    this.parse = aggregateSubjectParser(o.names);
    this.now = o.now ?? Date.now;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.consumer = undefined;
    this.positioned = false;
    this.timer = setInterval(() => void this.check(), Math.max(50, Math.floor(this.o.graceMs / 4)));
    this.timer.unref();
    void this.check();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.fetching?.close().catch(() => undefined);
    await this.checking;
  }

  /** The ordered consumer: after a start from the stored position, after a failed read from the last event seen. */
  private async reader(): Promise<Consumer> {
    if (this.consumer) return this.consumer;
    if (!this.positioned) {
      const entry = await this.o.kv.get(KEEPER_POSITION_KEY);
      this.stats.position = this.lastSeen = entry?.operation === 'PUT' ? Number(entry.string()) : 0;
      this.positioned = true;
    }
    const from = this.lastSeen;
    this.consumer = await this.o.js.consumers.get(this.o.names.streams.events, {
      headers_only: true,
      ...(from > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 } : { deliver_policy: DeliverPolicy.All }),
    });
    return this.consumer;
  }

  /**
   * Reads every event stored since the last call. Each fetch asks for what the last message
   * said was still pending (so it returns as soon as those arrive); a fetch that ends short
   * waited FETCH_EXPIRES_MS for more: the stream had nothing newer.
   */
  private async readNew(): Promise<void> {
    const consumer = await this.reader();
    let want = FETCH_MAX;
    while (!this.stopped) {
      const messages = (this.fetching = await consumer.fetch({ max_messages: want, expires: FETCH_EXPIRES_MS }));
      let got = 0;
      let pending = -1;
      for await (const m of messages) {
        got++;
        pending = m.info.pending;
        this.stats.events++;
        this.lastSeen = m.seq;
        const p = this.pending.get(m.subject);
        if (p) p.last = m.seq;
        else this.pending.set(m.subject, { first: m.seq, last: m.seq, firstAt: m.info.timestampNanos / 1e6 });
      }
      this.fetching = undefined;
      if (got < want || pending <= 0) return;
      want = Math.min(FETCH_MAX, pending);
      // Let the commands waiting in this process run before the next burst.
      await new Promise((r) => setImmediate(r));
    }
  }

  private check(): Promise<void> {
    this.checking ??= this.checkDue()
      .catch((err) => this.o.log.warn({ err }, 'snapshot keeper: check failed; retried'))
      .finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async checkDue(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.readNew();
    } catch (err) {
      // Read on from the last event seen at the next check, through a new consumer.
      this.consumer = undefined;
      this.o.log.warn({ err }, 'snapshot keeper: reading CHAT_EVENTS failed; retried at the next check');
      return;
    }
    if (this.stopped) return;
    const seenUpTo = this.lastSeen;
    const cutoff = this.now() - this.o.graceMs;
    const due = [...this.pending].filter(([, p]) => p.firstAt <= cutoff);
    const CONCURRENCY = 16;
    for (let i = 0; i < due.length; i += CONCURRENCY) {
      await Promise.all(due.slice(i, i + CONCURRENCY).map(([subject, p]) => this.ensure(subject, p)));
    }
    let position = seenUpTo;
    for (const p of this.pending.values()) position = Math.min(position, p.first - 1);
    if (position > this.stats.position) {
      await this.o.kv.put(KEEPER_POSITION_KEY, String(position));
      this.stats.position = position;
    }
  }

  /** Makes the subject's snapshot cover `p.last`; forgets the subject when nothing newer came meanwhile. */
  private async ensure(subject: string, p: Pending): Promise<void> {
    const last = p.last;
    const { aggregates, log } = this.o;
    if ((await aggregates.snapshots.position(subject, last)) >= last) {
      this.stats.covered++;
    } else {
      const parsed = this.parse(subject);
      const kind = parsed && (KINDS[parsed.kind] as AggregateKind<unknown>);
      if (!kind) {
        log.warn({ subject }, 'snapshot keeper: an event on a subject of no aggregate');
      } else {
        const loaded = await aggregates.load(subject, kind);
        const state = kind.toSnapshot(loaded.state);
        if (loaded.position < last) {
          this.stats.lost++;
          log.error({ subject, position: loaded.position, last }, 'snapshot keeper: events aged out before a snapshot covered them');
        } else if (state !== undefined) {
          await aggregates.snapshots.put(subject, { v: 1, kind: kind.name, position: loaded.position, takenAt: new Date(this.now()).toISOString(), state } as Snapshot);
          this.stats.repaired++;
        }
      }
    }
    if (this.pending.get(subject) === p) {
      if (p.last === last) this.pending.delete(subject);
      else {
        p.first = last + 1;
        p.firstAt = this.now();
      }
    }
  }
}
