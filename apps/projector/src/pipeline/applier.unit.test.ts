import { describe, expect, it } from 'vitest';
import { resumePoint, type AnyProjection, type Positions } from './applier';

const projection = (name: string, plan?: true): AnyProjection => ({ name, ...(plan ? { plan: async () => undefined } : {}) }) as unknown as AnyProjection;

const positions = (checkpoints: Record<string, number>, sideEffects: Record<string, number> = {}): Positions => ({
  checkpoints: new Map(Object.entries(checkpoints)),
  sideEffects: new Map(Object.entries(sideEffects)),
  live: 0,
});

describe('resumePoint', () => {
  const projections = [projection('messages'), projection('conversations', true)];

  it('resumes right after the lowest checkpoint', () => {
    expect(resumePoint(positions({ messages: 40, conversations: 35 }, { conversations: 35 }), projections, 50)).toEqual({ checkpoint: 35, start: 36, ahead: [] });
  });

  it('resumes earlier when side effects (of a projection that plans them) are behind', () => {
    expect(resumePoint(positions({ messages: 40, conversations: 40 }, { messages: 10, conversations: 30 }), projections, 50)).toEqual({ checkpoint: 40, start: 31, ahead: [] });
  });

  it('lists checkpoints past the end of the stream', () => {
    expect(resumePoint(positions({ messages: 60, conversations: 50 }, { conversations: 50 }), projections, 50).ahead).toEqual([{ name: 'messages', at: 60 }]);
  });
});
