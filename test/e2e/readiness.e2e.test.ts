import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import type { ServerFrameOf } from '@chat/client';
import { createTestNamespace, type TestNamespace } from '@chat/testing';
import { connectClient, freePort, nextEvent, startApp, startSystem, type AppProcess, type RunningSystem } from '../support/system';

/**
 * Found on a fresh NATS server with an existing database: every projection refused ("checkpoint
 * past the end of the stream") while /readyz stayed green and sends were acknowledged with
 * nothing delivered. A refusing projector must fail readiness with the reason and the fix, and
 * chatctl must offer the fix.
 *
 * The first test moves checkpoints past the end of the stream: it runs in a namespace of its
 * own, so that a failure half-way cannot leave the shared one refusing for the files after it.
 */
let testNs: TestNamespace;
let sys: RunningSystem;
let db: pg.Client;
const ns = `rdy${Date.now().toString(36)}`;
const u = (n: string) => `${n}-${ns}`;

beforeAll(async () => {
  testNs = await createTestNamespace(inject('chatEnv'));
  sys = await startSystem(testNs.env);
  db = new pg.Client({ connectionString: sys.env['DATABASE_URL'] });
  await db.connect();
}, 60_000);
afterAll(async () => {
  await db?.end();
  await sys?.stop();
  await testNs?.dispose();
});

const chatctl = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'libs/ops/src/chatctl.ts', ...args], { env: { ...process.env, ...sys.env }, encoding: 'utf8' });
const readyz = async () => {
  const r = await fetch(`${sys.httpUrl}/readyz`);
  return { status: r.status, body: (await r.json()) as { checks: Record<string, boolean>; problems?: string[] } };
};

describe('readiness tells the truth', () => {
  it('a projection past the end of the stream fails /readyz with the fix; `chatctl projections reset` fixes it', async () => {
    expect((await readyz()).status).toBe(200);
    // What a new, empty CHAT_EVENTS under the old name looks like to an existing database.
    const projector = sys.apps.find((a) => a.name === 'projector')!;
    await projector.stop();
    await db.query("UPDATE projection_checkpoints SET position = position + 1000000 WHERE name LIKE 'proj-%' AND name NOT LIKE '%.routed'");

    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.checks).toMatchObject({ nats: true, postgres: true, redis: true, projections: false });
    expect(down.body.problems?.join('\n')).toMatch(/past the end of .*CHAT_EVENTS.*chatctl projections rebuild.*chatctl projections reset/s);

    const status = chatctl('projections', 'status');
    expect(status.status).toBe(2);
    expect(status.stdout).toMatch(/past-end/);
    expect(status.stderr).toMatch(/chatctl projections reset/);

    // A projector started now refuses rather than skip new events, and says so.
    const refusing: AppProcess = startApp('projector', sys.env);
    sys.apps.push(refusing);
    const deadline = Date.now() + 20_000;
    while (!refusing.output.join('').includes('projector refuses to run') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(refusing.output.join('')).toContain('projector refuses to run');
    // Resetting while it runs is refused (its lock), so it is stopped first.
    expect(chatctl('projections', 'reset').stderr).toMatch(/a projector is running/);
    await refusing.stop();

    const fixed = chatctl('projections', 'reset');
    expect(fixed.stderr).toBe('');
    expect(fixed.stdout).toMatch(/reset: done/);
    expect((await readyz()).status).toBe(200);

    // And the system delivers again.
    sys.apps.push(startApp('projector', sys.env));
    const alice = await connectClient(sys, u('alice'));
    const bob = await connectClient(sys, u('bob'));
    const { conversationId } = await alice.createConversation({ kind: 'direct', members: [u('bob')] });
    const incoming = nextEvent<ServerFrameOf<'message.new'>>((f) => bob.on('message', f), () => true, 20_000);
    await alice.send({ conversationId, body: { text: 'back' } });
    expect(await incoming).toMatchObject({ conversationId, body: { text: 'back' } });
    alice.close();
    bob.close();
  }, 90_000);

  it('an edge whose media bucket is missing fails /readyz and says which bucket', async () => {
    const port = await freePort();
    const bucket = `missing-${ns}`;
    const edge = startApp('edge', { ...sys.env, EDGE_ID: `e${port}`, CHAT_EDGE_PORT: String(port), S3_BUCKET: bucket });
    sys.apps.push(edge);
    const url = `http://127.0.0.1:${port}/readyz`;
    // Its HTTP server answering at all is the marker that it got past start-up.
    let answer: { status: number; body: { checks: Record<string, boolean>; problems?: string[] } } | undefined;
    const deadline = Date.now() + 30_000;
    while (!answer && Date.now() < deadline) {
      const r = await fetch(url).catch(() => undefined);
      if (r) answer = { status: r.status, body: (await r.json()) as { checks: Record<string, boolean>; problems?: string[] } };
      else await new Promise((res) => setTimeout(res, 100));
    }
    expect(answer?.status).toBe(503);
    expect(answer?.body.checks).toMatchObject({ nats: true, postgres: true, redis: true, media: false });
    expect(answer?.body.problems?.join('\n')).toContain(`bucket ${bucket} does not exist`);
    await edge.stop();
  }, 60_000);
});
