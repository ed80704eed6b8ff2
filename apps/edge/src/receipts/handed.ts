import { ChatError, type Command, type CommandResult, type ServerFrameOf } from '@chat/contracts';
import { decideHandedReceipt, markAppended, type DeviceMarks, type ReceiptCommand } from '@chat/domain';

export interface HandedReceiptsDeps {
  /** The member's receipt subject in CHAT_EVENTS (chat.evt.rcpt.<conversation>.<user>). */
  subject(conversationId: string, userId: string): string;
  /** Appends one event; resolves once the stream stored it (or had stored it: a duplicate `msgId`). */
  append(subject: string, json: string, msgId: string): Promise<void>;
  /** Each receipt's outcome (metrics): see `stats`. */
  onOutcome?(outcome: Outcome): void;
}

type Outcome = 'appended' | 'unchanged' | 'forwarded';

/** One conversation of one user on this edge: the highest seq routed live to them, and what each device's receipts appended here. */
interface Handed {
  seq: number;
  marks: Map<string, DeviceMarks>;
}

const isReceipt = (c: Command): c is ReceiptCommand => c.type === 'MarkDelivered' || c.type === 'MarkRead';

/**
 * Receipts appended by the edge itself, without a round trip to a command process
 * (docs/architecture.md, "Receipts"). The edge remembers, per user connected here and
 * conversation, the highest seq its delivery consumer handed to the user's devices; a
 * `message.delivered` or `message.read` up to that seq is decided here (`decideHandedReceipt`)
 * and appended to the member's receipt subject, answered `accepted` once stored. Anything else
 * (a seq this edge did not hand over, e.g. one the device got by `sync` or on another edge)
 * goes to the command process as before, which decides against the conversation's state.
 *
 * Membership: a message is routed only to members, so a handed seq proves the user was a
 * member when it was sent. A `conversation.updated` that says a user left or was removed drops
 * what was handed to them here, and so does the close of their last device here (the removal's
 * frame is not routed to an edge the user is not on). What remains is the time between a
 * removal's append and its frame reaching this edge (the projector's lag; longer while it is
 * down): a removed member can still acknowledge messages they were handed while a member.
 */
export class HandedReceipts {
  private readonly users = new Map<string, Map<string, Handed>>();
  /** appended: events stored; unchanged: answered with nothing to append; forwarded: left to the command process. */
  readonly stats: Record<Outcome, number> = { appended: 0, unchanged: 0, forwarded: 0 };

  constructor(private readonly deps: HandedReceiptsDeps) {}

  /** A `message.new` with this seq was routed to a device of the user's on this edge. */
  handed(userId: string, conversationId: string, seq: number): void {
    let convs = this.users.get(userId);
    if (!convs) this.users.set(userId, (convs = new Map()));
    const h = convs.get(conversationId);
    if (!h) convs.set(conversationId, { seq, marks: new Map() });
    else if (seq > h.seq) h.seq = seq;
  }

  /** A `conversation.updated` routed to `recipients`: whoever it names as no longer a member keeps nothing here. */
  membershipChanged(frame: ServerFrameOf<'conversation.updated'>, recipients: readonly string[]): void {
    const gone = new Set(frame.member === false ? recipients : []);
    for (const u of frame.userIds ?? []) if (!frame.members.includes(u)) gone.add(u);
    for (const u of gone) {
      const convs = this.users.get(u);
      if (convs?.delete(frame.conversationId) && convs.size === 0) this.users.delete(u);
    }
  }

  /** The user's last device here closed. */
  forget(userId: string): void {
    this.users.delete(userId);
  }

  private count(outcome: Outcome): void {
    this.stats[outcome]++;
    this.deps.onOutcome?.(outcome);
  }

  /** Users with something remembered (metrics, tests). */
  get size(): number {
    return this.users.size;
  }

  /**
   * The answer to a receipt this edge can decide, once durable; `undefined` for any other
   * command, or a receipt for the command process.
   */
  mark(command: Command): Promise<CommandResult> | undefined {
    if (!isReceipt(command)) return undefined;
    const { userId, deviceId } = command.meta;
    const { conversationId } = command.data;
    const h = this.users.get(userId)?.get(conversationId);
    const marks = h?.marks.get(deviceId) ?? { delivered: 0, read: 0 };
    const events = h ? decideHandedReceipt(command, h.seq, marks) : undefined;
    if (!events) {
      this.count('forwarded');
      return undefined;
    }
    if (events.length === 0) {
      this.count('unchanged');
      return Promise.resolve({ kind: 'accepted' });
    }
    const event = events[0]!;
    return this.deps.append(this.deps.subject(conversationId, userId), JSON.stringify(event), `${command.meta.commandId}:0`).then(
      () => {
        this.count('appended');
        // Still remembered (not forgotten or dropped meanwhile): record how far this device got.
        const now = this.users.get(userId)?.get(conversationId);
        if (now) now.marks.set(deviceId, markAppended(now.marks.get(deviceId) ?? { delivered: 0, read: 0 }, event));
        return { kind: 'accepted' as const };
      },
      (err: unknown) => {
        throw new ChatError('unavailable', 'could not store the receipt; retry', { cause: err });
      },
    );
  }
}
