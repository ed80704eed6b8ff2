import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT } from '@chat/testing';
import { alertMetricNames } from '../support/alerts';
import { harness, text } from '../support/harness';
import { eventually, freePort, startApp, startSystem, type RunningSystem } from '../support/system';

/**
 * The operator's view of a running system (docs/operations.md): every app's ops port serves
 * metrics, health and readiness; the stream and consumer figures come from exactly one
 * process; the metrics the alert rules read exist; an edge refuses an id that is in use.
 */
let sys: RunningSystem;
const { u, connect, closeAll } = harness(() => sys);

beforeAll(async () => {
  sys = await startSystem(inject('chatEnv'));
}, 60_000);
afterAll(async () => {
  closeAll();
  await sys?.stop();
});

type App = keyof RunningSystem['ops'];
const APPS: App[] = ['edge', 'command', 'projector', 'notifier'];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function samples(exposition: string): Sample[] {
  const out: Sample[] = [];
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

const scrape = async (app: App): Promise<Sample[]> => {
  const res = await fetch(`${sys.ops[app]}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return samples(await res.text());
};
const value = (s: Sample[], name: string, labels: Record<string, string> = {}): number | undefined =>
  s.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;

describe('the ops ports', () => {
  beforeAll(async () => {
    // Some traffic for the counters: alice writes to bob (online), carol (offline) gets a push job.
    const alice = await connect(u('alice'));
    await connect(u('bob'));
    const { conversationId } = await alice.createConversation({ kind: 'group', title: 'ops', members: [u('bob'), u('carol')] });
    for (let i = 0; i < 3; i++) await alice.send({ conversationId, body: text(`m${i}`) });
  });

  it.each(APPS)('%s: /healthz, /readyz and /metrics with its app label', async (app) => {
    expect(await (await fetch(`${sys.ops[app]}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${sys.ops[app]}/readyz`);
    const body = (await ready.json()) as { status: string; checks: Record<string, boolean> };
    expect(body.status).toBe('ready');
    expect(ready.status).toBe(200);
    expect(Object.keys(body.checks).length).toBeGreaterThan(0);
    const s = await scrape(app);
    expect(value(s, 'process_cpu_seconds_total', { app })).toBeGreaterThan(0);
    expect((await fetch(`${sys.ops[app]}/nothing`)).status).toBe(404);
  });

  it('each app exports its own figures', async () => {
    const edge = await eventually(() => scrape('edge'), (s) => (value(s, 'chat_commands_total', { type: 'SendMessage', outcome: 'ok' }) ?? 0) >= 3);
    expect(value(edge, 'chat_ws_connections')).toBeGreaterThanOrEqual(2);
    expect(value(edge, 'chat_command_duration_seconds_count', { type: 'SendMessage' })).toBeGreaterThanOrEqual(3);

    const command = await scrape('command');
    expect(value(command, 'chat_command_handled_total', { type: 'SendMessage', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(value(command, 'chat_command_handle_duration_seconds_count', { type: 'SendMessage' })).toBeGreaterThanOrEqual(3);
    expect(value(command, 'chat_command_batch_size_count')).toBeGreaterThanOrEqual(1);
    const partitions = value(command, 'chat_command_partitions_configured');
    expect(partitions).toBeGreaterThan(0);
    // One command process: once its leases are taken it owns every partition.
    await eventually(() => scrape('command'), (s) => value(s, 'chat_command_partitions_owned') === partitions);

    const projector = await eventually(() => scrape('projector'), (s) => (value(s, 'chat_projector_events_applied_total') ?? 0) >= 4);
    expect(value(projector, 'chat_projector_writer_lock')).toBe(1);
    expect(value(projector, 'chat_projector_refusing')).toBe(0);
    expect(value(projector, 'chat_projector_batch_size_count')).toBeGreaterThanOrEqual(1);
    expect(value(projector, 'chat_projector_batch_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    const lag = projector.filter((x) => x.name === 'chat_projection_lag_events');
    expect(lag.length).toBeGreaterThan(0);
    // Caught up once nothing more is sent: lag 0 in events and seconds, checkpoint = the stream's end.
    const settled = await eventually(() => scrape('projector'), (s) => s.filter((x) => x.name === 'chat_projection_lag_events').every((x) => x.value === 0));
    for (const x of settled.filter((y) => y.name === 'chat_projection_lag_seconds')) expect(x.value).toBe(0);
    expect(settled.filter((x) => x.name === 'chat_projection_checkpoint').every((x) => x.value >= 4)).toBe(true);

    // carol is offline: her push job is taken (and only logged: no CHAT_PUSH_URL).
    const notifier = await eventually(() => scrape('notifier'), (s) => (value(s, 'chat_push_results_total', { result: 'logged_only' }) ?? 0) >= 1);
    expect(value(notifier, 'chat_push_jobs_total')).toBeGreaterThanOrEqual(1);
    expect(value(notifier, 'chat_push_gateway_duration_seconds_count', { result: 'ok' }) ?? 0).toBe(0);
  });

  it('exports the stream and consumer figures from exactly one process', async () => {
    const all = await Promise.all(APPS.map(async (app) => ({ app, s: await scrape(app) })));
    const exporters = all.filter(({ s }) => value(s, 'chat_jetstream_exporter') === 1).map(({ app }) => app);
    expect(exporters).toEqual(['command']);
    const pendingSeries = all.flatMap(({ s }) => s.filter((x) => x.name === 'chat_consumer_pending' && x.labels['consumer'] === 'projector'));
    expect(pendingSeries).toHaveLength(1);
    const command = all.find((a) => a.app === 'command')!.s;
    const events = sys.env['CHAT_NS'] ? `${sys.env['CHAT_NS']}_CHAT_EVENTS` : 'CHAT_EVENTS';
    expect(value(command, 'chat_stream_last_sequence', { stream: events })).toBeGreaterThanOrEqual(4);
    expect(value(command, 'chat_stream_lost_messages', { stream: events })).toBe(0);
    expect(command.some((x) => x.name === 'chat_stream_messages' && x.labels['stream']!.endsWith('CHAT_DLQ'))).toBe(true);
    expect(command.some((x) => x.name === 'chat_consumer_pending' && x.labels['consumer'] === `edge-${sys.env['EDGE_ID']}`)).toBe(true);
  });

  it('exports every metric the alert rules read', async () => {
    const exported = new Set((await Promise.all(APPS.map(scrape))).flat().map((x) => x.name.replace(/_(bucket|count|sum)$/, '')));
    const names = alertMetricNames();
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !exported.has(n))).toEqual([]);
  });

  it('documents every chat_* metric it exports in docs/operations.md', async () => {
    const doc = readFileSync(resolve(REPO_ROOT, 'docs/operations.md'), 'utf8');
    const exported = new Set((await Promise.all(APPS.map(scrape))).flat().map((x) => x.name.replace(/_(bucket|count|sum)$/, '')).filter((n) => n.startsWith('chat_')));
    expect([...exported].filter((n) => !doc.includes(`\`${n}\``) && !doc.includes(`\`${n}{`))).toEqual([]);
  });

  it('keeps metrics off the clients\' port', async () => {
    expect((await fetch(`${sys.httpUrl}/metrics`)).status).toBe(404);
  });
});

describe('one edge per EDGE_ID', () => {
  it('a second edge with a running edge\'s id fails at start and says why; the running edge keeps serving', async () => {
    const port = await freePort();
    const twin = startApp('edge', { ...sys.env, CHAT_EDGE_PORT: String(port) });
    const code = await new Promise<number | null>((r) => twin.child.once('exit', r));
    expect(code).toBe(1);
    expect(twin.output.join('')).toContain(`EDGE_ID ${sys.env['EDGE_ID']} is in use by a running edge`);
    expect((await fetch(`${sys.httpUrl}/readyz`)).status).toBe(200);
  });

  it('an edge that crashed is replaced at once under the same id', async () => {
    const id = `x${await freePort()}`;
    const ready = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    const firstPort = await freePort();
    const first = startApp('edge', { ...sys.env, EDGE_ID: id, CHAT_EDGE_PORT: String(firstPort) });
    await eventually(() => ready(firstPort).catch(() => false), Boolean, 30_000);
    await first.stop('SIGKILL');
    const secondPort = await freePort();
    const second = startApp('edge', { ...sys.env, EDGE_ID: id, CHAT_EDGE_PORT: String(secondPort) });
    sys.apps.push(second);
    await eventually(() => ready(secondPort).catch(() => false), (ok) => ok || second.child.exitCode !== null, 30_000);
    expect(second.child.exitCode).toBeNull();
    expect(await ready(secondPort)).toBe(true);
  });
});
