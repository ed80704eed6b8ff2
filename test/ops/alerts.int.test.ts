import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '@chat/testing';
import { ALERTS_DIR as DIR, alertRules as alerts } from '../support/alerts';

/**
 * The alert rules (deploy/prometheus/alerts.yml) through Prometheus' own checker: they parse,
 * and each alert fires on the series of its unit test (alerts.test.yml) and not on a healthy
 * system. Every alert links to a runbook section of docs/operations.md that exists.
 */
let promtool: string;

beforeAll(() => {
  promtool = execFileSync('bash', [resolve(REPO_ROOT, 'scripts/promtool.sh')], { encoding: 'utf8' }).trim();
}, 120_000);

const run = (...args: string[]) => spawnSync(promtool, args, { cwd: DIR, encoding: 'utf8' });

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    const r = run('check', 'rules', 'alerts.yml');
    expect(r.stderr + r.stdout).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('pass their promtool unit tests (each alert fires when it should, none on a healthy system)', () => {
    const r = run('test', 'rules', 'alerts.test.yml');
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('every alert is unit-tested firing', () => {
    const tests = readFileSync(resolve(DIR, 'alerts.test.yml'), 'utf8');
    const fired = new Set([...tests.matchAll(/alertname: (\w+)\n\s+exp_alerts:/g)].map((m) => m[1]));
    expect(alerts().map((a) => a.alert).filter((a) => !fired.has(a))).toEqual([]);
  });

  it('every alert has a severity and a runbook section (symptom, check, fix) in docs/operations.md', () => {
    const ops = readFileSync(resolve(REPO_ROOT, 'docs/operations.md'), 'utf8');
    for (const a of alerts()) {
      expect(['page', 'warn']).toContain(a.labels.severity);
      expect(a.annotations.runbook_url).toBe(`docs/operations.md#${a.alert.toLowerCase()}`);
      const section = new RegExp(`^#### ${a.alert}\\n([\\s\\S]*?)(?=^#{2,4} |$(?![\\s\\S]))`, 'm').exec(ops);
      expect(section, `runbook section "#### ${a.alert}"`).not.toBeNull();
      for (const part of ['Symptom', 'Check', 'Fix']) expect(section![1], `${a.alert}: ${part}`).toContain(`**${part}**`);
    }
  });
});
