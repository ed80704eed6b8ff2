import { z } from 'zod';
import { ClientFrame, FEATURES, ServerFrame } from './frames';

type Frame = (typeof ClientFrame.options)[number] | (typeof ServerFrame.options)[number];

/** A payload as AsyncAPI's default schema format (a superset of JSON Schema draft-07) takes it. */
function payload(frame: Frame): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(frame, { target: 'draft-7', unrepresentable: 'any' });
  return schema;
}

/** `client.<type>` / `server.<type>`: `typing` is both a client and a server frame. */
function messages(side: 'client' | 'server', frames: readonly Frame[]): Record<string, object> {
  return Object.fromEntries(
    frames.map((f) => {
      const name = f.shape.type.value;
      return [`${side}.${name}`, { name, title: name, ...(f.description ? { summary: f.description } : {}), contentType: 'application/json', payload: payload(f) }];
    }),
  );
}

/**
 * docs/asyncapi.json: the WebSocket protocol (docs/protocol.md) as an AsyncAPI 3.0 document, from
 * the edge's side: it receives the client frames and sends the server frames, every one a JSON
 * text frame on `/v1/ws`.
 */
export function asyncApiDocument(): Record<string, unknown> {
  const client = messages('client', ClientFrame.options);
  const server = messages('server', ServerFrame.options);
  const refs = (m: Record<string, object>) => Object.keys(m).map((k) => ({ $ref: `#/channels/ws/messages/${k}` }));
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chat WebSocket protocol',
      version: '1',
      description: 'Client ↔ edge frames, generated from the zod contracts in libs/contracts/src/frames.ts by `npx tsx scripts/gen-schemas.ts`. Semantics, ordering, errors and close codes: docs/protocol.md.',
    },
    defaultContentType: 'application/json',
    servers: {
      edge: {
        host: '127.0.0.1:8080',
        protocol: 'ws',
        description: 'An edge (CHAT_EDGE_HOST:CHAT_EDGE_PORT). A refused upgrade is an HTTP error with an ErrorBody (401, 403, 404, 429, 503).',
        security: [{ $ref: '#/components/securitySchemes/bearer' }, { $ref: '#/components/securitySchemes/accessToken' }],
      },
    },
    channels: {
      ws: {
        address: '/v1/ws',
        title: 'A device connection',
        description: 'One connection per device; a newer connection of the same user and device replaces the older (close 4001). `hello` is always the first server frame.',
        messages: Object.fromEntries(Object.keys({ ...client, ...server }).map((k) => [k, { $ref: `#/components/messages/${k}` }])),
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                access_token: { type: 'string', description: 'The token, for clients that cannot set headers (browsers)' },
                features: { type: 'string', description: `Optional frames, comma-separated; unknown names are ignored. Known: ${FEATURES.join(', ')}` },
              },
            },
            bindingVersion: '0.1.0',
          },
        },
      },
    },
    operations: {
      receiveClientFrames: { action: 'receive', channel: { $ref: '#/channels/ws' }, summary: 'Frames a client sends', messages: refs(client) },
      sendServerFrames: { action: 'send', channel: { $ref: '#/channels/ws' }, summary: 'Frames the edge sends: answers, live frames and errors', messages: refs(server) },
    },
    components: {
      messages: { ...client, ...server },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 JWT: `sub` the user id, `did` the device id (default `default`), `exp` required' },
        accessToken: { type: 'httpApiKey', in: 'query', name: 'access_token', description: 'The same JWT in the query string' },
      },
    },
  };
}
