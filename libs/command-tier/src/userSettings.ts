import type { CommandResult } from '@chat/contracts';
import { userSettingsDecider, type UserSettingsCommand } from '@chat/domain';
import { handle, type HandlerContext } from './handler';
import { user } from './kinds';

/**
 * A user's own settings (last-seen privacy, blocks) on chat.pref.user.<userId>, through the same
 * load → decide → append as every aggregate, snapshots included (a block outlives its event).
 * The answer is the setting as it now is; the same setting again appends nothing.
 */
export function runUserSettingsCommand(ctx: HandlerContext, command: UserSettingsCommand): Promise<CommandResult> {
  return handle(ctx, {
    subject: ctx.names.subjects.userPref(command.meta.userId),
    kind: user,
    commandId: command.meta.commandId,
    decide: (state) => userSettingsDecider.decide(command, state, {}),
    answer: (now) =>
      command.type === 'SetPrivacy' ? { kind: 'settings', lastSeen: now.lastSeen } : { kind: 'block', userId: command.data.userId, blocked: now.blocked.has(command.data.userId) },
  });
}
