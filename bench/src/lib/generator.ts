/** Helpers for generator processes: args in, progress on stderr, one JSON result line on stdout. */
export function generatorArgs<T>(): T {
  const raw = process.env['BENCH_ARGS'] ?? process.argv[2];
  if (!raw) throw new Error('no arguments: BENCH_ARGS or argv[2] must hold JSON');
  return JSON.parse(raw) as T;
}

export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function runMain(main: () => Promise<unknown>): void {
  main().then(
    (r) => {
      process.stdout.write(`\n${JSON.stringify(r)}\n`, () => process.exit(0));
    },
    (e: unknown) => {
      process.stderr.write(`generator failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}

/** Runs `fn` over items with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}
