/** The harness ↔ scenario contract. Scenarios live in bench/src/scenarios/<name>.ts and export `scenario: Scenario` (or default). */
export interface BenchSystem {
  httpUrl: string; // first edge
  opsUrl: string; // first edge's ops port (/metrics)
  ops: Record<string, string>; // every app's ops port, by the names of `pids`
  wsUrls: string[]; // ws://…/v1/ws, one per edge
  env: Record<string, string>; // what the apps run with: NATS_URL, DATABASE_URL, REDIS_URL, CHAT_NS, CHAT_JWT_SECRET, …
  pids: Record<string, number>; // 'command-1', 'command-2', …, 'projector', 'notifier', 'edge-0', 'edge-1', …
  stop(): Promise<void>; // stops the apps and disposes the namespace
}

export interface BenchContext {
  quick: boolean;
  /** `commands` command processes (default BENCH_COMMANDS, else 0: the edges host the command tier), projector, notifier and `edges` edges (default 1) as separate processes (same config as `npm start`) in a fresh namespace; `natsUrl` overrides NATS (e.g. a sync_interval=always server). */
  startSystem(opts?: { edges?: number; commands?: number; env?: Record<string, string>; natsUrl?: string }): Promise<BenchSystem>;
  /** Runs bench/src/generators/<name>.ts in a child process (node --import tsx, own process for load) with JSON args (argv or env); forwards its progress lines (stderr) to the progress display; resolves with the JSON object it prints as the LAST line of stdout. */
  runGenerator<T>(name: string, args: unknown, opts?: GeneratorOptions): Promise<T>;
  progress(line: string): void;
  /** A client token for user/device, signed with the system's secret. */
  token(userId: string, deviceId?: string): Promise<string>;
}

export interface GeneratorOptions {
  /**
   * The generator's scheduling priority (`nice`, 0–19): a storm's clients are thousands of
   * sockets in a few processes on the system's own cores, and at the same priority they take
   * CPU the system under test would use. A lower priority only delays the generator: its
   * clocks start at a fixed release, so a starved generator can make a result worse, not better.
   */
  nice?: number;
  /** Told the generator's PID once it runs (to measure its CPU). */
  onSpawn?: (pid: number) => void;
}

export interface Scenario {
  name: string;
  run(ctx: BenchContext): Promise<Record<string, unknown>>;
}
