import type pg from 'pg';
import type { ConversationSnapshotState, SnapshotOf, StoredEvent, ConversationKind } from '@chat/contracts';
import { DEFAULT_STATE_LIMITS } from '@chat/domain';
import { LIST_MEMBERS_MAX } from './conversationList';

/**
 * What a rebuild restores from the snapshots (CHAT_SNAPSHOTS) besides what CHAT_EVENTS still
 * holds. A rebuild empties the projections and the projector re-applies the stream; a
 * conversation whose ConversationCreated aged out of the stream would be lost with its members
 * and its members' list rows. For such a conversation this seeds the read models with its state
 * at the part of its timeline the stream no longer has, and the projector replays the rest on
 * top, so that the rows converge to what the live read models hold.
 *
 * Seeded, per projection rebuilt:
 * - messages: `conversations` and `conversation_members` of the conversations whose creation is
 *   gone;
 * - conversations: their members' `user_conversations` rows (kind, title, members, last message
 *   as an expired preview, read watermark, unread count, last activity);
 * - receipts: `member_receipts` watermarks that no event left in the stream re-establishes;
 * - preferences: every member's mute (`notification_mutes`), every user's last-seen privacy
 *   (`user_settings`) and blocks (`user_blocks`).
 *
 * Not seeded: message bodies, the inbox, hidden messages, conversation_senders, device
 * watermarks and devices. Those of aged-out events are what the sweeper deletes from the live
 * read models too.
 */

/** The list preview of a last message whose body is gone (the projector's EXPIRED_PREVIEW; the sweeper writes it too). */
export const SEED_EXPIRED_PREVIEW = 'This message has expired';
/** The list preview of a last message deleted for everyone (the projector's DELETED_PREVIEW). */
export const SEED_DELETED_PREVIEW = 'This message was deleted';

/**
 * A conversation snapshot whose `createdAt` is this much or more after the stream's first
 * message (store time) has its ConversationCreated in the stream: nothing to seed. Below it, the
 * stream is read to find out (createdAt is the command service's clock, first_ts the server's).
 */
export const CREATED_CLOCK_SKEW_MS = 5 * 60_000;

/** CHAT_EVENTS as the rebuild found it. */
export interface StreamBounds {
  /** First sequence the stream holds; lastSeq + 1 when it is empty (every event aged out). */
  firstSeq: number;
  /** Store time of that first message (epoch ms); null when the stream is empty. */
  firstTsMs: number | null;
  lastSeq: number;
}

/** The snapshots of a namespace's CHAT_SNAPSHOTS bucket, by kind (keys that are not a snapshot's subject left out). */
export interface RebuildSnapshots {
  conversations: Array<{ subject: string; snapshot: SnapshotOf<'conversation'> }>;
  receipts: Array<{ subject: string; conversationId: string; userId: string; snapshot: SnapshotOf<'receipt'> }>;
  preferences: Array<{ subject: string; conversationId: string; userId: string; snapshot: SnapshotOf<'preference'> }>;
  users: Array<{ subject: string; userId: string; snapshot: SnapshotOf<'user'> }>;
  /** Keys of a snapshot prefix whose value is not a valid snapshot of that subject. */
  invalid: string[];
}

/** Events of some subjects read from CHAT_EVENTS (stream sequence, event), in stream order. */
export type ScannedEvents = ReadonlyMap<string, ReadonlyArray<{ streamSeq: number; event: StoredEvent }>>;

export interface SeedMember {
  userId: string;
  role: string;
  joinedAfterSeq: number;
  /** Not in a snapshot: the conversation's creation time (nothing reads joined_at). */
  joinedAt: string;
}

export interface SeedListRow {
  userId: string;
  readSeq: number;
  unreadCount: number;
  lastMessage: Record<string, unknown> | null;
  lastActivityAt: string;
  version: number;
}

export interface SeedConversation {
  conversationId: string;
  kind: ConversationKind;
  title: string | null;
  description: string | null;
  avatarUrl: string | null;
  createdBy: string;
  createdAt: string;
  /** The last timeline seq the stream no longer has (the state is as of it). */
  lastSeq: number;
  /** Members as of `lastSeq`, in join order. */
  members: SeedMember[];
  /** One conversation-list row per member. */
  list: SeedListRow[];
}

export interface SeedReceipt {
  conversationId: string;
  userId: string;
  /** 0 where an event left in the stream re-establishes the watermark (with its time). */
  deliveredSeq: number;
  readSeq: number;
}

export interface SeedMute {
  conversationId: string;
  userId: string;
  muted: boolean;
  until: string | null;
  /** The stream sequence of the last mute event folded in: the projection's newest-wins key. */
  streamSeq: number;
}

export interface RebuildSeed {
  stream: StreamBounds;
  conversations: SeedConversation[];
  receipts: SeedReceipt[];
  mutes: SeedMute[];
  /** Users' last-seen privacy, at the snapshot's position (the projection keeps the newest by stream sequence). */
  userSettings: Array<{ userId: string; lastSeen: string; streamSeq: number }>;
  /** Blocks as of the snapshots: the replay of the events still in the stream applies the later ones in order on top. */
  blocks: Array<{ userId: string; blockedUserId: string; at: string }>;
  /** What the snapshots held and what of it was left to the stream, for the report. */
  stats: {
    snapshots: number;
    /** Conversations whose ConversationCreated is still in the stream: the replay restores them. */
    conversationsInStream: number;
    /** Receipt snapshots whose watermarks events in the stream re-establish. */
    receiptsInStream: number;
    invalid: number;
  };
}

/** An empty seed (no snapshot bucket, or nothing in it). */
export const emptyRebuildSeed = (stream: StreamBounds): RebuildSeed => ({
  stream,
  conversations: [],
  receipts: [],
  mutes: [],
  userSettings: [],
  blocks: [],
  stats: { snapshots: 0, conversationsInStream: 0, receiptsInStream: 0, invalid: 0 },
});


/**
 * Pure: the subjects whose events the planning needs from the stream, each with the stream
 * sequence it needs them up to (the snapshot's position). Events after a snapshot's position
 * are not needed: the projector replays them, and they are not in the snapshot.
 *
 * - a conversation whose snapshot position is below the first message held: every event folded
 *   into it is gone (its creation too); nothing to read;
 * - a conversation created well after the first message held: its creation is in the stream,
 *   the replay restores it; nothing to read;
 * - otherwise its events from the first held up to its position: is ConversationCreated among
 *   them, and which of its timeline is still there;
 * - a receipt snapshot whose position is in the stream: which watermarks its events there reach.
 */
export function scanRequests(snaps: RebuildSnapshots, bounds: StreamBounds): Map<string, number> {
  const out = new Map<string, number>();
  for (const { subject, snapshot } of snaps.conversations) {
    if (snapshot.position < bounds.firstSeq) continue;
    if (createdInStream(snapshot.state, bounds)) continue;
    out.set(subject, snapshot.position);
  }
  for (const { subject, snapshot } of snaps.receipts) if (snapshot.position >= bounds.firstSeq) out.set(subject, snapshot.position);
  return out;
}

const createdInStream = (state: ConversationSnapshotState, bounds: StreamBounds): boolean =>
  bounds.firstTsMs !== null && Date.parse(state.createdAt) >= bounds.firstTsMs + CREATED_CLOCK_SKEW_MS;

const TIMELINE = new Set(['MessageSent', 'MembersAdded', 'MemberRemoved', 'MemberLeft']);

/**
 * Pure: what to write, from the snapshots, the stream's bounds and the events `scanRequests`
 * asked for (missing subjects count as having no events in the stream).
 */
export function planRebuildSeed(snaps: RebuildSnapshots, bounds: StreamBounds, scanned: ScannedEvents): RebuildSeed {
  const seed = emptyRebuildSeed(bounds);
  seed.stats.snapshots = snaps.conversations.length + snaps.receipts.length + snaps.preferences.length + snaps.users.length;
  seed.stats.invalid = snaps.invalid.length;
  const key = (c: string, u: string) => `${c}\u0000${u}`;
  const receiptOf = new Map(snaps.receipts.map((r) => [key(r.conversationId, r.userId), r.snapshot]));
  const upTo = (subject: string, position: number) => (scanned.get(subject) ?? []).filter((e) => e.streamSeq <= position);

  for (const { subject, snapshot } of snaps.conversations) {
    const inStream = snapshot.position >= bounds.firstSeq ? upTo(subject, snapshot.position) : [];
    const gone = snapshot.position < bounds.firstSeq || (!createdInStream(snapshot.state, bounds) && !inStream.some((e) => e.event.type === 'ConversationCreated'));
    if (!gone) {
      seed.stats.conversationsInStream++;
      continue;
    }
    seed.conversations.push(seedConversation(snapshot, inStream, bounds, (u) => receiptOf.get(key(snapshot.state.conversationId, u))));
  }

  for (const { subject, conversationId, userId, snapshot } of snaps.receipts) {
    // The watermarks the events still in the stream reach (a read counts as delivered): those
    // the replay sets again, with their times; the rest only the snapshot knows (time unknown).
    let delivered = 0;
    let read = 0;
    for (const { event: e } of snapshot.position >= bounds.firstSeq ? upTo(subject, snapshot.position) : []) {
      if (e.type !== 'MessagesDelivered' && e.type !== 'MessagesRead') continue;
      delivered = Math.max(delivered, e.upToSeq);
      if (e.type === 'MessagesRead') read = Math.max(read, e.upToSeq);
    }
    const s = snapshot.state;
    const r: SeedReceipt = { conversationId, userId, deliveredSeq: s.deliveredSeq > delivered ? s.deliveredSeq : 0, readSeq: s.readSeq > read ? s.readSeq : 0 };
    if (r.deliveredSeq === 0 && r.readSeq === 0) seed.stats.receiptsInStream++;
    else seed.receipts.push(r);
  }

  // notification_mutes keeps the newest event by stream sequence, so the snapshot (at the
  // sequence of the last mute folded in) and a replay of the events still held agree: seeded
  // for every member, whatever the stream still has.
  for (const { conversationId, userId, snapshot } of snaps.preferences) {
    seed.mutes.push({ conversationId, userId, muted: snapshot.state.muted, until: snapshot.state.until ?? null, streamSeq: snapshot.position });
  }
  // The same for a user's own settings; blocks as the snapshot has them, the replay of the
  // events still in the stream then applies every later block and unblock in order.
  for (const { userId, snapshot } of snaps.users) {
    // The projection keeps a row only for a setting other than the default.
    if (snapshot.state.lastSeen !== 'everyone') seed.userSettings.push({ userId, lastSeen: snapshot.state.lastSeen, streamSeq: snapshot.position });
    for (const b of snapshot.state.blocked) seed.blocks.push({ userId, blockedUserId: b.userId, at: b.at });
  }
  return seed;
}

/**
 * One conversation whose creation is gone, as of the part of its timeline the stream no longer
 * has (seq ≤ G): the projector replays the rest. Seeding the state as of the snapshot instead
 * would not converge: the conversation list's member count is kept by arithmetic (a replayed
 * join would be counted twice) and its unread counts by increments past `last_seq` and exact
 * recounts of conversation_senders (a replayed read recounts only the messages replayed so far).
 *
 * G = the seq before the first timeline event (message, join, removal, leave) of the
 * conversation still in the stream up to the snapshot's position, or the snapshot's lastSeq
 * when there is none. The members as of G: the snapshot's, with the membership changes of those
 * events undone, last first (a member added there is taken out; one removed or gone is put back
 * as a plain member who saw everything: the replay removes them again, and meanwhile they get
 * the inbox rows of the messages they saw). Roles and metadata are the snapshot's: the replay
 * sets them event by event and ends where the snapshot is.
 */
function seedConversation(
  snapshot: SnapshotOf<'conversation'>,
  inStream: ReadonlyArray<{ streamSeq: number; event: StoredEvent }>,
  bounds: StreamBounds,
  receiptOf: (userId: string) => SnapshotOf<'receipt'> | undefined,
): SeedConversation {
  const s = snapshot.state;
  const firstTimeline = inStream.find((e) => TIMELINE.has(e.event.type))?.event as { seq: number } | undefined;
  const g = firstTimeline ? Math.min(s.lastSeq, firstTimeline.seq - 1) : s.lastSeq;

  const members = new Map(s.members.map((m) => [m.userId, { role: m.role as string, joinedAfterSeq: m.joinedAfterSeq }]));
  for (let i = inStream.length - 1; i >= 0; i--) {
    const e = inStream[i]!.event;
    if (e.type === 'MembersAdded') for (const m of e.members) members.delete(m.userId);
    else if (e.type === 'MemberRemoved' || e.type === 'MemberLeft') members.set(e.userId, { role: 'member', joinedAfterSeq: 0 });
  }

  const tip = timelineAt(s, g);
  const list: SeedListRow[] = [...members].map(([userId, m]) => {
    const rcpt = receiptOf(userId);
    // A member added later starts read up to their join (the projector's row for a join), so
    // the join itself and what came before it are not unread.
    const readSeq = Math.max(rcpt?.state.readSeq ?? 0, m.joinedAfterSeq > 0 ? m.joinedAfterSeq + 1 : 0);
    return {
      userId,
      readSeq,
      unreadCount: unreadUpTo(s, userId, readSeq, g),
      lastMessage: tip.lastMessage,
      lastActivityAt: tip.at,
      // The stream sequence of the last event applied to the row: at most the snapshots'
      // positions, and below what the stream holds (a replayed event that touches the row moves
      // it to its own sequence).
      version: Math.max(0, Math.min(Math.max(snapshot.position, rcpt?.position ?? 0), bounds.firstSeq - 1)),
    };
  });
  return {
    conversationId: s.conversationId,
    kind: s.kind,
    title: s.title ?? null,
    description: s.description ?? null,
    avatarUrl: s.avatarUrl ?? null,
    createdBy: s.createdBy,
    createdAt: s.createdAt,
    lastSeq: g,
    members: [...members].map(([userId, m]) => ({ userId, role: m.role, joinedAfterSeq: m.joinedAfterSeq, joinedAt: s.createdAt })),
    list,
  };
}

type TimelineEntry = { kind: 'text'; messageId: string; senderId: string; sentAt: string; deleted: boolean } | { kind: 'system' } | { kind: 'unknown' };

/**
 * The lowest seq from which the snapshot knows every timeline entry. It keeps a record of each
 * message of a recent window (DEFAULT_STATE_LIMITS, as the command service does: the last hour
 * before its last event, at most 1,024), and the last message; everything after the last
 * message is a system message. A conversation younger than the window whose records are under
 * the cap has every message recorded: every seq without a record is a system message.
 */
function knownFrom(s: ConversationSnapshotState): number {
  const last = s.lastMessage;
  if (!last) return 1;
  const complete = Date.parse(s.createdAt) >= Date.parse(s.lastEventAt) - DEFAULT_STATE_LIMITS.messageWindowMs && s.messages.length < DEFAULT_STATE_LIMITS.maxMessages;
  if (complete) return 1;
  return s.messages.length ? Math.min(s.messages[0]!.seq, last.seq) : last.seq;
}

/** What the snapshot says about the timeline entry at `seq` (see knownFrom). */
function entryAt(s: ConversationSnapshotState, seq: number): TimelineEntry {
  const r = s.messages.find((m) => m.seq === seq);
  if (r) return { kind: 'text', messageId: r.messageId, senderId: r.senderId, sentAt: s.lastMessage?.seq === seq ? s.lastMessage.sentAt : new Date(r.sentAtMs).toISOString(), deleted: r.deleted };
  const last = s.lastMessage;
  if (last && last.seq === seq) return { kind: 'text', messageId: last.messageId, senderId: last.senderId, sentAt: last.sentAt, deleted: false };
  if (!last || seq > last.seq || seq >= knownFrom(s)) return { kind: 'system' };
  return { kind: 'unknown' };
}

/**
 * The list row's last message and last activity as of timeline seq `g`, after the sweeper:
 * a text message at `g` keeps its id, seq, sender and time with the expired preview (or the
 * deleted one). A system message at `g` is not in a snapshot (no author, no time): the row
 * shows the newest text message before it, expired, and the last activity is the snapshot's
 * last event time (an upper bound) when `g` is the conversation's last seq. When the stream
 * holds timeline entries after `g`, the replay replaces both anyway.
 */
function timelineAt(s: ConversationSnapshotState, g: number): { lastMessage: Record<string, unknown> | null; at: string } {
  if (g === 0) return { lastMessage: null, at: s.createdAt };
  const preview = (seq: number, e: Extract<TimelineEntry, { kind: 'text' }>) => ({
    messageId: e.messageId,
    seq,
    senderId: e.senderId,
    sentAt: e.sentAt,
    ...(e.deleted ? { preview: SEED_DELETED_PREVIEW, deleted: true } : { preview: SEED_EXPIRED_PREVIEW, expired: true }),
  });
  const at = entryAt(s, g);
  if (at.kind === 'text') return { lastMessage: preview(g, at), at: at.sentAt };
  // The newest text message before g the snapshot knows of.
  const known = [...s.messages].reverse().find((m) => m.seq < g)?.seq ?? (s.lastMessage && s.lastMessage.seq < g ? s.lastMessage.seq : undefined);
  const before = known !== undefined ? entryAt(s, known) : undefined;
  const lastMessage = before?.kind === 'text' ? preview(known!, before) : null;
  const fallbackAt = g === s.lastSeq ? s.lastEventAt : before?.kind === 'text' ? before.sentAt : s.createdAt;
  return { lastMessage, at: fallbackAt };
}

/**
 * Unread as of timeline seq `g` for `userId` read up to `readSeq`: text messages of others in
 * (readSeq, g] not deleted for everyone, as the projector counts them. Exact where the snapshot
 * knows the entries (see knownFrom). Entries older than that are unknown: each counts as unread,
 * though it may be a system message or the member's own (an over-count bounded by the unread
 * entries older than the records' window). Mentions are not in a snapshot: the seeded mention
 * count is 0.
 */
function unreadUpTo(s: ConversationSnapshotState, userId: string, readSeq: number, g: number): number {
  if (g <= readSeq || !s.lastMessage) return 0;
  let n = Math.max(0, Math.min(g, knownFrom(s) - 1) - readSeq);
  const known = new Map<number, { senderId: string; deleted: boolean }>();
  for (const m of s.messages) known.set(m.seq, { senderId: m.senderId, deleted: m.deleted });
  if (!known.has(s.lastMessage.seq)) known.set(s.lastMessage.seq, { senderId: s.lastMessage.senderId, deleted: false });
  for (const [seq, m] of known) if (seq > readSeq && seq <= g && !m.deleted && m.senderId !== userId) n++;
  return n;
}

const CHUNK = 2_000;

async function chunked<T>(rows: readonly T[], write: (chunk: T[]) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) await write(rows.slice(i, i + CHUNK));
}

/** What a seeded rebuild wrote, per table. */
export interface SeedReport {
  conversations: number;
  members: number;
  listRows: number;
  receipts: number;
  mutes: number;
  userSettings: number;
  blocks: number;
}

/**
 * Writes the seed into the emptied tables of the projections being rebuilt, in the rebuild's
 * transaction (`seeds`: which projections' tables were emptied).
 */
export async function writeRebuildSeed(tx: pg.PoolClient, seed: RebuildSeed, seeds: { messages: boolean; receipts: boolean; conversations: boolean; preferences: boolean }): Promise<SeedReport> {
  const report: SeedReport = { conversations: 0, members: 0, listRows: 0, receipts: 0, mutes: 0, userSettings: 0, blocks: 0 };
  const convs = seed.conversations;
  if (seeds.messages) {
    await chunked(convs, (c) =>
      tx.query(
        `INSERT INTO conversations (id, kind, title, created_by, created_at, last_seq, description, avatar_url)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $7::text[], $8::text[])`,
        [c.map((r) => r.conversationId), c.map((r) => r.kind), c.map((r) => r.title), c.map((r) => r.createdBy), c.map((r) => r.createdAt), c.map((r) => r.lastSeq), c.map((r) => r.description), c.map((r) => r.avatarUrl)],
      ),
    );
    const members = convs.flatMap((c) => c.members.map((m) => ({ conversationId: c.conversationId, ...m })));
    await chunked(members, (m) =>
      tx.query(
        `INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, joined_after_seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::int[])`,
        [m.map((r) => r.conversationId), m.map((r) => r.userId), m.map((r) => r.role), m.map((r) => r.joinedAt), m.map((r) => r.joinedAfterSeq)],
      ),
    );
    report.conversations = convs.length;
    report.members = members.length;
  }
  if (seeds.conversations) {
    const rows = convs.flatMap((c) => {
      const ids = c.members.map((m) => m.userId);
      // What a list row stores of its members: the list up to LIST_MEMBERS_MAX, none for bigger groups.
      const members = JSON.stringify(ids.length <= LIST_MEMBERS_MAX ? ids : []);
      return c.list.map((r) => ({ c, r, members, count: ids.length }));
    });
    await chunked(rows, (x) =>
      tx.query(
        `INSERT INTO user_conversations (user_id, conversation_id, kind, title, members, last_seq, last_message, last_activity_at, read_seq,
                                         unread_count, description, avatar_url, member_count, mention_count, version)
         SELECT t.user_id, t.conversation_id, t.kind, t.title, ARRAY(SELECT jsonb_array_elements_text(t.members)), t.last_seq, t.last_message,
                t.at, t.read_seq, t.unread, t.description, t.avatar_url, t.member_count, 0, t.version
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int[], $7::jsonb[], $8::timestamptz[], $9::int[], $10::int[],
                       $11::text[], $12::text[], $13::int[], $14::bigint[])
                AS t (user_id, conversation_id, kind, title, members, last_seq, last_message, at, read_seq, unread, description, avatar_url, member_count, version)`,
        [
          x.map(({ r }) => r.userId),
          x.map(({ c }) => c.conversationId),
          x.map(({ c }) => c.kind),
          x.map(({ c }) => c.title),
          x.map(({ members }) => members),
          x.map(({ c }) => c.lastSeq),
          x.map(({ r }) => (r.lastMessage ? JSON.stringify(r.lastMessage) : null)),
          x.map(({ r }) => r.lastActivityAt),
          x.map(({ r }) => r.readSeq),
          x.map(({ r }) => r.unreadCount),
          x.map(({ c }) => c.description),
          x.map(({ c }) => c.avatarUrl),
          x.map(({ count }) => count),
          x.map(({ r }) => r.version),
        ],
      ),
    );
    report.listRows = rows.length;
  }
  if (seeds.receipts) {
    // Times unknown (NULL): the snapshot keeps the watermarks only.
    await chunked(seed.receipts, (r) =>
      tx.query(
        `INSERT INTO member_receipts (conversation_id, user_id, delivered_seq, read_seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])`,
        [r.map((x) => x.conversationId), r.map((x) => x.userId), r.map((x) => Math.max(x.deliveredSeq, x.readSeq)), r.map((x) => x.readSeq)],
      ),
    );
    report.receipts = seed.receipts.length;
  }
  if (seeds.preferences) {
    await chunked(seed.mutes, (m) =>
      tx.query(
        `INSERT INTO notification_mutes (user_id, conversation_id, muted, until, stream_seq)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::timestamptz[], $5::bigint[])`,
        [m.map((x) => x.userId), m.map((x) => x.conversationId), m.map((x) => x.muted), m.map((x) => x.until), m.map((x) => x.streamSeq)],
      ),
    );
    report.mutes = seed.mutes.length;
    await chunked(seed.userSettings, (u) =>
      tx.query(`INSERT INTO user_settings (user_id, last_seen, stream_seq) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])`, [
        u.map((x) => x.userId),
        u.map((x) => x.lastSeen),
        u.map((x) => x.streamSeq),
      ]),
    );
    await chunked(seed.blocks, (b) =>
      tx.query(`INSERT INTO user_blocks (user_id, blocked_user_id, at) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])`, [
        b.map((x) => x.userId),
        b.map((x) => x.blockedUserId),
        b.map((x) => x.at),
      ]),
    );
    report.userSettings = seed.userSettings.length;
    report.blocks = seed.blocks.length;
  }
  return report;
}
