import { directPair, HANDED_BY_HEADER, messageNewFrame, type ConversationKind, type DeliveryEnvelope, type EventOf } from '@chat/contracts';
import type { HandOver } from '@chat/command-tier';

/** Conversations whose last hand-over is remembered, at most (the oldest are forgotten first). */
export const DEFAULT_MAX_TAILS = 100_000;

export interface HandOverStats {
  /** Messages claimed before their append. */
  claimed: number;
  /** Messages left to the projector: a frame of the conversation routed by it may still be on its way here. */
  declined: number;
  /** Claimed messages stored and handed to the devices here. */
  handed: number;
  /** Claimed appends that failed without proving they were not stored, and hand-overs that failed (the members here were asked to sync). */
  unsure: number;
}

/**
 * The hand-over at the append (docs/architecture.md): an edge hosting the command tier gives a
 * new message's `message.new` to the members' devices connected here as soon as JetStream has
 * acknowledged the append, and stamps the event (HANDED_BY_HEADER) so that the projector routes
 * the frame to every other edge and not here. No projector linger, no CHAT_DELIVERY publish, no
 * delivery for the devices here.
 *
 * Order per conversation: a message is claimed only when no frame of its conversation can
 * still be on its way here from the projector, i.e. when the conversation's previous event is
 * - the message this edge handed over last in that conversation (`tails`), or
 * - at or below the horizon: the highest CHAT_EVENTS sequence through which the projector has
 *   routed everything and this edge's delivery consumer has handed out all it was sent
 *   (ROUTED_THROUGH_HEADER, reported by the consumer).
 * Otherwise (the first message after a start, after another edge's or a command process's
 * append, after an edit or a membership change that is still being routed) it is left to the
 * projector, as before. The hosted tier runs a conversation's commands one at a time, so no
 * other append of the conversation comes between a claim and its hand-over here.
 *
 * A device that registers after the hand-over misses the frame and the projector does not
 * route it here either: its `sync`, which comes after its registration, waits for the read
 * model to reach the stream's end (read after ack) and returns the message.
 */
export class HandOverHere implements HandOver {
  readonly stats: HandOverStats = { claimed: 0, declined: 0, handed: 0, unsure: 0 };
  /** Conversation → stream sequence of the last message handed over here (in insertion order: oldest first). */
  private readonly tails = new Map<string, number>();
  private horizon = 0;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(
    private readonly o: {
      edgeId: string;
      /** Hands an envelope to the sockets here (HubFanOut.deliver). */
      deliver(env: DeliveryEnvelope): void;
      /** Asks the users' devices here to sync (`sync.required`). */
      syncRequired(userIds: readonly string[]): void;
      maxTails?: number;
    },
  ) {
    this.headers = { [HANDED_BY_HEADER]: o.edgeId };
  }

  /** The delivery consumer handed out everything the projector routed here up to `streamSeq`. */
  routedThrough(streamSeq: number): void {
    if (streamSeq > this.horizon) this.horizon = streamSeq;
  }

  claim(conversationId: string, expectedLastSubjectSeq: number): Readonly<Record<string, string>> | undefined {
    if (expectedLastSubjectSeq <= this.horizon || this.tails.get(conversationId) === expectedLastSubjectSeq) {
      this.stats.claimed++;
      return this.headers;
    }
    this.stats.declined++;
    return undefined;
  }

  stored(event: EventOf<'MessageSent'>, streamSeq: number, members: readonly string[], kind: ConversationKind): void {
    const tails = this.tails;
    tails.delete(event.conversationId);
    tails.set(event.conversationId, streamSeq);
    if (tails.size > (this.o.maxTails ?? DEFAULT_MAX_TAILS)) tails.delete(tails.keys().next().value!);
    this.stats.handed++;
    const direct = directPair(kind, members);
    const env: DeliveryEnvelope = { users: [...members], exceptDevice: { userId: event.senderId, deviceId: event.senderDeviceId }, frame: messageNewFrame(event, streamSeq), ...(direct ? { direct } : {}) };
    // Out at the end of this turn, after the command's answer: the sender's `message.sent` is
    // written by the continuations of this call, so its socket is corked (TickCork) and written
    // before the members'. A group's fan-out (a thousand frames, tens of ms on a busy edge) then
    // does not delay the sender's tick. No I/O runs before a nextTick, so nothing routed by the
    // projector comes in between.
    process.nextTick(() => this.handOut(env, event.conversationId, members));
  }

  private handOut(env: DeliveryEnvelope, conversationId: string, members: readonly string[]): void {
    try {
      this.o.deliver(env);
    } catch {
      // The message is stored and answered whatever happens here; the devices catch up by sync.
      this.unsure(conversationId, members);
    }
  }

  unsure(conversationId: string, members: readonly string[]): void {
    this.tails.delete(conversationId);
    this.stats.unsure++;
    this.o.syncRequired(members);
  }
}
