import { ChatError, type CommandOf, type LastSeenVisibility, type UserSettingsEvent, type UserSnapshotState } from '@chat/contracts';

/**
 * One user's own settings (subject chat.pref.user.<userId>): who may see their last seen, and
 * whom they block (with when). Immutable: evolve returns a new state.
 */
export interface UserSettingsState {
  lastSeen: LastSeenVisibility;
  /** Blocked user → when (ISO). */
  blocked: ReadonlyMap<string, string>;
}
export type UserSettingsCommand = CommandOf<'SetPrivacy'> | CommandOf<'BlockUser'> | CommandOf<'UnblockUser'>;

/** Blocks one user may hold (a bound on the aggregate's size). */
export const MAX_BLOCKS = 10_000;

export const initialUserSettings = (): UserSettingsState => ({ lastSeen: 'everyone', blocked: new Map() });

/** What a snapshot keeps of the state (CHAT_SNAPSHOTS): the setting, and the blocks in the order they were made. */
export const userSettingsToSnapshot = (state: UserSettingsState): UserSnapshotState => ({ lastSeen: state.lastSeen, blocked: [...state.blocked].map(([userId, at]) => ({ userId, at })) });
export const userSettingsFromSnapshot = (s: UserSnapshotState): UserSettingsState => ({ lastSeen: s.lastSeen, blocked: new Map(s.blocked.map((b) => [b.userId, b.at])) });

export function evolveUserSettings(state: UserSettingsState, event: UserSettingsEvent): UserSettingsState {
  switch (event.type) {
    case 'PrivacyChanged':
      return { ...state, lastSeen: event.lastSeen };
    case 'UserBlocked': {
      const blocked = new Map(state.blocked);
      blocked.set(event.blockedUserId, event.at);
      return { ...state, blocked };
    }
    case 'UserUnblocked': {
      const blocked = new Map(state.blocked);
      blocked.delete(event.blockedUserId);
      return { ...state, blocked };
    }
  }
}

/** Pure: a setting equal to the current one, a block of someone blocked already or an unblock of someone not blocked produce nothing. */
export function decideUserSettings(command: UserSettingsCommand, state: UserSettingsState): UserSettingsEvent[] {
  const { userId, at } = command.meta;
  switch (command.type) {
    case 'SetPrivacy':
      return command.data.lastSeen === state.lastSeen ? [] : [{ type: 'PrivacyChanged', v: 1, userId, lastSeen: command.data.lastSeen, at }];
    case 'BlockUser': {
      const other = command.data.userId;
      if (other === userId) throw new ChatError('bad_request', 'you cannot block yourself');
      if (state.blocked.has(other)) return [];
      if (state.blocked.size >= MAX_BLOCKS) throw new ChatError('bad_request', `at most ${MAX_BLOCKS} blocked users`);
      return [{ type: 'UserBlocked', v: 1, userId, blockedUserId: other, at }];
    }
    case 'UnblockUser':
      return state.blocked.has(command.data.userId) ? [{ type: 'UserUnblocked', v: 1, userId, blockedUserId: command.data.userId, at }] : [];
  }
}
