import { z } from 'zod';
import { HTTP_STATUS, type ErrorCode } from './errors';
import {
  BlockList,
  ConversationListPage,
  ConversationListQuery,
  ConversationParams,
  ErrorBody,
  HistoryPage,
  HistoryQuery,
  MediaParams,
  MediaReady,
  MediaUpload,
  MediaUploadRequest,
  MessageParams,
  ReceiptsBody,
  UserParams,
  UserPresence,
  UserSettings,
  UserSettingsPatch,
} from './httpApi';

/** The bodies the HTTP API sends or takes, by their name in `components.schemas`. */
const BODIES = { ConversationListPage, HistoryPage, ReceiptsBody, UserPresence, MediaUploadRequest, MediaUpload, MediaReady, UserSettings, UserSettingsPatch, BlockList, ErrorBody };
type BodyName = keyof typeof BODIES;
const REQUEST_BODIES: ReadonlySet<BodyName> = new Set(['MediaUploadRequest', 'UserSettingsPatch']);

/** One route of the edge's HTTP API: what the zod schemas cannot say (method, path, answers). */
export interface HttpRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path template (`{param}`). */
  path: string;
  operationId: string;
  summary: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: BodyName;
  ok: { status: 200; body: BodyName } | { status: 201; body: BodyName } | { status: 204 } | { status: 302; location: string };
  /** The errors this route answers besides a bad token, with when. */
  errors?: Partial<Record<ErrorCode, string>>;
}

export const HTTP_ROUTES: readonly HttpRoute[] = [
  {
    method: 'get',
    path: '/v1/conversations',
    operationId: 'listConversations',
    summary: "The caller's conversations, newest activity first",
    query: ConversationListQuery,
    ok: { status: 200, body: 'ConversationListPage' },
    errors: { bad_request: 'a bad limit or cursor' },
  },
  {
    method: 'get',
    path: '/v1/conversations/{id}/messages',
    operationId: 'getHistory',
    summary: "A page of a conversation's messages, oldest first, from the caller's join on",
    params: ConversationParams,
    query: HistoryQuery,
    ok: { status: 200, body: 'HistoryPage' },
    errors: { bad_request: 'a malformed id, or bad paging parameters', forbidden: 'not a member', not_found: 'no such conversation' },
  },
  {
    method: 'get',
    path: '/v1/conversations/{id}/messages/{messageId}/receipts',
    operationId: 'getReceipts',
    summary: 'Who of the members other than the sender received and read a message',
    params: MessageParams,
    ok: { status: 200, body: 'ReceiptsBody' },
    errors: { bad_request: 'a malformed id', forbidden: 'not a member', not_found: 'no such conversation or message' },
  },
  {
    method: 'get',
    path: '/v1/users/{userId}/presence',
    operationId: 'getPresence',
    summary: "A user's presence, under the rules of `presence.subscribe`",
    params: UserParams,
    ok: { status: 200, body: 'UserPresence' },
    errors: { bad_request: 'a malformed id', not_found: 'the user shares no conversation with the caller, or blocks them' },
  },
  {
    method: 'post',
    path: '/v1/media',
    operationId: 'createUpload',
    summary: 'Registers an upload: PUT the bytes to `uploadUrl` with exactly `uploadHeaders`, before `expiresAt`',
    body: 'MediaUploadRequest',
    ok: { status: 201, body: 'MediaUpload' },
    errors: { bad_request: 'a malformed request, or a content type not allowed', payload_too_large: 'over the size limit of its kind' },
  },
  {
    method: 'post',
    path: '/v1/media/{mediaId}/complete',
    operationId: 'completeUpload',
    summary: 'Checks the uploaded bytes against the declared size and SHA-256; a ready media object can be sent in a message',
    params: MediaParams,
    ok: { status: 200, body: 'MediaReady' },
    errors: { bad_request: 'a malformed id', not_found: "no such upload of the caller's", conflict: 'nothing uploaded yet, or bytes that do not match (the upload is removed: start again)' },
  },
  {
    method: 'get',
    path: '/v1/media/{mediaId}',
    operationId: 'downloadMedia',
    summary: 'Redirects to the media object',
    params: MediaParams,
    ok: { status: 302, location: 'A presigned GET URL, valid for CHAT_MEDIA_DOWNLOAD_EXPIRY' },
    errors: { bad_request: 'a malformed id', not_found: 'unknown, not complete, or not visible to the caller' },
  },
  {
    method: 'get',
    path: '/v1/media/{mediaId}/thumbnail',
    operationId: 'downloadThumbnail',
    summary: "Redirects to an image's JPEG thumbnail",
    params: MediaParams,
    ok: { status: 302, location: 'A presigned GET URL, valid for CHAT_MEDIA_DOWNLOAD_EXPIRY' },
    errors: { bad_request: 'a malformed id', not_found: 'unknown, not complete, without a thumbnail, or not visible to the caller' },
  },
  { method: 'get', path: '/v1/me/settings', operationId: 'getSettings', summary: "The caller's privacy settings", ok: { status: 200, body: 'UserSettings' } },
  {
    method: 'patch',
    path: '/v1/me/settings',
    operationId: 'updateSettings',
    summary: "Changes the caller's privacy settings; answers them as they now are",
    body: 'UserSettingsPatch',
    ok: { status: 200, body: 'UserSettings' },
    errors: { bad_request: 'anything but a known `lastSeen`' },
  },
  { method: 'get', path: '/v1/me/blocks', operationId: 'listBlocks', summary: 'Whom the caller blocks, newest first', ok: { status: 200, body: 'BlockList' } },
  {
    method: 'put',
    path: '/v1/me/blocks/{userId}',
    operationId: 'blockUser',
    summary: 'Blocks a user (idempotent)',
    params: UserParams,
    ok: { status: 204 },
    errors: { bad_request: 'a malformed id, or the caller themself' },
  },
  {
    method: 'delete',
    path: '/v1/me/blocks/{userId}',
    operationId: 'unblockUser',
    summary: 'Unblocks a user (idempotent)',
    params: UserParams,
    ok: { status: 204 },
    errors: { bad_request: 'a malformed id' },
  },
];

const ALWAYS: Partial<Record<ErrorCode, string>> = { unauthorized: 'a missing, invalid or expired token', forbidden: 'an Origin not in CHAT_ALLOWED_ORIGINS' };

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
}

function parameters(where: 'path' | 'query', object: z.ZodObject | undefined): object[] {
  return Object.entries(object?.shape ?? {}).map(([name, field]) => {
    const { description, ...schema } = jsonSchema(field as z.ZodType, 'input');
    return { name, in: where, required: where === 'path' || !(field as z.ZodType).isOptional(), ...(description ? { description } : {}), schema };
  });
}

const json = (name: BodyName) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${name}` } } });

function responses(r: HttpRoute): Record<string, object> {
  const ok =
    r.ok.status === 204
      ? { description: 'Done' }
      : r.ok.status === 302
        ? { description: 'Found', headers: { Location: { description: r.ok.location, schema: { type: 'string', format: 'uri' } } } }
        : { description: r.ok.status === 201 ? 'Created' : 'OK', content: json(r.ok.body) };
  const whens = new Map<ErrorCode, string[]>();
  for (const [code, when] of [...Object.entries(r.errors ?? {}), ...Object.entries(ALWAYS)] as Array<[ErrorCode, string]>) whens.set(code, [...(whens.get(code) ?? []), when]);
  const byStatus = new Map<number, string[]>();
  for (const [code, w] of whens) byStatus.set(HTTP_STATUS[code], [...(byStatus.get(HTTP_STATUS[code]) ?? []), `\`${code}\`: ${w.join(', or ')}`]);
  const errors = [...byStatus].sort(([a], [b]) => a - b).map(([status, d]) => [String(status), { description: d.join('; '), content: json('ErrorBody') }]);
  return { [r.ok.status]: ok, ...Object.fromEntries(errors), default: { description: 'Any other error (`unavailable`, `internal`, …)', content: json('ErrorBody') } };
}

/** docs/openapi.json: the edge's HTTP API (docs/protocol.md, "HTTP") as an OpenAPI 3.1 document. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of HTTP_ROUTES) {
    const params = [...parameters('path', r.params), ...parameters('query', r.query)];
    (paths[r.path] ??= {})[r.method] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: json(r.body) } } : {}),
      responses: responses(r),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Chat HTTP API',
      version: '1',
      description: 'The edge\'s queries, media uploads and user settings, generated from the zod contracts in libs/contracts/src/httpApi.ts by `npx tsx scripts/gen-schemas.ts`. Every error is an ErrorBody whose `code` gives its status. The WebSocket protocol is in docs/asyncapi.json.',
    },
    servers: [{ url: 'http://127.0.0.1:8080', description: 'An edge (CHAT_EDGE_HOST:CHAT_EDGE_PORT)' }],
    security: [{ bearer: [] }, { accessToken: [] }],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(BODIES).map(([name, schema]) => [name, jsonSchema(schema, REQUEST_BODIES.has(name as BodyName) ? 'input' : 'output')])),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256 JWT: `sub` the user id, `did` the device id (default `default`), `exp` required' },
        accessToken: { type: 'apiKey', in: 'query', name: 'access_token', description: 'The same JWT in the query string (browsers)' },
      },
    },
  };
}
