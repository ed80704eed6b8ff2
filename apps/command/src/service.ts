import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Command, isChatError, type CommandReply, type CommandResult, type Names } from '@chat/contracts';
import { deadLetterMessage, isConcurrencyError, publishReply, pullLoop, shouldDeadLetter, type EventStore, type PullLoop } from '@chat/nats';
import { DEFAULT_RULES, type ConversationRules } from '@chat/domain';
import { Aggregates } from './aggregates';
import type { HandlerContext } from './handler';
import { KeyedQueue } from './keyedQueue';
import { addMembers } from './addMembers/handle';
import { changeRole } from './changeRole/handle';
import { createConversation } from './createConversation/handle';
import { deleteMessage } from './deleteMessage/handle';
import { editMessage } from './editMessage/handle';
import { leaveConversation } from './leaveConversation/handle';
import { markDelivered } from './markDelivered/handle';
import { markRead } from './markRead/handle';
import { muteConversation } from './muteConversation/handle';
import { JetStreamPreferenceStore } from './muteConversation/preferences';
import { removeMember } from './removeMember/handle';
import { sendMessage } from './sendMessage/handle';
import { updateConversation } from './updateConversation/handle';
import { Fenced, fencedStore } from './fence';

export interface CommandServiceOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: Names;
  log: Logger;
  store: EventStore;
  /** Commands per pull (CHAT_COMMAND_BATCH). */
  batch: number;
  /** Aggregate states kept in memory (CHAT_AGGREGATE_CACHE). */
  cacheEntries: number;
  /** Group cap and edit/delete windows; unset ones take the defaults (LIMITS). */
  rules?: Partial<ConversationRules>;
  /** Interval of the one-line activity summary; 0 turns it off. */
  summaryEveryMs?: number;
  /** Redelivery delay after an unexpected failure, by delivery count (default 0.5 s doubling, capped at 30 s). */
  redeliveryDelayMs?: (deliveryCount: number) => number;
}

export interface CommandStats {
  /** Commands answered (successfully or with a domain error). */
  handled: number;
  /** Commands answered with a domain error (forbidden, not_found, …). */
  rejected: number;
  /** Appends that lost a race and were retried. */
  conflicts: number;
  /** Deliveries that failed unexpectedly and were handed back for redelivery. */
  retried: number;
  /** Messages that are not a valid command (terminated). */
  invalid: number;
  /** Messages stored in CHAT_DLQ (invalid ones, and commands that failed on every delivery). */
  deadLettered: number;
}

/** Redelivery delay after an unexpected failure, growing with the delivery count. */
const redeliveryDelay = (deliveryCount: number) => Math.min(30_000, 500 * 2 ** (deliveryCount - 1));

/**
 * Consumes CHAT_CMD with the `command-handler` durable, runs each command and answers the edge
 * that sent it. A command is acked only after its answer is published, and the answer only after
 * its events are acknowledged by JetStream; a crash in between redelivers the command, which the
 * deciders and the message ids turn into the same answer with nothing appended twice.
 */
/**
 * A fenced instance hands commands back with this delay: longer than its last pull can stay
 * open (2 s), so the redelivery goes to the instance that holds the lock instead of bouncing
 * off this one (each bounce would spend one of the command's max_deliver deliveries).
 */
const FENCED_REDELIVERY_MS = 2_500;

export class CommandService {
  readonly stats: CommandStats = { handled: 0, rejected: 0, conflicts: 0, retried: 0, invalid: 0, deadLettered: 0 };
  readonly aggregates: Aggregates;
  private readonly queue = new KeyedQueue();
  private readonly ctx: HandlerContext;
  private loop?: PullLoop;
  private maxDeliver = -1;
  private summary?: NodeJS.Timeout;
  private fenced = false;

  constructor(private readonly opts: CommandServiceOptions) {
    this.aggregates = new Aggregates(fencedStore(opts.store, () => this.fenced), opts.cacheEntries);
    this.ctx = {
      aggregates: this.aggregates,
      names: opts.names,
      stats: this.stats,
      rules: { ...DEFAULT_RULES, ...opts.rules },
      preferences: new JetStreamPreferenceStore(opts.js, opts.jsm, opts.names.streams.events),
    };
  }

  /** Runs one command, after any earlier command of the same conversation. */
  execute(command: Command): Promise<CommandResult> {
    return this.queue.run(command.data.conversationId, () => {
      switch (command.type) {
        case 'CreateConversation':
          return createConversation(this.ctx, command);
        case 'SendMessage':
          return sendMessage(this.ctx, command);
        case 'MarkRead':
          return markRead(this.ctx, command);
        case 'MarkDelivered':
          return markDelivered(this.ctx, command);
        case 'AddMembers':
          return addMembers(this.ctx, command);
        case 'RemoveMember':
          return removeMember(this.ctx, command);
        case 'LeaveConversation':
          return leaveConversation(this.ctx, command);
        case 'ChangeRole':
          return changeRole(this.ctx, command);
        case 'UpdateConversation':
          return updateConversation(this.ctx, command);
        case 'EditMessage':
          return editMessage(this.ctx, command);
        case 'DeleteMessage':
          return deleteMessage(this.ctx, command);
        case 'MuteConversation':
          return muteConversation(this.ctx, command);
        default: {
          const never: never = command;
          throw new Error(`unknown command ${(never as { type: string }).type}`);
        }
      }
    });
  }

  async start(): Promise<this> {
    const { names: n, log } = this.opts;
    this.maxDeliver = (await this.opts.jsm.consumers.info(n.streams.cmd, n.consumers.commandHandler)).config.max_deliver ?? -1;
    this.loop = await pullLoop(
      this.opts.js,
      {
        stream: n.streams.cmd,
        consumer: n.consumers.commandHandler,
        batch: this.opts.batch,
        // Bounds how long a stop waits for an idle pull to end.
        expiresMs: 2_000,
        onError: (err, msg) => log.error({ err, subject: msg.subject }, 'command handler failed'),
        onPullError: (err) => log.warn({ err }, 'pulling commands failed; retrying'),
      },
      (msg) => this.onMessage(msg),
    );
    const every = this.opts.summaryEveryMs ?? 60_000;
    if (every > 0) {
      let last = { ...this.stats };
      this.summary = setInterval(() => {
        const now = { ...this.stats };
        const delta = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - last[k as keyof CommandStats]]));
        last = now;
        log.info({ ...delta, cached: this.aggregates.cache.size, perMs: every }, 'commands');
      }, every);
      this.summary.unref();
    }
    log.info({ stream: n.streams.cmd, consumer: n.consumers.commandHandler, batch: this.opts.batch }, 'consuming commands');
    return this;
  }

  /** Resolves when the loop has stopped. */
  get done(): Promise<void> {
    return this.loop?.done ?? Promise.resolve();
  }

  /**
   * The writer lock is gone: from now on nothing is appended (a running command fails before
   * its append) and every command, running or delivered, goes back to the server unanswered,
   * for the instance that holds the lock now. Call stop() after.
   */
  fence(): void {
    this.fenced = true;
  }

  /** Stops pulling, lets running commands finish and answer; undelivered ones go back to the server. */
  async stop(): Promise<void> {
    clearInterval(this.summary);
    await this.loop?.stop();
  }

  private async onMessage(msg: JsMsg): Promise<void> {
    const { log, nc, names: n } = this.opts;
    if (this.fenced) {
      msg.nak(FENCED_REDELIVERY_MS);
      return;
    }
    let command: Command;
    try {
      command = Command.parse(msg.json());
    } catch (err) {
      // Can never succeed: redelivering it would only block the consumer. Kept in CHAT_DLQ.
      this.stats.invalid++;
      log.warn({ err, subject: msg.subject, seq: msg.seq }, 'invalid command dead-lettered');
      await this.deadLetter(msg, err);
      return;
    }
    const { requestId, edgeId } = command.meta;
    let reply: CommandReply;
    try {
      reply = { requestId, ok: true, result: await this.execute(command) };
    } catch (err) {
      if (err instanceof Fenced) {
        msg.nak(FENCED_REDELIVERY_MS);
        return;
      }
      if (isChatError(err)) {
        this.stats.rejected++;
        reply = { requestId, ok: false, error: { code: err.code, message: err.message } };
      } else {
        const final = shouldDeadLetter(msg.info.deliveryCount, this.maxDeliver);
        log.error({ err, type: command.type, commandId: command.meta.commandId, delivery: msg.info.deliveryCount, final }, 'command failed');
        if (!final) {
          // No answer yet: the redelivery usually succeeds before the edge gives up waiting.
          this.stats.retried++;
          msg.nak((this.opts.redeliveryDelayMs ?? redeliveryDelay)(msg.info.deliveryCount));
          return;
        }
        // The last delivery: answer the edge, keep the command in CHAT_DLQ, move on.
        const code = isConcurrencyError(err) ? 'unavailable' : 'internal';
        publishReply(nc, n, edgeId, { requestId, ok: false, error: { code, message: code === 'unavailable' ? 'conversation too busy; retry' : 'internal error' } });
        await this.deadLetter(msg, err);
        return;
      }
    }
    this.stats.handled++;
    publishReply(nc, n, edgeId, reply);
    msg.ack();
  }

  /**
   * Stores the command in CHAT_DLQ, then terms it. If the dead letter cannot be stored, the
   * command is left unacknowledged: it stays in CHAT_CMD (a work queue) rather than vanish.
   */
  private async deadLetter(msg: JsMsg, err: unknown): Promise<void> {
    const { js, names: n, log } = this.opts;
    try {
      await deadLetterMessage(js, n, msg, { consumer: n.consumers.commandHandler, error: err });
      this.stats.deadLettered++;
    } catch (e) {
      log.error({ err: e, subject: msg.subject, seq: msg.seq }, 'dead-lettering a command failed; left in CHAT_CMD');
      msg.nak((this.opts.redeliveryDelayMs ?? redeliveryDelay)(msg.info.deliveryCount));
    }
  }
}
