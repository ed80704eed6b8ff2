import { describe, expect, it } from 'vitest';
import { yieldsTo, type EdgeInstance } from './identity';

const at = (startedAt: number, instance: string): EdgeInstance => ({ instance, host: 'h', pid: 1, startedAt });

describe('two edges with one EDGE_ID', () => {
  it('the later one gives way; on a tie, the greater instance id; exactly one of the two', () => {
    expect(yieldsTo(at(2, 'a'), at(1, 'b'))).toBe(true);
    expect(yieldsTo(at(1, 'b'), at(2, 'a'))).toBe(false);
    expect(yieldsTo(at(1, 'b'), at(1, 'a'))).toBe(true);
    expect(yieldsTo(at(1, 'a'), at(1, 'b'))).toBe(false);
  });
});
