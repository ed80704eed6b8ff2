/**
 * 1:1 load generator. Connects `pairs` pairs through a transport, then offers messages open
 * loop at each rate in `steps` for `stepSeconds`: sends are scheduled at the offered rate,
 * round-robin over every connection, whether or not earlier ones were answered. Each text
 * carries its step and its scheduled send time (this process's clock), so the recipient's
 * arrival gives send → receive latency on one clock, including any lag of the generator
 * itself (no coordinated omission).
 *
 * With `receipts`, every receiver acknowledges like the SDK's autoAck (lib/receipts.ts): one
 * `message.delivered` per conversation per 100 ms window with the highest seq received, and
 * `message.read` with the same upToSeq on a `readShare` of those flushes. Each sender maps its
 * messages' seq (from `message.sent`) to their scheduled time, and the delivered receipts that
 * come back give send → delivered-receipt latency (`receiptLatency`). Prints one JSON result
 * line.
 */
import { performance } from 'node:perf_hooks';
import { Histogram, round, type HistogramJSON } from '../lib/histogram';
import { generatorArgs, pool, progress, runMain } from '../lib/generator';
import type { LoadConn, PairTransport, TransportFactory } from './transports/types';
import { dueAt, dueSends } from '../lib/schedule';
import { ReceiptCoalescer, ReceiptTracker } from './lib/receipts';

export interface E2eArgs {
  transport: 'chat' | 'socketio' | string;
  url: string;
  pairs: number;
  steps: number[];
  stepSeconds: number;
  /** After each step: how long to wait for its last messages (default 5 s). */
  drainSeconds?: number;
  /** Stop after a step that clearly failed (delivered < 80 % or p99 > 1 s). Default true. */
  stopOnFailure?: boolean;
  /** Epoch ms to start the first step at (several generator processes in step). */
  startAt?: number;
  /** Text length in characters (default 100). */
  textLength?: number;
  /** Connections opened at once (default 32). */
  connectConcurrency?: number;
  /** Receivers send delivered (coalesced per conversation, like the SDK's autoAck) and read receipts. Default false. */
  receipts?: boolean;
  /** Share of delivered flushes followed by a read receipt (default 0.5). */
  readShare?: number;
  /** Receipt coalescing window, ms (default 100, the SDK's). */
  receiptWindowMs?: number;
  /**
   * A sender about to send signals typing first, at most once per this many ms per connection
   * (a person typing: 4 s, as the SDK advises); 0 = no typing. Default 0. Where the
   * transport has no typing it is ignored.
   */
  typingEveryMs?: number;
  [k: string]: unknown;
}

export interface StepRaw {
  offeredPerSec: number;
  startedAt: number; // epoch ms
  endedAt: number;
  seconds: number;
  offered: number;
  acked: number;
  ackedInWindow: number;
  delivered: number;
  deliveredInWindow: number;
  errors: number;
  dropped: number;
  errorSamples: string[];
  latency: HistogramJSON;
  sentAck: HistogramJSON;
  /** How late the generator sent relative to the schedule (its own saturation). */
  sendLag: HistogramJSON;
  generatorCpuPct: number;
  /** Receipt frames the receivers sent, and receipt frames the senders got back, from the step's start until the next step's. */
  receiptsSent: { delivered: number; read: number };
  receiptsReceived: { delivered: number; read: number };
  /** The step's messages whose sender got a delivered receipt covering them. */
  receiptCovered: number;
  /** Scheduled send → the first receipt covering the message (delivered; read implies it) at the sender, per covered message. */
  receiptLatency: HistogramJSON;
  /** Error frames answering no request (refused receipts). */
  unsolicitedErrors: number;
  /** Typing starts sent and received in the step's window, and typing sent → received at the peer. */
  typingSent: number;
  typingReceived: number;
  typingLatency: HistogramJSON;
}

export interface E2eRaw {
  transport: string;
  pairs: number;
  connections: number;
  connectSeconds: number;
  steps: StepRaw[];
  stoppedEarly: boolean;
}

interface StepState {
  delivered: number;
  deliveredInWindow: number;
  acked: number;
  ackedInWindow: number;
  errors: number;
  /** Not sent: the generator's in-flight cap (rate × 10 s) was reached, the system is far behind. */
  dropped: number;
  errorSamples: string[];
  latency: Histogram;
  sentAck: Histogram;
  inFlight: number;
  windowEnd: number;
  receiptsSent: { delivered: number; read: number };
  receiptsReceived: { delivered: number; read: number };
  receiptCovered: number;
  receiptLatency: Histogram;
  unsolicitedErrors: number;
  typingSent: number;
  typingReceived: number;
  typingLatency: Histogram;
}

const newState = (): StepState => ({
  delivered: 0,
  deliveredInWindow: 0,
  acked: 0,
  ackedInWindow: 0,
  errors: 0,
  dropped: 0,
  errorSamples: [],
  latency: new Histogram(),
  sentAck: new Histogram(),
  inFlight: 0,
  windowEnd: Infinity,
  receiptsSent: { delivered: 0, read: 0 },
  receiptsReceived: { delivered: 0, read: 0 },
  receiptCovered: 0,
  receiptLatency: new Histogram(),
  unsolicitedErrors: 0,
  typingSent: 0,
  typingReceived: 0,
  typingLatency: new Histogram(),
});

async function main(): Promise<E2eRaw> {
  const args = generatorArgs<E2eArgs>();
  const mod = (await import(`./transports/${args.transport}.ts`)) as { createTransport: TransportFactory };
  const transport: PairTransport = await mod.createTransport(args);
  const textLength = args.textLength ?? 100;
  const drainMs = (args.drainSeconds ?? 5) * 1000;

  const t0 = performance.now();
  let connected = 0;
  const pairs = await pool(
    Array.from({ length: args.pairs }, (_, i) => i),
    args.connectConcurrency ?? 32,
    async (i) => {
      const p = await transport.connectPair(i);
      if (++connected % 100 === 0 || connected === args.pairs) progress(`connected ${connected}/${args.pairs} pairs`);
      return p;
    },
  );
  const connectSeconds = round((performance.now() - t0) / 1000);
  const conns: LoadConn[] = pairs.flat();

  const states: StepState[] = [];
  let current: StepState | undefined;
  /** Receipt frames count for the step started last (its window, its drain, up to the next step). */
  let counting: StepState | undefined;
  const unsolicited: string[] = [];
  const onText = (text: string) => {
    const now = performance.now();
    const colon = text.indexOf(':');
    const colon2 = text.indexOf(':', colon + 1);
    const step = Number(text.slice(0, colon));
    const sentAt = Number(text.slice(colon + 1, colon2));
    const s = states[step];
    if (!s || Number.isNaN(sentAt)) return;
    s.delivered++;
    s.latency.record(now - sentAt);
    if (current && now <= current.windowEnd) current.deliveredInWindow++;
  };
  type Sent = { step: number; at: number };
  const trackers = new Map<LoadConn, ReceiptTracker<Sent>>();
  const coalescers: ReceiptCoalescer[] = [];
  const covered = (m: Sent, now: number) => {
    const s = states[m.step];
    if (!s) return;
    s.receiptCovered++;
    s.receiptLatency.record(now - m.at);
  };
  for (const c of conns) {
    if (!args.receipts) {
      c.onMessage(onText);
      continue;
    }
    const coalescer = new ReceiptCoalescer({
      windowMs: args.receiptWindowMs ?? 100,
      readShare: args.readShare ?? 0.5,
      emit: (_conversation, status, upToSeq) => {
        c.sendReceipt(status, upToSeq);
        if (counting) counting.receiptsSent[status]++;
      },
    });
    coalescers.push(coalescer);
    c.onMessage((text, seq) => {
      onText(text);
      coalescer.received('', seq);
    });
    const tracker = new ReceiptTracker<Sent>();
    trackers.set(c, tracker);
    c.onReceipt((status, upToSeq) => {
      if (counting) counting.receiptsReceived[status]++;
      // The first receipt covering a message: delivered, or read (which implies delivered)
      // should it overtake the delivered one.
      const now = performance.now();
      for (const m of tracker.delivered(upToSeq)) covered(m, now);
    });
    c.onError?.((m) => {
      if (counting) counting.unsolicitedErrors++;
      if (unsolicited.length < 5) unsolicited.push(m);
    });
  }

  // Typing: when each connection last signalled; its peer's arrival gives the latency (one clock).
  const typingEveryMs = conns[0]?.sendTyping ? (args.typingEveryMs ?? 0) : 0;
  const typedAt = new Map<LoadConn, number>();
  if (typingEveryMs > 0) {
    for (const [a, b] of pairs) {
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        to.onTyping?.(() => {
          const at = typedAt.get(from);
          if (at === undefined || !current) return;
          current.typingReceived++;
          current.typingLatency.record(performance.now() - at);
        });
      }
    }
  }

  if (args.startAt && args.startAt > Date.now()) await new Promise((r) => setTimeout(r, args.startAt! - Date.now()));

  const results: StepRaw[] = [];
  /** The receipt figures of each step, once no more will come (a step's receipts count until the next step starts). */
  const finalize = () => {
    for (const c of coalescers) c.stop();
    counting = undefined;
    results.forEach((r, k) => {
      const s = states[k]!;
      r.receiptsSent = { ...s.receiptsSent };
      r.receiptsReceived = { ...s.receiptsReceived };
      r.receiptCovered = s.receiptCovered;
      r.receiptLatency = s.receiptLatency.toJSON();
      r.unsolicitedErrors = s.unsolicitedErrors;
    });
  };
  let stoppedEarly = false;
  let rr = 0;
  for (let k = 0; k < args.steps.length; k++) {
    const rate = args.steps[k]!;
    const total = Math.round(rate * args.stepSeconds);
    const state = newState();
    states[k] = state;
    current = state;
    counting = state;
    const sendLag = new Histogram();
    const maxInFlight = Math.max(1000, rate * 10);
    progress(`step ${k + 1}/${args.steps.length}: offering ${rate} msg/s for ${args.stepSeconds} s`);
    const cpu0 = process.cpuUsage();
    const startedAt = Date.now();
    const start = performance.now();
    state.windowEnd = start + args.stepSeconds * 1000;
    const pad = 'x'.repeat(textLength);
    let scheduled = 0;
    await new Promise<void>((done) => {
      const tick = () => {
        const now = performance.now();
        const due = dueSends(now - start, rate, total);
        while (scheduled < due) {
          const intended = start + dueAt(scheduled, rate);
          scheduled++;
          sendLag.record(now - intended);
          if (state.inFlight >= maxInFlight) {
            state.dropped++;
            continue;
          }
          const conn = conns[rr++ % conns.length]!;
          if (typingEveryMs > 0 && now <= state.windowEnd && !(now - (typedAt.get(conn) ?? -Infinity) < typingEveryMs)) {
            typedAt.set(conn, now);
            conn.sendTyping!();
            state.typingSent++;
          }
          const head = `${k}:${intended.toFixed(3)}:`;
          state.inFlight++;
          const tracker = trackers.get(conn);
          conn.send(head + pad.slice(head.length)).then(
            (seq) => {
              const t = performance.now();
              state.inFlight--;
              state.acked++;
              if (t <= state.windowEnd) state.ackedInWindow++;
              state.sentAck.record(t - intended);
              const early = tracker?.sent(seq, { step: k, at: intended });
              if (early) covered(early, t);
            },
            (e: unknown) => {
              state.inFlight--;
              state.errors++;
              if (state.errorSamples.length < 5) state.errorSamples.push(e instanceof Error ? e.message : String(e));
            },
          );
        }
        if (scheduled >= total) return done();
        setTimeout(tick, 1);
      };
      tick();
    });
    // Let the window close, then drain: the step's sends answered and its messages delivered.
    const windowLeft = state.windowEnd - performance.now();
    if (windowLeft > 0) await new Promise((r) => setTimeout(r, windowLeft));
    const endedAt = Date.now();
    const cpu = process.cpuUsage(cpu0);
    const drainUntil = performance.now() + drainMs;
    const pending = () => state.inFlight > 0 || state.delivered < state.acked || (args.receipts === true && state.receiptCovered < state.acked);
    while (performance.now() < drainUntil && pending()) await new Promise((r) => setTimeout(r, 50));
    current = undefined;
    const seconds = args.stepSeconds;
    const raw: StepRaw = {
      offeredPerSec: rate,
      startedAt,
      endedAt,
      seconds,
      offered: total,
      acked: state.acked,
      ackedInWindow: state.ackedInWindow,
      delivered: state.delivered,
      deliveredInWindow: state.deliveredInWindow,
      errors: state.errors,
      dropped: state.dropped,
      errorSamples: state.errorSamples,
      latency: state.latency.toJSON(),
      sentAck: state.sentAck.toJSON(),
      sendLag: sendLag.toJSON(),
      generatorCpuPct: round(((cpu.user + cpu.system) / 1000 / (endedAt - startedAt)) * 100, 1),
      // Receipt counts go on until the next step starts: read just before it (see below).
      receiptsSent: state.receiptsSent,
      receiptsReceived: state.receiptsReceived,
      receiptCovered: 0,
      receiptLatency: state.receiptLatency.toJSON(),
      unsolicitedErrors: 0,
      typingSent: state.typingSent,
      typingReceived: state.typingReceived,
      typingLatency: state.typingLatency.toJSON(),
    };
    results.push(raw);
    const lat = state.latency.summary();
    const rl = state.receiptLatency.summary();
    progress(
      `step ${k + 1}: offered ${rate}/s → delivered ${round(state.deliveredInWindow / seconds, 1)}/s (${round((100 * state.delivered) / total, 1)} % of offered), p50 ${lat.p50} ms, p99 ${lat.p99} ms, errors ${state.errors}, not sent (in-flight cap) ${state.dropped}, generator CPU ${raw.generatorCpuPct} %` +
        (args.receipts
          ? `; receipts sent ${state.receiptsSent.delivered} delivered + ${state.receiptsSent.read} read, back ${state.receiptsReceived.delivered} + ${state.receiptsReceived.read}, covered ${round((100 * state.receiptCovered) / Math.max(1, state.acked), 1)} %, receipt p50 ${rl.p50} / p99 ${rl.p99} ms`
          : ''),
    );
    const p99 = lat.p99 ?? Infinity;
    if ((args.stopOnFailure ?? true) && k < args.steps.length - 1 && (state.delivered < 0.8 * total || p99 > 1000)) {
      progress(`step ${k + 1} clearly failed: not stepping up further`);
      stoppedEarly = true;
      break;
    }
  }
  finalize();
  await Promise.race([transport.close(), new Promise((r) => setTimeout(r, 5_000))]);
  if (unsolicited.length) progress(`errors answering no request (first ${unsolicited.length}): ${unsolicited.join(' | ')}`);
  return { transport: args.transport, pairs: args.pairs, connections: conns.length, connectSeconds, steps: results, stoppedEarly };
}

runMain(main);
