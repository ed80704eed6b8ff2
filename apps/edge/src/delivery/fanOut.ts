import type { DeliveryEnvelope, ServerFrameOf } from '@chat/contracts';
import type { Hub } from '../ws/hub';

/** A `receipt.batch` as the standard `receipt` frames docs/protocol.md defines. */
export function receiptFrames(batch: ServerFrameOf<'receipt.batch'>): Array<ServerFrameOf<'receipt'>> {
  return batch.receipts.map((r) => ({ type: 'receipt', conversationId: batch.conversationId, userId: r.userId, status: r.status, upToSeq: r.upToSeq, at: r.at }));
}

/** What the edge learns from the frames passing through it. */
export interface DeliveryObserver {
  /** A `conversation.updated` (members after the change), routed to `users`. */
  conversationUpdated?(frame: ServerFrameOf<'conversation.updated'>, users: readonly string[]): void;
  /** A `message.new` handed to at least one of the user's devices here; `direct`: the two members of a direct conversation. */
  handed?(userId: string, conversationId: string, seq: number, direct?: readonly string[]): void;
}

/**
 * Hands an envelope's frame to the sockets here of the users it names, but the device that
 * caused it; each frame is serialised once for all its sockets. The one way frames reach sockets,
 * whether they were routed by the projector (DeliveryConsumer) or handed over at the append
 * (HandOverHere).
 */
export class HubFanOut {
  constructor(
    private readonly hub: Hub,
    /** Frames written to sockets, per envelope. */
    private readonly onDelivered: (n: number) => void,
    private readonly observe: DeliveryObserver = {},
  ) {}

  deliver(env: DeliveryEnvelope): void {
    const frame = env.frame;
    if (frame.type === 'conversation.updated') this.observe.conversationUpdated?.(frame, env.users);
    const handed = frame.type === 'message.new' && this.observe.handed ? frame : undefined;
    const json = JSON.stringify(frame);
    // Group receipts: one `receipt.batch` to connections that asked for it, the same content as
    // standard `receipt` frames (one per member and status) to the others.
    let receipts: string[] | undefined;
    let n = 0;
    for (const userId of env.users) {
      let here = false;
      for (const s of this.hub.devicesOf(userId)) {
        if (env.exceptDevice && env.exceptDevice.userId === userId && env.exceptDevice.deviceId === s.deviceId) continue;
        if (frame.type === 'receipt.batch' && !s.features.has('receipt.batch')) {
          receipts ??= receiptFrames(frame).map((r) => JSON.stringify(r));
          for (const r of receipts) s.sendRaw(r, 'receipt');
        } else s.sendRaw(json, frame.type);
        n++;
        here = true;
      }
      if (here && handed) this.observe.handed!(userId, handed.conversationId, handed.seq, env.direct);
    }
    this.onDelivered(n);
  }
}
