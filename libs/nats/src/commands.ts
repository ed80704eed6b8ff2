import { commandKey, type Command, type Names } from '@chat/contracts';

/** 32-bit FNV-1a of a string's UTF-16 code units (deterministic, fast, well spread for ids). */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finalizer: every input bit flips about half the output bits (FNV-1a alone mixes its last bytes weakly). */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A well-spread 32-bit hash of a string. */
export const hash32 = (s: string): number => mix32(fnv1a(s));

/** The partition a conversation's commands go to (CHAT_COMMAND_PARTITIONS, the same on every edge and command process). */
export const partitionOf = (conversationId: string, partitions: number): number => hash32(conversationId) % partitions;

/**
 * Where a command is sent: every command concerns one conversation (creating it, writing to
 * it, or one member's watermark or preference in it), and goes to that conversation's
 * partition, so one process decides all of a conversation's commands, in arrival order.
 * Commands travel in batches: a JSON array of commands per message, answered by a JSON array
 * of replies in the same order.
 */
export function commandSubject(n: Names, command: Command, partitions: number): string {
  return n.subjects.cmdPartition(partitionOf(commandKey(command), partitions));
}


