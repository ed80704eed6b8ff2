import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * A Prometheus counter whose value is read at scrape time from a count the app keeps anyway
 * (its stats object): nothing to increment twice on the hot path. With `labels`, one series per
 * label value, each read by its own function.
 */
export function counterFrom(registry: Registry, name: string, help: string, read: (() => number) | { label: string; values: Record<string, () => number> }): Counter {
  return new Counter({
    name,
    help,
    labelNames: typeof read === 'function' ? [] : [read.label],
    registers: [registry],
    collect() {
      this.reset();
      if (typeof read === 'function') this.inc(read());
      else for (const [value, get] of Object.entries(read.values)) this.inc({ [read.label]: value }, get());
    },
  });
}

/** A Prometheus gauge whose value is read at scrape time. */
export function gaugeFrom(registry: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}
