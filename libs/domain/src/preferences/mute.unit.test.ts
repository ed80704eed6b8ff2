import { describe, expect, it } from 'vitest';
import type { ConversationEvent, MemberMuteChanged } from '@chat/contracts';
import { AT, directCreated, meta, stateOf } from '../conversation/fixtures';
import { preferenceDecider } from '../decider';
import { checkDecider, type Then } from '../testing';
import { evolveMute, initialMuteState, isMuted, type MuteCommand } from './mute';

const mute = (userId: string, muted: boolean, until?: string): MuteCommand => ({
  type: 'MuteConversation',
  v: 1,
  meta: meta(userId),
  data: { conversationId: 'c1', muted, ...(until ? { until } : {}) },
});

const muteChanged = (userId: string, muted: boolean, until?: string): MemberMuteChanged => ({
  type: 'MemberMuteChanged',
  v: 1,
  conversationId: 'c1',
  userId,
  muted,
  ...(until ? { until } : {}),
  at: AT,
});

interface Case {
  name: string;
  /** The conversation's events (alice and bob's direct conversation unless given): what the setting is decided against. */
  conversation?: ConversationEvent[];
  /** This member's preference events so far. */
  given?: MemberMuteChanged[];
  when: MuteCommand;
  then: Then<MemberMuteChanged>;
}

const check = (c: Case): void =>
  checkDecider(preferenceDecider, { ...c, given: c.given ?? [], context: { conversation: stateOf(c.conversation ?? [directCreated()]) } });

describe('decideMute', () => {
  it.each<Case>([
    { name: 'mutes a member', when: mute('bob', true), then: [muteChanged('bob', true)] },
    { name: 'mutes until a time, normalised to UTC', when: mute('bob', true, '2025-01-01T02:00:00+01:00'), then: [muteChanged('bob', true, '2025-01-01T01:00:00.000Z')] },
    { name: 'the same setting (not muted): nothing', when: mute('bob', false), then: [] },
    { name: 'the same setting (muted): nothing', given: [muteChanged('bob', true)], when: mute('bob', true), then: [] },
    { name: 'unmutes a muted member', given: [muteChanged('bob', true)], when: mute('bob', false), then: [muteChanged('bob', false)] },
  ])('$name', check);

  it.each<Case>([
    { name: 'a non-member', when: mute('carol', true), then: { error: 'forbidden' } },
    { name: 'an unknown conversation', conversation: [], when: mute('bob', true), then: { error: 'not_found' } },
    { name: 'an until in the past', when: mute('bob', true, '2024-12-31T23:00:00Z'), then: { error: 'bad_request' } },
    { name: 'an unparseable until', when: mute('bob', true, 'tomorrow'), then: { error: 'bad_request' } },
    { name: 'an until without muting', when: mute('bob', false, '2025-02-01T00:00:00Z'), then: { error: 'bad_request' } },
  ])('refuses $name', check);
});

describe('isMuted', () => {
  it('ends a mute at until', () => {
    const s = evolveMute(initialMuteState(), muteChanged('bob', true, '2025-01-01T01:00:00.000Z'));
    expect(isMuted(s, Date.parse('2025-01-01T00:59:59Z'))).toBe(true);
    expect(isMuted(s, Date.parse('2025-01-01T01:00:00Z'))).toBe(false);
    expect(isMuted({ muted: true }, Date.now())).toBe(true);
    expect(isMuted({ muted: false }, 0)).toBe(false);
  });
});
