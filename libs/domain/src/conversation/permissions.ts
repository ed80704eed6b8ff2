import type { Role } from '@chat/contracts';

/**
 * What a role may do in a group (docs/permissions.md). Direct conversations have two members
 * with the role `member` and fixed membership: the membership, role and metadata actions are
 * refused there whatever the role.
 */
export const ACTIONS = [
  'send',
  'read',
  'leave',
  'editOwnMessage',
  'deleteOwnMessage',
  'hideMessage',
  'addMembers',
  'removeMember',
  'removeAdmin',
  'updateMetadata',
  'deleteAnyMessage',
  'changeRole',
] as const;
export type Action = (typeof ACTIONS)[number];

const MEMBER: readonly Action[] = ['send', 'read', 'leave', 'editOwnMessage', 'deleteOwnMessage', 'hideMessage'];
const ADMIN: readonly Action[] = [...MEMBER, 'addMembers', 'removeMember', 'updateMetadata', 'deleteAnyMessage'];
/** The owner may do everything but leave: ownership is handed over first (ChangeRole to `owner`). */
const OWNER: readonly Action[] = [...ADMIN.filter((a) => a !== 'leave'), 'removeAdmin', 'changeRole'];

export const PERMISSIONS: Readonly<Record<Role, ReadonlySet<Action>>> = {
  owner: new Set(OWNER),
  admin: new Set(ADMIN),
  member: new Set(MEMBER),
};

export const can = (role: Role, action: Action): boolean => PERMISSIONS[role].has(action);

/** The action that removing a member of `targetRole` needs; the owner cannot be removed at all. */
export const removeActionFor = (targetRole: Role): Action | undefined =>
  targetRole === 'member' ? 'removeMember' : targetRole === 'admin' ? 'removeAdmin' : undefined;
