import { describe, expect, it } from 'vitest';
import { metricSum, parseMetrics } from './metrics';

const TEXT = `# HELP chat_ws_frames_in_total Frames received
# TYPE chat_ws_frames_in_total counter
chat_ws_frames_in_total{type="sync",edge="e1"} 3
chat_ws_frames_in_total{type="message.send",edge="e1"} 40
chat_ws_frames_in_total{type="sync",edge="e2"} 2
chat_command_partitions_owned 16
nodejs_eventloop_lag_p99_seconds 0.012582719
nodejs_gc_duration_seconds_bucket{le="+Inf",kind="minor"} 7
odd_label{path="a\\"b,c}",le="1"} 1.5 1700000000000
not a sample line
`;

describe('parseMetrics', () => {
  it('reads names, labels (quotes, commas and braces inside values too), values and timestamps', () => {
    const s = parseMetrics(TEXT);
    expect(s).toHaveLength(7);
    expect(s[0]).toEqual({ name: 'chat_ws_frames_in_total', labels: { type: 'sync', edge: 'e1' }, value: 3 });
    expect(s.find((x) => x.name === 'chat_command_partitions_owned')).toEqual({ name: 'chat_command_partitions_owned', labels: {}, value: 16 });
    expect(s.find((x) => x.name === 'nodejs_gc_duration_seconds_bucket')?.labels).toEqual({ le: '+Inf', kind: 'minor' });
    expect(s.find((x) => x.name === 'odd_label')).toEqual({ name: 'odd_label', labels: { path: 'a"b,c}', le: '1' }, value: 1.5 });
  });
});

describe('metricSum', () => {
  const s = parseMetrics(TEXT);
  it('adds up the series whose labels include the ones asked for', () => {
    expect(metricSum(s, 'chat_ws_frames_in_total')).toBe(45);
    expect(metricSum(s, 'chat_ws_frames_in_total', { type: 'sync' })).toBe(5);
    expect(metricSum(s, 'chat_ws_frames_in_total', { type: 'sync', edge: 'e2' })).toBe(2);
    expect(metricSum(s, 'nodejs_eventloop_lag_p99_seconds')).toBeCloseTo(0.012582719, 9);
  });
  it('is 0 for a name or label value that is not there', () => {
    expect(metricSum(s, 'chat_nothing')).toBe(0);
    expect(metricSum(s, 'chat_ws_frames_in_total', { type: 'typing' })).toBe(0);
  });
});
