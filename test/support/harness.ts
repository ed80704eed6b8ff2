import type { ChatClient } from '@chat/client';
import { connectClient, token, type RunningSystem } from './system';

// Response bodies are checked field by field in the tests; their shapes are the zod contracts'.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/**
 * Per-file helpers over a running system: unique user names for this run, clients closed at
 * the end, and authenticated HTTP calls.
 */
export function harness(system: () => RunningSystem) {
  const run = Math.random().toString(36).slice(2, 8);
  const clients: ChatClient[] = [];
  const http = async (path: string, user: string | null, init: RequestInit = {}) => {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
    if (user) headers['authorization'] = `Bearer ${await token(user)}`;
    return fetch(`${system().httpUrl}${path}`, { ...init, headers });
  };
  return {
    /** A user name unique to this run. */
    u: (name: string) => `${name}-${run}`,
    async connect(user: string, device = 'd1', opts: Parameters<typeof connectClient>[3] = {}): Promise<ChatClient> {
      const c = await connectClient(system(), user, device, opts);
      clients.push(c);
      return c;
    },
    http,
    getJson: async (path: string, user: string): Promise<Json> => (await http(path, user)).json(),
    closeAll(): void {
      for (const c of clients.splice(0)) c.close();
    },
  };
}

export const text = (t: string) => ({ text: t });
