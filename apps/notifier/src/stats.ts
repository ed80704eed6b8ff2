/** Counters logged by the notifier (one summary line a minute). */
export interface NotifierStats {
  jobs: number;
  mutes: number;
  /** Messages that waited the whole CHAT_PUSH_LAG_WAIT for the read models and went ahead anyway. */
  lagGaveUp: number;
  skippedOnline: number;
  skippedMuted: number;
  /** Pushes only from senders the recipient blocks. */
  skippedBlocked: number;
  pushed: number;
  collapsed: number;
  dropped: number;
  retried: number;
  rejected: number;
}

export const newStats = (): NotifierStats => ({ jobs: 0, mutes: 0, lagGaveUp: 0, skippedOnline: 0, skippedMuted: 0, skippedBlocked: 0, pushed: 0, collapsed: 0, dropped: 0, retried: 0, rejected: 0 });
