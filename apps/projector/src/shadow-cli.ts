/**
 * `chatctl rebuild [projections...] --shadow|--swap|--discard [--json]` runs here (chatctl
 * starts it, see libs/ops shadow/command.ts): a shadow rebuild applies events with the
 * projector's own code, which chatctl, a library, cannot import. Same arguments and exit status
 * when run directly: `npx tsx apps/projector/src/shadow-cli.ts conversations --shadow`.
 */
import { loadConfig, ProjectorConfig } from '@chat/contracts';
import { parseRebuildArgv, runRebuild } from '@chat/ops';
import { projectorApplier } from './shadow/applyStream';

try {
  const request = parseRebuildArgv(process.argv.slice(2));
  const { CHAT_RETENTION } = loadConfig(ProjectorConfig.pick({ CHAT_RETENTION: true }));
  process.exitCode = await runRebuild(request, (nats, names) => projectorApplier(nats, names, { retention: CHAT_RETENTION }));
} catch (e) {
  console.error(`chatctl: ${(e as Error).message}`);
  process.exitCode = 1;
}
