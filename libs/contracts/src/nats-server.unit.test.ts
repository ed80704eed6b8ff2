import { describe, expect, it } from 'vitest';
import { compareVersions, MIN_NATS_SERVER_VERSION, natsServerSupported } from './nats-server';

describe('compareVersions', () => {
  it('compares each part as a number', () => {
    expect(compareVersions('2.9.10', '2.11.0')).toBeLessThan(0);
    expect(compareVersions('2.11.0', '2.9.10')).toBeGreaterThan(0);
    expect(compareVersions('2.10.25', '2.11.0')).toBeLessThan(0);
    expect(compareVersions('2.15.1', '2.11.0')).toBeGreaterThan(0);
    expect(compareVersions('3.0.0', '2.99.99')).toBeGreaterThan(0);
    expect(compareVersions('2.11.0', '2.11.0')).toBe(0);
  });

  it('accepts a leading v, a missing patch and build metadata', () => {
    expect(compareVersions('v2.11.0', '2.11.0')).toBe(0);
    expect(compareVersions('2.11', '2.11.0')).toBe(0);
    expect(compareVersions('2.11.0+abc', '2.11.0')).toBe(0);
  });

  it('puts a pre-release before its release, and orders pre-releases like semver', () => {
    expect(compareVersions('2.11.0-RC.1', '2.11.0')).toBeLessThan(0);
    expect(compareVersions('2.11.0', '2.11.0-RC.1')).toBeGreaterThan(0);
    expect(compareVersions('2.11.0-RC.1', '2.10.9')).toBeGreaterThan(0);
    expect(compareVersions('2.11.0-RC.2', '2.11.0-RC.10')).toBeLessThan(0);
    expect(compareVersions('2.11.0-RC.1', '2.11.0-RC.1.1')).toBeLessThan(0);
    expect(compareVersions('2.11.0-1', '2.11.0-beta')).toBeLessThan(0);
    expect(compareVersions('2.11.0-alpha', '2.11.0-beta')).toBeLessThan(0);
  });

  it('throws on something that is not a version', () => {
    expect(() => compareVersions('latest', '2.11.0')).toThrow(/not a version/);
    expect(() => compareVersions('2.11.0', '')).toThrow(/not a version/);
  });
});

describe('natsServerSupported', () => {
  it('is true from the minimum on', () => {
    expect(MIN_NATS_SERVER_VERSION).toBe('2.11.0');
    expect(natsServerSupported('2.11.0')).toBe(true);
    expect(natsServerSupported('2.15.1')).toBe(true);
    expect(natsServerSupported('2.12.0-dev')).toBe(true);
  });

  it('is false below it, and for a missing or unreadable version', () => {
    expect(natsServerSupported('2.9.10')).toBe(false);
    expect(natsServerSupported('2.10.29')).toBe(false);
    expect(natsServerSupported('2.11.0-RC.3')).toBe(false);
    expect(natsServerSupported(undefined)).toBe(false);
    expect(natsServerSupported('')).toBe(false);
    expect(natsServerSupported('unknown')).toBe(false);
  });

  it('takes another minimum', () => {
    expect(natsServerSupported('2.10.0', '2.10.0')).toBe(true);
    expect(natsServerSupported('2.9.10', '2.10.0')).toBe(false);
  });
});
