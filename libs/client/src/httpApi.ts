import {
  ChatError,
  ERROR_CODES,
  type ConversationListPage,
  type ErrorCode,
  type HistoryPage,
  type MediaReady,
  type MediaUpload,
  type MediaUploadRequest,
  type ReceiptsBody,
  type UserPresence,
} from '@chat/contracts';

/** A token, or a function that returns the current one (called for every connection and request). */
export type TokenSource = string | (() => string | Promise<string>);

export interface ChatHttpOptions {
  /** The edge's HTTP base URL, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  token: TokenSource;
  /** Defaults to the global fetch (browsers, Node 18+). */
  fetch?: typeof fetch;
}

/** An HTTP answer other than 2xx: `code` from the contract's error codes, `status` as received. */
export class ChatHttpError extends ChatError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly status: number,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(code, message, options);
    this.name = 'ChatHttpError';
  }
}

const STATUS_CODES: Record<number, ErrorCode> = { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 429: 'rate_limited', 503: 'unavailable' };

/** The token a source gives now; a clear error for anything but a non-empty string. */
export async function resolveToken(source: TokenSource): Promise<string> {
  const t = typeof source === 'function' ? await source() : source;
  if (typeof t !== 'string') throw new TypeError(`getToken must return a string, not ${t === null ? 'null' : typeof t}`);
  return t;
}

const need = (value: string, name: string): string => {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string`);
  return encodeURIComponent(value);
};

const query = (q: Record<string, string | number | undefined>): string => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

/** Lowercase hex SHA-256 of the bytes, through WebCrypto (browsers, Node 20). */
async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) throw new Error('uploadMedia needs WebCrypto (crypto.subtle): a secure context in browsers');
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The edge's HTTP API (docs/protocol.md, "HTTP"): the conversation list, history, receipts,
 * presence and media. Every call sends the current token; an error answer rejects with a
 * ChatHttpError carrying the contract's code.
 */
export class ChatHttp {
  private readonly baseUrl: string;

  constructor(private readonly o: ChatHttpOptions) {
    if (typeof o.baseUrl !== 'string' || !/^https?:\/\//.test(o.baseUrl)) throw new TypeError(`baseUrl must be an http(s) URL, not ${JSON.stringify(o.baseUrl)}`);
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
  }

  /** `GET /v1/conversations`: newest activity first; pass `nextCursor` as `cursor` for the next page. */
  conversations(q: { limit?: number; cursor?: string } = {}): Promise<ConversationListPage> {
    return this.json(`/v1/conversations${query(q)}`);
  }

  /** `GET /v1/conversations/:id/messages`: oldest first; `beforeSeq` pages back, `afterSeq` forward. */
  history(conversationId: string, q: { beforeSeq?: number; afterSeq?: number; limit?: number } = {}): Promise<HistoryPage> {
    return this.json(`/v1/conversations/${need(conversationId, 'conversationId')}/messages${query(q)}`);
  }

  /** `GET /v1/conversations/:id/messages/:messageId/receipts`: who has it delivered, read, or pending. */
  receipts(conversationId: string, messageId: string): Promise<ReceiptsBody> {
    return this.json(`/v1/conversations/${need(conversationId, 'conversationId')}/messages/${need(messageId, 'messageId')}/receipts`);
  }

  /** `GET /v1/users/:userId/presence` (404 for a user who shares no conversation with the caller). */
  presence(userId: string): Promise<UserPresence> {
    return this.json(`/v1/users/${need(userId, 'userId')}/presence`);
  }

  /** `POST /v1/media`: an upload URL for these bytes (see uploadMedia for the whole flow). */
  createUpload(req: MediaUploadRequest): Promise<MediaUpload> {
    return this.json('/v1/media', { method: 'POST', body: JSON.stringify(req), headers: { 'content-type': 'application/json' } });
  }

  /** `POST /v1/media/:mediaId/complete`: the stored bytes checked; the media can be sent. */
  completeUpload(mediaId: string): Promise<MediaReady> {
    return this.json(`/v1/media/${need(mediaId, 'mediaId')}/complete`, { method: 'POST' });
  }

  /**
   * Uploads bytes and returns the ready media, to send as `{ media: { mediaId } }`: hashes them,
   * asks for an upload URL, PUTs them to the storage and completes the upload.
   */
  async uploadMedia(data: Blob | ArrayBuffer | Uint8Array, o: { contentType: string; durationMs?: number }): Promise<MediaReady> {
    const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(await data.arrayBuffer());
    const upload = await this.createUpload({ contentType: o.contentType, size: bytes.byteLength, sha256: await sha256Hex(bytes), ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}) });
    let res: Response;
    try {
      res = await this.fetch(upload.uploadUrl, { method: 'PUT', headers: upload.uploadHeaders, body: bytes as Uint8Array<ArrayBuffer> });
    } catch (e) {
      throw new ChatHttpError('unavailable', `media upload failed: ${(e as Error).message}`, 0, { cause: e });
    }
    if (!res.ok) throw new ChatHttpError(STATUS_CODES[res.status] ?? 'unavailable', `media upload refused by the storage (${res.status})`, res.status);
    return this.completeUpload(upload.mediaId);
  }

  /**
   * A URL of the media (or its thumbnail) with the token in the query, for `<img src>` and the
   * like; it redirects to a short-lived storage URL. It holds the token: do not share it.
   */
  async mediaUrl(mediaId: string, o: { thumbnail?: boolean } = {}): Promise<string> {
    const token = await resolveToken(this.o.token);
    return `${this.baseUrl}/v1/media/${need(mediaId, 'mediaId')}${o.thumbnail ? '/thumbnail' : ''}?access_token=${encodeURIComponent(token)}`;
  }

  /** The media's bytes (or its thumbnail's). */
  async downloadMedia(mediaId: string, o: { thumbnail?: boolean } = {}): Promise<Blob> {
    const res = await this.request(`/v1/media/${need(mediaId, 'mediaId')}${o.thumbnail ? '/thumbnail' : ''}`);
    return res.blob();
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    const token = await resolveToken(this.o.token);
    const url = `${this.baseUrl}${path}`;
    let res: Response;
    try {
      res = await this.fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } });
    } catch (e) {
      throw new ChatHttpError('unavailable', `${init.method ?? 'GET'} ${path} failed: ${(e as Error).message}`, 0, { cause: e });
    }
    if (res.ok) return res;
    throw await errorOf(res, `${init.method ?? 'GET'} ${path}`);
  }

  private fetch(url: string, init: RequestInit): Promise<Response> {
    const f = this.o.fetch ?? globalThis.fetch;
    if (!f) throw new Error('no global fetch: pass fetch');
    return f(url, init);
  }
}

/** The error an answer carries (`{"error":{"code","message"}}`), or one made from its status. */
async function errorOf(res: Response, what: string): Promise<ChatHttpError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const e = (body as { error?: { code?: unknown; message?: unknown; retryAfterMs?: unknown } } | undefined)?.error;
  const code = typeof e?.code === 'string' && (ERROR_CODES as readonly string[]).includes(e.code) ? (e.code as ErrorCode) : (STATUS_CODES[res.status] ?? (res.status >= 500 ? 'unavailable' : 'bad_request'));
  const message = typeof e?.message === 'string' ? e.message : `${what}: HTTP ${res.status}`;
  const retryAfterMs = typeof e?.retryAfterMs === 'number' ? e.retryAfterMs : undefined;
  return new ChatHttpError(code, message, res.status, retryAfterMs !== undefined ? { retryAfterMs } : undefined);
}
