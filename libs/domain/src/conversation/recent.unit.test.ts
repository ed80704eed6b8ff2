import { describe, expect, it } from 'vitest';
import { Recent } from './recent';

describe('Recent', () => {
  it('keeps insertion order; replacing a value keeps its place', () => {
    const r = Recent.of<number>([['a', 1], ['b', 2], ['c', 3]]).set('a', 10);
    expect([...r]).toEqual([['a', 10], ['b', 2], ['c', 3]]);
    expect([...r.keys()]).toEqual(['a', 'b', 'c']);
    expect([...r.values()]).toEqual([10, 2, 3]);
    expect([r.size, r.get('b'), r.has('z')]).toEqual([3, 2, false]);
  });

  it('trims the oldest entries past the bound or expired, and leaves the map it came from as it was', () => {
    const before = Recent.of<number>([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
    expect([...before.trim(2, () => false).keys()]).toEqual(['c', 'd']);
    // Expiry is checked from the oldest and stops at the first entry still wanted.
    expect([...before.trim(10, (v) => v !== 2 && v < 4).keys()]).toEqual(['b', 'c', 'd']);
    expect(before.trim(10, () => false)).toBe(before);
    const after = before.set('e', 5).trim(3, () => false);
    expect([...after.keys()]).toEqual(['c', 'd', 'e']);
    expect([...before.keys()]).toEqual(['a', 'b', 'c', 'd']);
    expect(before.get('a')).toBe(1);
  });
});
