/**
 * Keys per script call when one call covers many users or devices (the registry, the
 * conversation-list cache): bounds how long one call holds Redis (about 1.3 µs per user for a
 * registry lookup).
 */
export const SCRIPT_CHUNK = 1024;

/** `items` in order, in slices of at most `size`. */
export function chunks<T>(items: readonly T[], size = SCRIPT_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
