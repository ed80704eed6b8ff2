/**
 * `npm run rebuild -- <messages|receipts|conversations>...`: rebuilds projections from the
 * event stream (see rebuild.ts). Stop the projector running them first; start it afterwards.
 */
import { loadConfig, names as namesFor, ProjectorConfig } from '@chat/contracts';
import { connectNats } from '@chat/nats';
import { createPool } from '@chat/postgres';
import { parseProjectionKeys, rebuildProjection } from './rebuild';

const keys = parseProjectionKeys(process.argv.slice(2).join(','));
const cfg = loadConfig(ProjectorConfig);
const pool = createPool(cfg.DATABASE_URL, 2);
const nats = await connectNats(cfg.NATS_URL, 'projector-rebuild');
try {
  for (const key of keys) {
    await rebuildProjection({ pool, jsm: nats.jsm, names: namesFor(cfg.CHAT_NS) }, key);
    console.log(`${key}: emptied; the projector re-applies the stream when it starts`);
  }
} finally {
  await nats.nc.close();
  await pool.end();
}
