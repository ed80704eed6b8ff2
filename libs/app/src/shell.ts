import { pino, type Logger } from 'pino';
import type { z } from 'zod';
import { configWarnings, loadConfig } from '@chat/contracts';

/** What every app process gets from its shell. */
export interface Shell<C> {
  cfg: C;
  log: Logger;
  /**
   * Logs, every `everyMs`, how much each counter of `stats` moved since the last line (nothing
   * when none moved), with `extra()` beside it. Stopped at shutdown.
   */
  summary(message: string, stats: () => Record<string, number>, everyMs?: number, extra?: () => Record<string, unknown>): void;
}

/** What an app's main returns: how to stop it, and (optionally) a promise that rejects if it fails on its own. */
export interface Running {
  /** Stops the app's parts in its own order; called once, on SIGTERM/SIGINT or a failure. */
  stop(): Promise<void>;
  /** Rejects when a part stops by itself (a consumer that failed): the process then stops with status 1. */
  done?: Promise<unknown>;
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
    const shell: Shell<C> = {
      cfg,
      log,
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
    const running = await main(shell);
    let closing: Promise<void> | undefined;
    const shutdown = (reason: string, code: number): Promise<void> =>
      (closing ??= (async () => {
        log.info({ reason }, 'shutting down');
        for (const t of timers) clearInterval(t);
        await running.stop();
        log.info({ ...running.stats?.() }, 'stopped');
        process.exitCode = code;
        if (running.exitWhenStopped) process.exit(code);
      })());
    // A second signal while stopping changes nothing (the edge's drain, say, runs its course).
    process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
    process.on('SIGINT', () => void shutdown('SIGINT', 0));
    await running.done?.catch(async (err) => {
      log.fatal({ err }, `${app} stopped by itself`);
      await shutdown('failed', 1);
    });
  }
}
