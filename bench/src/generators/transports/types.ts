export type ReceiptStatus = 'delivered' | 'read';

/** One user's connection in a pair; each pair shares one conversation. */
export interface LoadConn {
  /** Sends one message to the pair's peer; resolves when the server acknowledged it as durable (message.sent / socket.io ack), with its position in the conversation (seq; the peer's row id). */
  send(text: string): Promise<number>;
  /** Called for every message this connection receives: `text` is what the peer sent (the generator embeds its send timestamp in it), `seq` its position. */
  onMessage(cb: (text: string, seq: number) => void): void;
  /** Sends a `message.delivered` / `message.read` watermark for the pair's conversation (no answer). */
  sendReceipt(status: ReceiptStatus, upToSeq: number): void;
  /** Called for every receipt the peer's receipts produce for this connection (status, the peer's watermark). */
  onReceipt(cb: (status: ReceiptStatus, upToSeq: number) => void): void;
  /** Tells the peer this user is typing (`typing` start; no answer). Absent where the protocol has no typing. */
  sendTyping?(): void;
  /** Called for every typing signal from the peer. */
  onTyping?(cb: () => void): void;
  /** Called for an error the server sent that answers no request (e.g. a refused receipt). */
  onError?(cb: (message: string) => void): void;
  close(): Promise<void>;
}

export interface PairTransport {
  /** Connects the two users of pair i (creating the conversation if the protocol needs one) and returns [a, b], where a.send reaches b and b.send reaches a. */
  connectPair(i: number): Promise<[LoadConn, LoadConn]>;
  close(): Promise<void>;
}

export type TransportFactory = (args: { url: string; [k: string]: unknown }) => Promise<PairTransport>;
