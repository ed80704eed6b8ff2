import { describe, expect, it } from 'vitest';
import { runs } from './projection';
import { names, ROUTED_THROUGH_HEADER } from '@chat/contracts';
import type { PublishOptions } from '@chat/nats';
import { envelopesByEdge, packEnvelopes, Router, usersByEdge, type Route } from './routing';

const frame = { type: 'pong' } as const;

describe('usersByEdge', () => {
  const devices = new Map([
    ['alice', [{ deviceId: 'a1', edgeId: 'e1' }, { deviceId: 'a2', edgeId: 'e2' }]],
    ['bob', [{ deviceId: 'b1', edgeId: 'e1' }]],
  ]);

  it('groups users by the edges of their devices; users without devices get nothing', () => {
    const route: Route = { streamSeq: 1, frame, users: ['alice', 'bob', 'carol'] };
    expect([...usersByEdge(route, devices)]).toEqual([
      ['e1', ['alice', 'bob']],
      ['e2', ['alice']],
    ]);
  });

  it('leaves out an edge whose only device for a user is the excepted one', () => {
    const route: Route = { streamSeq: 1, frame, users: ['alice', 'bob'], exceptDevice: { userId: 'alice', deviceId: 'a2' } };
    expect([...usersByEdge(route, devices)]).toEqual([['e1', ['alice', 'bob']]]);
  });

  it('leaves out the edge that handed the frame over at the append', () => {
    const route: Route = { streamSeq: 1, frame, users: ['alice', 'bob'], skipEdge: 'e1' };
    expect([...usersByEdge(route, devices)]).toEqual([['e2', ['alice']]]);
  });
});

describe('Router.send', () => {
  it("tells each edge, on its last publish of the batch, how far the routing has got", async () => {
    const published: Array<{ subject: string; payload: string; headers: Record<string, string> | undefined }> = [];
    const publisher = { publish: async (subject: string, payload: string | Uint8Array, o: PublishOptions = {}) => (published.push({ subject, payload: String(payload), headers: o.headers }), { seq: published.length, duplicate: false, stream: 'd' }) };
    const router = new Router(publisher as never, names(''), {} as never, 60);
    const devices = new Map([
      ['alice', [{ deviceId: 'a1', edgeId: 'e1' }]],
      ['bob', [{ deviceId: 'b1', edgeId: 'e2' }]],
    ]);
    const routes: Route[] = [1, 2, 3].map((n) => ({ streamSeq: n, frame: { type: 'pong', ref: String(n) }, users: ['alice', 'bob'] }));
    await router.send(routes, devices, 'live', 7);
    const e1 = published.filter((p) => p.subject.endsWith('.e1'));
    expect(e1.length).toBeGreaterThan(1);
    expect(e1.map((p) => p.headers?.[ROUTED_THROUGH_HEADER])).toEqual([...e1.slice(1).map(() => undefined), '7']);
    published.length = 0;
    await router.send(routes, devices, 'rcpt');
    expect(published.every((p) => p.headers === undefined)).toBe(true);
  });
});

describe('runs', () => {
  it('splits into consecutive runs, keeping order', () => {
    expect(runs([1, 1, 2, 2, 1, 3], (x) => x).map((r) => r.items)).toEqual([[1, 1], [2, 2], [1], [3]]);
  });
});

describe('envelopesByEdge / packEnvelopes', () => {
  it("keeps a direct conversation's two members on each edge's envelope, whichever of them are on that edge", () => {
    const devices = new Map([
      ['alice', [{ deviceId: 'a1', edgeId: 'e1' }]],
      ['bob', [{ deviceId: 'b1', edgeId: 'e2' }]],
    ]);
    const route: Route = { streamSeq: 1, frame, users: ['alice', 'bob'], direct: ['alice', 'bob'] };
    const byEdge = envelopesByEdge([route], devices);
    expect(byEdge.get('e1')).toEqual([{ users: ['alice'], frame, direct: ['alice', 'bob'] }]);
    expect(byEdge.get('e2')).toEqual([{ users: ['bob'], frame, direct: ['alice', 'bob'] }]);
  });

  it('puts every route of a batch for one edge into one array, in order, split only past the byte limit', () => {
    const devices = new Map(Array.from({ length: 1024 }, (_, i) => [`u${i}`, [{ deviceId: 'd', edgeId: i % 2 ? 'e1' : 'e2' }]] as const));
    const users = [...devices.keys()];
    const routes: Route[] = [1, 2, 3].map((n) => ({ streamSeq: n, frame: { type: 'pong', ref: String(n) }, users }));
    const byEdge = envelopesByEdge(routes, devices);
    expect([...byEdge.keys()].sort()).toEqual(['e1', 'e2']);
    expect(byEdge.get('e1')!.map((e) => (e.frame as Record<string, unknown>)['ref'])).toEqual(['1', '2', '3']);
    expect(byEdge.get('e1')![0]!.users).toHaveLength(512);
    expect(packEnvelopes(byEdge.get('e1')!, 1 << 20)).toHaveLength(1);
    const small = packEnvelopes(byEdge.get('e1')!, 100);
    expect(small).toHaveLength(3);
    expect(small.flatMap((s) => JSON.parse(s) as unknown[])).toEqual(byEdge.get('e1'));
  });
});
