import { describe, expect, it } from 'vitest';
import { ChatError, type ConversationEvent } from '@chat/contracts';
import { evolveAll } from '../conversation/evolve';
import { initialState } from '../conversation/state';
import { decideMute, evolveMute, initialMuteState, isMuted, type MuteCommand, type MuteState } from './mute';

const AT = '2025-01-01T00:00:00.000Z';
const conversation = evolveAll(initialState(), [
  {
    type: 'ConversationCreated',
    v: 1,
    conversationId: 'c1',
    kind: 'direct',
    createdBy: 'alice',
    members: [
      { userId: 'alice', role: 'member' },
      { userId: 'bob', role: 'member' },
    ],
    at: AT,
  } satisfies ConversationEvent,
]);

const mute = (userId: string, muted: boolean, until?: string): MuteCommand => ({
  type: 'MuteConversation',
  v: 1,
  meta: { commandId: 'cmd', requestId: 'req', userId, deviceId: 'phone', edgeId: 'edge-1', at: AT },
  data: { conversationId: 'c1', muted, ...(until ? { until } : {}) },
});

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof ChatError ? e.code : 'thrown';
  }
};

describe('decideMute', () => {
  it('mutes a member', () => {
    expect(decideMute(mute('bob', true), initialMuteState(), conversation)).toEqual([
      { type: 'MemberMuteChanged', v: 1, conversationId: 'c1', userId: 'bob', muted: true, at: AT },
    ]);
  });

  it('mutes until a time, normalised to UTC', () => {
    const [e] = decideMute(mute('bob', true, '2025-01-01T02:00:00+01:00'), initialMuteState(), conversation);
    expect(e).toMatchObject({ muted: true, until: '2025-01-01T01:00:00.000Z' });
  });

  it('changes nothing when the setting is the same', () => {
    expect(decideMute(mute('bob', false), initialMuteState(), conversation)).toEqual([]);
    const muted: MuteState = { muted: true };
    expect(decideMute(mute('bob', true), muted, conversation)).toEqual([]);
    expect(decideMute(mute('bob', false), muted, conversation)).toHaveLength(1);
  });

  it('refuses non-members and unknown conversations', () => {
    expect(code(() => decideMute(mute('carol', true), initialMuteState(), conversation))).toBe('forbidden');
    expect(code(() => decideMute(mute('bob', true), initialMuteState(), initialState()))).toBe('not_found');
  });

  it('refuses an until in the past, unparseable, or without muting', () => {
    expect(code(() => decideMute(mute('bob', true, '2024-12-31T23:00:00Z'), initialMuteState(), conversation))).toBe('bad_request');
    expect(code(() => decideMute(mute('bob', true, 'tomorrow'), initialMuteState(), conversation))).toBe('bad_request');
    expect(code(() => decideMute(mute('bob', false, '2025-02-01T00:00:00Z'), initialMuteState(), conversation))).toBe('bad_request');
  });
});

describe('isMuted', () => {
  it('ends a mute at until', () => {
    const s = evolveMute(initialMuteState(), { type: 'MemberMuteChanged', v: 1, conversationId: 'c1', userId: 'bob', muted: true, until: '2025-01-01T01:00:00.000Z', at: AT });
    expect(isMuted(s, Date.parse('2025-01-01T00:59:59Z'))).toBe(true);
    expect(isMuted(s, Date.parse('2025-01-01T01:00:00Z'))).toBe(false);
    expect(isMuted({ muted: true }, Date.now())).toBe(true);
    expect(isMuted({ muted: false }, 0)).toBe(false);
  });
});
