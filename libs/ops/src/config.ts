import { CommandConfig, loadConfig } from '@chat/contracts';

/** The connection settings every chatctl command reads; defaults come from @chat/contracts. */
export const OpsConfig = CommandConfig.pick({ NATS_URL: true, DATABASE_URL: true, REDIS_URL: true, CHAT_NS: true, NODE_ENV: true });

export function loadOpsConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(OpsConfig, env);
}
