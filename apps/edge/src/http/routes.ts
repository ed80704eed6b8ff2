import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ChatError,
  ConversationListQuery,
  ConversationParams,
  HTTP_STATUS,
  HistoryQuery,
  MessageParams,
  isChatError,
  type ConversationListPage,
  type ErrorBody,
  type ErrorCode,
  type HistoryPage,
  type ReceiptsBody,
} from '@chat/contracts';
import { tokenFrom, type Principal, type TokenVerifier } from '../auth';
import type { ReadModels } from '../queries';
import type { ConversationList } from '../conversationList';

/** The error code of an HTTP status (the inverse of HTTP_STATUS). */
const CODE_OF_STATUS = new Map(Object.entries(HTTP_STATUS).map(([code, status]) => [status, code as ErrorCode]));

/**
 * An error as the HTTP API answers it, in the protocol's one vocabulary: a ChatError with its
 * code's status; fastify's own 4xx (a body too large, a bad content type, …) with the code of
 * their status (bad_request where the vocabulary has none); anything else 500 internal.
 */
export function httpError(err: unknown): { status: number; body: ErrorBody } {
  if (isChatError(err)) return { status: HTTP_STATUS[err.code], body: { error: { code: err.code, message: err.message } } };
  const status = (err as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) return { status, body: { error: { code: CODE_OF_STATUS.get(status) ?? 'bad_request', message: (err as Error).message } } };
  return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
}

/** A request part parsed with its contract, or `bad_request` naming what is wrong. */
export function parse<T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ChatError('bad_request', r.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '));
  return r.data;
}

const encodeListCursor = (c: { at: string; id: string }) => Buffer.from(JSON.stringify([c.at, c.id])).toString('base64url');
function decodeListCursor(s: string): { at: string; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at))) return { at, id };
  } catch {
    /* fall through */
  }
  throw new ChatError('bad_request', 'invalid cursor');
}

/**
 * Waits (bounded) until the read models hold what `CHAT_EVENTS` held when it was called: a
 * query after an acknowledged write (a message sent, a message deleted for me) sees it.
 */
export type ReadAfterAckWait = () => Promise<void>;

/**
 * The query API over the read models. Every conversation endpoint checks membership; history
 * and receipts are read after `fresh` (read after ack, as `sync`).
 */
export function registerHttpRoutes(app: FastifyInstance, verifier: TokenVerifier, rm: ReadModels, list: ConversationList, fresh: ReadAfterAckWait): void {
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = httpError(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(status).send(body);
  });

  const principal = async (req: FastifyRequest): Promise<Principal> => verifier.verify(tokenFrom(req.headers, req.query));

  app.get('/v1/conversations', async (req: FastifyRequest): Promise<ConversationListPage> => {
    const { userId } = await principal(req);
    const q = parse(ConversationListQuery, req.query);
    const page = await list.page(userId, { limit: q.limit, ...(q.cursor ? { before: decodeListCursor(q.cursor) } : {}) });
    return { conversations: page.conversations, nextCursor: page.next ? encodeListCursor(page.next) : null };
  });

  app.get('/v1/conversations/:id/messages', async (req: FastifyRequest): Promise<HistoryPage> => {
    const { userId } = await principal(req);
    const { id } = parse(ConversationParams, req.params);
    const q = parse(HistoryQuery, req.query);
    await fresh();
    const { joinedAfterSeq } = await rm.requireMember(id, userId);
    return rm.history(id, userId, joinedAfterSeq, q);
  });

  app.get('/v1/conversations/:id/messages/:messageId/receipts', async (req: FastifyRequest): Promise<ReceiptsBody> => {
    const { userId } = await principal(req);
    const { id, messageId } = parse(MessageParams, req.params);
    await fresh();
    const { joinedAfterSeq } = await rm.requireMember(id, userId);
    const r = await rm.receipts(id, messageId, joinedAfterSeq);
    if (!r) throw new ChatError('not_found', 'no such message');
    return r;
  });
}
