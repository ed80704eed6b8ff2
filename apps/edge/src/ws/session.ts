import { createHash } from 'node:crypto';
import { newId } from '../ids';
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
  type Feature,
  type MediaInfo,
  type MessageBody,
  type PresenceInfo,
  type ServerFrame,
  type SyncedFrame,
} from '@chat/contracts';
import { LocalTokenBucket } from '@chat/redis';
import type { Outbound } from './outbound';

export interface SessionDeps {
  execute(command: Command): Promise<CommandResult>;
  meta(userId: string, deviceId: string): Command['meta'];
  sync(userId: string, afterStreamSeq: number, limit: number): Promise<{ frames: SyncedFrame[]; hasMore: boolean }>;
  /** The body of a message the user may see (for forwarding), or a ChatError. */
  forwardable(userId: string, conversationId: string, messageId: string): Promise<MessageBody>;
  /** A `ready` media upload of the user's as messages carry it, or a ChatError (docs/media.md). */
  sendableMedia(userId: string, mediaId: string): Promise<MediaInfo>;
  /** Blocking (docs/protocol.md, "Blocking"): a send into a blocker's direct conversation, or creating one with a blocker, is `forbidden`. */
  blocks: {
    checkSend(userId: string, conversationId: string): Promise<void>;
    checkCreateDirect(userId: string, otherId: string): Promise<void>;
  };
  /** Replaces the users this connection watches; answers with those it may see (docs/protocol.md, "Presence"). */
  watchPresence(session: Session, userIds: string[]): Promise<PresenceInfo[]>;
  /** Forwards a typing signal to the conversation's other members; a non-member gets `forbidden`. */
  typing(userId: string, conversationId: string, state: 'start' | 'stop'): Promise<void>;
  /** Oldest stream position the server still keeps; older cursors get `sync.reset`. */
  oldestPosition(): Promise<number>;
  maxBadFramesPerMinute: number;
  now(): number;
  onFrameIn(type: string): void;
  onCommand(type: string, outcome: string, seconds: number): void;
  /** Frames of any type per second on one connection (local token bucket); absent or 0 = no limit. */
  frameRate?: { perSecond: number; burst: number };
  /** Rate-limited frames per minute before the socket is closed with 1008 (default 100). */
  floodLimitPerMinute?: number;
  /** Per-user limits shared by all edges: `send` (message.send/forward) and `create` (conversation.create). */
  limit?(kind: 'send' | 'create', userId: string): Promise<{ allowed: boolean; retryAfterMs: number }>;
  /** Called for every frame refused by a rate limit (metrics). */
  onRateLimited?(kind: 'frame' | 'send' | 'create'): void;
}

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
  private limitedFrames: number[] = [];
  private closed = false;
  private readonly frames: LocalTokenBucket | undefined;

  constructor(
    readonly userId: string,
    readonly deviceId: string,
    private readonly deps: SessionDeps,
    private readonly out: Outbound,
    /** Optional frames this connection asked for (`?features=`). */
    readonly features: ReadonlySet<Feature> = new Set(),
  ) {
    const fr = deps.frameRate;
    if (fr && fr.perSecond > 0) this.frames = new LocalTokenBucket({ perMinute: fr.perSecond * 60, burst: fr.burst }, deps.now);
  }

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

  /** Binary frames are protocol abuse (docs/protocol.md): close with 1003. */
  onBinary(): void {
    this.deps.onFrameIn('binary');
    this.close(CLOSE_CODES.unsupportedData, 'binary frames are not supported');
  }

  async onText(raw: string): Promise<void> {
    if (this.closed) return;
    let json: unknown;
    let malformed = false;
    try {
      json = JSON.parse(raw);
    } catch {
      malformed = true;
    }
    const ids = malformed ? {} : correlation(json);
    // Every frame, good or bad, takes a token of the connection's frame budget.
    const budget = this.frames?.take();
    if (budget && !budget.allowed) {
      this.deps.onFrameIn('rate_limited');
      return this.floodControl(budget.retryAfterMs, ids);
    }
    if (malformed) {
      this.deps.onFrameIn('invalid');
      return this.reject('bad_request', 'malformed JSON', {});
    }
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
        return this.run(ids, async () => {
          await this.userLimit('create');
          await this.create(frame);
        });
      case 'message.send':
        return this.run(ids, async () => {
          await this.userLimit('send');
          await this.sendMessage(frame);
        });
      case 'message.delivered':
      case 'message.read':
        return this.run(ids, () => this.receipt(frame));
      case 'sync':
        return this.run(ids, () => this.sync(frame));
      case 'message.forward':
        return this.run(ids, async () => {
          await this.userLimit('send');
          await this.forward(frame);
        });
      case 'message.edit':
        return this.run(ids, () => this.edit(frame));
      case 'message.delete':
        return this.run(ids, () => this.delete(frame));
      case 'conversation.members.add':
        return this.run(ids, () => this.change(frame.ref, 'AddMembers', { conversationId: frame.conversationId, userIds: frame.members }));
      case 'conversation.members.remove':
        return this.run(ids, () => this.change(frame.ref, 'RemoveMember', { conversationId: frame.conversationId, userId: frame.userId }));
      case 'conversation.leave':
        return this.run(ids, () => this.change(frame.ref, 'LeaveConversation', { conversationId: frame.conversationId }));
      case 'conversation.role.set':
        return this.run(ids, () => this.change(frame.ref, 'ChangeRole', { conversationId: frame.conversationId, userId: frame.userId, role: frame.role }));
      case 'conversation.update': {
        const { type: _t, ref, ...data } = frame;
        return this.run(ids, () => this.change(ref, 'UpdateConversation', data));
      }
      case 'conversation.mute':
        return this.run(ids, () => this.mute(frame));
      case 'presence.subscribe':
        return this.run(ids, async () => {
          const users = await this.deps.watchPresence(this, frame.userIds);
          this.send({ type: 'presence.snapshot', ref: frame.ref, users });
        });
      case 'typing':
        return this.run(ids, () => this.deps.typing(this.userId, frame.conversationId, frame.state));
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  /** The user's shared budget for sends or creates; refused with `rate_limited` before anything is published. */
  private async userLimit(kind: 'send' | 'create'): Promise<void> {
    if (!this.deps.limit) return;
    const r = await this.deps.limit(kind, this.userId);
    if (r.allowed) return;
    this.deps.onRateLimited?.(kind);
    const what = kind === 'send' ? 'messages' : 'conversation creates';
    throw new ChatError('rate_limited', `too many ${what}; retry in ${r.retryAfterMs} ms`, { retryAfterMs: r.retryAfterMs });
  }

  /** Over the connection's frame rate: `rate_limited`; sustained flooding closes with 1008. */
  private floodControl(retryAfterMs: number, ids: Correlation): void {
    this.deps.onRateLimited?.('frame');
    this.send({ type: 'error', code: 'rate_limited', message: 'too many frames on this connection; slow down', retryAfterMs, ...ids });
    const now = this.deps.now();
    const limit = this.deps.floodLimitPerMinute ?? 100;
    this.limitedFrames.push(now);
    if (this.limitedFrames.length > limit) this.limitedFrames = this.limitedFrames.filter((t) => now - t < 60_000);
    if (this.limitedFrames.length > limit) this.close(CLOSE_CODES.policyViolation, 'flooding: too many frames');
  }

  private async create(frame: ClientFrameOf<'conversation.create'>): Promise<void> {
    const others = [...new Set(frame.members)].filter((m) => m !== this.userId);
    if (frame.kind === 'direct' && others.length !== 1) throw new ChatError('bad_request', 'a direct conversation has exactly one other member');
    if (frame.kind === 'direct') await this.deps.blocks.checkCreateDirect(this.userId, others[0]!);
    const conversationId = frame.kind === 'direct' ? directConversationId(this.userId, others[0]!) : `g-${newId()}`;
    const result = await this.ask('CreateConversation', { conversationId, kind: frame.kind, members: [this.userId, ...others], ...(frame.title ? { title: frame.title } : {}) }, 'conversation.created');
    this.send({ type: 'conversation.created', ref: frame.ref, conversationId: result.conversationId, kind: result.conversationKind, members: result.members });
  }

  private async sendMessage(frame: ClientFrameOf<'message.send'>): Promise<void> {
    await this.deps.blocks.checkSend(this.userId, frame.conversationId);
    // Media by id: the edge fills in what recipients need from the user's completed upload.
    const body: MessageBody = 'media' in frame.body ? { ...frame.body, media: await this.deps.sendableMedia(this.userId, frame.body.media.mediaId) } : frame.body;
    await this.relay(
      undefined,
      'SendMessage',
      {
        conversationId: frame.conversationId,
        messageId: newId(),
        clientMsgId: frame.clientMsgId,
        body,
        ...(frame.replyTo ? { replyTo: frame.replyTo } : {}),
        ...(frame.mentions ? { mentions: [...new Set(frame.mentions)] } : {}),
      },
      'message.sent',
    );
  }

  /** The edge checks the user may see the source (read side), then sends a marked copy. */
  private async forward(frame: ClientFrameOf<'message.forward'>): Promise<void> {
    await this.deps.blocks.checkSend(this.userId, frame.conversationId);
    const body = await this.deps.forwardable(this.userId, frame.from.conversationId, frame.from.messageId);
    await this.relay(undefined, 'SendMessage', { conversationId: frame.conversationId, messageId: newId(), clientMsgId: frame.clientMsgId, body, forwarded: frame.from }, 'message.sent');
  }

  private async edit(frame: ClientFrameOf<'message.edit'>): Promise<void> {
    await this.relay(frame.ref, 'EditMessage', { conversationId: frame.conversationId, messageId: frame.messageId, body: frame.body }, 'message.edited');
  }

  private async delete(frame: ClientFrameOf<'message.delete'>): Promise<void> {
    await this.relay(frame.ref, 'DeleteMessage', { conversationId: frame.conversationId, messageId: frame.messageId, scope: frame.scope }, 'message.deleted');
  }

  /** Membership, role and metadata commands, answered with the conversation as it now is. */
  private async change<T extends 'AddMembers' | 'RemoveMember' | 'LeaveConversation' | 'ChangeRole' | 'UpdateConversation'>(
    ref: string,
    type: T,
    data: Extract<Command, { type: T }>['data'],
  ): Promise<void> {
    // (`data` belongs to `type`, but with T a union TypeScript cannot relate the two.)
    const result = await this.ask(type, data as never, 'conversation.changed');
    const { kind: _k, conversationKind, ...rest } = result;
    this.send({
      type: 'conversation.updated',
      ...rest,
      kind: conversationKind,
      ref,
      by: this.userId,
      member: result.members.includes(this.userId),
    });
  }

  /** Push-notification mute for the caller (all of their devices), answered with the setting as it now is. */
  private async mute(frame: ClientFrameOf<'conversation.mute'>): Promise<void> {
    await this.relay(frame.ref, 'MuteConversation', { conversationId: frame.conversationId, muted: frame.muted, ...(frame.until ? { until: frame.until } : {}) }, 'conversation.muted');
  }

  private async receipt(frame: ClientFrameOf<'message.delivered'> | ClientFrameOf<'message.read'>): Promise<void> {
    await this.ask(frame.type === 'message.read' ? 'MarkRead' : 'MarkDelivered', { conversationId: frame.conversationId, upToSeq: frame.upToSeq }, 'accepted');
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
    const cursor = frames.length ? (frames[frames.length - 1]!.cursor ?? frame.cursor) : frame.cursor;
    this.sendRaw(syncBatchJson(frame.ref, frames, cursor, hasMore), 'sync.batch');
  }

  /**
   * Runs a command whose result is its answer frame as it is (see @chat/contracts' results) and
   * sends that frame, with the client's `ref` where the frame has one.
   */
  private async relay<T extends Command['type'], K extends Relayed>(ref: string | undefined, type: T, data: Extract<Command, { type: T }>['data'], kind: K): Promise<void> {
    // (`data` belongs to `type`, but with T generic TypeScript cannot relate the two.)
    const { kind: _k, ...fields }: CommandResult = await this.ask(type, data as never, kind);
    this.send({ type: kind, ...fields, ...(ref !== undefined ? { ref } : {}) } as ServerFrame);
  }

  /** Runs a command of this session's user and device; its answer must be of kind `expect`. */
  private async ask<T extends Command['type'], K extends CommandResult['kind']>(
    type: T,
    data: Extract<Command, { type: T }>['data'],
    expect: K,
  ): Promise<Extract<CommandResult, { kind: K }>> {
    const result = await this.command({ type, v: 1, meta: this.deps.meta(this.userId, this.deviceId), data } as Command);
    if (result.kind !== expect) throw new ChatError('internal', `unexpected answer ${result.kind} to ${type}`);
    return result as Extract<CommandResult, { kind: K }>;
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
      if (isChatError(e)) this.error(e.code, e.message, ids, e.retryAfterMs);
      else this.error('internal', 'internal error', ids);
    }
  }

  private error(code: ChatError['code'], message: string, ids: Correlation, retryAfterMs?: number): void {
    this.send({ type: 'error', code, message, ...ids, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
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

/** Results whose answer frame has the same fields (the frame's `type` is the result's `kind`). */
type Relayed = 'message.sent' | 'message.edited' | 'message.deleted' | 'conversation.muted';

/** The `ref` / `clientMsgId` of a frame, when present and sane, to tag its error answer. */
function correlation(json: unknown): Correlation {
  if (typeof json !== 'object' || json === null) return {};
  const o = json as Record<string, unknown>;
  const out: Correlation = {};
  if (typeof o['ref'] === 'string' && o['ref'].length <= 64) out.ref = o['ref'];
  if (typeof o['clientMsgId'] === 'string' && o['clientMsgId'].length <= 64) out.clientMsgId = o['clientMsgId'];
  return out;
}

/** Each synced frame's JSON, made once however many sessions send it (the reads share frame objects). */
const frameJson = new WeakMap<SyncedFrame, string>();

/** A `sync.batch` frame as JSON, built from each frame's JSON made once. */
function syncBatchJson(ref: string, frames: readonly SyncedFrame[], cursor: string | null, hasMore: boolean): string {
  const parts = frames.map((f) => {
    let json = frameJson.get(f);
    if (json === undefined) {
      json = JSON.stringify(f);
      frameJson.set(f, json);
    }
    return json;
  });
  return `{"type":"sync.batch","ref":${JSON.stringify(ref)},"frames":[${parts.join(',')}],"cursor":${JSON.stringify(cursor)},"hasMore":${hasMore}}`;
}
