import type { NatsConnection, Subscription } from '@nats-io/transport-node';

/** Who runs an EDGE_ID: what a running edge answers on its instance subject. */
export interface EdgeInstance {
  instance: string;
  host: string;
  pid: number;
  startedAt: number;
}

/** Of two edges started with one id, the later one (ties: the greater instance id) gives way. */
export const yieldsTo = (me: EdgeInstance, other: EdgeInstance): boolean =>
  other.startedAt < me.startedAt || (other.startedAt === me.startedAt && other.instance < me.instance);

export class EdgeIdInUse extends Error {
  constructor(edgeId: string, other: EdgeInstance) {
    super(
      `EDGE_ID ${edgeId} is in use by a running edge (host ${other.host}, pid ${other.pid}, since ${new Date(other.startedAt).toISOString()}): ` +
        'two edges with one id would share one delivery consumer and one reply subject; give every edge its own EDGE_ID',
    );
  }
}

/**
 * Claims an EDGE_ID for this process: answers on the id's instance subject, then asks who
 * else answers there. An edge that crashed answers nothing, so its replacement starts at once;
 * a live one makes the newcomer fail with EdgeIdInUse. Two edges starting together both see
 * each other (each subscribes before asking) and the later one gives way.
 */
export async function claimEdgeId(nc: NatsConnection, subject: string, edgeId: string, me: EdgeInstance, waitMs = 500): Promise<Subscription> {
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (!err) msg.respond(JSON.stringify(me));
    },
  });
  await nc.flush();
  try {
    const replies = await nc.requestMany(subject, JSON.stringify(me), { maxWait: waitMs, strategy: 'timer' });
    for await (const r of replies) {
      let other: EdgeInstance;
      try {
        other = r.json<EdgeInstance>();
      } catch {
        continue;
      }
      if (other.instance !== me.instance && yieldsTo(me, other)) throw new EdgeIdInUse(edgeId, other);
    }
  } catch (e) {
    sub.unsubscribe();
    throw e;
  }
  return sub;
}
