import type { JetStreamClient } from '@nats-io/jetstream';
import type { DeliveryEnvelope, Names, ServerFrame } from '@chat/contracts';
import type { ConnectionRegistry, DeviceRoute } from '@chat/redis';

/** One frame for the connected devices of some users. */
export interface Route {
  /** CHAT_EVENTS sequence of the event the frame comes from; with the edge it names the publish for dedupe. */
  streamSeq: number;
  frame: ServerFrame;
  users: readonly string[];
  /** The device that caused the event: it already knows. */
  exceptDevice?: { userId: string; deviceId: string };
}

/**
 * Pure: which users of a route to name in the envelope for each edge. A user whose only
 * device on an edge is the excepted one is left out, and an edge left with nobody gets nothing.
 */
export function usersByEdge(route: Route, devices: ReadonlyMap<string, readonly DeviceRoute[]>): Map<string, string[]> {
  const byEdge = new Map<string, string[]>();
  const ex = route.exceptDevice;
  for (const userId of new Set(route.users)) {
    const edges = new Set<string>();
    for (const d of devices.get(userId) ?? []) {
      if (ex && ex.userId === userId && ex.deviceId === d.deviceId) continue;
      edges.add(d.edgeId);
    }
    for (const edgeId of edges) {
      const list = byEdge.get(edgeId) ?? [];
      list.push(userId);
      byEdge.set(edgeId, list);
    }
  }
  return byEdge;
}

/**
 * Routes frames to the edges where the users' devices are connected: one DeliveryEnvelope
 * per frame per edge on chat.dlv.<edgeId>. Publishes go out in call order on one connection,
 * so an edge receives a batch's frames in stream order; all acks are awaited together.
 * Routing is at-least-once: clients dedupe by (conversationId, seq), and the Nats-Msg-Id
 * below absorbs a repeat within the delivery stream's duplicate window.
 */
export class Router {
  constructor(
    private readonly js: JetStreamClient,
    private readonly names: Names,
    private readonly registry: ConnectionRegistry,
  ) {}

  /** Returns the number of envelopes published. */
  async route(routes: readonly Route[]): Promise<number> {
    if (routes.length === 0) return 0;
    // One registry round trip for the whole batch.
    const devices = await this.registry.lookup([...new Set(routes.flatMap((r) => r.users))]);
    if (devices.size === 0) return 0;
    const acks: Array<Promise<unknown>> = [];
    for (const r of routes) {
      for (const [edgeId, users] of usersByEdge(r, devices)) {
        const envelope: DeliveryEnvelope = {
          users,
          ...(r.exceptDevice ? { exceptDevice: r.exceptDevice } : {}),
          frame: r.frame as Record<string, unknown>,
        };
        acks.push(this.js.publish(this.names.subjects.dlv(edgeId), JSON.stringify(envelope), { msgID: `evt-${r.streamSeq}-${edgeId}` }));
      }
    }
    await Promise.all(acks);
    return acks.length;
  }
}
