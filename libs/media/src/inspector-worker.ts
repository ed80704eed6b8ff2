/**
 * One MediaInspector worker thread (./inspector.ts): its own S3 client and sharp, so hashing
 * and image decoding never run on the event loop that serves requests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import type { MediaStoreConfig } from './client';
import { inspectStream, type InspectOptions } from './inspect';
import type { InspectJob, InspectReply } from './inspector';
import { MediaStore } from './store';

const { config, options } = workerData as { config: MediaStoreConfig; options: InspectOptions };
// Each image is decoded once: libvips' operation cache would only hold on to memory.
sharp.cache(false);
const store = new MediaStore(config);
const port = parentPort!;

port.on('message', (job: InspectJob) => {
  void inspect(job).then((reply) => port.postMessage(reply));
});

async function inspect({ id, key, contentType }: InspectJob): Promise<InspectReply> {
  try {
    const body = (await store.getStream(key)) as AsyncIterable<Uint8Array>;
    return { id, ok: true, inspection: await inspectStream(body, contentType, options) };
  } catch (e) {
    const err = e as Error;
    return { id, ok: false, error: { name: err.name ?? 'Error', message: err.message ?? String(e) } };
  }
}
