import { createHash } from 'node:crypto';
import { ulid } from 'ulid';
import {
  CLIENT_FRAME_TYPES,
  CLOSE_CODES,
  ChatError,
  ClientFrame,
  LIMITS,
  decodeCursor,
  isChatError,
  type ClientFrameOf,
  type Command,
  type CommandResult,
  type ServerFrame,
} from '@chat/contracts';
import type { Outbound } from './outbound';

export interface SessionDeps {
  execute(command: Command): Promise<CommandResult>;
  meta(userId: string, deviceId: string): Command['meta'];
  sync(userId: string, afterStreamSeq: number, limit: number): Promise<{ frames: ServerFrameOf<'message.new'>[]; hasMore: boolean }>;
  /** Oldest stream position the server still keeps; older cursors get `sync.reset`. */
  oldestPosition(): Promise<number>;
  maxBadFramesPerMinute: number;
  now(): number;
  onFrameIn(type: string): void;
  onCommand(type: string, outcome: string, seconds: number): void;
}
type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

/** A direct conversation between the same two users always has the same id. */
export function directConversationId(a: string, b: string): string {
  const [x, y] = [a, b].sort();
  return 'd-' + createHash('sha256').update(`${x}\n${y}`).digest('base64url').slice(0, 40);
}

/**
 * One (user, device) connection's protocol state machine, independent of the socket: it takes
 * text frames in and sends frames out through `Outbound`.
 */
export class Session {
  private badFrames: number[] = [];
  private closed = false;

  constructor(
    readonly userId: string,
    readonly deviceId: string,
    private readonly deps: SessionDeps,
    private readonly out: Outbound,
  ) {}

  send(frame: ServerFrame): void {
    if (!this.closed) this.out.send(frame, frame.type);
  }

  /** A frame already serialised (fan-out serialises once for many sockets). */
  sendRaw(json: string, type: ServerFrame['type']): void {
    if (!this.closed) this.out.send(json, type);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.out.close(code, reason);
  }

  markClosed(): void {
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Binary frames are protocol abuse (PROTOCOL.md): close with 1003. */
  onBinary(): void {
    this.deps.onFrameIn('binary');
    this.close(CLOSE_CODES.unsupportedData, 'binary frames are not supported');
  }

  async onText(raw: string): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      this.deps.onFrameIn('invalid');
      return this.reject('bad_request', 'malformed JSON', {});
    }
    const ids = correlation(json);
    const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !(CLIENT_FRAME_TYPES as string[]).includes(type)) {
      this.deps.onFrameIn('invalid');
      return this.reject('bad_request', typeof type === 'string' ? `unknown frame type "${type.slice(0, 64)}"` : 'frame needs a string "type"', ids);
    }
    const parsed = ClientFrame.safeParse(json);
    this.deps.onFrameIn(type);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const tooBig = issue?.code === 'too_big' && issue.path.join('.') === 'body.text';
      return this.reject(tooBig ? 'payload_too_large' : 'bad_request', `${issue?.path.join('.') || type}: ${issue?.message ?? 'invalid'}`, ids);
    }
    await this.dispatch(parsed.data, ids);
  }

  private async dispatch(frame: ClientFrame, ids: Correlation): Promise<void> {
    switch (frame.type) {
      case 'ping':
        return this.send({ type: 'pong', ...(frame.ref ? { ref: frame.ref } : {}) });
      case 'conversation.create':
        return this.run(ids, () => this.create(frame));
      case 'message.send':
        return this.run(ids, () => this.sendMessage(frame));
      case 'message.delivered':
      case 'message.read':
        return this.run(ids, () => this.receipt(frame));
      case 'sync':
        return this.run(ids, () => this.sync(frame));
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  private async create(frame: ClientFrameOf<'conversation.create'>): Promise<void> {
    const others = [...new Set(frame.members)].filter((m) => m !== this.userId);
    if (frame.kind === 'direct' && others.length !== 1) throw new ChatError('bad_request', 'a direct conversation has exactly one other member');
    const conversationId = frame.kind === 'direct' ? directConversationId(this.userId, others[0]!) : `g-${ulid()}`;
    const result = await this.command({
      type: 'CreateConversation',
      v: 1,
      meta: this.deps.meta(this.userId, this.deviceId),
      data: { conversationId, kind: frame.kind, members: [this.userId, ...others], ...(frame.title ? { title: frame.title } : {}) },
    });
    if (result.kind !== 'conversation.created') throw new ChatError('internal', 'unexpected answer');
    this.send({ type: 'conversation.created', ref: frame.ref, conversationId: result.conversationId, kind: result.conversationKind, members: result.members });
  }

  private async sendMessage(frame: ClientFrameOf<'message.send'>): Promise<void> {
    const result = await this.command({
      type: 'SendMessage',
      v: 1,
      meta: this.deps.meta(this.userId, this.deviceId),
      data: {
        conversationId: frame.conversationId,
        messageId: ulid(),
        clientMsgId: frame.clientMsgId,
        body: frame.body,
        ...(frame.replyTo ? { replyTo: frame.replyTo } : {}),
      },
    });
    if (result.kind !== 'message.sent') throw new ChatError('internal', 'unexpected answer');
    const { kind: _k, ...sent } = result;
    this.send({ type: 'message.sent', ...sent });
  }

  private async receipt(frame: ClientFrameOf<'message.delivered'> | ClientFrameOf<'message.read'>): Promise<void> {
    await this.command({
      type: frame.type === 'message.read' ? 'MarkRead' : 'MarkDelivered',
      v: 1,
      meta: this.deps.meta(this.userId, this.deviceId),
      data: { conversationId: frame.conversationId, upToSeq: frame.upToSeq },
    });
  }

  private async sync(frame: ClientFrameOf<'sync'>): Promise<void> {
    let after = 0;
    if (frame.cursor !== null) {
      const pos = decodeCursor(frame.cursor);
      if (pos === null) throw new ChatError('bad_request', 'cursor is not one this server issued');
      if (pos + 1 < (await this.deps.oldestPosition())) {
        return this.send({ type: 'sync.reset', ref: frame.ref, reason: 'cursor is older than the retained history; reload from the HTTP API' });
      }
      after = pos;
    }
    const { frames, hasMore } = await this.deps.sync(this.userId, after, frame.limit ?? LIMITS.defaultSyncLimit);
    const cursor = frames.length ? frames[frames.length - 1]!.cursor : frame.cursor;
    this.send({ type: 'sync.batch', ref: frame.ref, frames, cursor, hasMore });
  }

  private async command(command: Command): Promise<CommandResult> {
    const started = this.deps.now();
    try {
      const r = await this.deps.execute(command);
      this.deps.onCommand(command.type, 'ok', (this.deps.now() - started) / 1000);
      return r;
    } catch (e) {
      this.deps.onCommand(command.type, isChatError(e) ? e.code : 'internal', (this.deps.now() - started) / 1000);
      throw e;
    }
  }

  private async run(ids: Correlation, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (isChatError(e)) this.error(e.code, e.message, ids);
      else this.error('internal', 'internal error', ids);
    }
  }

  private error(code: ChatError['code'], message: string, ids: Correlation): void {
    this.send({ type: 'error', code, message, ...ids });
  }

  /** A bad frame gets an error; too many in a minute close the socket with 1008. */
  private reject(code: ChatError['code'], message: string, ids: Correlation): void {
    this.error(code, message, ids);
    const now = this.deps.now();
    this.badFrames = this.badFrames.filter((t) => now - t < 60_000);
    this.badFrames.push(now);
    if (this.badFrames.length > this.deps.maxBadFramesPerMinute) {
      this.close(CLOSE_CODES.policyViolation, 'too many invalid frames');
    }
  }
}

type Correlation = { ref?: string; clientMsgId?: string };

/** The `ref` / `clientMsgId` of a frame, when present and sane, to tag its error answer. */
function correlation(json: unknown): Correlation {
  if (typeof json !== 'object' || json === null) return {};
  const o = json as Record<string, unknown>;
  const out: Correlation = {};
  if (typeof o['ref'] === 'string' && o['ref'].length <= 64) out.ref = o['ref'];
  if (typeof o['clientMsgId'] === 'string' && o['clientMsgId'].length <= 64) out.clientMsgId = o['clientMsgId'];
  return out;
}
