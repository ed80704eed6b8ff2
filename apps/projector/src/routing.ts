import type { JetStreamPublisher } from '@chat/nats';
import { ROUTED_THROUGH_HEADER, type DeliveryEnvelope, type Names, type ServerFrame } from '@chat/contracts';
import type { ConnectionRegistry, DeviceRoute } from '@chat/redis';

/** One frame for the connected devices of some users. */
export interface Route {
  /** CHAT_EVENTS sequence of the event the frame comes from; with the edge it names the publish for dedupe. */
  streamSeq: number;
  frame: ServerFrame;
  users: readonly string[];
  /** The device that caused the event: it already knows. */
  exceptDevice?: { userId: string; deviceId: string };
  /** The edge that handed the frame to its own devices at the append (HANDED_BY_HEADER): not routed there. */
  skipEdge?: string;
  /** A direct conversation's `message.new`: its two members (DeliveryEnvelope.direct). */
  direct?: readonly [string, string];
}

/**
 * Pure: which users of a route to name in the envelope for each edge. A user whose only
 * device on an edge is the excepted one is left out, the route's `skipEdge` gets nobody, and an
 * edge left with nobody gets nothing.
 */
export function usersByEdge(route: Route, devices: ReadonlyMap<string, readonly DeviceRoute[]>): Map<string, string[]> {
  const byEdge = new Map<string, string[]>();
  const ex = route.exceptDevice;
  for (const userId of new Set(route.users)) {
    const edges = new Set<string>();
    for (const d of devices.get(userId) ?? []) {
      if (d.edgeId === route.skipEdge) continue;
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

/** Pure: each edge's envelopes for a batch of routes, in route order. */
export function envelopesByEdge(routes: readonly Route[], devices: ReadonlyMap<string, readonly DeviceRoute[]>): Map<string, DeliveryEnvelope[]> {
  const out = new Map<string, DeliveryEnvelope[]>();
  for (const r of routes) {
    for (const [edgeId, users] of usersByEdge(r, devices)) {
      const list = out.get(edgeId) ?? [];
      list.push({ users, ...(r.exceptDevice ? { exceptDevice: r.exceptDevice } : {}), frame: r.frame, ...(r.direct ? { direct: [...r.direct] as [string, string] } : {}) });
      out.set(edgeId, list);
    }
  }
  return out;
}

/**
 * Pure: serialises an edge's envelopes as JSON arrays of at most `maxBytes` each (one array
 * per publish; an envelope bigger than that goes alone). Order is kept.
 */
export function packEnvelopes(envelopes: readonly DeliveryEnvelope[], maxBytes: number): string[] {
  const out: string[] = [];
  let parts: string[] = [];
  let size = 2;
  for (const e of envelopes) {
    const json = JSON.stringify(e);
    const bytes = Buffer.byteLength(json) + 1;
    if (parts.length && size + bytes > maxBytes) {
      out.push(`[${parts.join(',')}]`);
      parts = [];
      size = 2;
    }
    parts.push(json);
    size += bytes;
  }
  if (parts.length) out.push(`[${parts.join(',')}]`);
  return out;
}

/** Below NATS' default max_payload (1 MiB) with room for headers. */
export const MAX_DELIVERY_BYTES = 512 * 1024;

export interface RouterStats {
  /** route() calls that published something. */
  batches: number;
  /** Publishes to chat.dlv.<edgeId> (one per edge per batch, more only past MAX_DELIVERY_BYTES). */
  publishes: number;
  envelopes: number;
  /** Publishes of the last batch. */
  lastPublishes: number;
}

/**
 * Routes frames to the edges where the users' devices are connected: all of a batch's
 * envelopes for one edge go in ONE publish on chat.dlv.<edgeId> (a JSON array, split only
 * past MAX_DELIVERY_BYTES), so a message to a 1,024-member group is one publish per edge, not
 * one per member. Order within an edge is the route order (stream order). Routing is
 * at-least-once: clients dedupe by (conversationId, seq), and the Nats-Msg-Id
 * (`<tag>-<first>-<last>-<edge>-<chunk>`) absorbs a repeat within the delivery stream's
 * duplicate window.
 */
export class Router {
  readonly stats: RouterStats = { batches: 0, publishes: 0, envelopes: 0, lastPublishes: 0 };

  constructor(
    private readonly publisher: Pick<JetStreamPublisher, 'publish'>,
    private readonly names: Names,
    private readonly registry: ConnectionRegistry,
    private readonly maxBytes = MAX_DELIVERY_BYTES,
  ) {}

  /** Where the users' devices are connected: one registry round trip for all of them. */
  lookup(users: Iterable<string>): Promise<Map<string, DeviceRoute[]>> {
    return this.registry.lookup([...new Set(users)]);
  }

  /** Looks the users up, then publishes; returns the number of publishes. */
  async route(routes: readonly Route[], tag = 'evt'): Promise<number> {
    if (routes.length === 0) return 0;
    return this.send(routes, await this.lookup(routes.flatMap((r) => r.users)), tag);
  }

  /**
   * Publishes routes to the edges where `devices` says the users are; resolves once JetStream
   * stored every publish. `tag` names the caller in the dedupe id (stream seqs of different
   * callers overlap). `through`: every event up to this stream sequence is routed by this call
   * or an earlier one (live routing, in stream order), sent to each edge as
   * ROUTED_THROUGH_HEADER.
   */
  async send(routes: readonly Route[], devices: ReadonlyMap<string, readonly DeviceRoute[]>, tag = 'evt', through?: number): Promise<number> {
    if (routes.length === 0 || devices.size === 0) return 0;
    // A loop, not Math.min(...): a big batch can hold more routes than a call has arguments.
    let lo = Infinity;
    let hi = 0;
    for (const r of routes) {
      lo = Math.min(lo, r.streamSeq);
      hi = Math.max(hi, r.streamSeq);
    }
    const id = `${tag}-${lo}-${hi}`;
    const acks: Array<Promise<unknown>> = [];
    let envelopes = 0;
    for (const [edgeId, list] of envelopesByEdge(routes, devices)) {
      envelopes += list.length;
      const chunks = packEnvelopes(list, this.maxBytes);
      chunks.forEach((payload, chunk) => {
        // The last chunk for the edge says how far the routing has got (ROUTED_THROUGH_HEADER).
        const headers = through !== undefined && chunk === chunks.length - 1 ? { headers: { [ROUTED_THROUGH_HEADER]: String(through) } } : {};
        acks.push(this.publisher.publish(this.names.subjects.dlv(edgeId), payload, { msgId: `${id}-${edgeId}-${chunk}`, ...headers }));
      });
    }
    await Promise.all(acks);
    if (acks.length) {
      this.stats.batches++;
      this.stats.publishes += acks.length;
      this.stats.envelopes += envelopes;
      this.stats.lastPublishes = acks.length;
    }
    return acks.length;
  }
}
