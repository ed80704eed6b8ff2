import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { startEdge, startSystem, token, type RunningSystem } from '../support/system';
import { upgrade } from '../support/upgrade';

/**
 * The WebSocket gateway's own duties (apps/edge/src/ws/gateway.ts): refusing upgrades it
 * cannot serve with an HTTP error and a JSON body, the heartbeat that drops dead peers, and
 * refusing new connections while draining.
 */
let sys: RunningSystem;

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'));
}, 60_000);

afterAll(async () => {
  await sys?.stop();
});

/** Pings a raw socket receives, and a promise for its close code. */
function track(ws: WebSocket) {
  let pings = 0;
  ws.on('ping', () => pings++);
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  return { closed, pings: () => pings };
}

describe('websocket gateway', () => {
  it('answers an upgrade to an unknown path with 404 and a JSON error', async () => {
    const t = await token('gw-path');
    const r = await upgrade(`${sys.wsUrl.replace('/v1/ws', '/v1/nope')}?access_token=${t}`);
    expect(r.status).toBe(404);
    expect(r.body?.error?.code).toBe('not_found');
  });

  it('the heartbeat closes a peer that stops answering pings and keeps one that answers', async () => {
    const edge = await startEdge(sys, { CHAT_HEARTBEAT: '400ms' });
    const live = await upgrade(`${edge.wsUrl}?access_token=${await token('gw-live')}`);
    // autoPong off: the socket stays open at TCP level but never answers, like a vanished phone.
    const dead = await upgrade(`${edge.wsUrl}?access_token=${await token('gw-dead')}`, {}, { autoPong: false });
    expect([live.status, dead.status]).toEqual([101, 101]);
    const l = track(live.ws!);
    const d = track(dead.ws!);
    // The dead peer is terminated after its first unanswered ping: a close without a close frame.
    expect(await d.closed).toBe(1006);
    expect(d.pings()).toBeGreaterThanOrEqual(1);
    // By then the live socket has been pinged too (same period); a few more periods later it is still open.
    const pingsAtDeath = l.pings();
    while (l.pings() < pingsAtDeath + 3) await new Promise((r) => setTimeout(r, 50));
    expect(live.ws!.readyState).toBe(WebSocket.OPEN);
    live.ws!.close();
    expect(await l.closed).toBe(1005);
    await edge.edge.stop();
  });

  it('while draining, refuses new connections with 503 and tells the connected ones to move', async () => {
    const edge = await startEdge(sys, { CHAT_DRAIN_GRACE: '30s' });
    const stay = await upgrade(`${edge.wsUrl}?access_token=${await token('gw-stay')}`);
    await stay.received!.next('hello');
    const stopped = edge.edge.stop('SIGTERM');
    await stay.received!.next('server.draining');
    const late = await upgrade(`${edge.wsUrl}?access_token=${await token('gw-late')}`);
    expect(late.status).toBe(503);
    expect(late.body?.error?.code).toBe('unavailable');
    // The last client leaving ends the drain early.
    stay.ws!.close();
    expect(await stopped).toBe(0);
  });
});
