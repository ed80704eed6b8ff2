import { DeliverPolicy, type JetStreamClient } from '@nats-io/jetstream';
import { decodeTime, isValid } from 'ulid';
import { readStoredEvent } from '@chat/contracts';
import type { MessageRecord } from '@chat/domain';

/**
 * Finds a message a conversation's state no longer keeps (older than its edit/delete windows,
 * or past its most recent records) when a command names it: a reply to it, an admin deleting
 * it, a member hiding it. Message ids are ULIDs made by the edge when it took the send, so the
 * id says when the message was stored, give or take the time to append it: the lookup reads
 * the conversation's subject from a little before that time until it finds the MessageSent, or
 * has read past the time by `slackMs`, or `maxScan` events. Anything else (not a ULID, aged
 * out, another conversation's) is "no such message".
 */
export interface MessageLookup {
  find(subject: string, messageId: string): Promise<MessageRecord | undefined>;
}

export interface StreamMessageLookupOptions {
  /** How far around the id's time to read (default 60 s). */
  slackMs?: number;
  /** Most events read for one lookup (default 5,000). */
  maxScan?: number;
}

export class StreamMessageLookup implements MessageLookup {
  constructor(
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly opts: StreamMessageLookupOptions = {},
  ) {}

  async find(subject: string, messageId: string): Promise<MessageRecord | undefined> {
    if (!isValid(messageId)) return undefined;
    const t = decodeTime(messageId);
    const slack = this.opts.slackMs ?? 60_000;
    const maxScan = this.opts.maxScan ?? 5_000;
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(t - slack).toISOString(),
    });
    try {
      if ((await consumer.info(true)).num_pending === 0) return undefined;
      const messages = await consumer.consume({ max_messages: 256 });
      try {
        let scanned = 0;
        for await (const m of messages) {
          const e = readStoredEvent(m.json());
          if (e.type === 'MessageSent' && e.messageId === messageId) {
            return { seq: e.seq, senderId: e.senderId, sentAtMs: Date.parse(e.sentAt), deleted: false };
          }
          const storedMs = m.time.getTime();
          if (++scanned >= maxScan || storedMs > t + slack || m.info.pending === 0) return undefined;
        }
        return undefined;
      } finally {
        await messages.close();
      }
    } finally {
      consumer.delete().catch(() => undefined);
    }
  }
}
