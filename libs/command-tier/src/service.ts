import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { aggregateSubjectParser, commandKey, isChatError, userCommandKey, type Command, type CommandReply, type CommandResult, type Names } from '@chat/contracts';
import { isConcurrencyError, partitionOf as partitionFor, type EventStore } from '@chat/nats';
import { DEFAULT_RULES, type ConversationRules } from '@chat/domain';
import { Aggregates } from './aggregates';
import type { HandlerContext, HandOver } from './handler';
import { KeyedQueue } from './keyedQueue';
import { COMMANDS } from './commands';
import { Fenced, fencedStore } from './fence';
import type { MessageLookup } from './messageLookup';
import type { SnapshotStore } from './snapshots/store';

export interface CommandServiceOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  log: Logger;
  store: EventStore;
  /** CHAT_COMMAND_PARTITIONS: how conversations are split between command processes. */
  partitions: number;
  /** Whether this process may write the partition now (its lease); appends check it last. */
  owns(partition: number): boolean;
  /** Aggregate snapshots (the CHAT_SNAPSHOTS bucket). */
  snapshots: SnapshotStore;
  /** Finds messages older than a conversation's state keeps (replies, deletes, hides of old messages). */
  messages?: MessageLookup;
  /** Budget of the aggregate state cache in bytes (CHAT_AGGREGATE_CACHE_BYTES). */
  cacheBytes: number;
  /** Snapshot a state once this many of its events are not in its snapshot (CHAT_SNAPSHOT_EVERY; default 256). */
  snapshotEvery?: number;
  /** …or once the oldest of them is this old (CHAT_SNAPSHOT_INTERVAL; default 60 s). */
  snapshotAfterMs?: number;
  /** Group cap and edit/delete windows; unset ones take the defaults (LIMITS). */
  rules?: Partial<ConversationRules>;
  /** Told of every batch of requests and every command answered (the metrics). */
  observer?: CommandObserver;
  /** Hands new messages to the host's own devices after their append (an edge hosting the tier). */
  handOver?: HandOver;
}

export type CommandOutcome = 'ok' | 'rejected' | 'failed' | 'moved';

export interface CommandObserver {
  batch(size: number): void;
  command(type: string, outcome: CommandOutcome, seconds: number): void;
}

export interface CommandStats {
  /** Commands answered (successfully or with a domain error). */
  handled: number;
  /** Commands answered with a domain error (forbidden, not_found, …). */
  rejected: number;
  /** Appends that lost a race and were retried. */
  conflicts: number;
  /** Commands that failed unexpectedly, answered `unavailable` (the client retries by its own id). */
  failed: number;
  /** Requests that are not a valid command. */
  invalid: number;
  /** Requests for a partition this process does not (or no longer) own, sent back to be resent. */
  moved: number;
}

/** Snapshot defaults (CHAT_SNAPSHOT_EVERY, CHAT_SNAPSHOT_INTERVAL): see docs/architecture.md, Snapshots. */
export const DEFAULT_SNAPSHOT_EVERY = 256;
export const DEFAULT_SNAPSHOT_AFTER_MS = 60_000;
/** How often due snapshots are written (a few per tick: see AggregatesOptions.flushBudget). */
const SNAPSHOT_TICK_MS = 100;

/**
 * The command service: takes the commands of the partitions this process owns (core NATS
 * request/reply on `chat.cmd.<partition>`, in batches, nothing stored on the way), runs each through its
 * use case and answers the edge. The answer of a command that appends comes only after
 * JetStream acknowledged its events: "sent" means durable.
 *
 * Commands of one conversation run one at a time, in arrival order; different conversations
 * run concurrently, so appends are pipelined across conversations. Receipts and preferences
 * run on their member's own key, never queued behind the conversation's messages.
 *
 * Nothing is retried here past the handler's optimistic-concurrency retries: a command that
 * fails is answered `unavailable`, and the client resends it with the same ids, which the
 * deciders answer the same way with nothing appended twice.
 */
export class CommandService {
  readonly stats: CommandStats = { handled: 0, rejected: 0, conflicts: 0, failed: 0, invalid: 0, moved: 0 };
  readonly aggregates: Aggregates;
  private readonly queue = new KeyedQueue();
  private readonly ctx: HandlerContext;
  private readonly subs = new Map<number, Subscription>();
  private readonly running = new Map<number, Set<Promise<void>>>();
  private readonly parseSubject: ReturnType<typeof aggregateSubjectParser>;
  private snapshotTimer?: NodeJS.Timeout;

  constructor(private readonly opts: CommandServiceOptions) {
    const n = opts.names;
    this.parseSubject = aggregateSubjectParser(n);
    this.aggregates = new Aggregates(
      fencedStore(opts.store, (subject) => !opts.owns(this.partitionOfSubject(subject))),
      opts.snapshots,
      {
        cacheBytes: opts.cacheBytes,
        snapshotEvery: opts.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY,
        snapshotAfterMs: opts.snapshotAfterMs ?? DEFAULT_SNAPSHOT_AFTER_MS,
        onError: (err, subject) => opts.log.warn({ err, subject }, 'snapshot write failed; retried later'),
      },
    );
    this.ctx = {
      aggregates: this.aggregates,
      names: n,
      stats: this.stats,
      rules: { ...DEFAULT_RULES, ...opts.rules },
      ...(opts.messages ? { messages: opts.messages } : {}),
      exclusive: (conversationId, task) => this.queue.run(conversationId, task),
      ...(opts.handOver ? { handOver: opts.handOver } : {}),
    };
  }

  /** The partition of an event subject's conversation (chat.evt.conv.<id>, chat.evt.rcpt.<id>.<user>, chat.pref.<id>.<user>), or of its user (chat.pref.user.<user>: see commandKey). */
  private partitionOfSubject(subject: string): number {
    const aggregate = this.parseSubject(subject);
    if (!aggregate) return -1;
    return partitionFor(aggregate.kind === 'user' ? userCommandKey(aggregate.userId) : aggregate.conversationId, this.opts.partitions);
  }

  /** Runs one command in its queue (see COMMANDS: a conversation's commands one at a time; a member's receipts and preferences on their own key). */
  execute(command: Command): Promise<CommandResult> {
    const route = COMMANDS[command.type] as { key(c: Command): string; run(ctx: HandlerContext, c: Command): Promise<CommandResult> };
    return this.queue.run(route.key(command), () => route.run(this.ctx, command));
  }

  start(): this {
    this.snapshotTimer = setInterval(() => void this.aggregates.flushDue(), SNAPSHOT_TICK_MS);
    this.snapshotTimer.unref();
    return this;
  }

  /** The partitions whose commands this process takes now. */
  get partitionsTaken(): number[] {
    return [...this.subs.keys()];
  }

  /** Starts taking a partition's commands (its lease was acquired). */
  take(partition: number): void {
    if (this.subs.has(partition)) return;
    // A queue group: should two processes ever both subscribe (a lease handover racing a
    // pause), each command still reaches one of them.
    const sub = this.opts.nc.subscribe(this.opts.names.subjects.cmdPartition(partition), {
      queue: 'command',
      callback: (err, msg) => {
        if (!err) this.onRequest(partition, msg);
      },
    });
    this.subs.set(partition, sub);
  }

  /** Stops taking a partition's commands at once; those running finish (see drained). */
  drop(partition: number): void {
    this.subs.get(partition)?.unsubscribe();
    this.subs.delete(partition);
  }

  /** Resolves once the partition's running commands have answered. */
  async drained(partition: number): Promise<void> {
    const set = this.running.get(partition);
    if (set?.size) await Promise.allSettled([...set]);
    // The next owner reads the snapshots: hand over with them current.
    await this.aggregates.flushDue({ all: true, only: (subject) => this.partitionOfSubject(subject) === partition });
  }

  /** Stops taking commands; running ones finish and answer; states not yet snapshotted are. */
  async stop(): Promise<void> {
    clearInterval(this.snapshotTimer);
    for (const p of [...this.subs.keys()]) this.drop(p);
    await Promise.allSettled([...this.running.values()].flatMap((s) => [...s]));
    await this.aggregates.flushDue({ all: true });
  }

  /**
   * One batch of commands (a JSON array) from an edge; answered with one array of replies in
   * the same order once all of them have run (different conversations run concurrently).
   */
  private onRequest(partition: number, msg: Msg): void {
    const { log } = this.opts;
    let commands: Command[];
    try {
      // Built by an edge from validated frames: parsed, not validated again.
      const body = msg.json<unknown>();
      commands = (Array.isArray(body) ? body : [body]) as Command[];
      for (const c of commands) {
        if (typeof c?.type !== 'string' || typeof c.meta?.requestId !== 'string' || typeof c.meta?.userId !== 'string' || typeof c.data !== 'object' || c.data === null) throw new Error('not a command');
      }
    } catch (err) {
      this.stats.invalid++;
      log.warn({ err, subject: msg.subject }, 'invalid command batch refused');
      if (msg.reply) msg.respond(JSON.stringify([{ requestId: '', ok: false, error: { code: 'bad_request', message: 'not a command' } } satisfies CommandReply]));
      return;
    }
    void this.handle(partition, commands).then((replies) => {
      if (msg.reply) msg.respond(JSON.stringify(replies));
    });
  }

  /**
   * Runs a batch of one partition's commands and answers each in order (different
   * conversations run concurrently). A command for a partition this process does not own (or
   * no longer) is answered `moved`: its sender resends it to the owner.
   */
  handle(partition: number, commands: readonly Command[]): Promise<CommandReply[]> {
    this.opts.observer?.batch(commands.length);
    let set = this.running.get(partition);
    if (!set) this.running.set(partition, (set = new Set()));
    const task = Promise.all(
      commands.map((command): CommandReply | Promise<CommandReply> => {
        const { requestId } = command.meta;
        if (!this.opts.owns(partition) || partitionFor(commandKey(command), this.opts.partitions) !== partition) {
          this.stats.moved++;
          this.opts.observer?.command(command.type, 'moved', 0);
          return { requestId, ok: false, error: { code: 'unavailable', message: 'partition moving; resend' }, moved: true };
        }
        return this.run(command);
      }),
    );
    const running = task.then(() => undefined);
    set.add(running);
    void running.finally(() => set.delete(running));
    return task;
  }

  private async run(command: Command): Promise<CommandReply> {
    const started = performance.now();
    const reply = await this.answer(command);
    const outcome: CommandOutcome = reply.ok ? 'ok' : reply.moved ? 'moved' : reply.error.code === 'unavailable' ? 'failed' : 'rejected';
    this.opts.observer?.command(command.type, outcome, (performance.now() - started) / 1000);
    return reply;
  }

  private async answer(command: Command): Promise<CommandReply> {
    const { requestId } = command.meta;
    try {
      const result = await this.execute(command);
      this.stats.handled++;
      return { requestId, ok: true, result };
    } catch (err) {
      if (err instanceof Fenced) {
        this.stats.moved++;
        return { requestId, ok: false, error: { code: 'unavailable', message: 'partition moving; resend' }, moved: true };
      }
      if (isChatError(err)) {
        this.stats.handled++;
        this.stats.rejected++;
        return { requestId, ok: false, error: { code: err.code, message: err.message } };
      }
      this.stats.failed++;
      this.opts.log.error({ err, type: command.type, commandId: command.meta.commandId }, 'command failed');
      const busy = isConcurrencyError(err);
      return { requestId, ok: false, error: { code: 'unavailable', message: busy ? 'conversation too busy; retry' : 'could not store the command; retry' } };
    }
  }
}
