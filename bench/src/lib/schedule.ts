/**
 * Open-loop schedule: send k (0-based) is due at k / rate seconds after the start, so after
 * `elapsedMs` the first floor(elapsed · rate) + 1 sends are due (capped at `total`).
 * Latency is measured from each send's due time, so a late generator shows up in the figures
 * instead of hiding (coordinated omission).
 */
export function dueSends(elapsedMs: number, rate: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor((elapsedMs / 1000) * rate) + 1);
}

/** When send k is due, ms after the start. */
export const dueAt = (k: number, rate: number): number => (k * 1000) / rate;
