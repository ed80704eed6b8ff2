import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServerFrame, type Feature } from '@chat/contracts';
import type { PresenceChange, PresenceState } from '@chat/redis';
import { PresenceWatch, type Watcher } from './watch';

/** A store twin with the PresenceStore's rules: versions grow, offline only when no device is live. */
function twin() {
  const live = new Set<string>();
  const announced = new Map<string, { online: boolean; lastSeen: number | null; v: number }>();
  const store = {
    online: async (u: string): Promise<PresenceChange | null> => {
      const a = announced.get(u);
      if (a?.online) return null;
      const v = (a?.v ?? 0) + 1;
      announced.set(u, { online: true, lastSeen: a?.lastSeen ?? null, v });
      return { userId: u, online: true, lastSeenAt: null, v };
    },
    offline: async (u: string, at: number): Promise<PresenceChange | null> => {
      const a = announced.get(u);
      if (live.has(u) || a?.online === false) return null;
      const v = (a?.v ?? 0) + 1;
      announced.set(u, { online: false, lastSeen: at, v });
      return { userId: u, online: false, lastSeenAt: at, v };
    },
    read: async (users: readonly string[]): Promise<PresenceState[]> =>
      users.map((u) => {
        const a = announced.get(u);
        const online = live.has(u) || a?.online === true;
        return { userId: u, online, lastSeenAt: online ? null : (a?.lastSeen ?? null), stale: !live.has(u) && a?.online === true };
      }),
  };
  return { live, store };
}

function watcher(userId: string, features: Feature[] = []): Watcher & { frames: unknown[] } {
  const frames: unknown[] = [];
  return { userId, features: new Set(features), frames, sendRaw: (json) => frames.push(JSON.parse(json)) };
}

function setup(o: { blocks?: Array<[string, string]>; hiding?: string[]; echo?: boolean } = {}) {
  const blocks = o.blocks ?? [];
  const hiding = new Set(o.hiding ?? []);
  const { live, store } = twin();
  const announced: PresenceChange[] = [];
  /** Deliveries that looked settings and blocks up. */
  const lookups = { n: 0 };
  let clock = 1_700_000_000_000;
  const contacts: Record<string, string[]> = { viewer: ['ann', 'bo'], other: ['ann'] };
  const watch = new PresenceWatch({
    store,
    announce: (c) => {
      announced.push(c);
      if (o.echo !== false) watch.heard(c); // one edge: NATS brings its own announcements back
    },
    contactsAmong: async (viewer, users) => new Set(users.filter((u) => contacts[viewer]?.includes(u))),
    blockedBy: async (u) => new Set(blocks.filter(([, b]) => b === u).map(([a]) => a)),
    blockingAmong: async (users) => new Map(users.map((u) => [u, new Set(blocks.filter(([a]) => a === u).map(([, b]) => b))])),
    hidingAmong: async (users) => {
      lookups.n++;
      return new Set(users.filter((u) => hiding.has(u)));
    },
    graceMs: 5_000,
    now: () => clock,
    onError: (err) => {
      throw err;
    },
  });
  return { watch, live, announced, hiding, lookups, tick: (ms: number) => (clock += ms), now: () => clock };
}

/** A viewer watching ann, and ann connecting (her online announced). */
async function annConnects(o: Parameters<typeof setup>[0] = {}) {
  const s = setup(o);
  const v = watcher('viewer');
  await s.watch.subscribe(v, ['ann']);
  s.live.add('ann');
  s.watch.connected('ann');
  return { s, v };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PresenceWatch', () => {
  it('shows only contacts, pushes their changes to the watchers, and a later subscribe replaces the set', async () => {
    const s = setup();
    const v = watcher('viewer');
    expect(await s.watch.subscribe(v, ['ann', 'stranger', 'ann'])).toEqual([{ userId: 'ann', online: false, lastSeenAt: null }]);
    s.live.add('ann');
    s.watch.connected('ann');
    s.live.add('stranger');
    s.watch.connected('stranger');
    await vi.waitFor(() => expect(s.announced).toHaveLength(2));
    await vi.waitFor(() => expect(v.frames).toHaveLength(1));
    expect(v.frames).toEqual([{ type: 'presence', userId: 'ann', online: true, lastSeenAt: null }]);

    expect(await s.watch.subscribe(v, ['bo'])).toEqual([{ userId: 'bo', online: false, lastSeenAt: null }]);
    s.watch.heard({ userId: 'ann', online: false, lastSeenAt: 1, v: 9 });
    expect(v.frames).toHaveLength(1);
    expect(s.watch.watchedUsers).toBe(1);
    s.watch.unsubscribe(v);
    expect(s.watch.watchedUsers).toBe(0);
  });

  it('drops an announcement older than one already heard', async () => {
    const s = setup();
    const v = watcher('viewer');
    await s.watch.subscribe(v, ['ann']);
    s.watch.heard({ userId: 'ann', online: false, lastSeenAt: 5, v: 4 });
    await vi.waitFor(() => expect(v.frames).toHaveLength(1));
    s.watch.heard({ userId: 'ann', online: true, lastSeenAt: null, v: 3 });
    await new Promise((resolve) => setImmediate(resolve)); // delivered alone, in a turn of its own
    s.watch.heard({ userId: 'bo', online: true, lastSeenAt: null, v: 1 }); // not watched: never queued
    s.watch.heard({ userId: 'ann', online: true, lastSeenAt: null, v: 5 }); // the marker: the one before it was handled
    await vi.waitFor(() => expect(v.frames).toHaveLength(2));
    expect(v.frames).toEqual([
      { type: 'presence', userId: 'ann', online: false, lastSeenAt: new Date(5).toISOString() },
      { type: 'presence', userId: 'ann', online: true, lastSeenAt: null },
    ]);
  });

  it('announces offline after the grace, with the time the last device left; a reconnect inside the grace announces nothing', async () => {
    vi.useFakeTimers();
    const { s, v } = await annConnects();
    await vi.advanceTimersByTimeAsync(0);

    // Flap: gone and back within the grace.
    s.live.delete('ann');
    s.watch.left('ann');
    await vi.advanceTimersByTimeAsync(2_000);
    s.live.add('ann');
    s.watch.connected('ann');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(v.frames).toEqual([{ type: 'presence', userId: 'ann', online: true, lastSeenAt: null }]);
    expect(s.announced.map((c) => c.online)).toEqual([true]);

    s.live.delete('ann');
    const leftAt = s.now();
    s.watch.left('ann');
    s.tick(5_000);
    await vi.advanceTimersByTimeAsync(5_000);
    await vi.waitFor(() => expect(v.frames.at(-1)).toEqual({ type: 'presence', userId: 'ann', online: false, lastSeenAt: new Date(leftAt).toISOString() }));
    expect(s.announced.map((c) => c.online)).toEqual([true, false]);
  });

  it("an edge's own announcements reach its watchers at once, and their copy from NATS is not shown again", async () => {
    const { s, v } = await annConnects({ echo: false });
    await vi.waitFor(() => expect(v.frames).toEqual([{ type: 'presence', userId: 'ann', online: true, lastSeenAt: null }]));
    const lookups = s.lookups.n;

    s.watch.heard(s.announced[0]!); // NATS brings it back, in a later turn
    await new Promise((resolve) => setImmediate(resolve));
    s.watch.heard({ userId: 'ann', online: false, lastSeenAt: 3, v: 2 }); // the marker: the copy before it was handled
    await vi.waitFor(() => expect(v.frames).toHaveLength(2));
    expect(v.frames.map((f) => (f as { online: boolean }).online)).toEqual([true, false]);
    expect(s.lookups.n).toBe(lookups + 1); // the marker's; the copy cost no lookup
  });

  it('the grace counts from when the socket closed, not from when the edge got to it', async () => {
    vi.useFakeTimers();
    const { s } = await annConnects();
    await vi.advanceTimersByTimeAsync(0);
    s.live.delete('ann');
    const closedAt = s.now();
    s.tick(2_000); // the route was removed 2 s after the close
    s.watch.left('ann', closedAt);
    await vi.advanceTimersByTimeAsync(2_999);
    expect(s.announced.map((c) => c.online)).toEqual([true]);
    s.tick(3_000);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.announced.map((c) => [c.online, c.lastSeenAt])).toEqual([
      [true, null],
      [false, closedAt],
    ]);
  });

  it('recheck settles a user announced online whose devices are gone, on the second look', async () => {
    const s = setup();
    const v = watcher('viewer');
    s.live.add('ann');
    s.watch.connected('ann');
    await vi.waitFor(() => expect(s.announced).toHaveLength(1));
    await s.watch.subscribe(v, ['ann']);
    s.live.delete('ann'); // its edge died: nobody calls left()

    await s.watch.recheck();
    expect(s.announced).toHaveLength(1);
    await s.watch.recheck();
    expect(s.announced.map((c) => c.online)).toEqual([true, false]);
    await vi.waitFor(() => expect(v.frames).toEqual([expect.objectContaining({ userId: 'ann', online: false })]));
  });

  it('a user who blocks the viewer is left out; one who hides their presence shows offline and is not pushed', async () => {
    const s = setup({ blocks: [['bo', 'viewer']], hiding: ['ann'] });
    const v = watcher('viewer');
    expect(await s.watch.subscribe(v, ['ann', 'bo'])).toEqual([{ userId: 'ann', online: false, lastSeenAt: null }]);
    expect(await s.watch.view('viewer', 'bo')).toBeNull();
    s.live.add('ann');
    s.watch.connected('ann');
    await vi.waitFor(() => expect(s.announced).toHaveLength(1));
    expect(await s.watch.view('viewer', 'ann')).toEqual({ userId: 'ann', online: false, lastSeenAt: null });
    // ann shows her presence again: the next announcement reaches the viewer (the marker that the one before was dropped).
    s.hiding.delete('ann');
    s.watch.heard({ userId: 'ann', online: true, lastSeenAt: null, v: 7 });
    await vi.waitFor(() => expect(v.frames).toHaveLength(1));
    expect(v.frames).toEqual([{ type: 'presence', userId: 'ann', online: true, lastSeenAt: null }]);
  });

  it('the announcements of a user who blocks a watcher do not reach that watcher', async () => {
    const s = setup({ blocks: [['ann', 'other']] });
    const blocked = watcher('other');
    const v = watcher('viewer');
    await s.watch.subscribe(blocked, ['ann']); // subscribed before the block took effect here: still watching
    await s.watch.subscribe(v, ['ann']);
    s.watch.heard({ userId: 'ann', online: true, lastSeenAt: null, v: 1 });
    await vi.waitFor(() => expect(v.frames).toHaveLength(1));
    expect(blocked.frames).toEqual([]);
  });

  it('announcements heard together: the newest per user, one presence.batch per connection that asked for it, one frame per change to the others', async () => {
    const s = setup();
    const plain = watcher('viewer');
    const batching = watcher('viewer', ['presence.batch']);
    const one = watcher('other', ['presence.batch']); // sees ann only
    await s.watch.subscribe(plain, ['ann', 'bo']);
    await s.watch.subscribe(batching, ['ann', 'bo']);
    await s.watch.subscribe(one, ['ann', 'bo']);
    s.watch.heard({ userId: 'ann', online: true, lastSeenAt: null, v: 1 });
    s.watch.heard({ userId: 'bo', online: true, lastSeenAt: null, v: 1 });
    s.watch.heard({ userId: 'ann', online: false, lastSeenAt: 7, v: 2 });
    await vi.waitFor(() => expect(plain.frames).toHaveLength(2));
    const annOffline = { userId: 'ann', online: false, lastSeenAt: new Date(7).toISOString() };
    const boOnline = { userId: 'bo', online: true, lastSeenAt: null };
    expect(plain.frames).toEqual([
      { type: 'presence', ...annOffline },
      { type: 'presence', ...boOnline },
    ]);
    expect(batching.frames).toEqual([{ type: 'presence.batch', users: [annOffline, boOnline] }]);
    expect(one.frames).toEqual([{ type: 'presence.batch', users: [annOffline] }]);
    for (const f of [...plain.frames, ...batching.frames]) expect(ServerFrame.parse(f)).toEqual(f);
  });

  it('view answers only for contacts', async () => {
    const s = setup();
    expect(await s.watch.view('other', 'ann')).toEqual({ userId: 'ann', online: false, lastSeenAt: null });
    expect(await s.watch.view('other', 'bo')).toBeNull();
  });
});
