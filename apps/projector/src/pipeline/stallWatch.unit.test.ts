import { describe, expect, it } from 'vitest';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { isConsumerGone, isUnavailable, STALLED_CONSUMER_MS, StallWatch } from './stallWatch';

describe('StallWatch', () => {
  it('defaults to STALLED_CONSUMER_MS', () => {
    expect(new StallWatch().limitMs).toBe(STALLED_CONSUMER_MS);
    expect(new StallWatch(undefined).limitMs).toBe(STALLED_CONSUMER_MS);
  });

  it('a consumer with nothing pending is never stuck', () => {
    const watch = new StallWatch(1_000);
    expect(watch.answered(0, 1_000)).toBeNull();
    expect(watch.answered(0, 50_000)).toBeNull();
  });

  it('a consumer that delivers nothing while events wait is stuck once the limit has passed since it was first seen so', () => {
    const watch = new StallWatch(1_000);
    expect(watch.answered(5, 10_000)).toBeNull();
    expect(watch.answered(5, 10_999)).toBeNull();
    expect(watch.answered(5, 11_000)).toBe(1_000);
    expect(watch.answered(5, 11_500)).toBe(1_500);
  });

  it('a delivery, nothing pending, or a re-creation starts the wait again', () => {
    const watch = new StallWatch(1_000);
    watch.answered(5, 10_000);
    watch.delivered();
    expect(watch.answered(5, 11_000)).toBeNull();
    expect(watch.answered(0, 11_500)).toBeNull();
    expect(watch.answered(5, 12_000)).toBeNull();
    watch.opened();
    expect(watch.answered(5, 12_900)).toBeNull();
    expect(watch.answered(5, 13_900)).toBe(1_000);
  });

  it('a consumer that does not answer is stuck once the limit has passed; an answer starts that wait again', () => {
    const watch = new StallWatch(1_000);
    expect(watch.unanswered(10_000)).toBeNull();
    expect(watch.unanswered(11_000)).toBe(1_000);
    expect(watch.answered(0, 11_100)).toBeNull();
    expect(watch.unanswered(11_200)).toBeNull();
    watch.opened();
    expect(watch.unanswered(12_100)).toBeNull();
  });

  it('a delivery does not end the wait of a consumer that does not answer', () => {
    const watch = new StallWatch(1_000);
    watch.unanswered(10_000);
    watch.delivered();
    expect(watch.unanswered(11_000)).toBe(1_000);
  });
});

describe('isUnavailable / isConsumerGone', () => {
  const apiError = (code: number, err_code: number, description: string) => new JetStreamApiError({ code, err_code, description });

  it('tells an unavailable consumer from a missing one and from other errors', () => {
    const unavailable = apiError(503, 10008, 'JetStream system temporarily unavailable');
    const gone = apiError(404, JetStreamApiCodes.ConsumerNotFound, 'consumer not found');
    const timeout = Object.assign(new Error('request'), { name: 'TimeoutError' });
    expect([unavailable, timeout, new Error('request timeout'), gone, new Error('boom'), 'timeout'].map(isUnavailable)).toEqual([true, true, true, false, false, false]);
    expect([gone, unavailable, new Error('consumer not found')].map(isConsumerGone)).toEqual([true, false, false]);
  });
});
