import { metricSum, scrapeMetrics } from '@chat/testing';

/** The `chat_ws_connections` gauge from an edge's ops port (`/metrics`); null when it cannot be read. */
export async function edgeConnections(opsUrl: string): Promise<number | null> {
  try {
    const samples = await scrapeMetrics(opsUrl);
    return samples.some((s) => s.name === 'chat_ws_connections') ? metricSum(samples, 'chat_ws_connections') : null;
  } catch {
    return null;
  }
}
