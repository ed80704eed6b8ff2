import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { ChatClient, type WebSocketLike } from '@chat/client';
import { DEV_JWT_SECRET, type ConversationKind } from '@chat/contracts';
import { log } from './topology';
import type { Rng } from './rng';

/*
 * The workload: users with one device each (every 10th user has a second one), in 1:1 and
 * group conversations, sending at a steady global rate through the SDK with reconnects across
 * all edge URLs, auto-acknowledging deliveries and marking conversations read now and then.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function token(userId: string, deviceId: string): Promise<string> {
  return new SignJWT({ did: deviceId })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime('12h')
    .sign(new TextEncoder().encode(DEV_JWT_SECRET));
}

export interface Device {
  userId: string;
  deviceId: string;
  client: ChatClient;
  /** Seqs emitted by the SDK ('message' events), per conversation, in emission order. */
  emitted: Map<string, number[]>;
  /** Seqs this device's own sends were acknowledged with, per conversation. */
  ownAcked: Map<string, Set<number>>;
  /** What reached this device, per conversation (the last TRACE_LIMIT entries): explains an order violation. */
  trace: Map<string, string[]>;
}

const TRACE_LIMIT = 200;
/** The trace key for what concerns the whole device (hello, sync.required, …). */
export const DEVICE_TRACE = '*';

export interface Conversation {
  id: string;
  kind: ConversationKind;
  members: string[];
}

export interface AckedSend {
  conversationId: string;
  seq: number;
  clientMsgId: string;
  messageId: string;
  userId: string;
  deviceId: string;
}

export interface WorkloadOptions {
  urls: string[];
  users: number;
  /** Sends per second, all clients together. */
  rate: number;
  rng: Rng;
}

export class Workload {
  readonly devices: Device[] = [];
  readonly byUser = new Map<string, Device[]>();
  readonly conversations: Conversation[] = [];
  readonly acked: AckedSend[] = [];
  /** clientMsgId -> seqs it was acknowledged with (more than one is a duplicate). */
  readonly ackedById = new Map<string, Set<string>>();
  sendAttempts = 0;
  sendErrors = 0;
  /** Sends given up on (never acknowledged): they may or may not be stored; the checker accepts either. */
  abandoned = 0;
  private inFlight = 0;
  private running = false;
  private loop?: Promise<void>;
  private readLoop?: Promise<void>;
  private pending = new Set<Promise<void>>();
  private msgCounter = 0;
  giveUpAt = Infinity;

  constructor(private readonly o: WorkloadOptions) {}

  private async connectDevice(userId: string, deviceId: string, idx: number): Promise<Device> {
    const urls = this.o.urls.map((_, i) => this.o.urls[(i + idx) % this.o.urls.length]!);
    const client = new ChatClient({
      url: urls,
      token: await token(userId, deviceId),
      createSocket: (u) => new WebSocket(u) as unknown as WebSocketLike,
      reconnect: { initialDelayMs: 200, maxDelayMs: 3_000 },
      autoAck: { delayMs: 200 },
      requestTimeoutMs: 15_000,
      sendTimeoutMs: 60_000,
    });
    const d: Device = { userId, deviceId, client, emitted: new Map(), ownAcked: new Map(), trace: new Map() };
    const t0 = Date.now();
    const note = (conversationId: string, what: string) => {
      let t = d.trace.get(conversationId);
      if (!t) d.trace.set(conversationId, (t = []));
      t.push(`${Date.now() - t0}ms ${what}`);
      if (t.length > TRACE_LIMIT) t.shift();
    };
    client.on('message', (m) => {
      let s = d.emitted.get(m.conversationId);
      if (!s) d.emitted.set(m.conversationId, (s = []));
      s.push(m.seq);
      note(m.conversationId, `emitted ${m.seq}`);
    });
    client.on('frame', (f) => {
      if (f.type === 'message.new') note(f.conversationId, `live ${f.seq} @${f.cursor}`);
      else if (f.type === 'hello' || f.type === 'sync.required' || f.type === 'server.draining' || f.type === 'sync.reset') note(DEVICE_TRACE, f.type);
      else if (f.type === 'sync.batch') {
        const byConv = new Map<string, number[]>();
        for (const x of f.frames) byConv.set(x.conversationId, [...(byConv.get(x.conversationId) ?? []), x.seq]);
        for (const [c, seqs] of byConv) note(c, `sync.batch ${seqs.join(',')} cursor ${f.cursor} hasMore ${f.hasMore}`);
      }
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await client.connect();
        return d;
      } catch (e) {
        if (attempt > 20) throw e;
        await sleep(300);
      }
    }
  }

  async setup(): Promise<void> {
    const { users, rng } = this.o;
    const ids = Array.from({ length: users }, (_, i) => `u${String(i).padStart(4, '0')}`);
    const specs: Array<[string, string]> = [];
    ids.forEach((u, i) => {
      specs.push([u, 'd1']);
      if (i % 10 === 0) specs.push([u, 'd2']);
    });
    for (let i = 0; i < specs.length; i += 25) {
      const chunk = await Promise.all(specs.slice(i, i + 25).map(([u, d], j) => this.connectDevice(u, d, i + j)));
      for (const d of chunk) {
        this.devices.push(d);
        const list = this.byUser.get(d.userId) ?? [];
        list.push(d);
        this.byUser.set(d.userId, list);
      }
    }
    // 1:1 between neighbours, and groups of 3-8 picked at random.
    const wanted: Array<{ kind: ConversationKind; members: string[] }> = [];
    for (let i = 0; i + 1 < ids.length; i += 2) wanted.push({ kind: 'direct', members: [ids[i]!, ids[i + 1]!] });
    const groups = Math.max(2, Math.floor(users / 6));
    for (let g = 0; g < groups; g++) {
      const size = 3 + rng.int(6);
      const members = new Set<string>();
      while (members.size < size) members.add(ids[rng.int(ids.length)]!);
      wanted.push({ kind: 'group', members: [...members] });
    }
    for (let i = 0; i < wanted.length; i += 20) {
      await Promise.all(
        wanted.slice(i, i + 20).map(async (w) => {
          const [creator, ...others] = w.members;
          const dev = this.byUser.get(creator!)![0]!;
          const created = await dev.client.createConversation({ kind: w.kind, members: others, ...(w.kind === 'group' ? { title: `g-${creator}` } : {}) });
          this.conversations.push({ id: created.conversationId, kind: w.kind, members: w.members });
        }),
      );
    }
    log(`workload: ${this.devices.length} devices of ${users} users, ${this.conversations.length} conversations`);
  }

  /** Starts sending at the configured rate, and reading. */
  start(): void {
    this.running = true;
    this.loop = this.sendLoop();
    this.readLoop = this.reads();
  }

  private async sendLoop(): Promise<void> {
    const { rng, rate } = this.o;
    let budget = 0;
    let last = Date.now();
    while (this.running) {
      await sleep(50);
      const now = Date.now();
      budget = Math.min(budget + ((now - last) / 1000) * rate, rate);
      last = now;
      // Bounded in-flight: while a fault stalls everything, sends do not pile up without limit.
      while (budget >= 1 && this.inFlight < 300) {
        budget--;
        const conv = this.conversations[rng.int(this.conversations.length)]!;
        const sender = conv.members[rng.int(conv.members.length)]!;
        const devs = this.byUser.get(sender)!;
        const dev = devs[rng.int(devs.length)]!;
        const p = this.sendOne(dev, conv.id);
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
      }
    }
  }

  /** One message: retried with the same clientMsgId until acknowledged or given up. */
  private async sendOne(dev: Device, conversationId: string): Promise<void> {
    this.inFlight++;
    const clientMsgId = `${dev.userId}.${dev.deviceId}.${++this.msgCounter}`;
    try {
      for (;;) {
        this.sendAttempts++;
        try {
          const sent = await dev.client.send({ conversationId, clientMsgId, body: { text: `m ${clientMsgId}` } });
          this.acked.push({ conversationId, seq: sent.seq, clientMsgId, messageId: sent.messageId, userId: dev.userId, deviceId: dev.deviceId });
          const set = this.ackedById.get(clientMsgId) ?? new Set();
          set.add(`${sent.conversationId}@${sent.seq}`);
          this.ackedById.set(clientMsgId, set);
          let own = dev.ownAcked.get(conversationId);
          if (!own) dev.ownAcked.set(conversationId, (own = new Set()));
          own.add(sent.seq);
          return;
        } catch {
          this.sendErrors++;
          if (Date.now() > this.giveUpAt) {
            this.abandoned++;
            return;
          }
          await sleep(500 + Math.random() * 1500);
        }
      }
    } finally {
      this.inFlight--;
    }
  }

  private async reads(): Promise<void> {
    const { rng } = this.o;
    while (this.running) {
      await sleep(500);
      for (let k = 0; k < Math.max(1, Math.floor(this.devices.length / 20)); k++) {
        const d = this.devices[rng.int(this.devices.length)]!;
        if (!d.client.connected) continue;
        for (const [conv, seqs] of d.emitted) {
          if (seqs.length && rng.next() < 0.3) d.client.markRead(conv, Math.max(...seqs));
        }
      }
    }
  }

  get ackedCount(): number {
    return this.acked.length;
  }

  /** Stops starting new sends; waits for those in flight (they retry until `giveUpMs`). */
  async stop(giveUpMs: number): Promise<void> {
    this.running = false;
    this.giveUpAt = Date.now() + giveUpMs;
    await this.loop;
    await this.readLoop;
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  close(): void {
    for (const d of this.devices) d.client.close();
  }
}
