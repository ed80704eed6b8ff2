import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SignJWT, importPKCS8, type JWTPayload } from 'jose';
import WebSocket from 'ws';
import { ChatClient, type ConnectionState } from '@chat/client';
import { CLIENT_FRAME_TYPES, CLOSE_CODES, DEV_JWT_SECRET } from '@chat/contracts';
import { eventually, nextEvent, startSystem, token, type RunningSystem } from '../support/system';
import { rawSocket as openRawSocket } from '../support/socket';
import { harness, text, type Json } from '../support/harness';
import { upgrade } from '../support/upgrade';

/**
 * Auth hardening, membership on every frame type and endpoint, and the edge's abuse limits
 * (docs/reliability.md, "Bad input and abuse"). The system runs with small limits.
 */
const ORIGIN = 'https://chat.example.com';
const LIMITS = {
  CHAT_SEND_RATE: '60',
  CHAT_SEND_BURST: '5',
  CHAT_CREATE_RATE: '60',
  CHAT_CREATE_BURST: '3',
  CHAT_FRAME_RATE: '20',
  CHAT_FRAME_BURST: '40',
  CHAT_FLOOD_LIMIT: '30',
  CHAT_MAX_CONNECTIONS_PER_USER: '2',
  CHAT_ALLOWED_ORIGINS: `${ORIGIN},http://localhost:3000`,
};

let sys: RunningSystem;
const { u, connect, http, getJson, closeAll } = harness(() => sys);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'), LIMITS);
}, 60_000);

afterAll(async () => {
  closeAll();
  await sys?.stop();
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const exp = () => Math.floor(Date.now() / 1000) + 3600;
const hs256 = (claims: JWTPayload, secret: string | Uint8Array = DEV_JWT_SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

/**
 * A socket whose token is refused in-band: the upgrade's status (101), every frame before the
 * close, and the close code and reason. A refusal over HTTP resolves with its status alone.
 */
function inBand(url: string, headers: Record<string, string> = {}): Promise<{ status: number; frames: Json[]; code: number; reason: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    const frames: Json[] = [];
    let status = 0;
    ws.on('upgrade', (res) => (status = res.statusCode ?? 0));
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, frames, code: 0, reason: '' });
      ws.terminate();
    });
    ws.on('close', (code, reason) => resolve({ status, frames, code, reason: reason.toString() }));
    ws.on('error', () => undefined);
  });
}

/** An SDK client over `ws` with these token options. */
const sdk = (opts: Partial<ConstructorParameters<typeof ChatClient>[0]>) =>
  new ChatClient({ url: sys.wsUrl, createSocket: (u) => new WebSocket(u), network: false, ...opts } as ConstructorParameters<typeof ChatClient>[0]);

/** A raw socket that collects frames; resolves after `hello`. */
const rawSocket = (user: string, device = 'raw') => openRawSocket(sys.wsUrl, user, device);

describe('tokens', () => {
  it('refuses every bad token: in-band (error unauthorized, close 4401) from the query, 401 from the header and on HTTP', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const rsaKey = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const bad: Record<string, string> = {
      missing: '',
      garbage: 'abc.def.ghi',
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'eve', exp: exp() })}.`,
      algNoneUpper: `${b64({ alg: 'NONE', typ: 'JWT' })}.${b64({ sub: 'eve', exp: exp() })}.`,
      // Algorithm confusion: an HS256 token whose HMAC key is a public key (as a verifier that
      // took the algorithm from the token and the key from an RSA config would accept).
      hs256WithPublicKey: await hs256({ sub: 'eve', exp: exp() }, publicPem),
      rs256: await new SignJWT({ sub: 'eve', exp: exp() }).setProtectedHeader({ alg: 'RS256' }).sign(rsaKey),
      // The right HMAC but the header claims another algorithm.
      hs512: await new SignJWT({ sub: 'eve', exp: exp() }).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(DEV_JWT_SECRET.padEnd(64, 'x'))),
      wrongSecret: await token('eve', { secret: 'not-the-secret' }),
      expired: await token('eve', { expiresIn: now - 60 }),
      noExp: await hs256({ sub: 'eve' }),
      missingSub: await hs256({ exp: exp() }),
      emptySub: await hs256({ sub: '', exp: exp() }),
      badSubAlphabet: await hs256({ sub: 'eve/../admin', exp: exp() }),
      nonStringSub: await hs256({ sub: 42 as unknown as string, exp: exp() }),
      longSub: await token('x'.repeat(65)),
      longDid: await token('eve', { deviceId: 'd'.repeat(65) }),
      badDid: await hs256({ sub: 'eve', did: 'a b', exp: exp() }),
      nbfInFuture: await hs256({ sub: 'eve', exp: exp(), nbf: now + 600 }),
      tamperedPayload: await (async () => {
        const [h, , s] = (await token('eve')).split('.');
        return `${h}.${b64({ sub: 'admin', exp: exp() })}.${s}`;
      })(),
      overLong: `${b64({ alg: 'HS256' })}.${b64({ sub: 'eve', exp: exp(), pad: 'x'.repeat(5000) })}.sig`,
    };
    for (const [name, t] of Object.entries(bad)) {
      // Browsers cannot read the status of a refused upgrade: the refusal comes on the socket.
      const q = await inBand(t ? `${sys.wsUrl}?access_token=${encodeURIComponent(t)}` : sys.wsUrl);
      expect([name, q.status, q.code]).toEqual([name, 101, CLOSE_CODES.unauthorized]);
      expect([name, q.frames]).toEqual([name, [{ type: 'error', code: 'unauthorized', message: expect.any(String) }]]);
      expect(q.reason).toBe(q.frames[0].message);
      // A client that sends the header reads the status.
      const viaHeader = await upgrade(sys.wsUrl, { authorization: `Bearer ${t}` });
      expect([name, 'header', viaHeader.status]).toEqual([name, 'header', 401]);
      expect(viaHeader.body?.error?.code).toBe('unauthorized');
      const auth: Record<string, string> = t ? { authorization: `Bearer ${t}` } : {};
      const requests: Array<[string, RequestInit]> = [
        ...[
          '/v1/conversations',
          '/v1/conversations/d-x/messages',
          '/v1/conversations/d-x/messages/m1/receipts',
          '/v1/media/x1',
          '/v1/media/x1/thumbnail',
          '/v1/users/x1/presence',
          '/v1/me/settings',
          '/v1/me/blocks',
        ].map(
          (path): [string, RequestInit] => [path, { headers: auth, redirect: 'manual' }],
        ),
        ['/v1/media', { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ contentType: 'image/png', size: 1, sha256: '0'.repeat(64) }) }],
        ['/v1/media/x1/complete', { method: 'POST', headers: auth }],
        ['/v1/me/settings', { method: 'PATCH', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ lastSeen: 'nobody' }) }],
        ['/v1/me/blocks/x1', { method: 'PUT', headers: auth }],
        ['/v1/me/blocks/x1', { method: 'DELETE', headers: auth }],
      ];
      for (const [path, init] of requests) {
        const res = await fetch(`${sys.httpUrl}${path}`, init);
        expect([name, path, res.status]).toEqual([name, path, 401]);
        expect((await res.json()).error.code).toBe('unauthorized');
      }
    }
    // Ids of exactly 64 characters are fine.
    const ok = await upgrade(sys.wsUrl, { authorization: `Bearer ${await token('e'.repeat(64), { deviceId: 'd'.repeat(64) })}` });
    expect(ok.status).toBe(101);
    ok.ws?.close();
  });

  it('says why in-band: missing, expired and invalid tokens', async () => {
    const expired = await token(u('late'), { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const cases: Array<[string, string]> = [
      [sys.wsUrl, 'missing token'],
      [`${sys.wsUrl}?access_token=${expired}`, 'token expired'],
      [`${sys.wsUrl}?access_token=abc.def.ghi`, 'invalid token'],
    ];
    for (const [url, message] of cases) {
      const r = await inBand(url);
      expect([r.code, r.frames[0]?.message, r.reason]).toEqual([CLOSE_CODES.unauthorized, message, message]);
    }
  });

  it('closes a live connection with 4401 when its token expires, after an unauthorized error frame', async () => {
    const user = u('expiring');
    const t = await token(user, { deviceId: 'short', expiresIn: Math.floor(Date.now() / 1000) + 2 });
    const ws = new WebSocket(`${sys.wsUrl}?access_token=${t}`);
    const frames: Json[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    const closed = new Promise<[number, string]>((r) => ws.on('close', (code, reason) => r([code, reason.toString()])));
    expect(await closed).toEqual([CLOSE_CODES.unauthorized, 'token expired']);
    expect(frames.map((f) => f.type)).toEqual(['hello', 'error']);
    expect(frames[1]).toEqual({ type: 'error', code: 'unauthorized', message: 'token expired' });
    // A new token for the same device connects again.
    const again = await upgrade(`${sys.wsUrl}?access_token=${await token(user, { deviceId: 'short' })}`);
    expect(again.status).toBe(101);
    await again.received!.next('hello');
    again.ws?.close();
  });
});

describe('the SDK and tokens', () => {
  it('a live connection whose token expired: the SDK asks getToken again and reconnects with the new token', async () => {
    const user = u('renewing');
    const tokens = [await token(user, { deviceId: 'sdk', expiresIn: Math.floor(Date.now() / 1000) + 2 }), await token(user, { deviceId: 'sdk' })];
    let calls = 0;
    const c = sdk({ getToken: async () => tokens[Math.min(calls++, 1)]!, reconnect: { initialDelayMs: 100 } });
    const states: ConnectionState[] = [];
    c.on('state', (s) => states.push(s));
    await c.connect();
    const closed = nextEvent<{ code: number }>((f) => c.on('close', f), () => true, 15_000);
    const reconnected = nextEvent<{ attempt: number }>((f) => c.on('reconnected', f), () => true, 15_000);
    expect((await closed).code).toBe(CLOSE_CODES.unauthorized);
    await reconnected;
    expect(calls).toBe(2);
    // The new connection works: a message to another user goes through.
    const { conversationId } = await c.createConversation({ kind: 'direct', members: [u('renewing-peer')] });
    await expect(c.send({ conversationId, body: { text: 'still here' } })).resolves.toMatchObject({ seq: 1 });
    expect(states.slice(0, 3)).toEqual(['connecting', 'connected', 'connecting']);
    c.close();
  });

  it('a fixed token refused: connect() rejects with unauthorized and the client stops (disconnected, no reconnect)', async () => {
    const c = sdk({ token: await token(u('fixed'), { secret: 'not-the-secret' }), reconnect: true });
    const reconnecting: unknown[] = [];
    c.on('reconnecting', (r) => reconnecting.push(r));
    const refused = nextEvent<Error>((f) => c.on('unauthorized', f));
    await expect(c.connect()).rejects.toMatchObject({ name: 'ChatError', code: 'unauthorized', message: 'invalid token' });
    expect((await refused).message).toBe('invalid token');
    expect(c.state).toBe('disconnected');
    expect(reconnecting).toEqual([]);
  });

  it('a renewed token refused again: getToken was asked twice, then the client stops and emits unauthorized once', async () => {
    let calls = 0;
    const expired = await token(u('stale'), { expiresIn: Math.floor(Date.now() / 1000) - 60 });
    const c = sdk({
      getToken: () => {
        calls++;
        return expired;
      },
      reconnect: { initialDelayMs: 100 },
    });
    const refusals: string[] = [];
    c.on('unauthorized', (e) => refusals.push(e.message));
    const stopped = nextEvent<Error>((f) => c.on('unauthorized', f));
    await expect(c.connect()).rejects.toMatchObject({ code: 'unauthorized', message: 'token expired' });
    await stopped;
    expect([calls, refusals, c.state]).toEqual([2, ['token expired'], 'disconnected']);
  });
});

describe('membership on every frame type and endpoint', () => {
  it('refuses a non-member everything that targets a conversation, and stores nothing', async () => {
    const alice = await connect(u('alice'));
    const mallory = await connect(u('mallory'));
    const group = await alice.createConversation({ kind: 'group', members: [u('bob')], title: 'private' });
    const convId = group.conversationId;
    const sent = await alice.send({ conversationId: convId, body: text('secret') });
    // Mallory's own conversation, to forward from / to.
    const own = await mallory.createConversation({ kind: 'direct', members: [u('trent')] });
    const ownMsg = await mallory.send({ conversationId: own.conversationId, body: text('mine') });
    const history = async () => getJson(`/v1/conversations/${convId}/messages`, u('alice'));
    const before = await eventually(history, (h: Json) => h.messages?.some((x: Json) => x.seq === sent.seq));

    const m = sent.messageId;
    // Every client frame type that names a conversation, aimed at one Mallory is not in.
    const frames: Record<string, Json[]> = {
      'message.send': [{ type: 'message.send', clientMsgId: 'm1', conversationId: convId, body: text('let me in') }],
      'message.delivered': [{ type: 'message.delivered', conversationId: convId, upToSeq: 1 }],
      'message.read': [{ type: 'message.read', conversationId: convId, upToSeq: 1 }],
      'message.forward': [
        // out of a conversation she is not in, into her own
        { type: 'message.forward', clientMsgId: 'f1', conversationId: own.conversationId, from: { conversationId: convId, messageId: m } },
        // out of her own, into one she is not in
        { type: 'message.forward', clientMsgId: 'f2', conversationId: convId, from: { conversationId: own.conversationId, messageId: ownMsg.messageId } },
      ],
      'message.edit': [{ type: 'message.edit', ref: 'e1', conversationId: convId, messageId: m, body: text('edited') }],
      'message.delete': [
        { type: 'message.delete', ref: 'x1', conversationId: convId, messageId: m, scope: 'everyone' },
        { type: 'message.delete', ref: 'x2', conversationId: convId, messageId: m, scope: 'me' },
      ],
      'conversation.members.add': [{ type: 'conversation.members.add', ref: 'a1', conversationId: convId, members: [u('mallory')] }],
      'conversation.members.remove': [{ type: 'conversation.members.remove', ref: 'r1', conversationId: convId, userId: u('bob') }],
      'conversation.leave': [{ type: 'conversation.leave', ref: 'l1', conversationId: convId }],
      'conversation.role.set': [{ type: 'conversation.role.set', ref: 'o1', conversationId: convId, userId: u('mallory'), role: 'owner' }],
      'conversation.update': [{ type: 'conversation.update', ref: 'u1', conversationId: convId, title: 'pwned' }],
      'conversation.mute': [{ type: 'conversation.mute', ref: 'mu1', conversationId: convId, muted: true }],
      typing: [{ type: 'typing', conversationId: convId, state: 'start' }],
    };
    // The frame types that do not target an existing conversation (presence.subscribe names users: it shows only contacts).
    const untargeted = ['conversation.create', 'sync', 'ping', 'presence.subscribe'];
    expect([...Object.keys(frames), ...untargeted].sort()).toEqual([...CLIENT_FRAME_TYPES].sort());

    const errors: Json[] = [];
    mallory.on('error', (e) => errors.push(e));
    const others: Json[] = [];
    mallory.on('frame', (f) => {
      if (f.type !== 'error' && f.type !== 'conversation.activity') others.push(f);
    });
    const all = Object.entries(frames).flatMap(([type, fs]) => fs.map((f) => ({ type, f })));
    const results: Array<[string, string]> = [];
    for (const { type, f } of all) {
      const n = errors.length;
      mallory.sendRaw(JSON.stringify(f));
      await eventually(async () => errors.length, (k) => k > n, 10_000);
      results.push([type, errors[n].code]);
    }
    expect(results).toEqual(all.map(({ type }) => [type, 'forbidden']));
    expect(others.filter((f) => f.conversationId === convId)).toEqual([]);

    // Nothing stored: the history, the members and the title are as they were. Alice's next
    // message is the marker: it takes the seq after hers, and once it is in her history and
    // her list, anything Mallory's frames had appended before it would be there too.
    const marker = await alice.send({ conversationId: convId, body: text('after mallory') });
    expect(marker.seq).toBe(sent.seq + 1);
    const after = await eventually(history, (h: Json) => h.messages?.some((x: Json) => x.seq === marker.seq));
    expect(after.messages.filter((x: Json) => x.seq !== marker.seq).map((x: Json) => [x.seq, x.body])).toEqual(before.messages.map((x: Json) => [x.seq, x.body]));
    const list = await eventually(
      () => getJson('/v1/conversations', u('alice')),
      (l: Json) => l.conversations?.find((c: Json) => c.conversationId === convId)?.lastMessage?.seq === marker.seq,
    );
    const entry = list.conversations.find((c: Json) => c.conversationId === convId);
    expect(entry).toMatchObject({ title: 'private' });
    expect(new Set(entry.members)).toEqual(new Set([u('alice'), u('bob')]));
    expect((await getJson('/v1/conversations', u('mallory'))).conversations.map((c: Json) => c.conversationId)).toEqual([own.conversationId]);

    // Every conversation endpoint over HTTP.
    for (const path of [`/v1/conversations/${convId}/messages`, `/v1/conversations/${convId}/messages?afterSeq=0`, `/v1/conversations/${convId}/messages/${m}/receipts`]) {
      const res = await http(path, u('mallory'));
      expect([path, res.status]).toEqual([path, 403]);
      expect((await res.json()).error.code).toBe('forbidden');
    }
  });
});

describe('abuse limits', () => {
  it('per-user send limit: rate_limited with retryAfterMs and the clientMsgId, nothing stored; shared by devices', async () => {
    const phone = await connect(u('spammer'), 'phone');
    const laptop = await connect(u('spammer'), 'laptop');
    const { conversationId } = await phone.createConversation({ kind: 'direct', members: [u('victim')] });
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        (i % 2 ? laptop : phone).send({ conversationId, body: text(`spam ${i}`), clientMsgId: `s${i}` }).then(
          (s) => ({ ok: true as const, seq: s.seq }),
          (e: Json) => ({ ok: false as const, code: e.code, retryAfterMs: e.retryAfterMs }),
        ),
      ),
    );
    const ok = outcomes.filter((o) => o.ok);
    const limited = outcomes.filter((o) => !o.ok);
    expect(ok).toHaveLength(5); // CHAT_SEND_BURST, over both devices
    expect(limited).toHaveLength(3);
    for (const l of limited) expect(l).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    // The other member's message is the marker (the spammer's bucket is empty): the next seq
    // after the five, and once it is in the history, any refused send stored before it would be.
    const victim = await connect(u('victim'));
    const marker = await victim.send({ conversationId, body: text('after the spam') });
    expect(marker.seq).toBe(6);
    const history = await eventually(
      () => getJson(`/v1/conversations/${conversationId}/messages`, u('spammer')),
      (h: Json) => h.messages?.some((x: Json) => x.seq === marker.seq),
    );
    expect(history.messages.map((x: Json) => x.body.text).sort()).toEqual([...ok.map((o) => `spam ${outcomes.indexOf(o)}`), 'after the spam'].sort());
  });

  it('the rate_limited error frame carries retryAfterMs and the clientMsgId', async () => {
    const s = await rawSocket(u('spammer2'));
    const conv = (await (await connect(u('spammer2-helper'))).createConversation({ kind: 'direct', members: [u('spammer2')] })).conversationId;
    for (let i = 0; i < 7; i++) s.ws.send(JSON.stringify({ type: 'message.send', clientMsgId: `k${i}`, conversationId: conv, body: text('x') }));
    await eventually(async () => s.frames.filter((f) => f.type === 'message.sent' || f.type === 'error').length, (n) => n >= 7);
    const limited = s.frames.filter((f) => f.type === 'error');
    expect(limited.length).toBe(2);
    for (const f of limited) {
      expect(f).toMatchObject({ code: 'rate_limited', clientMsgId: expect.stringMatching(/^k\d$/) });
      expect(f.retryAfterMs).toBeGreaterThan(0);
      expect(f.retryAfterMs).toBeLessThanOrEqual(1000);
    }
    s.ws.close();
  });

  it('conversation creates per user: rate_limited with the ref', async () => {
    const c = await connect(u('creator'));
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, (_, i) => c.createConversation({ kind: 'group', members: [u(`m${i}`)] }).then(() => 'ok', (e: Json) => e.code)),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'rate_limited')).toHaveLength(2);
  });

  it('per-connection frame rate: rate_limited answers, then 1008 for a sustained flood; other connections unaffected', async () => {
    const s = await rawSocket(u('flooder'));
    for (let i = 0; i < 200; i++) s.ws.send(JSON.stringify({ type: 'ping', ref: `p${i}` }));
    expect(await s.closed).toBe(1008);
    const pongs = s.frames.filter((f) => f.type === 'pong').length;
    const limited = s.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(pongs).toBeGreaterThanOrEqual(40);
    expect(pongs).toBeLessThan(60);
    expect(limited.length).toBe(31); // CHAT_FLOOD_LIMIT (30) + the one that closed it
    expect(limited[0]).toMatchObject({ ref: expect.stringMatching(/^p\d+$/) });
    expect(limited[0].retryAfterMs).toBeGreaterThan(0);
    const other = await connect(u('flooder'), 'other');
    await expect(other.ping()).resolves.toBeUndefined();
  });

  it('connections per user: the 3rd device gets 429 with a JSON error; the same device reconnecting is fine', async () => {
    const user = u('devices');
    const t = (d: string) => token(user, { deviceId: d });
    const a = await upgrade(`${sys.wsUrl}?access_token=${await t('a')}`);
    const b = await upgrade(`${sys.wsUrl}?access_token=${await t('b')}`);
    expect([a.status, b.status]).toEqual([101, 101]);
    // `hello` comes once the device is registered, so both count from here on.
    await Promise.all([a.received!.next('hello'), b.received!.next('hello')]);
    const c = await upgrade(`${sys.wsUrl}?access_token=${await t('c')}`);
    expect(c.status).toBe(429);
    expect(c.body.error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
    const again = await upgrade(`${sys.wsUrl}?access_token=${await t('a')}`);
    expect(again.status).toBe(101);
    b.ws?.close();
    // The edge unregisters b once it sees the close; until then c is still refused.
    let c2 = await upgrade(`${sys.wsUrl}?access_token=${await t('c')}`);
    for (let i = 0; c2.status === 429 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      c2 = await upgrade(`${sys.wsUrl}?access_token=${await t('c')}`);
    }
    expect(c2.status).toBe(101);
    for (const x of [a, again, c2]) x.ws?.close();
  });

  it('origin allow-list: an Origin not listed gets 403 on the upgrade and on HTTP; listed or absent pass', async () => {
    const t = await token(u('browser'));
    const url = `${sys.wsUrl}?access_token=${t}`;
    expect((await upgrade(url, { origin: 'https://evil.example.com' })).status).toBe(403);
    const ok = await upgrade(url, { origin: ORIGIN });
    expect(ok.status).toBe(101);
    ok.ws?.close();
    const res = await fetch(`${sys.httpUrl}/v1/conversations`, { headers: { authorization: `Bearer ${t}`, origin: 'https://evil.example.com' } });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe('forbidden');
    expect((await fetch(`${sys.httpUrl}/v1/conversations`, { headers: { authorization: `Bearer ${t}`, origin: 'http://localhost:3000' } })).status).toBe(200);
    expect((await fetch(`${sys.httpUrl}/v1/conversations`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    expect((await fetch(`${sys.httpUrl}/readyz`)).status).toBe(200);
  });

  it('counts refusals in /metrics', async () => {
    const metrics = await (await fetch(`${sys.ops.edge}/metrics`)).text();
    for (const kind of ['frame', 'send', 'create', 'connections']) expect(metrics).toMatch(new RegExp(`chat_rate_limited_total\\{[^}]*kind="${kind}"`));
    expect(metrics).toMatch(/chat_origin_refused_total\{[^}]*\} [1-9]/);
  });
});
