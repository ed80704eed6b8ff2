/**
 * `npm run rebuild [-- <messages|receipts|conversations|preferences>...]`: rebuilds projections
 * (default: all) from the event stream (see rebuild.ts). Stop the projector first; start it
 * afterwards.
 */
import { loadConfig, names as namesFor, ProjectorConfig } from '@chat/contracts';
import { connectNats } from '@chat/nats';
import { createPool } from '@chat/postgres';
import { parseProjectionKeys, PROJECTION_KEYS, rebuildProjections } from '@chat/postgres';

const args = process.argv.slice(2);
const keys = args.length ? parseProjectionKeys(args.join(',')) : [...PROJECTION_KEYS];
const cfg = loadConfig(ProjectorConfig);
const pool = createPool(cfg.DATABASE_URL, 2);
const nats = await connectNats(cfg.NATS_URL, 'projector-rebuild');
try {
  const names = namesFor(cfg.CHAT_NS);
  await rebuildProjections(pool, names, keys, (await nats.jsm.streams.info(names.streams.events)).state.last_seq);
  console.log(`${keys.join(', ')}: emptied; the projector re-applies the stream when it starts`);
} finally {
  await nats.nc.close();
  await pool.end();
}
