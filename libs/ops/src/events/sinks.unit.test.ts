import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileTarget } from './sinks';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chat-sinks-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const line = (seq: number) => JSON.stringify({ seq, subject: 's', time: '2025-01-01T00:00:00.000Z', event: { pad: 'x'.repeat(500) } });
const seqsOf = (gz: Buffer) =>
  gunzipSync(gz)
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { seq: number }).seq);

describe('a gzip file output', () => {
  it('records after every member exactly the last seq it holds, so a crash at any point resumes without loss or duplicates', async () => {
    const path = join(dir, 'crash.ndjson.gz');
    const first = fileTarget(path, true, false);
    expect(await first.resumeAfter('sel')).toBe(0);
    const sink = await first.open({ from: 1, to: 6000 }, 'sel');
    let checkpoints = 0;
    let seen = '';
    // Well past the 1 MiB a member holds: several members are written while the export runs.
    for (let seq = 1; seq <= 4000; seq++) {
      await sink.write(line(seq), seq);
      const state = await readFile(`${path}.state`, 'utf8').catch(() => null);
      if (state === null || state === seen) continue;
      seen = state;
      checkpoints++;
      const { lastSeq, size } = JSON.parse(state) as { lastSeq: number; size: number };
      const held = seqsOf((await readFile(path)).subarray(0, size));
      expect(held.at(-1)).toBe(lastSeq);
      expect(held).toHaveLength(lastSeq);
    }
    expect(checkpoints).toBeGreaterThanOrEqual(2);

    // The process dies here: the sink is never closed, and half a member follows the last one recorded.
    await appendFile(path, gzipSync(line(9999)).subarray(0, 40));
    const again = fileTarget(path, true, true);
    const after = await again.resumeAfter('sel');
    expect(after).toBeLessThan(4000);
    const rest = await again.open({ from: after + 1, to: 6000 }, 'sel');
    for (let seq = after + 1; seq <= 6000; seq++) await rest.write(line(seq), seq);
    await rest.close();
    expect(seqsOf(await readFile(path))).toEqual(Array.from({ length: 6000 }, (_, i) => i + 1));
  });

  it('moves its state past events read but left out, so a resume does not read them again', async () => {
    const path = join(dir, 'filtered.ndjson.gz');
    const t = fileTarget(path, true, false);
    await t.resumeAfter('sel');
    const sink = await t.open({ from: 1, to: 10 }, 'sel');
    await sink.write(line(1), 1);
    sink.covered(7);
    await sink.idle();
    expect(JSON.parse(await readFile(`${path}.state`, 'utf8'))).toMatchObject({ lastSeq: 7 });
    await sink.close();
    expect(await fileTarget(path, true, true).resumeAfter('sel')).toBe(7);
    expect(seqsOf(await readFile(path))).toEqual([1]);
  });
});
