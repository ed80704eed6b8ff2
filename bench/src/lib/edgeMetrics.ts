/** The `chat_ws_connections` gauge from an edge's ops port (`/metrics`); null when it cannot be read. */
export async function edgeConnections(opsUrl: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${opsUrl}/metrics`)).text();
    const m = /^chat_ws_connections(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
