/**
 * Micro-benchmark: the CPU a WebSocket server spends sending one frame to many sockets, given
 * as a string (`ws` measures it and the socket encodes it to UTF-8 again for every socket)
 * against UTF-8 bytes encoded once (a Buffer sent as a text frame: the form 827fa19 tried for
 * fan-out frames and `sync.batch`, not kept; docs/performance.md, reconnect storm row 12). The
 * clients run in a child process, so only the server's own CPU is counted. After a warm-up
 * round of each, runs alternate between the two forms.
 *
 *   npx tsx bench/src/micro/ws-send.ts [clients=1000] [frames=20] [bytes=7000] [rounds=3]
 */
import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';

const [clients, frames, bytes, rounds] = [1000, 20, 7000, 3].map((d, i) => Number(process.argv[i + 2] ?? d)) as [number, number, number, number];

if (process.env['WS_SEND_CLIENT_PORT']) {
  // Client side: count text frames, report when every socket got every frame.
  let done = 0;
  for (let c = 0; c < clients; c++) {
    const ws = new WebSocket(`ws://127.0.0.1:${process.env['WS_SEND_CLIENT_PORT']}`, { perMessageDeflate: false });
    let n = 0;
    ws.on('message', (_d, isBinary) => {
      if (isBinary) throw new Error('a binary frame: bytes must go out as text');
      if (++n === frames && ++done === clients) process.send!('done');
    });
  }
} else {
  const results: Record<'string' | 'bytes', number[]> = { string: [], bytes: [] };
  for (const form of ['string', 'bytes'] as const) await run(form); // warm-up, not counted
  for (let r = 0; r < rounds; r++) for (const form of ['string', 'bytes'] as const) results[form].push(await run(form));
  console.log(`${clients} sockets × ${frames} frames of about ${bytes} bytes; server CPU ms per round`);
  for (const [form, ms] of Object.entries(results)) console.log(`${form.padEnd(7)} ${ms.join(', ')}  (µs per frame sent: ${ms.map((m) => ((m * 1000) / (clients * frames)).toFixed(1)).join(', ')})`);
}

async function run(form: 'string' | 'bytes'): Promise<number> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const sockets: WebSocket[] = [];
  const connected = new Promise<void>((r) => wss.on('connection', (ws) => sockets.push(ws) === clients && r()));
  const child = fork(process.argv[1]!, process.argv.slice(2), { env: { ...process.env, WS_SEND_CLIENT_PORT: String((wss.address() as AddressInfo).port) }, execArgv: process.execArgv });
  const received = new Promise<void>((r) => child.on('message', () => r()));
  await connected;
  const frame = { type: 'message.new', conversationId: 'g-1', messageId: 'm', seq: 0, senderId: 'alice', body: { text: 'ü'.repeat(20) + 'x'.repeat(bytes) }, sentAt: new Date().toISOString() };
  const start = process.cpuUsage();
  for (let i = 1; i <= frames; i++) {
    frame.seq = i;
    const json = JSON.stringify(frame);
    if (form === 'bytes') {
      const data = Buffer.from(json);
      for (const ws of sockets) ws.send(data, { binary: false });
    } else for (const ws of sockets) ws.send(json);
    await new Promise((r) => setImmediate(r));
  }
  await received;
  const cpu = process.cpuUsage(start);
  child.kill();
  for (const ws of sockets) ws.terminate();
  await new Promise((r) => wss.close(r));
  return Math.round((cpu.user + cpu.system) / 1000);
}
