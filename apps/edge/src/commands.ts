import { newId } from './ids';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ChatError, commandKey, type Command, type CommandReply, type CommandResult, type Names } from '@chat/contracts';
import { partitionOf } from '@chat/nats';

interface Pending {
  command: Command;
  partition: number;
  resolve: (r: CommandResult) => void;
  reject: (e: unknown) => void;
  deadline: number;
  /** When to send it again (no owner for its partition right now), 0 = not waiting to. */
  resendAt: number;
  sends: number;
}

/**
 * A command tier in this process (CHAT_EDGE_COMMANDS=hosted): the partitions whose lease it
 * holds run here, without a NATS round trip; the rest go to their owner as before.
 */
export interface LocalCommands {
  owns(partition: number): boolean;
  /** The partition's commands, answered in order (`moved` if the lease went meanwhile: resent like a remote `moved`). */
  handle(partition: number, commands: readonly Command[]): Promise<CommandReply[]>;
}

/** How often deadlines and resends are checked: one timer for every request in flight. */
const TICK_MS = 25;
const resendDelay = (sends: number) => Math.min(1_000, 50 * 2 ** Math.min(5, sends - 1));
/** Commands in one batch at most (one NATS message; far below its 1 MiB payload limit). */
const MAX_BATCH = 256;

/**
 * Sends commands to the command process that owns their conversation's partition (core NATS,
 * nothing stored on the way) and waits for the answers. Commands for one partition that arrive
 * in the same turn of the event loop go together, as one JSON array on `chat.cmd.<partition>`
 * with reply subject `chat.reply.<edgeId>.<batchId>`, answered by one array of replies in the
 * same order: under load a message and its receipts cost one NATS round trip per batch, not
 * per command. An answer comes only after the command's events are durable in CHAT_EVENTS.
 * A partition whose lease the edge's own command tier holds (CHAT_EDGE_COMMANDS=hosted) runs
 * in process instead, batched the same way: no publish, no reply, no JSON in between.
 *
 * While a partition has no owner (a process died and its lease has not run out, or it is being
 * handed over), the server answers "no responders" at once, or the old owner answers `moved`:
 * the same commands (same ids: the deciders answer a repeat the same way) are sent again with
 * a growing pause until CHAT_COMMAND_TIMEOUT, then the client gets `unavailable` and retries by
 * its own ids.
 */
export class CommandGateway {
  private readonly pending = new Map<string, Pending>();
  /** Batches sent and not answered: batch id → its requests (in send order: the oldest first). */
  private readonly batches = new Map<string, { sentAt: number; requests: Pending[] }>();
  /** Requests waiting to be sent again. */
  private readonly resending = new Set<Pending>();
  private outbox = new Map<number, Pending[]>();
  private flushing = false;
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  /** `badReplies`: answers that were not a JSON array of replies (their commands are resent, and counted here, not lost to a timeout). */
  readonly stats = { commands: 0, batches: 0, local: 0, resent: 0, timedOut: 0, coalesced: 0, badReplies: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly n: Names,
    private readonly edgeId: string,
    private readonly timeoutMs: number,
    private readonly partitions: number,
    /** The command tier hosted by this process, if any (CHAT_EDGE_COMMANDS=hosted). */
    private readonly local?: LocalCommands,
  ) {}

  start(): void {
    const prefix = this.n.subjects.reply(this.edgeId, '');
    this.sub = this.nc.subscribe(this.n.subjects.replyAll(this.edgeId), {
      callback: (err, msg) => {
        if (!err) this.onReply(msg.subject.slice(prefix.length), msg);
      },
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Builds the command metadata the command service and decider rely on. */
  meta(userId: string, deviceId: string): Command['meta'] {
    const id = newId();
    return { commandId: id, requestId: id, userId, deviceId, edgeId: this.edgeId, at: new Date().toISOString() };
  }

  execute(command: Command): Promise<CommandResult> {
    this.stats.commands++;
    return new Promise<CommandResult>((resolve, reject) => {
      const p: Pending = {
        command,
        partition: partitionOf(commandKey(command), this.partitions),
        resolve,
        reject,
        deadline: Date.now() + this.timeoutMs,
        resendAt: 0,
        sends: 0,
      };
      this.pending.set(command.meta.requestId, p);
      this.enqueue(p);
    });
  }

  private enqueue(p: Pending): void {
    p.resendAt = 0;
    const list = this.outbox.get(p.partition);
    if (list) list.push(p);
    else this.outbox.set(p.partition, [p]);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => this.flush());
    }
  }

  /** One publish per partition for everything queued in this turn. */
  private flush(): void {
    this.flushing = false;
    const outbox = this.outbox;
    this.outbox = new Map();
    for (const [partition, queued] of outbox) {
      const list = this.coveredDeliveredDropped(queued);
      for (let i = 0; i < list.length; i += MAX_BATCH) {
        const batch = list.slice(i, i + MAX_BATCH).filter((p) => this.pending.get(p.command.meta.requestId) === p);
        if (batch.length === 0) continue;
        for (const p of batch) p.sends++;
        this.stats.batches++;
        if (this.local?.owns(partition)) {
          this.stats.local++;
          this.local.handle(partition, batch.map((p) => p.command)).then(
            (replies) => this.settle(batch, replies),
            () => this.later(batch),
          );
          continue;
        }
        const batchId = newId();
        this.batches.set(batchId, { sentAt: Date.now(), requests: batch });
        try {
          this.nc.publish(this.n.subjects.cmdPartition(partition), `[${batch.map((p) => JSON.stringify(p.command)).join(',')}]`, { reply: this.n.subjects.reply(this.edgeId, batchId) });
        } catch {
          // Closed or draining: resent until the deadline like any other miss.
          this.batches.delete(batchId);
          this.later(batch);
        }
      }
    }
  }

  /**
   * A device that reads up to a seq has received up to it: a `message.delivered` queued with a
   * `message.read` of the same device, conversation and a position at least as far (clients
   * flush both at once) is answered here and not sent; the read's event moves the delivered
   * watermarks (member and device) too, so one event instead of two.
   */
  private coveredDeliveredDropped(list: Pending[]): Pending[] {
    const reads = new Map<string, number>();
    const key = (c: Command) => `${commandKey(c)}\u0000${c.meta.userId}\u0000${c.meta.deviceId}`;
    for (const p of list) if (p.command.type === 'MarkRead') reads.set(key(p.command), Math.max(reads.get(key(p.command)) ?? 0, p.command.data.upToSeq));
    if (reads.size === 0) return list;
    return list.filter((p) => {
      const c = p.command;
      if (c.type !== 'MarkDelivered' || (reads.get(key(c)) ?? 0) < c.data.upToSeq) return true;
      this.pending.delete(c.meta.requestId);
      this.stats.coalesced++;
      p.resolve({ kind: 'accepted' });
      return false;
    });
  }

  private later(batch: readonly Pending[]): void {
    const now = Date.now();
    for (const p of batch) {
      if (this.pending.get(p.command.meta.requestId) !== p) continue;
      this.stats.resent++;
      p.resendAt = now + resendDelay(p.sends);
      this.resending.add(p);
    }
  }

  private onReply(batchId: string, msg: Msg): void {
    const batch = this.batches.get(batchId)?.requests;
    if (!batch) return; // answers to requests that timed out; the clients retry by their ids
    this.batches.delete(batchId);
    // No process owns the partition right now (nats-server's "no responders").
    if (msg.headers?.code === 503) return this.later(batch);
    let replies: CommandReply[];
    try {
      replies = msg.json<CommandReply[]>();
      if (!Array.isArray(replies)) throw new Error('not an array');
    } catch {
      this.stats.badReplies++;
      return this.later(batch);
    }
    this.settle(batch, replies);
  }

  /** Answers each request of a batch from its reply (same order); a missing or `moved` one is resent. */
  private settle(batch: readonly Pending[], replies: readonly CommandReply[]): void {
    batch.forEach((p, i) => {
      const reply = replies[i];
      const id = p.command.meta.requestId;
      if (this.pending.get(id) !== p) return;
      if (!reply || (!reply.ok && reply.moved)) return this.later([p]);
      this.pending.delete(id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(new ChatError(reply.error.code, reply.error.message));
    });
  }

  /**
   * Deadlines, resends and unanswered batches. Every request gets the same timeout, so `pending`
   * (insertion order) is in deadline order and `batches` in send order: each loop stops at the
   * first entry that is not due, so a tick costs what it expires, not what is in flight.
   */
  private tick(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (now < p.deadline) break;
      this.pending.delete(id);
      this.resending.delete(p);
      this.stats.timedOut++;
      p.reject(new ChatError('unavailable', 'the command service did not answer in time; retry'));
    }
    for (const p of this.resending) {
      if (this.pending.get(p.command.meta.requestId) !== p) this.resending.delete(p);
      else if (now >= p.resendAt) {
        this.resending.delete(p);
        this.enqueue(p);
      }
    }
    // A batch whose answer never came (its requests timed out) is forgotten with them.
    for (const [batchId, b] of this.batches) {
      if (now - b.sentAt < this.timeoutMs) break;
      this.batches.delete(batchId);
    }
  }

  /** Fails every waiting request (used on shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const [id, p] of this.pending) {
      p.reject(new ChatError('unavailable', 'edge shutting down'));
      this.pending.delete(id);
    }
    this.batches.clear();
    this.resending.clear();
    await this.sub?.drain().catch(() => undefined);
  }
}
