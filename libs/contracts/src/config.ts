import { z } from 'zod';
import { Duration } from './duration';

const optional = <T extends z.ZodType>(t: T) => z.preprocess((v) => (v === '' ? undefined : v), t.optional());

/**
 * One zod schema per app, built from the environment in one place. Every variable, its
 * default and its unit is listed here and in README.md ("Configuration").
 */
const Common = z.object({
  /** NATS server(s), comma separated. */
  NATS_URL: z.string().default('nats://127.0.0.1:4222'),
  DATABASE_URL: z.string().default('postgres://postgres@127.0.0.1:5432/chat'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** Prefix for streams, subjects and Redis keys; empty = the names in docs/architecture.md. */
  CHAT_NS: z.string().regex(/^[A-Za-z0-9_-]{0,32}$/).default(''),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().default('development'),
  /** Postgres pool size per process; small because the apps mostly batch. */
  CHAT_PG_POOL: z.coerce.number().int().min(1).max(100).default(10),
  /**
   * How many partitions conversations are split into for the command processes (each owned by
   * one process at a time). Must be the same on every edge and command process.
   */
  CHAT_COMMAND_PARTITIONS: z.coerce.number().int().min(1).max(1024).default(16),
  /**
   * How long a device's route in the Redis registry lives without a refresh: the edge refreshes
   * it (every third of this), the projector and the notifier read routes younger than it. The
   * same on every process.
   */
  CHAT_REGISTRY_TTL: Duration.prefault('90s'),
  /**
   * NATS authentication, besides a `user:pass@` or token in NATS_URL: a credentials file (user
   * JWT + NKey seed, as `nsc` and `nats context` make), an NKey seed file, a user and password, or
   * a token. At most one kind; unset = none.
   */
  NATS_CREDS: optional(z.string().min(1)),
  NATS_NKEY_SEED: optional(z.string().min(1)),
  NATS_USER: optional(z.string().min(1)),
  NATS_PASSWORD: optional(z.string().min(1)),
  NATS_TOKEN: optional(z.string().min(1)),
  /**
   * NATS TLS (PEM files): the CA that signed the servers' certificates, and a client certificate
   * and key for mutual TLS. Any of them (or a `tls://` URL) turns TLS on; then the servers must
   * offer TLS or the connection fails.
   */
  NATS_TLS_CA: optional(z.string().min(1)),
  NATS_TLS_CERT: optional(z.string().min(1)),
  NATS_TLS_KEY: optional(z.string().min(1)),
  /**
   * The ops server (Prometheus `/metrics`, `/healthz`, `/readyz`): internal, never the client
   * port. Each app has its own default CHAT_OPS_PORT (see `opsPort`); 0 = any free port (logged).
   */
  CHAT_OPS_HOST: z.string().default('127.0.0.1'),
});

type NatsSecurity = Partial<Record<'NATS_CREDS' | 'NATS_NKEY_SEED' | 'NATS_USER' | 'NATS_PASSWORD' | 'NATS_TOKEN' | 'NATS_TLS_CERT' | 'NATS_TLS_KEY', string | undefined>>;

/** What is wrong with a configuration's NATS authentication settings taken together (loadConfig fails on any). */
export function natsSecurityProblems(c: NatsSecurity): string[] {
  const out: string[] = [];
  const kinds = [c.NATS_CREDS, c.NATS_NKEY_SEED, c.NATS_USER ?? c.NATS_PASSWORD, c.NATS_TOKEN].filter((v) => v !== undefined);
  if (kinds.length > 1) out.push('NATS_CREDS: set one of NATS_CREDS, NATS_NKEY_SEED, NATS_USER/NATS_PASSWORD, NATS_TOKEN');
  if ((c.NATS_USER === undefined) !== (c.NATS_PASSWORD === undefined)) out.push('NATS_USER: NATS_USER and NATS_PASSWORD go together');
  if ((c.NATS_TLS_CERT === undefined) !== (c.NATS_TLS_KEY === undefined)) out.push('NATS_TLS_CERT: NATS_TLS_CERT and NATS_TLS_KEY go together');
  return out;
}

/** An app's ops port: the default differs per app so that one host can run them all (README, Configuration). */
const opsPort = (port: number) => z.coerce.number().int().min(0).max(65535).default(port);

/**
 * How long CHAT_EVENTS keeps events and the read models keep message bodies: 30 days at most,
 * 10 s at least (short values exist for tests and demonstrations; see `configWarnings`).
 * Conversations, members, watermarks and settings do not age: they live on in snapshots.
 */
const MaxAge = Duration.refine((ms) => ms <= 30 * 86_400_000, 'at most 30d')
  .refine((ms) => ms >= 10_000, 'at least 10s')
  .prefault('30d');

/** A size in bytes: a number, or with a unit (KiB, MiB, GiB; KB, MB, GB). */
const Bytes = z.string().transform((s, ctx) => {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/.exec(s.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `invalid size "${s}" (use e.g. 268435456, 512MiB, 1GiB)` });
    return z.NEVER;
  }
  const unit = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, KB: 1e3, MB: 1e6, GB: 1e9 }[m[2] ?? 'B']!;
  return Math.round(Number(m[1]) * unit);
});

/** Media storage (docs/media.md): an S3-compatible bucket, shared by the edge (uploads, downloads) and the projector (clean-up). */
const Media = z.object({
  /** S3-compatible endpoint (MinIO, Ceph, a local server); unset = AWS S3 in S3_REGION. `npm start` starts a local server when unset. */
  S3_ENDPOINT: optional(z.url({ protocol: /^https?$/ })),
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/).default('chat-media'),
  S3_REGION: z.string().default('us-east-1'),
  /** Credentials; unset = the AWS SDK's default chain (environment, profile, instance role). */
  S3_ACCESS_KEY_ID: optional(z.string().min(1)),
  S3_SECRET_ACCESS_KEY: optional(z.string().min(1)),
  /** Path-style URLs (`http://host/bucket/key`), which local servers and MinIO need; default: on when S3_ENDPOINT is set. */
  S3_FORCE_PATH_STYLE: optional(z.stringbool()),
  /** How long an upload URL (`POST /v1/media`) is valid; an upload not completed by then is removed. */
  CHAT_MEDIA_UPLOAD_EXPIRY: Duration.prefault('15m'),
  /** How long a completed upload that no message carries is kept (an app may upload before the user taps send). */
  CHAT_MEDIA_UNSENT_TTL: Duration.prefault('24h'),
});
export type MediaConfig = z.infer<typeof Media>;

export const StreamsConfig = z.object({
  /** JetStream replicas for every stream: 1 on one server, 3 in a cluster. */
  CHAT_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** How long events (and read models' message bodies) are kept; 10 s to 30 days. */
  CHAT_MAX_AGE: MaxAge,
});

export const CommandConfig = Common.extend({
  CHAT_OPS_PORT: opsPort(9471),
  /** Replicas of the partition lease bucket (as CHAT_STREAM_REPLICAS for the streams). */
  CHAT_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** Memory for aggregate states (LRU, by estimated size); 0 turns the cache off. */
  CHAT_AGGREGATE_CACHE_BYTES: Bytes.prefault('256MiB'),
  /** A state is snapshotted once this many of its events are not in its snapshot… */
  CHAT_SNAPSHOT_EVERY: z.coerce.number().int().min(1).default(256),
  /** …or once the oldest of them is this old; default min(1m, CHAT_MAX_AGE / 10). */
  CHAT_SNAPSHOT_INTERVAL: z.preprocess((v) => (v === '' ? undefined : v), Duration.optional()),
  /** CHAT_EVENTS' max age: every event must be in a snapshot well before it ages out. */
  CHAT_MAX_AGE: MaxAge,
  /** Largest group, the creator included. */
  CHAT_MAX_GROUP_MEMBERS: z.coerce.number().int().min(2).max(100_000).default(1024),
  /** How long an author may edit a message. */
  CHAT_EDIT_WINDOW: Duration.prefault('15m'),
  /** How long an author may delete a message for everyone (admins and the owner: always). */
  CHAT_DELETE_WINDOW: Duration.prefault('1h'),
});
export type CommandConfig = z.infer<typeof CommandConfig>;

export const ProjectorConfig = Common.extend(Media.shape).extend({
  CHAT_OPS_PORT: opsPort(9472),
  /** Most events applied per Postgres transaction (a batch is whatever arrived while the previous one was applied, up to this). */
  CHAT_PROJECTOR_BATCH: z.coerce.number().int().min(1).max(1000).default(500),
  /**
   * How long a batch smaller than CHAT_PROJECTOR_BATCH waits for more events before it is routed
   * and applied: a few ms of delivery latency buy batches big enough that per-batch costs (one
   * transaction, one publish per edge, one ack) stop dominating the CPU. 0 = no wait.
   */
  CHAT_PROJECTOR_LINGER: Duration.prefault('5ms'),
  /**
   * How long batches already routed live gather before they are written to Postgres in one
   * transaction (unless CHAT_PROJECTOR_BATCH events are waiting, or an edge asks for the commit
   * because a `sync` waits for it). Delays the read models as HTTP queries and the conversation
   * activity frames see them, never live delivery nor a sync after an ack; it divides the
   * transactions (and their ten or so statements) by the events they gather.
   */
  CHAT_PROJECTOR_COMMIT_INTERVAL: Duration.prefault('200ms'),
  /**
   * `off`: a projector commit does not wait for its WAL flush. A Postgres crash may lose the last
   * few hundred ms of read-model writes with their checkpoint (one transaction), which the
   * projector re-applies from CHAT_EVENTS. `on`: wait for the flush.
   */
  CHAT_PROJECTOR_SYNC_COMMIT: z.enum(['on', 'off']).default('off'),
  /** Conversation members the projector keeps in memory for live routing (LRU by member entries). */
  CHAT_MEMBERSHIP_CACHE: z.coerce.number().int().min(1_000).default(1_000_000),
  /** How long read models keep message bodies (same as the streams' max age); 10 s to 30 days. */
  CHAT_MAX_AGE: MaxAge,
  /** `history`: bodies stay until max age; `ephemeral`: a body leaves the read models once every recipient device acknowledged it. */
  CHAT_RETENTION: z.enum(['history', 'ephemeral']).default('history'),
  /** How often the projector's sweeper deletes expired rows; default min(1m, CHAT_MAX_AGE / 10); 0 turns it off. */
  CHAT_SWEEP_INTERVAL: z.preprocess((v) => (v === '' ? undefined : v), Duration.optional()),
});
export type ProjectorConfig = z.infer<typeof ProjectorConfig>;

export const EdgeConfig = Common.extend({
  CHAT_OPS_PORT: opsPort(9470),
  CHAT_EDGE_HOST: z.string().default('127.0.0.1'),
  CHAT_EDGE_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Connections the kernel queues for accept (listen(2) backlog; capped by net.core.somaxconn). */
  CHAT_EDGE_BACKLOG: z.coerce.number().int().min(1).max(65535).default(4096),
  /** Unique per edge instance; names its delivery subject and consumer. */
  EDGE_ID: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).default('edge-1'),
  /** HS256 secret for client tokens. Required when NODE_ENV=production. */
  CHAT_JWT_SECRET: z.string().min(1).optional(),
  /** How long the edge waits for the command service before answering `unavailable`. */
  CHAT_COMMAND_TIMEOUT: Duration.prefault('10s'),
  /**
   * `remote`: commands go to the command processes over NATS. `hosted`: the edge also runs a
   * command tier (the command app's settings apply to it) that competes for the partition
   * leases like a command process; commands of the partitions it holds run in the edge, with
   * no NATS round trip (docs/architecture.md, Where commands run).
   */
  CHAT_EDGE_COMMANDS: z.enum(['remote', 'hosted']).default('remote'),
  /**
   * With CHAT_EDGE_COMMANDS=hosted: the edge hands a message it appended to the members'
   * devices connected to it as soon as the append is acknowledged, and the projector routes it
   * only to the other edges (docs/architecture.md, Hand-over at the append). On any edge: a
   * direct conversation's receipt the edge appends goes to the members' devices on it the same
   * way. `false` leaves every frame to the projector.
   */
  CHAT_EDGE_HANDOVER: z.stringbool().default(true),
  /**
   * How long a `sync` waits for the read model to hold every event acknowledged before it
   * arrived; past it the batch holds what the read model has, with `hasMore: true`.
   */
  CHAT_SYNC_WAIT: Duration.prefault('2s'),
  /** Interval between server pings; a peer that misses two is closed. */
  CHAT_HEARTBEAT: Duration.prefault('30s'),
  /**
   * How long after a user's last device went away they are shown offline (a reconnect within it
   * shows nothing, so flapping connections do not become presence storms).
   */
  CHAT_PRESENCE_GRACE: Duration.prefault('5s'),
  /** How long the edge keeps who blocks whom and who hides their presence: a block or setting takes effect within it. */
  CHAT_BLOCKS_CACHE: Duration.prefault('5s'),
  /** Bad frames tolerated per minute before the socket is closed with 1008. */
  CHAT_MAX_BAD_FRAMES: z.coerce.number().int().min(1).default(20),
  /** Bytes queued on one socket before the edge gives up on it (close 1013). */
  CHAT_MAX_SOCKET_BUFFER: z.coerce.number().int().min(1024).default(4 * 1024 * 1024),
  /** On SIGTERM/SIGINT: how long clients get to move after `server.draining` before the rest are closed. */
  CHAT_DRAIN_GRACE: Duration.prefault('5s'),
  /** Sends (`message.send`, `message.forward`) per user per minute, shared by all edges (Redis token bucket); 0 = no limit. */
  CHAT_SEND_RATE: z.coerce.number().int().min(0).default(100),
  /** Sends a user may make at once after a quiet period (the bucket size). */
  CHAT_SEND_BURST: z.coerce.number().int().min(1).default(20),
  /** `conversation.create` per user per minute (Redis token bucket); 0 = no limit. */
  CHAT_CREATE_RATE: z.coerce.number().int().min(0).default(20),
  /** Conversation creates a user may make at once. */
  CHAT_CREATE_BURST: z.coerce.number().int().min(1).default(20),
  /** Frames of any type per second on one connection (local token bucket); 0 = no limit. */
  CHAT_FRAME_RATE: z.coerce.number().int().min(0).default(50),
  /** Frames one connection may send at once. */
  CHAT_FRAME_BURST: z.coerce.number().int().min(1).default(100),
  /** Rate-limited frames per minute on one connection before it is closed with 1008 (flooding). */
  CHAT_FLOOD_LIMIT: z.coerce.number().int().min(1).default(100),
  /** Connections (devices) one user may hold at once over all edges; more get 429 on the upgrade; 0 = no limit. */
  CHAT_MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(0).default(10),
  /** Browser Origins allowed (comma separated, e.g. `https://chat.example.com`); empty = any. Requests without Origin are always allowed. */
  CHAT_ALLOWED_ORIGINS: z
    .string()
    .default('')
    .transform((s) => s.split(',').map((o) => o.trim().replace(/\/+$/, '')).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^https?$/ }).or(z.literal('null')))),
  /** MIME types that may be uploaded (comma separated); anything else gets 400. `application/octet-stream` carries end-to-end encrypted media. */
  CHAT_MEDIA_TYPES: z
    .string()
    .default('image/jpeg,image/png,image/webp,image/gif,video/mp4,video/webm,video/quicktime,audio/ogg,audio/mpeg,audio/mp4,audio/aac,audio/webm,application/pdf,application/zip,text/plain,application/octet-stream')
    .transform((s) => s.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean)),
  /** Largest upload per kind (image/*, video/*, audio/*, anything else); over it: 413. */
  CHAT_MEDIA_MAX_IMAGE: Bytes.prefault('16MiB'),
  CHAT_MEDIA_MAX_VIDEO: Bytes.prefault('100MiB'),
  CHAT_MEDIA_MAX_AUDIO: Bytes.prefault('16MiB'),
  CHAT_MEDIA_MAX_FILE: Bytes.prefault('100MiB'),
  /** How long a download URL (the 302 of `GET /v1/media/{id}`) is valid. */
  CHAT_MEDIA_DOWNLOAD_EXPIRY: Duration.prefault('5m'),
  /** Longest side of a server-made thumbnail, in pixels. */
  CHAT_MEDIA_THUMBNAIL: z.coerce.number().int().min(16).max(2048).default(320),
}).extend(Media.shape);
export type EdgeConfig = z.infer<typeof EdgeConfig> & { CHAT_JWT_SECRET: string };

export const NotifierConfig = Common.extend({
  CHAT_OPS_PORT: opsPort(9473),
  /** Push gateway (relay to APNs/FCM) the notifier POSTs to; unset = log the notification and drop it. */
  CHAT_PUSH_URL: z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
  /** Put the message text in the push (`true`); default: a generic "New message from <sender>". */
  CHAT_PUSH_PREVIEW: z.stringbool().default(false),
  /** At most one push per conversation per user in this window while the user stays offline (max 60s: the jobs are held un-acked meanwhile). */
  CHAT_PUSH_COLLAPSE_WINDOW: Duration.refine((ms) => ms <= 60_000, 'at most 60s').prefault('30s'),
  /** How long one POST to the push gateway may take before it counts as failed (and is retried). */
  CHAT_PUSH_TIMEOUT: Duration.prefault('5s'),
  /** How long a message waits for the read models (membership, unread counts) before its push goes ahead with what they hold. */
  CHAT_PUSH_LAG_WAIT: Duration.prefault('5m'),
  /** Bearer token sent to the push gateway (Authorization header), if set. */
  CHAT_PUSH_TOKEN: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
});
export type NotifierConfig = z.infer<typeof NotifierConfig>;

export const DEV_JWT_SECRET = 'dev-secret-change-me';

/** Parses the environment; on failure throws one readable error listing every bad variable. */
/** What an app logs as a warning at start about its configuration. */
export function configWarnings(cfg: { CHAT_MAX_AGE?: number }): string[] {
  const out: string[] = [];
  if (cfg.CHAT_MAX_AGE !== undefined && cfg.CHAT_MAX_AGE < 86_400_000) {
    out.push(`CHAT_MAX_AGE is ${cfg.CHAT_MAX_AGE} ms, under a day: messages and their bodies go that soon (meant for tests and demonstrations)`);
  }
  return out;
}

export function loadConfig<T extends z.ZodTypeAny>(schema: T, env: Record<string, string | undefined> = process.env): z.infer<T> {
  const res = schema.safeParse(env);
  const fail = (lines: string[]) => new Error(`invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  if (!res.success) throw fail(res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const problems = natsSecurityProblems(res.data as NatsSecurity);
  if (problems.length) throw fail(problems);
  return res.data;
}

export function loadEdgeConfig(env: Record<string, string | undefined> = process.env): EdgeConfig {
  const cfg = loadConfig(EdgeConfig, env);
  if (!cfg.CHAT_JWT_SECRET) {
    if (cfg.NODE_ENV === 'production') throw new Error('CHAT_JWT_SECRET is required when NODE_ENV=production');
    return { ...cfg, CHAT_JWT_SECRET: DEV_JWT_SECRET };
  }
  return cfg as EdgeConfig;
}

/**
 * The optional archive (apps/archive, docs/analytics.md): CHAT_EVENTS written to S3 as hourly
 * NDJSON objects, `<CHAT_ARCHIVE_PREFIX>/<CHAT_NS or "default">/events/YYYY/MM/DD/HH/<firstSeq>-<lastSeq>.ndjson.gz`.
 * An object is written once it holds CHAT_ARCHIVE_MAX_EVENTS events or CHAT_ARCHIVE_MAX_BYTES,
 * or its oldest event waited CHAT_ARCHIVE_MAX_DELAY; its events are acknowledged only then.
 */
export const ArchiveConfig = Common.extend(
  Media.pick({ S3_ENDPOINT: true, S3_BUCKET: true, S3_REGION: true, S3_ACCESS_KEY_ID: true, S3_SECRET_ACCESS_KEY: true, S3_FORCE_PATH_STYLE: true }).shape,
).extend({
  CHAT_OPS_PORT: opsPort(9474),
  /** The archive's bucket; unset = S3_BUCKET. */
  CHAT_ARCHIVE_BUCKET: optional(z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/)),
  /** Key prefix inside the bucket: path segments of [A-Za-z0-9_.-], no leading or trailing '/'. */
  CHAT_ARCHIVE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'path segments of [A-Za-z0-9_.-] separated by /')
    .default('archive'),
  /** Most events in one object. Below the consumer's max_ack_pending (50,000): they are all held un-acked until written. */
  CHAT_ARCHIVE_MAX_EVENTS: z.coerce.number().int().min(1).max(40_000).default(10_000),
  /** Most NDJSON bytes (before gzip) in one object. */
  CHAT_ARCHIVE_MAX_BYTES: Bytes.refine((n) => n >= 1024 && n <= 512 * 1024 ** 2, 'between 1KiB and 512MiB').prefault('16MiB'),
  /** Longest an event waits before its object is written; under the consumer's 10 min ack wait. */
  CHAT_ARCHIVE_MAX_DELAY: Duration.refine((ms) => ms >= 1_000 && ms <= 5 * 60_000, 'between 1s and 5m').prefault('60s'),
});
export type ArchiveConfig = z.infer<typeof ArchiveConfig>;

/**
 * The web client (apps/web): its page and static bundle, `/config.json`, the development-only
 * `POST /dev/token` (404 with NODE_ENV=production), and `/v1/*` (HTTP and the WebSocket
 * upgrade) passed through to the edge at CHAT_WEB_EDGE_URL, so the page talks to its own origin.
 */
export const WebConfig = Common.extend({
  CHAT_OPS_PORT: opsPort(9475),
  CHAT_WEB_HOST: z.string().default('127.0.0.1'),
  CHAT_WEB_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
  /** The edge's HTTP origin (scheme, host, port; no path); its WebSocket is the same origin's `/v1/ws`. */
  CHAT_WEB_EDGE_URL: z
    .url({ protocol: /^https?$/ })
    .refine((u) => !URL.canParse(u) || (new URL(u).pathname === '/' && !new URL(u).search), 'an origin such as http://127.0.0.1:8080, without a path')
    .transform((u) => new URL(u).origin)
    .default('http://127.0.0.1:8080'),
  /** Signs the development tokens (as the edge verifies them); unset: the development secret. Not used with NODE_ENV=production. */
  CHAT_JWT_SECRET: optional(z.string().min(1)),
});
export type WebConfig = z.infer<typeof WebConfig>;
