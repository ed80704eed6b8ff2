import { z } from 'zod';
import { ClientFrame, ServerFrame } from './frames';
import { Command, CommandReply } from './commands';
import { ChatEvent } from './events';
import { DeliveryEnvelope } from './delivery';
import { ConversationListPage, ErrorBody, HistoryPage, MediaReady, MediaUpload, MediaUploadRequest, ReceiptsBody, UserPresence, UserSettings, UserSettingsPatch, BlockList } from './httpApi';

/**
 * The protocol's JSON Schema, generated from the zod schemas (never written by hand):
 * docs/schemas/*.json are this function's output, and a unit test keeps them in step.
 */
export function protocolJsonSchemas(): Record<string, unknown> {
  const gen = (s: z.ZodType, title: string) => ({ title, ...z.toJSONSchema(s, { unrepresentable: 'any' }) });
  return {
    'client-frames': gen(ClientFrame, 'Client → server WebSocket frames'),
    'server-frames': gen(ServerFrame, 'Server → client WebSocket frames'),
    commands: gen(Command, 'Commands, sent in JSON arrays to the owner of their partition (chat.cmd.<partition>)'),
    'command-replies': gen(CommandReply, 'Command answers on chat.reply.<edgeId> (core NATS)'),
    events: gen(ChatEvent, 'Events on CHAT_EVENTS (chat.evt.>)'),
    delivery: gen(DeliveryEnvelope, 'Frames routed to one edge on CHAT_DELIVERY (chat.dlv.<edgeId>)'),
    'http-bodies': {
      title: 'HTTP API bodies (GET /v1/conversations, …/messages, …/receipts; POST /v1/media and …/complete; every error)',
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: Object.fromEntries(
        Object.entries({ ConversationListPage, HistoryPage, ReceiptsBody, MediaUploadRequest, MediaUpload, MediaReady, UserPresence, UserSettings, UserSettingsPatch, BlockList, ErrorBody }).map(([name, schema]) => {
          const { $schema: _, ...def } = z.toJSONSchema(schema, { unrepresentable: 'any' });
          return [name, def];
        }),
      ),
    },
  };
}
