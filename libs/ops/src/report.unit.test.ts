import { describe, expect, it } from 'vitest';
import type { ConsumerInfo, StreamInfo } from '@nats-io/jetstream';
import { clusterCell, consumerRow, formatAgo, missingConsumerRow, streamRow } from './report';

const NOW = Date.parse('2026-12-02T12:00:00Z');

// As the JetStream API answers (the fields the report reads), a consumer 250 behind on a
// 1,000-message stream in a 3-node cluster with one replica lagging.
const consumer = {
  stream_name: 'CHAT_EVENTS',
  name: 'projector',
  config: { ack_policy: 'all', ack_wait: 60_000_000_000, max_ack_pending: 4000 },
  num_ack_pending: 12,
  num_redelivered: 3,
  num_pending: 250,
  num_waiting: 1,
  delivered: { consumer_seq: 760, stream_seq: 750, last_active: '2026-12-02T11:59:59.500Z' },
  ack_floor: { consumer_seq: 748, stream_seq: 738, last_active: '2026-12-02T11:59:58Z' },
  cluster: {
    name: 'c1',
    leader: 'n1',
    replicas: [
      { name: 'n2', current: true, offline: false, active: 5_000_000, lag: 0 },
      { name: 'n3', current: false, offline: false, active: 900_000_000, lag: 17 },
    ],
  },
} as unknown as ConsumerInfo;

describe('consumer report rows', () => {
  it('have the keys and values `nats consumer report` shows', () => {
    expect(consumerRow(consumer, 1000, NOW)).toEqual({
      stream: 'CHAT_EVENTS',
      consumer: 'projector',
      ackPolicy: 'all',
      ackWaitMs: 60_000,
      numAckPending: 12,
      maxAckPending: 4000,
      numRedelivered: 3,
      numPending: 250,
      unprocessedPct: 25,
      ackFloorStreamSeq: 738,
      numWaiting: 1,
      lastDeliveryAgoMs: 500,
      lastAckAgoMs: 2000,
      cluster: {
        name: 'c1',
        leader: 'n1',
        replicas: [
          { name: 'n2', current: true, offline: false, activeAgoMs: 5, lag: 0 },
          { name: 'n3', current: false, offline: false, activeAgoMs: 900, lag: 17 },
        ],
      },
    });
  });

  it('a consumer that never delivered shows never; an empty stream 0 %', () => {
    const idle = { ...consumer, num_pending: 0, delivered: { consumer_seq: 0, stream_seq: 0, last_active: '0001-01-01T00:00:00Z' }, ack_floor: { consumer_seq: 0, stream_seq: 0 } } as unknown as ConsumerInfo;
    expect(consumerRow(idle, 0, NOW)).toMatchObject({ unprocessedPct: 0, lastDeliveryAgoMs: null, lastAckAgoMs: null });
    expect(formatAgo(null)).toBe('never');
  });

  it('a missing consumer is a row marked missing', () => {
    expect(missingConsumerRow('CHAT_NOTIFY', 'notifier-jobs')).toMatchObject({ stream: 'CHAT_NOTIFY', consumer: 'notifier-jobs', missing: true, numPending: 0 });
  });

  it('the cluster cell names the leader and marks replicas offline or lagging', () => {
    expect(clusterCell(consumerRow(consumer, 1000, NOW).cluster)).toBe('n1*, n2, n3 lag 17');
    expect(clusterCell({ name: null, leader: null, replicas: [{ name: 'n2', current: false, offline: true, activeAgoMs: null, lag: 0 }] })).toBe('no leader, n2 OFFLINE');
    expect(clusterCell(null)).toBe('-');
  });

  it('durations read like the CLI', () => {
    expect([formatAgo(850), formatAgo(12_300), formatAgo(245_000), formatAgo(3_900_000)]).toEqual(['850ms', '12.3s', '4m5s', '1h5m']);
  });
});

describe('stream report rows', () => {
  it('have what `nats stream report` shows, with first and last message times', () => {
    const si = {
      config: { name: 'CHAT_EVENTS', storage: 'file', num_replicas: 3 },
      state: { messages: 10, bytes: 2048, first_seq: 5, last_seq: 16, first_ts: '2026-12-01T00:00:00Z', last_ts: '2026-12-02T00:00:00Z', consumer_count: 2, num_deleted: 2, lost: { msgs: [7], bytes: 100 } },
      cluster: { leader: 'n1', replicas: [] },
    } as unknown as StreamInfo;
    expect(streamRow(si)).toEqual({
      stream: 'CHAT_EVENTS',
      storage: 'file',
      consumers: 2,
      messages: 10,
      bytes: 2048,
      lostMessages: 1,
      deleted: 2,
      firstSeq: 5,
      lastSeq: 16,
      firstTime: '2026-12-01T00:00:00Z',
      lastTime: '2026-12-02T00:00:00Z',
      replicas: 3,
      cluster: { name: null, leader: 'n1', replicas: [] },
    });
  });
});
