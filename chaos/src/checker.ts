import pg from 'pg';
import { parseEvent, parsePreferenceEvent, type Names } from '@chat/contracts';
import { buildShadow, diffShadow, discardShadow, IGNORED_COLUMNS, readEvents } from '@chat/ops';
import type { Nats } from '@chat/nats';
import { PROJECTION_KEYS } from '@chat/postgres';
import { projectorApplier } from '../../apps/projector/src/shadow/applyStream';
import type { StreamEvent } from '../../apps/projector/src/projection';
import { log } from './topology';
import { DEVICE_TRACE, type Device, type Workload } from './workload';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ----------------------------------------------------------------------- receipt watermarks
/**
 * Samples member_receipts (delivered_seq, read_seq per conversation and user) and
 * device_receipts (delivered_seq per device) every `everyMs` while the run goes on, and counts
 * every watermark that went down between two samples. Samples that fail (Postgres restarting)
 * are skipped.
 */
export class ReceiptSampler {
  regressions = 0;
  samples = 0;
  readonly examples: string[] = [];
  private last = new Map<string, number>();
  private running = false;
  private loop?: Promise<void>;
  private client?: pg.Client;

  constructor(private readonly databaseUrl: string) {}

  start(everyMs = 2_000): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.sample().catch(() => {
          void this.client?.end().catch(() => undefined);
          this.client = undefined;
        });
        await sleep(everyMs);
      }
    })();
  }

  async sample(): Promise<void> {
    if (!this.client) {
      const c = new pg.Client({ connectionString: this.databaseUrl, application_name: 'chaos-sampler' });
      c.on('error', () => undefined);
      await c.connect();
      this.client = c;
    }
    const member = await this.client.query<{ k: string; d: number; r: number }>(
      `SELECT conversation_id || ' ' || user_id AS k, delivered_seq AS d, read_seq AS r FROM member_receipts`,
    );
    const device = await this.client.query<{ k: string; d: number }>(
      `SELECT conversation_id || ' ' || user_id || ' ' || device_id AS k, delivered_seq AS d FROM device_receipts`,
    );
    const check = (key: string, v: number) => {
      const prev = this.last.get(key);
      if (prev !== undefined && v < prev) {
        this.regressions++;
        if (this.examples.length < 10) this.examples.push(`${key}: ${prev} -> ${v}`);
      }
      this.last.set(key, prev === undefined ? v : Math.max(prev, v));
    };
    for (const r of member.rows) {
      check(`member delivered ${r.k}`, r.d);
      check(`member read ${r.k}`, r.r);
    }
    for (const r of device.rows) check(`device delivered ${r.k}`, r.d);
    this.samples++;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.sample().catch(() => undefined);
    await this.client?.end().catch(() => undefined);
  }
}

// --------------------------------------------------------------------------- quiescence
/**
 * Waits until the projector's consumer has nothing pending (three readings in a row); commands
 * are not stored, so an acknowledged send is already in CHAT_EVENTS. `pending` is the last
 * reading, for the report.
 */
export async function waitCaughtUp(nats: Nats, n: Names, timeoutMs: number): Promise<{ ok: boolean; pending: Record<string, number | string> }> {
  const deadline = Date.now() + timeoutMs;
  const consumers = [n.consumers.projector];
  let stable = 0;
  let last: Record<string, number | string> = {};
  while (Date.now() < deadline) {
    const reading: Record<string, number | string> = {};
    try {
      for (const c of consumers) {
        const ci = await nats.jsm.consumers.info(n.streams.events, c);
        reading[`${c}.pending`] = ci.num_pending;
        reading[`${c}.ackPending`] = ci.num_ack_pending;
      }
      last = reading;
      const pending = Object.values(reading).reduce<number>((a, v) => a + Number(v), 0);
      if (pending === 0 && ++stable >= 3) return { ok: true, pending: last };
      if (pending !== 0) stable = 0;
    } catch (e) {
      last = { ...reading, error: (e as Error).message };
      stable = 0;
    }
    await sleep(500);
  }
  return { ok: false, pending: last };
}

// ------------------------------------------------------------------ history and delivery
export interface DeliveryResult {
  historyMessages: number;
  conversations: number;
  /** Acknowledged sends missing from history (or with another message at their seq). */
  lostInHistory: number;
  /** A clientMsgId stored (or acknowledged) under more than one seq. */
  duplicatesInHistory: number;
  seqGaps: number;
  /** (device, message) pairs the device never emitted. */
  lostOnDevices: number;
  duplicatesOnDevices: number;
  orderViolations: number;
  examples: string[];
}

interface HistoryRow {
  conversation_id: string;
  seq: number;
  client_msg_id: string;
  sender_id: string;
  sender_device_id: string;
}

async function history(databaseUrl: string): Promise<HistoryRow[]> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<HistoryRow>('SELECT conversation_id, seq, client_msg_id, sender_id, sender_device_id FROM messages ORDER BY conversation_id, seq');
    return rows;
  } finally {
    await c.end();
  }
}

/** Seqs 1..last a device must have emitted in a conversation: all of them but its own acknowledged sends. */
function missingOn(w: Workload, conv: string, last: number): { device: string; missing: number[] }[] {
  const out: { device: string; missing: number[] }[] = [];
  const members = w.conversations.find((c) => c.id === conv)?.members ?? [];
  for (const u of members) {
    for (const d of w.byUser.get(u) ?? []) {
      const got = new Set(d.emitted.get(conv) ?? []);
      const own = d.ownAcked.get(conv) ?? new Set<number>();
      const missing: number[] = [];
      for (let s = 1; s <= last; s++) if (!got.has(s) && !own.has(s)) missing.push(s);
      if (missing.length) out.push({ device: `${d.userId}/${d.deviceId}`, missing });
    }
  }
  return out;
}

/**
 * After quiescence: every client syncs until it has every message of its conversations (or
 * the deadline passes), then history and devices are checked.
 */
export async function checkDelivery(w: Workload, databaseUrl: string, syncDeadlineMs: number): Promise<DeliveryResult> {
  const rows = await history(databaseUrl);
  const lastSeq = new Map<string, number>();
  const count = new Map<string, number>();
  for (const r of rows) {
    lastSeq.set(r.conversation_id, Math.max(lastSeq.get(r.conversation_id) ?? 0, r.seq));
    count.set(r.conversation_id, (count.get(r.conversation_id) ?? 0) + 1);
  }
  const examples: string[] = [];
  const ex = (s: string) => void (examples.length < 20 && examples.push(s));

  // Sync every device until it has everything (reconnecting first where needed).
  const deadline = Date.now() + syncDeadlineMs;
  await Promise.all(
    w.devices.map(async (d) => {
      for (;;) {
        const incomplete = w.conversations.some((c) => c.members.includes(d.userId) && missingOn(w, c.id, lastSeq.get(c.id) ?? 0).some((m) => m.device === `${d.userId}/${d.deviceId}`));
        if (!incomplete || Date.now() > deadline) return;
        if (d.client.connected) await d.client.syncAll().catch(() => undefined);
        else await sleep(300);
        await sleep(200);
      }
    }),
  );

  // History: dense seqs, each clientMsgId once, every acknowledged send at its seq.
  let seqGaps = 0;
  for (const [conv, last] of lastSeq) {
    const gaps = last - count.get(conv)!;
    if (gaps) {
      seqGaps += gaps;
      ex(`seq gap: ${conv} has ${count.get(conv)} messages up to seq ${last}`);
    }
  }
  const byKey = new Map<string, HistoryRow>();
  const byClientId = new Map<string, number>();
  for (const r of rows) {
    byKey.set(`${r.conversation_id}@${r.seq}`, r);
    const k = `${r.conversation_id} ${r.client_msg_id}`;
    byClientId.set(k, (byClientId.get(k) ?? 0) + 1);
  }
  let duplicatesInHistory = 0;
  for (const [k, n] of byClientId) {
    if (n > 1) {
      duplicatesInHistory += n - 1;
      ex(`stored ${n} times: ${k}`);
    }
  }
  for (const [id, seqs] of w.ackedById) {
    if (seqs.size > 1) {
      duplicatesInHistory += seqs.size - 1;
      ex(`acknowledged under several seqs: ${id} ${[...seqs].join(',')}`);
    }
  }
  let lostInHistory = 0;
  for (const a of w.acked) {
    const r = byKey.get(`${a.conversationId}@${a.seq}`);
    if (!r || r.client_msg_id !== a.clientMsgId) {
      lostInHistory++;
      ex(`acknowledged but not in history: ${a.clientMsgId} at ${a.conversationId}@${a.seq}${r ? ` (found ${r.client_msg_id})` : ''}`);
    }
  }

  // Devices: everything, once, in order.
  let lostOnDevices = 0;
  let duplicatesOnDevices = 0;
  let orderViolations = 0;
  for (const c of w.conversations) {
    for (const m of missingOn(w, c.id, lastSeq.get(c.id) ?? 0)) {
      lostOnDevices += m.missing.length;
      ex(`device ${m.device} never got ${c.id}@${m.missing.slice(0, 5).join(',')}${m.missing.length > 5 ? ` (+${m.missing.length - 5})` : ''}`);
    }
  }
  for (const d of w.devices) {
    for (const [conv, seqs] of d.emitted) {
      const dups = seqs.length - new Set(seqs).size;
      if (dups) {
        duplicatesOnDevices += dups;
        ex(`device ${d.userId}/${d.deviceId} emitted duplicates in ${conv}`);
      }
      for (let i = 1; i < seqs.length; i++) {
        if (seqs[i]! <= seqs[i - 1]!) {
          orderViolations++;
          ex(`device ${d.userId}/${d.deviceId} ${conv}: seq ${seqs[i]} after ${seqs[i - 1]}; what reached it: ${traceOf(d, conv).join(' | ')}`);
        }
      }
    }
  }
  return {
    historyMessages: rows.length,
    conversations: lastSeq.size,
    lostInHistory,
    duplicatesInHistory,
    seqGaps,
    lostOnDevices,
    duplicatesOnDevices,
    orderViolations,
    examples,
  };
}

// ------------------------------------------------------------------- read-model rebuild
export interface RebuildResult {
  events: number;
  /** The rebuild itself failed (e.g. a duplicate key: the stream holds two events for one message seq). */
  error?: string;
  /** Stream audit: MessageSent events sharing a (conversation, seq), and conversations whose stream seqs are not 1..N. */
  streamAudit: { duplicateSeqs: number; gaps: number; examples: string[] };
  tables: Record<string, { live: number; rebuilt: number; onlyLive: number; onlyRebuilt: number; different: number }>;
  diffs: number;
  ignoredColumns: Record<string, readonly string[]>;
  examples: string[];
}

/**
 * Stream audit, independent of any projection: MessageSent events sharing a (conversation, seq)
 * (two appends took one position) and conversations whose seqs are not 1..N.
 */
export class SeqAudit {
  private readonly bySeq = new Map<string, Array<{ streamSeq: number; clientMsgId: string; messageId: string; sentAt: string }>>();

  add(streamSeq: number, event: StreamEvent): void {
    if (event.type !== 'MessageSent') return;
    const k = `${event.conversationId}@${event.seq}`;
    const list = this.bySeq.get(k) ?? [];
    list.push({ streamSeq, clientMsgId: event.clientMsgId, messageId: event.messageId, sentAt: event.sentAt });
    this.bySeq.set(k, list);
  }

  /** Every clientMsgId seen, for "is each acknowledged append there". */
  clientMsgIds(): Set<string> {
    return new Set([...this.bySeq.values()].flat().map((e) => e.clientMsgId));
  }

  result(): { duplicateSeqs: number; gaps: number; examples: string[] } {
    const audit = { duplicateSeqs: 0, gaps: 0, examples: [] as string[] };
    const lastByConv = new Map<string, { max: number; n: number }>();
    for (const [k, list] of this.bySeq) {
      const [conv, seq] = k.split('@') as [string, string];
      const e = lastByConv.get(conv) ?? { max: 0, n: 0 };
      e.max = Math.max(e.max, Number(seq));
      e.n++;
      lastByConv.set(conv, e);
      if (list.length > 1) {
        audit.duplicateSeqs += list.length - 1;
        if (audit.examples.length < 10) audit.examples.push(`${k} appended ${list.length} times: ${JSON.stringify(list)}`);
      }
    }
    for (const [, e] of lastByConv) audit.gaps += e.max - e.n;
    return audit;
  }
}

/**
 * Rebuilds every projection from all of CHAT_EVENTS alone (no snapshots: nothing ages out during
 * a run) into the shadow schema of the live database with the projector's own apply code — the
 * path of `chatctl rebuild --shadow` — diffs every projection table with the live one row by row
 * and drops the shadow. Rebuilt to the stream's end, not the live position: a live projection
 * short of the end is a difference too. The stream is read once more for the audit. `_adminUrl`
 * is unused: the rebuild no longer needs a scratch database.
 */
export async function rebuildAndDiff(nats: Nats, n: Names, liveUrl: string): Promise<RebuildResult> {
  let events = 0;
  const seqAudit = new SeqAudit();
  for await (const rec of readEvents(nats.js, n)) {
    events++;
    seqAudit.add(rec.seq, rec.subject.startsWith(n.subjects.prefAll.slice(0, -1)) ? parsePreferenceEvent(rec.event) : parseEvent(rec.event));
  }
  const audit = seqAudit.result();
  if (audit.duplicateSeqs) log(`STREAM AUDIT: ${audit.duplicateSeqs} MessageSent events reuse a (conversation, seq): ${audit.examples.join(' | ')}`);

  const result: RebuildResult = { events, streamAudit: audit, tables: {}, diffs: 0, ignoredColumns: IGNORED_COLUMNS, examples: [] };
  const deps = { databaseUrl: liveUrl, nats, names: n, apply: projectorApplier(nats, n, { retention: 'history' }) };
  try {
    const { state } = await nats.jsm.streams.info(n.streams.events);
    const build = await buildShadow(deps, PROJECTION_KEYS, { seed: false, upTo: state.last_seq });
    log(`rebuild: ${build.events} events applied to ${build.schema}; diffing`);
    const diff = await diffShadow(deps);
    if (!diff.consistent) {
      result.diffs++;
      result.examples.push(`live and rebuild compared at different positions: live ${JSON.stringify(diff.positions.live)}, rebuild ${diff.positions.shadow}`);
    }
    for (const t of diff.tables) {
      result.tables[t.table] = { live: t.live, rebuilt: t.shadow, onlyLive: t.onlyLive, onlyRebuilt: t.onlyShadow, different: t.different };
      result.diffs += t.onlyLive + t.onlyShadow + t.different;
      for (const e of t.examples) if (result.examples.length < 20) result.examples.push(`${t.table} ${e.kind}: ${JSON.stringify(e.key)}${e.columns ? ` ${JSON.stringify(e.columns)}` : ''}`);
    }
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    result.diffs++;
    log(`rebuild failed: ${result.error}`);
  } finally {
    await discardShadow(liveUrl).catch((e: unknown) => log(`dropping the shadow failed: ${(e as Error).message}`));
  }
  return result;
}

/** The device's trace for one conversation merged with its device-wide entries, in time order. */
function traceOf(d: Device, conversationId: string): string[] {
  const conv = d.trace.get(conversationId) ?? [];
  const from = conv.length ? parseInt(conv[0]!, 10) : 0;
  const device = (d.trace.get(DEVICE_TRACE) ?? []).filter((e) => parseInt(e, 10) >= from);
  return [...conv, ...device].sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
}
