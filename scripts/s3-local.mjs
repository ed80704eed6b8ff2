#!/usr/bin/env node
/**
 * The local S3-compatible server for development and tests: s3rver (a dev dependency) on
 * 127.0.0.1, in the foreground. scripts/services.sh runs it detached when S3_ENDPOINT is not
 * set, with the log in $CHAT_DATA_DIR/s3.log; this script writes its own PID file and removes
 * it when it stops (SIGTERM or SIGINT).
 *
 *   node scripts/s3-local.mjs --port 14570 --directory .data/s3 --pid-file .data/s3.pid --bucket chat-media
 *
 * Clients sign with access key S3RVER, secret S3RVER: s3rver's built-in account, documented
 * with s3rver as its local default (no secret of this project). s3rver does not check v4
 * signatures nor checksums, but it does refuse a presigned URL past its expiry. The bucket
 * gets a CORS rule allowing any origin, so a web client on another port can PUT and GET
 * through presigned URLs.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import S3rver from 's3rver';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '14570' },
    address: { type: 'string', default: '127.0.0.1' },
    directory: { type: 'string' },
    'pid-file': { type: 'string' },
    bucket: { type: 'string', default: 'chat-media' },
  },
});
if (!args.directory) {
  console.error('usage: node scripts/s3-local.mjs --directory <dir> [--port 14570] [--address 127.0.0.1] [--pid-file <file>] [--bucket chat-media]');
  process.exit(2);
}

const CORS = `<CORSConfiguration>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3600</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

const server = new S3rver({
  address: args.address,
  port: Number(args.port),
  directory: args.directory,
  // One line per request would grow the log without bound under the tests.
  silent: true,
  // Path-style only: a host name is never read as a bucket.
  vhostBuckets: false,
  configureBuckets: [{ name: args.bucket, configs: [CORS] }],
});

const pidFile = args['pid-file'];
/** Only our own: a server started after this one may have written its PID there. */
const removePidFile = () => {
  try {
    if (pidFile && readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile, { force: true });
  } catch {
    // Already gone.
  }
};

try {
  const { address, port } = await server.run();
  if (pidFile) writeFileSync(pidFile, `${process.pid}\n`);
  console.log(`${new Date().toISOString()} s3rver listening on http://${address}:${port} (data in ${args.directory}, bucket ${args.bucket}, pid ${process.pid})`);
} catch (e) {
  console.error(`${new Date().toISOString()} s3rver could not start on ${args.address}:${args.port}: ${e.message}`);
  process.exit(1);
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    console.log(`${new Date().toISOString()} ${signal}: stopping`);
    server.close(() => {
      removePidFile();
      process.exit(0);
    });
    // Open keep-alive connections would hold close() up.
    setTimeout(() => {
      removePidFile();
      process.exit(0);
    }, 2000).unref();
  });
}
