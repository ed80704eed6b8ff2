/**
 * Probes the S3 storage for scripts/services.sh: the S3_* variables of the environment
 * (S3_BUCKET default chat-media, S3_REGION default us-east-1). Creates the bucket when it is
 * missing. Exit status 0: reachable and the bucket is there; 1: otherwise (the reason on
 * stderr).
 */
import { MediaStore, parseMediaEnv } from '@chat/media';

const store = MediaStore.fromEnv(parseMediaEnv(process.env), '');
const where = `${store.config.endpoint ?? `AWS S3 (${store.config.region})`}, bucket ${store.config.bucket}`;
// A server that accepts the connection and never answers must not hold services.sh up.
const timer = setTimeout(() => {
  console.error(`${where}: no answer in 10 s`);
  process.exit(1);
}, 10_000);
let code = 1;
try {
  await store.ensureBucket();
  await store.ping();
  code = 0;
} catch (e) {
  console.error(`${where}: ${(e as Error).name}: ${(e as Error).message}`);
} finally {
  clearTimeout(timer);
  store.close();
}
process.exit(code);
