import { createServer } from 'node:http';
import { freePort } from '@chat/testing';
import type { Json } from './harness';

export interface ReceivedPush {
  status: number;
  body: Json;
  headers: Record<string, string | string[] | undefined>;
}

/** A local push gateway: records every POST; answers with the statuses queued per user, else 200. */
export async function startPushGateway() {
  const received: ReceivedPush[] = [];
  const answers = new Map<string, number[]>();
  const port = await freePort();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Json;
      const status = answers.get(body?.to?.userId)?.shift() ?? 200;
      received.push({ status, body, headers: req.headers });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/push`,
    received,
    /** Statuses to answer for a user's next pushes, in order. */
    answers,
    pushesTo: (user: string) => received.filter((r) => r.body?.to?.userId === user),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
