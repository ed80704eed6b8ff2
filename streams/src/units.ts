/** Milliseconds as the nanoseconds JetStream's configuration takes. */
export const nanos = (ms: number): number => ms * 1_000_000;
