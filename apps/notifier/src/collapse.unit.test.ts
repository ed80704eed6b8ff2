import { describe, expect, it } from 'vitest';
import { sharedCarriers } from './carriers';
import { Collapser, type Carrier, type Clock, type FlushOutcome } from './collapse';
import { recipientJobs, type NotifyJob } from './job';
import type { PushContent } from './payload';

/** A clock whose timers run only when the test advances it. */
function fakeClock(): Clock & { advance(ms: number): Promise<void> } {
  let now = 1_000_000;
  let timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let ids = 0;
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++ids;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout(h) {
      timers = timers.filter((t) => t.id !== h);
    },
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const t = timers[0];
        if (!t || t.at > until) break;
        timers.shift();
        now = t.at;
        t.fn();
        await flushPromises();
      }
      now = until;
      await flushPromises();
    },
  };
}
const flushPromises = () => new Promise((r) => setImmediate(r));

interface FakeMsg extends Carrier {
  log: string[];
}
const msg = (): FakeMsg => {
  const log: string[] = [];
  return { log, deliveryCount: 1, ack: () => log.push('ack'), nak: (d) => log.push(`nak ${d}`), term: () => log.push('term') };
};

let seq = 0;
const job = (over: Partial<NotifyJob> = {}): NotifyJob => {
  seq++;
  return { v: 1, jobId: `${seq}:bob`, userId: 'bob', conversationId: 'c1', messageId: `m${seq}`, seq, senderId: 'alice', sentAt: 'now', eventSeq: seq, ...over };
};

function setup(outcomes: FlushOutcome[] = []) {
  const clock = fakeClock();
  const pushes: Array<Omit<PushContent, 'badge'>> = [];
  const c = new Collapser({
    windowMs: 300,
    clock,
    flush: async (content) => {
      pushes.push(content);
      return outcomes.shift() ?? { kind: 'sent' };
    },
  });
  return { clock, pushes, c };
}

describe('Collapser', () => {
  it('pushes the first job at once and collapses the next ones into one push at the window end', async () => {
    const { clock, pushes, c } = setup();
    const [m1, m2, m3] = [msg(), msg(), msg()];
    c.add(job(), m1);
    await flushPromises();
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.count).toBe(1);
    expect(m1.log).toEqual(['ack']);

    const j2 = job();
    const j3 = job({ senderId: 'carol' });
    c.add(j2, m2);
    c.add(j3, m3);
    await clock.advance(299);
    expect(pushes).toHaveLength(1);
    expect(m2.log).toEqual(['ack']); // superseded by the newer job: acked, counted
    expect(m3.log).toEqual([]); // held until its push
    await clock.advance(1);
    expect(pushes).toHaveLength(2);
    expect(pushes[1]).toMatchObject({ count: 2, senders: ['alice', 'carol'], last: j3 });
    expect(m3.log).toEqual(['ack']);

    // Nothing more: the slot goes away after the next window.
    await clock.advance(300);
    expect(c.size).toBe(0);
  });

  it('keeps conversations and users apart', async () => {
    const { pushes, c } = setup();
    c.add(job(), msg());
    c.add(job({ conversationId: 'c2' }), msg());
    c.add(job({ userId: 'dave' }), msg());
    await flushPromises();
    expect(pushes.map((p) => `${p.userId}/${p.conversationId}`)).toEqual(['bob/c1', 'bob/c2', 'dave/c1']);
  });

  it('counts a redelivered job once', async () => {
    const { clock, pushes, c } = setup();
    const j1 = job();
    c.add(j1, msg());
    await flushPromises();
    const again = msg();
    c.add(j1, again);
    expect(again.log).toEqual(['ack']);
    await clock.advance(1000);
    expect(pushes).toHaveLength(1);
  });

  it('retries by nak with a delay and sends once when the job comes back', async () => {
    const { clock, pushes, c } = setup([{ kind: 'retry', delayMs: 1000 }]);
    const j1 = job();
    const m1 = msg();
    c.add(j1, m1);
    await flushPromises();
    expect(m1.log).toEqual(['nak 1000']);
    // A job arriving meanwhile is folded in.
    const m2 = msg();
    c.add(job(), m2);
    expect(m2.log).toEqual(['ack']);
    await clock.advance(1000);
    expect(pushes).toHaveLength(1);
    const back = { ...msg(), deliveryCount: 2 };
    c.add(j1, back);
    await flushPromises();
    expect(pushes).toHaveLength(2);
    expect(pushes[1]!.count).toBe(2);
    expect(back.log).toEqual(['ack']);
  });

  it('terminates a rejected push and does not open a window', async () => {
    const { pushes, c } = setup([{ kind: 'rejected' }]);
    const m1 = msg();
    c.add(job(), m1);
    await flushPromises();
    expect(m1.log).toEqual(['term']);
    c.add(job(), msg());
    await flushPromises();
    expect(pushes).toHaveLength(2);
  });

  it('forgets the window when the user is online', async () => {
    const { pushes, c } = setup([{ kind: 'dropped', online: true }]);
    c.add(job(), msg());
    await flushPromises();
    c.add(job(), msg());
    await flushPromises();
    expect(pushes).toHaveLength(2);
  });

  it('after close, a push that finishes with a retry naks its job and sets no timer', async () => {
    const clock = fakeClock();
    let finish!: (o: FlushOutcome) => void;
    const timers: number[] = [];
    const c = new Collapser({
      windowMs: 300,
      clock: { ...clock, setTimeout: (fn, ms) => (timers.push(ms), clock.setTimeout(fn, ms)) },
      flush: () => new Promise<FlushOutcome>((r) => (finish = r)),
    });
    const m = msg();
    c.add(job(), m);
    await flushPromises();
    const before = timers.length;
    c.close();
    finish({ kind: 'retry', delayMs: 0 });
    await flushPromises();
    expect(m.log).toEqual(['nak 0']);
    expect(timers.length).toBe(before);
  });
});

describe('one job message for several recipients (v2)', () => {
  it('settles the message once every recipient is settled: ack, term when all terminated, the longest nak when any retries', () => {
    const acked = msg();
    const [a, b] = sharedCarriers(acked, 2) as [Carrier, Carrier];
    a.ack();
    a.ack(); // settles once
    expect(acked.log).toEqual([]);
    b.term();
    expect(acked.log).toEqual(['ack']);

    const termed = msg();
    for (const c of sharedCarriers(termed, 3)) c.term();
    expect(termed.log).toEqual(['term']);

    const naked = msg();
    const [x, y, z] = sharedCarriers(naked, 3) as [Carrier, Carrier, Carrier];
    x.nak(1000);
    y.nak(4000);
    expect(naked.log).toEqual([]);
    z.ack();
    expect(naked.log).toEqual(['nak 4000']);
  });

  it('pushes each recipient, holds the message while a recipient holds it, and after a retry pushes only that recipient again', async () => {
    const { clock, pushes, c } = setup([{ kind: 'sent' }, { kind: 'retry', delayMs: 1000 }, { kind: 'sent' }]);
    const message = { v: 2 as const, userIds: ['bob', 'dave', 'erin'], conversationId: 'g1', messageId: 'm1', seq: 1, senderId: 'alice', sentAt: 'now', eventSeq: 10 };
    const add = (m: FakeMsg, body: Parameters<typeof recipientJobs>[0]) => {
      const jobs = recipientJobs(body);
      const carriers = sharedCarriers(m, jobs.length);
      jobs.forEach((j, i) => c.add(j, carriers[i]!));
    };
    const first = msg();
    add(first, message);
    await flushPromises();
    expect(pushes.map((p) => p.userId)).toEqual(['bob', 'dave', 'erin']);
    expect(first.log).toEqual(['nak 1000']);

    // The redelivery: bob and erin were pushed (their slots remember the job), dave is pushed again.
    const again = { ...msg(), deliveryCount: 2 };
    add(again, message);
    await flushPromises();
    expect(pushes.map((p) => p.userId)).toEqual(['bob', 'dave', 'erin', 'dave']);
    expect(again.log).toEqual(['ack']);

    // The next message, inside everyone's window: held (not acked) until the windows end, then one push each.
    const next = msg();
    add(next, { ...message, messageId: 'm2', seq: 2, eventSeq: 11 });
    await flushPromises();
    expect(next.log).toEqual([]);
    await clock.advance(1000);
    expect(pushes.slice(4).map((p) => `${p.userId} ${p.last.seq}`).sort()).toEqual(['bob 2', 'dave 2', 'erin 2']);
    expect(next.log).toEqual(['ack']);
  });
});
