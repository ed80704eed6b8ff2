import { CommandConfig, loadConfig } from '@chat/contracts';

/** The connection settings every chatctl command reads; defaults come from @chat/contracts. */
export const OpsConfig = CommandConfig.pick({
  NATS_URL: true,
  DATABASE_URL: true,
  REDIS_URL: true,
  CHAT_NS: true,
  NODE_ENV: true,
  NATS_CREDS: true,
  NATS_NKEY_SEED: true,
  NATS_USER: true,
  NATS_PASSWORD: true,
  NATS_TOKEN: true,
  NATS_TLS_CA: true,
  NATS_TLS_CERT: true,
  NATS_TLS_KEY: true,
});

export function loadOpsConfig(env: Record<string, string | undefined> = process.env) {
  return loadConfig(OpsConfig, env);
}
