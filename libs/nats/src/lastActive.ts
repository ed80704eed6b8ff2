/**
 * A consumer's `last_active` (delivered, ack floor) as the server sends it: an ISO time, though
 * nats.js types it as nanos; the zero time (0001-01-01) when it never happened. Ms since the
 * epoch, or null for never.
 */
export function lastActiveMs(lastActive: unknown): number | null {
  if (typeof lastActive !== 'string' || !lastActive) return null;
  const t = Date.parse(lastActive);
  return Number.isNaN(t) || t <= 0 ? null : t;
}
