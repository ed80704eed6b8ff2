import { newId } from './ids';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ChatError, type Command, type CommandReply, type CommandResult, type Names } from '@chat/contracts';
import { commandSubject } from '@chat/nats';

interface Pending {
  resolve: (r: CommandResult) => void;
  reject: (e: unknown) => void;
  subject: string;
  payload: string;
  replyTo: string;
  deadline: number;
  /** When to send it again (no owner for its partition right now), 0 = not waiting to. */
  resendAt: number;
  sends: number;
}

/** How often deadlines and resends are checked: one timer for every request in flight. */
const TICK_MS = 25;
const resendDelay = (sends: number) => Math.min(1_000, 50 * 2 ** Math.min(5, sends - 1));

/**
 * Sends commands to the command process that owns their conversation's partition (core NATS,
 * nothing stored on the way) and waits for its answer on this edge's reply subjects
 * (`chat.reply.<edgeId>.<requestId>`). The answer comes only after the command's events are
 * durable in CHAT_EVENTS.
 *
 * While a partition has no owner (a process died and its lease has not run out, or it is being
 * handed over), the server answers "no responders" at once, or the old owner answers `moved`:
 * the same command (same ids: the deciders answer a repeat the same way) is sent again with a
 * growing pause until CHAT_COMMAND_TIMEOUT, then the client gets `unavailable` and retries by
 * its own ids.
 */
export class CommandGateway {
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  readonly stats = { sent: 0, resent: 0, timedOut: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly n: Names,
    private readonly edgeId: string,
    private readonly timeoutMs: number,
    private readonly partitions: number,
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
    const { requestId } = command.meta;
    return new Promise<CommandResult>((resolve, reject) => {
      const p: Pending = {
        resolve,
        reject,
        subject: commandSubject(this.n, command, this.partitions),
        payload: JSON.stringify(command),
        replyTo: this.n.subjects.reply(this.edgeId, requestId),
        deadline: Date.now() + this.timeoutMs,
        resendAt: 0,
        sends: 0,
      };
      this.pending.set(requestId, p);
      this.send(p);
    });
  }

  private send(p: Pending): void {
    p.sends++;
    p.resendAt = 0;
    if (p.sends > 1) this.stats.resent++;
    else this.stats.sent++;
    try {
      this.nc.publish(p.subject, p.payload, { reply: p.replyTo });
    } catch {
      // Closed or draining: resent until the deadline like any other miss.
      p.resendAt = Date.now() + resendDelay(p.sends);
    }
  }

  private onReply(requestId: string, msg: Msg): void {
    const p = this.pending.get(requestId);
    if (!p) return; // an answer to a request that timed out; the client retries by its ids
    // No process owns the partition right now (nats-server's "no responders").
    if (msg.headers?.code === 503) {
      p.resendAt = Date.now() + resendDelay(p.sends);
      return;
    }
    let reply: CommandReply;
    try {
      reply = msg.json<CommandReply>();
    } catch {
      return;
    }
    if (!reply.ok && reply.moved) {
      p.resendAt = Date.now() + resendDelay(p.sends);
      return;
    }
    this.pending.delete(requestId);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new ChatError(reply.error.code, reply.error.message));
  }

  private tick(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (now >= p.deadline) {
        this.pending.delete(id);
        this.stats.timedOut++;
        p.reject(new ChatError('unavailable', 'the command service did not answer in time; retry'));
      } else if (p.resendAt && now >= p.resendAt) this.send(p);
    }
  }

  /** Fails every waiting request (used on shutdown). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const [id, p] of this.pending) {
      p.reject(new ChatError('unavailable', 'edge shutting down'));
      this.pending.delete(id);
    }
    await this.sub?.drain().catch(() => undefined);
  }
}
