import { runApp } from '@chat/app';
import { CommandConfig } from '@chat/contracts';
import { connectNats } from '@chat/nats';
import { newInstanceId, startCommandTier } from '@chat/command-tier';

runApp('command', CommandConfig, async ({ cfg, log, summary, metrics: registry }) => {
  const instanceId = newInstanceId();
  const nats = await connectNats(cfg.NATS_URL, `command-${instanceId}`, { security: cfg });
  const tier = await startCommandTier({ nats, cfg, log, registry, instanceId, summary });
  return {
    ready: async () => ({ checks: { nats: await nats.nc.flush().then(() => true, () => false) } }),
    stats: () => tier.stats(),
    async stop() {
      await tier.stop();
      await nats.nc.drain().catch((err) => log.warn({ err }, 'nats drain failed'));
    },
  };
});
