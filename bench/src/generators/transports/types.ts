export interface LoadConn {
  /** Sends one message to the pair's peer; resolves when the server acknowledged it as durable (message.sent / socket.io ack). */
  send(text: string): Promise<void>;
  /** Called for every message this connection receives; `text` is what the peer sent (the generator embeds its send timestamp in it). */
  onMessage(cb: (text: string) => void): void;
  close(): Promise<void>;
}

export interface PairTransport {
  /** Connects the two users of pair i (creating the conversation if the protocol needs one) and returns [a, b], where a.send reaches b and b.send reaches a. */
  connectPair(i: number): Promise<[LoadConn, LoadConn]>;
  close(): Promise<void>;
}

export type TransportFactory = (args: { url: string; [k: string]: unknown }) => Promise<PairTransport>;
