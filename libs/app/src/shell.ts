import { pino, type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { z } from 'zod';
import { configWarnings, loadConfig } from '@chat/contracts';
import { startOpsServer, type Readiness } from './ops';

/** What every app process gets from its shell. */
export interface Shell<C> {
  cfg: C;
  log: Logger;
  /**
   * Logs, every `everyMs`, how much each counter of `stats` moved since the last line (nothing
   * when none moved), with `extra()` beside it. Stopped at shutdown.
   */
  summary(message: string, stats: () => Record<string, number>, everyMs?: number, extra?: () => Record<string, unknown>): void;
  /**
   * The app's Prometheus registry, served on the ops port (`/metrics`) with the process
   * metrics and an `app` label on every series.
   */
  metrics: Registry;
}

/** What an app's main returns: how to stop it, and (optionally) a promise that rejects if it fails on its own. */
export interface Running {
  /** Stops the app's parts in its own order; called once, on SIGTERM/SIGINT or a failure. */
  stop(): Promise<void>;
  /** Rejects when a part stops by itself (a consumer that failed): the process then stops with status 1. */
  done?: Promise<unknown>;
  /** The app's readiness checks, served on the ops port's `/readyz` (absent: ready once started). */
  ready?: () => Promise<Readiness>;
  /** Logged with the final "stopped" line. */
  stats?: () => Record<string, unknown>;
  /** Exit as soon as stopped, whatever handles are left (the edge: sockets the clients keep half-open). */
  exitWhenStopped?: boolean;
}

const SUMMARY_EVERY_MS = 60_000;

/**
 * The one process shell of every app (command, projector, edge, notifier): configuration from
 * the environment through the app's zod schema (a bad value fails the start with every
 * problem listed), one pino logger tagged with the app and namespace, warnings about the
 * configuration, the periodic summary line, and a shutdown that runs once, on SIGTERM or
 * SIGINT (exit status 0) or when the app fails by itself (status 1).
 */
/** What the shell reads of every app's configuration. */
export interface BaseConfig {
  LOG_LEVEL: string;
  CHAT_NS: string;
  CHAT_MAX_AGE?: number;
  CHAT_OPS_HOST?: string;
  /** Absent: any free port. */
  CHAT_OPS_PORT?: number;
}

export function runApp<C extends BaseConfig>(
  app: string,
  /** The app's config schema (loadConfig), or its own loader (the edge fills in a development secret). */
  config: z.ZodType<C> | (() => C),
  main: (shell: Shell<C>) => Promise<Running>,
  opts: { base?: (cfg: C) => Record<string, unknown> } = {},
): void {
  start().catch((err) => {
    // The logger may not exist yet (bad configuration): print plainly.
    console.error(err);
    process.exit(1);
  });

  async function start(): Promise<void> {
    const cfg: C = typeof config === 'function' ? config() : loadConfig(config);
    const log = pino({ level: cfg.LOG_LEVEL, base: { app, ns: cfg.CHAT_NS || undefined, ...opts.base?.(cfg) } });
    for (const w of configWarnings(cfg)) log.warn(w);
    const timers: NodeJS.Timeout[] = [];
    const metrics = new Registry();
    metrics.setDefaultLabels({ app, ...opts.base?.(cfg) });
    collectDefaultMetrics({ register: metrics });
    // Up before the app's own start, so that a start waiting on a dependency shows as live, not ready.
    const state: { running?: Running } = {};
    const ops = await startOpsServer({
      host: cfg.CHAT_OPS_HOST ?? '127.0.0.1',
      port: cfg.CHAT_OPS_PORT ?? 0,
      registry: metrics,
      ready: () => (state.running ? (state.running.ready?.() ?? Promise.resolve({ checks: { started: true } })) : undefined),
    });
    log.info({ port: ops.port }, 'ops server listening');
    const shell: Shell<C> = {
      cfg,
      log,
      metrics,
      summary(message, stats, everyMs = SUMMARY_EVERY_MS, extra) {
        if (everyMs <= 0) return;
        let last = { ...stats() };
        const timer = setInterval(() => {
          const now = { ...stats() };
          const delta = Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - (last[k] ?? 0)]));
          last = now;
          if (Object.values(delta).some((v) => v !== 0)) log.info({ ...delta, ...extra?.() }, message);
        }, everyMs);
        timer.unref();
        timers.push(timer);
      },
    };
    const started = await main(shell);
    state.running = started;
    let closing: Promise<void> | undefined;
    const shutdown = (reason: string, code: number): Promise<void> =>
      (closing ??= (async () => {
        log.info({ reason }, 'shutting down');
        for (const t of timers) clearInterval(t);
        ops.stopping();
        await started.stop();
        await ops.close();
        log.info({ ...started.stats?.() }, 'stopped');
        process.exitCode = code;
        if (started.exitWhenStopped) process.exit(code);
      })());
    // A second signal while stopping changes nothing (the edge's drain, say, runs its course).
    process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
    process.on('SIGINT', () => void shutdown('SIGINT', 0));
    await started.done?.catch(async (err) => {
      log.fatal({ err }, `${app} stopped by itself`);
      await shutdown('failed', 1);
    });
  }
}
