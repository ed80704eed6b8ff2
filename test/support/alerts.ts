import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '@chat/testing';

/** Where the Prometheus alert rules and their promtool unit tests live. */
export const ALERTS_DIR = resolve(REPO_ROOT, 'deploy/prometheus');

export interface AlertRule {
  alert: string;
  expr: string;
  labels: { severity: string };
  annotations: { summary: string; runbook_url: string };
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(resolve(ALERTS_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

/** The chat_* metric names the alerts read (a histogram by its name, without `_bucket`). */
export function alertMetricNames(): string[] {
  const names = alertRules().flatMap((a) => [...a.expr.matchAll(/\b(chat_[a-z_]+)\b/g)].map((m) => m[1]!.replace(/_bucket$/, '')));
  return [...new Set(names)].sort();
}
