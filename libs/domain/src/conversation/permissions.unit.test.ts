import { describe, expect, it } from 'vitest';
import type { Role } from '@chat/contracts';
import { ACTIONS, can, type Action } from './permissions';

/** The table in docs/permissions.md, row by row: owner, admin, member. */
const MATRIX: Record<Action, [owner: boolean, admin: boolean, member: boolean]> = {
  send: [true, true, true],
  read: [true, true, true],
  leave: [false, true, true],
  editOwnMessage: [true, true, true],
  deleteOwnMessage: [true, true, true],
  hideMessage: [true, true, true],
  addMembers: [true, true, false],
  removeMember: [true, true, false],
  removeAdmin: [true, false, false],
  updateMetadata: [true, true, false],
  deleteAnyMessage: [true, true, false],
  changeRole: [true, false, false],
};

describe('the permission matrix', () => {
  it('covers every action', () => {
    expect(Object.keys(MATRIX).sort()).toEqual([...ACTIONS].sort());
  });

  const roles: Role[] = ['owner', 'admin', 'member'];
  it.each(ACTIONS.flatMap((action) => roles.map((role, i) => ({ action, role, allowed: MATRIX[action][i]! }))))('$role $action: $allowed', ({ role, action, allowed }) => {
    expect(can(role, action)).toBe(allowed);
  });

  it('an admin can do everything a member can; the owner everything an admin can but leave', () => {
    for (const action of ACTIONS) {
      if (can('member', action)) expect(can('admin', action)).toBe(true);
      if (can('admin', action) && action !== 'leave') expect(can('owner', action)).toBe(true);
    }
  });
});
