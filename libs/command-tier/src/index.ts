export { newInstanceId, snapshotIntervalMs, startCommandTier, type CommandTier, type CommandTierConfig } from './tier';
export { CommandService, type CommandObserver, type CommandOutcome, type CommandStats } from './service';
export type { HandOver } from './handler';
