import { runApp } from '@chat/app';
import { WebConfig } from '@chat/contracts';
import { buildAssets, chooseSdk } from './bundle';
import { startWebServer } from './server';

runApp('web', WebConfig, async ({ cfg, log }) => {
  const production = cfg.NODE_ENV === 'production';
  const started = Date.now();
  const sdk = await chooseSdk(log);
  const assets = await buildAssets(sdk);
  log.info({ sdk: sdk.kind, sdkEntry: sdk.entry, bytes: assets.get('/main.js')!.body.length, ms: Date.now() - started }, 'bundle built');
  if (production) log.info('NODE_ENV=production: the development sign-in (POST /dev/token) is off');

  const web = await startWebServer({
    host: cfg.CHAT_WEB_HOST,
    port: cfg.CHAT_WEB_PORT,
    edgeUrl: cfg.CHAT_WEB_EDGE_URL,
    devSignIn: !production,
    ...(cfg.CHAT_JWT_SECRET ? { jwtSecret: cfg.CHAT_JWT_SECRET } : {}),
    assets,
    log,
  });
  log.info({ url: web.url, edge: cfg.CHAT_WEB_EDGE_URL }, `web client at ${web.url}`);

  return {
    async ready() {
      const edge = await fetch(`${cfg.CHAT_WEB_EDGE_URL}/healthz`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.ok,
        () => false,
      );
      return { checks: { edge }, ...(edge ? {} : { problems: [`the edge at ${cfg.CHAT_WEB_EDGE_URL} does not answer /healthz`] }) };
    },
    async stop() {
      await web.close();
    },
  };
});
