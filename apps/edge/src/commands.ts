import { newId } from './ids';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { ChatError, CommandReply, type Command, type CommandResult, type Names } from '@chat/contracts';
import { commandSubject } from '@chat/nats';

type Pending = { resolve: (r: CommandResult) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout };

/**
 * Publishes commands to CHAT_CMD and waits for the command service's answer on this edge's
 * core-NATS reply subject. The command is durable once JetStream acknowledges the publish; the
 * answer comes only after the resulting events are durable in CHAT_EVENTS.
 */
export class CommandGateway {
  private readonly pending = new Map<string, Pending>();
  private sub?: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly n: Names,
    private readonly edgeId: string,
    private readonly timeoutMs: number,
  ) {}

  start(): void {
    this.sub = this.nc.subscribe(this.n.subjects.reply(this.edgeId), {
      callback: (err, msg) => {
        if (err) return;
        let reply: CommandReply;
        try {
          reply = CommandReply.parse(msg.json());
        } catch {
          return;
        }
        const p = this.pending.get(reply.requestId);
        if (!p) return; // answer to a request that timed out; the client retries by clientMsgId
        this.pending.delete(reply.requestId);
        clearTimeout(p.timer);
        if (reply.ok) p.resolve(reply.result);
        else p.reject(new ChatError(reply.error.code, reply.error.message));
      },
    });
  }

  /** Builds the command metadata the command service and decider rely on. */
  meta(userId: string, deviceId: string): Command['meta'] {
    const id = newId();
    return { commandId: id, requestId: id, userId, deviceId, edgeId: this.edgeId, at: new Date().toISOString() };
  }

  async execute(command: Command): Promise<CommandResult> {
    const { requestId } = command.meta;
    const answer = new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new ChatError('unavailable', 'the command service did not answer in time; retry'));
      }, this.timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
    });
    try {
      // msgID per request: a retried publish of this request is deduplicated by JetStream;
      // a client's retry (same clientMsgId, new request) is answered by the aggregate.
      await this.js.publish(commandSubject(this.n, command), JSON.stringify(command), { msgID: command.meta.commandId });
    } catch (e) {
      const p = this.pending.get(requestId);
      if (p) clearTimeout(p.timer);
      this.pending.delete(requestId);
      throw new ChatError('unavailable', 'could not queue the command; retry', { cause: e });
    }
    return answer;
  }

  /** Fails every waiting request (used on shutdown). */
  async stop(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new ChatError('unavailable', 'edge shutting down'));
      this.pending.delete(id);
    }
    await this.sub?.drain().catch(() => undefined);
  }
}
