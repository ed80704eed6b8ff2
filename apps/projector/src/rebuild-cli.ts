/**
 * `npm run rebuild [-- <messages|receipts|conversations|preferences>...]`: rebuilds projections
 * (default: all) from the event stream and the aggregate snapshots (see rebuild.ts). Stop the
 * projector first; start it afterwards.
 */
import { loadConfig, names as namesFor, ProjectorConfig, StreamsConfig } from '@chat/contracts';
import { connectNats } from '@chat/nats';
import { clearConversationCache, loadRebuildSeed } from '@chat/ops';
import { createPool, parseProjectionKeys, PROJECTION_KEYS, rebuildProjections } from '@chat/postgres';

const args = process.argv.slice(2);
const keys = args.length ? parseProjectionKeys(args.join(',')) : [...PROJECTION_KEYS];
const cfg = loadConfig(ProjectorConfig);
// The projector's configuration has no replica count; the streams' (default 1) names the same bucket.
const replicas = loadConfig(StreamsConfig.pick({ CHAT_STREAM_REPLICAS: true })).CHAT_STREAM_REPLICAS;
const pool = createPool(cfg.DATABASE_URL, 2);
const nats = await connectNats(cfg.NATS_URL, 'projector-rebuild', { security: cfg });
try {
  const names = namesFor(cfg.CHAT_NS);
  let found = '';
  const report = await rebuildProjections(pool, names, keys, (await nats.jsm.streams.info(names.streams.events)).state.last_seq, async () => {
    const seed = await loadRebuildSeed(nats, names, { replicas });
    const s = seed.stats;
    found = `${s.snapshots} snapshot(s): ${seed.conversations.length} conversation(s) restored from them, ${s.conversationsInStream} still created in the stream` +
      (s.invalid ? `, ${s.invalid} invalid key(s) skipped` : '');
    return seed;
  });
  console.log(`${keys.join(', ')}: emptied; ${found}`);
  if (report) console.log(`seeded: ${report.conversations} conversations, ${report.members} members, ${report.listRows} list rows, ${report.receipts} watermarks, ${report.mutes} mutes, ${report.userSettings} privacy settings, ${report.blocks} blocks`);
  // The Redis lists mirror the tables just rebuilt: they load again from Postgres.
  if (keys.includes('conversations')) await clearConversationCache(cfg);
  console.log('the projector re-applies the stream when it starts');
} finally {
  await nats.nc.close();
  await pool.end();
}
