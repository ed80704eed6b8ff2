/** Open-file limits and counts from /proc (Linux): how many sockets a process may still open. */
import { readFileSync, readdirSync } from 'node:fs';

/** `Max open files` of a process (soft, hard); Infinity for unlimited. */
export function parseOpenFilesLimit(limitsText: string): { soft: number; hard: number } {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limitsText);
  const n = (s?: string) => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

export const openFilesLimit = (pid: number | 'self'): { soft: number; hard: number } => parseOpenFilesLimit(readFileSync(`/proc/${pid}/limits`, 'utf8'));

export const fdCount = (pid: number | 'self'): number => readdirSync(`/proc/${pid}/fd`).length;

/** File descriptors a process needs besides its sockets (NATS, Redis, Postgres pool, tsx, stdio, …). */
export const FD_HEADROOM = 80;

/** How many more sockets a process with this soft limit and these open files can take, keeping the headroom. */
export const socketsLeft = (soft: number, open: number, headroom = FD_HEADROOM): number => Math.max(0, soft - open - headroom);

/** Clients that fit in `sockets` when every `groupSize` clients add one sender connection. */
export const clientsFitting = (sockets: number, groupSize = 100): number => Math.max(0, Math.floor((sockets * groupSize) / (groupSize + 1)));
