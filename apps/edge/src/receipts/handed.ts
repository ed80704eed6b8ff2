import { ChatError, receiptFrame, type Command, type CommandResult, type DeliveryEnvelope, type ServerFrameOf } from '@chat/contracts';
import { decideHandedReceipts, markAppended, NO_MARKS, type DeviceMarks, type ReceiptCommand } from '@chat/domain';

export interface HandedReceiptsDeps {
  /** The member's receipt subject in CHAT_EVENTS (chat.evt.rcpt.<conversation>.<user>). */
  subject(conversationId: string, userId: string): string;
  /** Appends one event; resolves once the stream stored it (or had stored it: a duplicate `msgId`). */
  append(subject: string, json: string, msgId: string, headers?: Readonly<Record<string, string>>): Promise<void>;
  /**
   * The hand-over of receipts in direct conversations: their appends carry `headers`
   * (HANDED_BY_HEADER, so the projector routes their frames to the other edges only), and once
   * stored their `receipt` frames go to the members' devices here through `deliver`.
   */
  handOver?: { headers: Readonly<Record<string, string>>; deliver(env: DeliveryEnvelope): void };
  /** Each receipt's outcome (metrics): see `stats`. */
  onOutcome?(outcome: Outcome): void;
}

type Outcome = 'appended' | 'unchanged' | 'forwarded';

/** One conversation of one user on this edge: the highest seq routed live to them, and what each device's receipts appended here. */
interface Handed {
  seq: number;
  marks: Map<string, DeviceMarks>;
  /** A direct conversation's two members (as its `message.new` envelopes said). */
  direct?: readonly string[];
}

const isReceipt = (c: Command): c is ReceiptCommand => c.type === 'MarkDelivered' || c.type === 'MarkRead';

/** A receipt decided here, waiting for the end of the turn. */
interface Queued {
  command: ReceiptCommand;
  /** The seq handed over when it was decided. */
  handedUpTo: number;
  resolve(r: CommandResult): void;
  reject(e: unknown): void;
}

/**
 * Receipts appended by the edge itself, without a round trip to a command process
 * (docs/architecture.md, "Receipts"). The edge remembers, per user connected here and
 * conversation, the highest seq its delivery consumer handed to the user's devices; a
 * `message.delivered` or `message.read` up to that seq is decided here and appended to the
 * member's receipt subject, answered `accepted` once stored. A device's receipts for one
 * conversation in one turn are decided together (`decideHandedReceipts`): at most one read and
 * one delivered, none for a delivered the read covers, as the command gateway coalesces them.
 * Anything else (a seq this edge did not hand over, e.g. one the device got by `sync` or on
 * another edge) goes to the command process as before, which decides against the
 * conversation's state.
 *
 * In a direct conversation, the edge also hands the stored receipt's `receipt` frame to the
 * members' devices here (the sender's, and the reader's other devices), as the hand-over at
 * the append does with `message.new`, and stamps the append so that the projector routes it to
 * the other edges only: the sender sees ✓✓ without the projector's read, linger and
 * CHAT_DELIVERY publish in between. A receipt whose append fails is answered `unavailable`
 * and handed to nobody; the client's retry (same command id, a duplicate in the stream) hands
 * it over. Group receipts go to their senders coalesced by the projector, as before.
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
  /** This turn's receipts, by user, device and conversation. */
  private turn = new Map<string, Queued[]>();
  /** appended: events stored; unchanged: answered with nothing to append; forwarded: left to the command process. */
  readonly stats: Record<Outcome, number> = { appended: 0, unchanged: 0, forwarded: 0 };

  constructor(private readonly deps: HandedReceiptsDeps) {}

  /** A `message.new` with this seq was routed to a device of the user's on this edge; `direct`: the members of a direct conversation. */
  handed(userId: string, conversationId: string, seq: number, direct?: readonly string[]): void {
    let convs = this.users.get(userId);
    if (!convs) this.users.set(userId, (convs = new Map()));
    const h = convs.get(conversationId);
    if (!h) convs.set(conversationId, { seq, marks: new Map(), ...(direct ? { direct } : {}) });
    else {
      if (seq > h.seq) h.seq = seq;
      if (direct) h.direct = direct;
    }
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
   * command, or a receipt for the command process. Decided here at once; appended at the end
   * of the turn, together with the turn's other receipts of the same device and conversation.
   */
  mark(command: Command): Promise<CommandResult> | undefined {
    if (!isReceipt(command)) return undefined;
    const h = this.users.get(command.meta.userId)?.get(command.data.conversationId);
    if (!h || command.data.upToSeq > h.seq) {
      this.count('forwarded');
      return undefined;
    }
    return new Promise((resolve, reject) => {
      const key = `${command.meta.userId}\u0000${command.meta.deviceId}\u0000${command.data.conversationId}`;
      const group = this.turn.get(key);
      const item = { command, handedUpTo: h.seq, resolve, reject };
      if (group) group.push(item);
      else this.turn.set(key, [item]);
      if (this.turn.size === 1 && !group) setImmediate(() => this.flush());
    });
  }

  /** Each device's receipts for one conversation from this turn, decided together (`decideHandedReceipts`), answered once their events are stored. */
  private flush(): void {
    const turn = this.turn;
    this.turn = new Map();
    for (const group of turn.values()) {
      const { userId, deviceId } = group[0]!.command.meta;
      const { conversationId } = group[0]!.command.data;
      const handed = this.users.get(userId)?.get(conversationId);
      const marks = handed?.marks.get(deviceId) ?? NO_MARKS;
      const appends = decideHandedReceipts(
        group.map((g) => g.command),
        Math.max(...group.map((g) => g.handedUpTo)),
        marks,
      );
      for (const g of group) if (!appends.some((a) => a.command === g.command)) this.count('unchanged');
      if (appends.length === 0) {
        for (const g of group) g.resolve({ kind: 'accepted' });
        continue;
      }
      const subject = this.deps.subject(conversationId, userId);
      // Handed over here only in a direct conversation, with the hand-over on.
      const members = handed?.direct;
      const handOver = members ? this.deps.handOver : undefined;
      Promise.all(appends.map((a) => this.deps.append(subject, JSON.stringify(a.event), `${a.command.meta.commandId}:0`, handOver?.headers))).then(
        () => {
          appends.forEach(() => this.count('appended'));
          // Still remembered (not forgotten or dropped meanwhile): record how far this device got.
          const now = this.users.get(userId)?.get(conversationId);
          if (now) now.marks.set(deviceId, appends.map((a) => a.event).reduce(markAppended, now.marks.get(deviceId) ?? NO_MARKS));
          for (const g of group) g.resolve({ kind: 'accepted' });
          if (handOver) for (const { event } of appends) handOver.deliver({ users: [...members!], exceptDevice: { userId, deviceId }, frame: receiptFrame(event) });
        },
        (err: unknown) => {
          const e = new ChatError('unavailable', 'could not store the receipt; retry', { cause: err });
          for (const g of group) g.reject(e);
        },
      );
    }
  }
}
