import { describe, expect, it } from 'vitest';
import { runs } from './projection';
import { usersByEdge, type Route } from './routing';

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
});

describe('runs', () => {
  it('splits into consecutive runs, keeping order', () => {
    expect(runs([1, 1, 2, 2, 1, 3], (x) => x).map((r) => r.items)).toEqual([[1, 1], [2, 2], [1], [3]]);
  });
});
