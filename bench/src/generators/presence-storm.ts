/**
 * Generator for the `presence-storm` scenario. `clients` users in groups of `watch + 1`, every
 * one connected and watching the `watch` others of its group (`presence.subscribe`; a group is
 * what makes them visible to each other). Then, with every `moverEvery`-th client a mover:
 *
 * 1. flap: the movers drop and reconnect at once (inside the presence grace), and each
 *    subscribes again. Reports the time from the drop to each mover's snapshot showing all its
 *    group online (its first correct frame) and the presence frames the others got meanwhile
 *    (a reconnect inside the grace should show nothing).
 * 2. away: the movers close. Reports, per watcher and mover, the time from the mover's close to
 *    the watcher's being told offline (the grace included; `afterGraceFromStartMs`: counted from
 *    the phase's start, the first mover's close, as before 2026-12-03), and the frames sent (the clients ask
 *    for `presence.batch`, as the SDK does: `presenceFrames` counts frames on the wire,
 *    `presenceChanges` the changes they carry).
 * 3. back: the movers connect again. The same for the `online` frames, from each mover's
 *    connect (`fromStartMs`: from the phase's start).
 *
 * Phase start and end times (epoch ms) are returned so the scenario can attribute CPU to them.
 *
 * args: { wsUrl, jwtSecret, clients, watch?, moverEvery?, graceMs, runId? }
 */
import type { ChatClient } from '@chat/client';
import { makeClient, nowMs, pool, progress, readArgs, retry, runMain, signToken, sleep, summary } from './lib/common';

interface Args {
  wsUrl: string;
  jwtSecret: string;
  clients: number;
  watch?: number;
  moverEvery?: number;
  /** The system's CHAT_PRESENCE_GRACE. */
  graceMs: number;
  runId?: string;
}

runMain(async () => {
  const a = readArgs<Args>();
  const watch = a.watch ?? 50;
  const groupSize = watch + 1;
  const groups = Math.max(1, Math.floor(a.clients / groupSize));
  const N = groups * groupSize;
  const moverEvery = a.moverEvery ?? 5;
  const run = a.runId ?? Math.random().toString(36).slice(2, 8);
  const userIds = Array.from({ length: N }, (_, i) => `ps${i}-${run}`);
  const groupOf = (i: number) => Math.floor(i / groupSize);
  const matesOf = (i: number) => userIds.slice(groupOf(i) * groupSize, (groupOf(i) + 1) * groupSize).filter((_, k) => k !== i % groupSize);
  const tokens = await Promise.all(userIds.map((u) => signToken(a.jwtSecret, u, 'd1')));
  const movers = userIds.map((_, i) => i).filter((i) => i % moverEvery === 0);
  const isMover = new Set(movers.map((i) => userIds[i]!));

  // Presence frames as they arrive: how many in all, and during a phase the first frame of each
  // expected (watcher, mover) pair saying what the phase waits for. Counted as frames arrive, so
  // waiting for a phase costs the event loop nothing (a scan over 40,000 pairs every 50 ms would
  // delay the very frames it measures).
  const seen = { frames: 0, changes: 0 };
  /** What was seen since `mark` (a copy of `seen` taken earlier), as a phase reports it. */
  const seenSince = (mark: typeof seen) => ({ presenceFrames: seen.frames - mark.frames, presenceChanges: seen.changes - mark.changes });
  // Per pair: ms from the mover's own close (or connect) and from the phase's start (the first
  // mover's); the generator takes a while to close or connect 1,000 clients, and that time is its own.
  let phase: { online: boolean; from: number; startedAt: Map<string, number>; expected: ReadonlySet<string>; got: Map<string, [number, number]> } | undefined;
  const listen = (c: ChatClient, i: number) => {
    // Frames on the wire (`presence`, or `presence.batch` with the changes heard together), and the changes they carry.
    c.on('frame', (f) => {
      if (f.type === 'presence' || f.type === 'presence.batch') seen.frames++;
    });
    c.on('presence', (f) => {
      seen.changes++;
      if (!phase || f.online !== phase.online) return;
      const k = `${i}\u0000${f.userId}`;
      if (phase.expected.has(k) && !phase.got.has(k)) {
        const t = nowMs();
        phase.got.set(k, [t - (phase.startedAt.get(f.userId) ?? phase.from), t - phase.from]);
      }
    });
  };
  const connect = async (i: number) => {
    const c = makeClient(a.wsUrl, tokens[i]!, { reconnect: false, autoAck: false, cursorSyncMs: 0 });
    listen(c, i);
    await retry(() => c.connect());
    return c;
  };

  // Setup: connect, create the groups, subscribe (again until the read model has the groups).
  const tSetup = nowMs();
  const clients = await pool(userIds, 100, async (_, i) => {
    const c = await connect(i);
    if ((i + 1) % 1000 === 0) progress(`presence-storm: ${i + 1}/${N} connected`);
    return c;
  });
  await pool(
    Array.from({ length: groups }, (_, g) => g),
    16,
    (g) => clients[g * groupSize]!.createConversation({ kind: 'group', members: matesOf(g * groupSize), title: `presence ${g}` }),
  );
  await pool(clients, 100, async (c, i) => {
    const mates = matesOf(i);
    for (let attempt = 0; ; attempt++) {
      const users = await c.watchPresence(mates);
      if (users.length === mates.length && users.every((u) => u.online)) return;
      if (attempt > 100) throw new Error(`client ${i} never saw its group online: ${users.length}/${mates.length}`);
      await sleep(200);
    }
  });
  const setupSeconds = (nowMs() - tSetup) / 1000;
  progress(`presence-storm: ${N} clients in ${groups} groups, each watching ${watch} (${setupSeconds.toFixed(1)} s); ${movers.length} movers`);
  await sleep(a.graceMs + 1_000); // nothing left of the setup in flight
  const seenBefore = { ...seen };

  // 1. Flap: drop and reconnect inside the grace; each mover subscribes again.
  const tFlap = nowMs();
  for (const i of movers) clients[i]!.close(1000, 'flap');
  const snapshotMs: number[] = [];
  let wrongSnapshots = 0;
  await Promise.all(
    movers.map(async (i) => {
      const c = await connect(i);
      clients[i] = c;
      const mates = matesOf(i);
      for (;;) {
        const users = await c.watchPresence(mates);
        if (users.length === mates.length && users.every((u) => u.online)) break;
        wrongSnapshots++;
        await sleep(100);
      }
      snapshotMs.push(nowMs() - tFlap);
    }),
  );
  const tFlapDone = nowMs();
  await sleep(a.graceMs + 1_000); // an offline the grace should have swallowed would arrive by now
  const flapSeen = seenSince(seenBefore);
  progress(`presence-storm: flap done (${flapSeen.presenceFrames} presence frames)`);

  // 2. Away: the movers close for good; their group mates who stay are told.
  const watchersOf = (i: number) => matesOf(i).filter((u) => !isMover.has(u)).map((u) => userIds.indexOf(u));
  const expected = new Set(movers.flatMap((m) => watchersOf(m).map((w) => `${w}\u0000${userIds[m]}`)));
  const waitPhase = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (phase!.got.size < expected.size && Date.now() < deadline) await sleep(50);
    const pairs = [...phase!.got.values()];
    return { got: phase!.got.size, ms: pairs.map(([own]) => own), fromStartMs: pairs.map(([, start]) => start) };
  };
  const seenAway = { ...seen };
  const tAway = nowMs();
  phase = { online: false, from: tAway, startedAt: new Map(), expected, got: new Map() };
  for (const i of movers) {
    phase.startedAt.set(userIds[i]!, nowMs());
    clients[i]!.close(1000, 'away');
  }
  const away = await waitPhase(a.graceMs + 30_000);
  const tAwayDone = nowMs();
  const awaySeen = seenSince(seenAway);
  progress(`presence-storm: away: ${away.got}/${expected.size} watchers told`);

  // 3. Back.
  await sleep(500);
  const seenBack = { ...seen };
  const tBack = nowMs();
  phase = { online: true, from: tBack, startedAt: new Map(), expected, got: new Map() };
  await Promise.all(
    movers.map(async (i) => {
      phase!.startedAt.set(userIds[i]!, nowMs());
      clients[i] = await connect(i);
    }),
  );
  const back = await waitPhase(30_000);
  const tBackDone = nowMs();
  const backSeen = seenSince(seenBack);
  progress(`presence-storm: back: ${back.got}/${expected.size} watchers told`);
  phase = undefined;
  for (const c of clients) c.close();

  return {
    clients: N,
    groups,
    watchPerClient: watch,
    movers: movers.length,
    graceMs: a.graceMs,
    setupSeconds: Math.round(setupSeconds * 10) / 10,
    flap: { ...flapSeen, firstCorrectSnapshotMs: summary(snapshotMs), wrongSnapshots, phase: [tFlap, tFlapDone] },
    away: { ...awaySeen, expected: expected.size, told: away.got, firstCorrectFrameMs: summary(away.ms), afterGraceMs: summary(away.ms.map((x) => x - a.graceMs)), afterGraceFromStartMs: summary(away.fromStartMs.map((x) => x - a.graceMs)), phase: [tAway, tAwayDone] },
    back: { ...backSeen, expected: expected.size, told: back.got, firstCorrectFrameMs: summary(back.ms), fromStartMs: summary(back.fromStartMs), phase: [tBack, tBackDone] },
  };
});
