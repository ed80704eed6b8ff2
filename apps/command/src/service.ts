import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Command, isChatError, type CommandReply, type CommandResult, type Names } from '@chat/contracts';
import { isConcurrencyError, publishReply, pullLoop, type EventStore, type PullLoop } from '@chat/nats';
import { Aggregates } from './aggregates';
import type { HandlerContext } from './handler';
import { KeyedQueue } from './keyedQueue';
import { createConversation } from './createConversation/handle';
import { markDelivered } from './markDelivered/handle';
import { markRead } from './markRead/handle';
import { sendMessage } from './sendMessage/handle';

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
  /** Interval of the one-line activity summary; 0 turns it off. */
  summaryEveryMs?: number;
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
}

/** Redelivery delay after an unexpected failure, growing with the delivery count. */
const redeliveryDelay = (deliveryCount: number) => Math.min(30_000, 500 * 2 ** (deliveryCount - 1));

/**
 * Consumes CHAT_CMD with the `command-handler` durable, runs each command and answers the edge
 * that sent it. A command is acked only after its answer is published, and the answer only after
 * its events are acknowledged by JetStream; a crash in between redelivers the command, which the
 * deciders and the message ids turn into the same answer with nothing appended twice.
 */
export class CommandService {
  readonly stats: CommandStats = { handled: 0, rejected: 0, conflicts: 0, retried: 0, invalid: 0 };
  readonly aggregates: Aggregates;
  private readonly queue = new KeyedQueue();
  private readonly ctx: HandlerContext;
  private loop?: PullLoop;
  private maxDeliver = -1;
  private summary?: NodeJS.Timeout;

  constructor(private readonly opts: CommandServiceOptions) {
    this.aggregates = new Aggregates(opts.store, opts.cacheEntries);
    this.ctx = { aggregates: this.aggregates, names: opts.names, stats: this.stats };
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

  /** Stops pulling, lets running commands finish and answer; undelivered ones go back to the server. */
  async stop(): Promise<void> {
    clearInterval(this.summary);
    await this.loop?.stop();
  }

  private async onMessage(msg: JsMsg): Promise<void> {
    const { log, nc, names: n } = this.opts;
    let command: Command;
    try {
      command = Command.parse(msg.json());
    } catch (err) {
      // Can never succeed: redelivering it would only block the consumer.
      this.stats.invalid++;
      log.warn({ err, subject: msg.subject, seq: msg.seq }, 'invalid command dropped');
      msg.term();
      return;
    }
    const { requestId, edgeId } = command.meta;
    let reply: CommandReply;
    try {
      reply = { requestId, ok: true, result: await this.execute(command) };
    } catch (err) {
      if (isChatError(err)) {
        this.stats.rejected++;
        reply = { requestId, ok: false, error: { code: err.code, message: err.message } };
      } else {
        const final = this.maxDeliver > 0 && msg.info.deliveryCount >= this.maxDeliver;
        log.error({ err, type: command.type, commandId: command.meta.commandId, delivery: msg.info.deliveryCount, final }, 'command failed');
        if (!final) {
          // No answer yet: the redelivery usually succeeds before the edge gives up waiting.
          this.stats.retried++;
          msg.nak(redeliveryDelay(msg.info.deliveryCount));
          return;
        }
        const code = isConcurrencyError(err) ? 'unavailable' : 'internal';
        publishReply(nc, n, edgeId, { requestId, ok: false, error: { code, message: code === 'unavailable' ? 'conversation too busy; retry' : 'internal error' } });
        msg.term();
        return;
      }
    }
    this.stats.handled++;
    publishReply(nc, n, edgeId, reply);
    msg.ack();
  }
}
