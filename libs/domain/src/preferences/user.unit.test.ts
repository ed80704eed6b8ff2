import { describe, expect, it } from 'vitest';
import type { UserSettingsEvent } from '@chat/contracts';
import { AT, meta } from '../conversation/fixtures';
import { userSettingsDecider } from '../decider';
import { checkDecider, type Then } from '../testing';
import { evolveUserSettings, initialUserSettings, type UserSettingsCommand } from './user';

const privacy = (lastSeen: 'everyone' | 'contacts' | 'nobody'): UserSettingsCommand => ({ type: 'SetPrivacy', v: 1, meta: meta('ann'), data: { lastSeen } });
const block = (userId: string): UserSettingsCommand => ({ type: 'BlockUser', v: 1, meta: meta('ann'), data: { userId } });
const unblock = (userId: string): UserSettingsCommand => ({ type: 'UnblockUser', v: 1, meta: meta('ann'), data: { userId } });
const changed = (lastSeen: 'everyone' | 'contacts' | 'nobody'): UserSettingsEvent => ({ type: 'PrivacyChanged', v: 1, userId: 'ann', lastSeen, at: AT });
const blocked = (other: string): UserSettingsEvent => ({ type: 'UserBlocked', v: 1, userId: 'ann', blockedUserId: other, at: AT });
const unblocked = (other: string): UserSettingsEvent => ({ type: 'UserUnblocked', v: 1, userId: 'ann', blockedUserId: other, at: AT });

interface Case {
  name: string;
  given?: UserSettingsEvent[];
  when: UserSettingsCommand;
  then: Then<UserSettingsEvent>;
}

describe('decideUserSettings', () => {
  it.each<Case>([
    { name: 'hides last seen', when: privacy('nobody'), then: [changed('nobody')] },
    { name: 'the setting it has already: nothing', given: [changed('contacts')], when: privacy('contacts'), then: [] },
    { name: 'everyone is the default', when: privacy('everyone'), then: [] },
    { name: 'blocks a user', when: block('bo'), then: [blocked('bo')] },
    { name: 'blocking again: nothing', given: [blocked('bo')], when: block('bo'), then: [] },
    { name: 'not oneself', when: block('ann'), then: { error: 'bad_request', message: /yourself/ } },
    { name: 'unblocks', given: [blocked('bo')], when: unblock('bo'), then: [unblocked('bo')] },
    { name: 'unblocking someone not blocked: nothing', given: [blocked('bo'), unblocked('bo')], when: unblock('bo'), then: [] },
  ])('$name', (c) => checkDecider(userSettingsDecider, { given: c.given ?? [], when: c.when, context: {}, then: c.then }));

  it('evolve leaves the state it was given as it was', () => {
    const before = initialUserSettings();
    const after = evolveUserSettings(before, blocked('bo'));
    expect([...before.blocked]).toEqual([]);
    expect([...after.blocked]).toEqual([['bo', AT]]);
  });
});
