/**
 * Every stream, subject, consumer and key name comes from here. A namespace (CHAT_NS) prefixes
 * them all so that a test run or a benchmark can share servers with a developer's running
 * system without touching its data. The empty namespace gives the names in docs/architecture.md.
 */
export interface Names {
  readonly ns: string;
  readonly streams: { events: string; delivery: string; dlq: string; notify: string };
  /** JetStream key-value buckets. */
  readonly kv: {
    /** Command partition leases and the live command processes (entries expire: the lease TTL). */
    commandOwners: string;
    /** Aggregate snapshots by subject (never expire) and the snapshot keeper's position. */
    snapshots: string;
  };
  readonly subjects: {
    /** Core NATS, not stored: every partition's commands (`chat.cmd.<partition>`). */
    cmdAll: string;
    /** The commands of one partition of conversations, in batches (what its owner subscribes to). */
    cmdPartition(partition: number): string;
    evtAll: string;
    evtConvAll: string;
    evtRcptAll: string;
    evtConv(conversationId: string): string;
    evtRcpt(conversationId: string, userId: string): string;
    evtRcptConvAll(conversationId: string): string;
    dlvAll: string;
    dlv(edgeId: string): string;
    /** Core NATS: answers to an edge's commands, `chat.reply.<edgeId>.<requestId>`. */
    reply(edgeId: string, requestId: string): string;
    replyAll(edgeId: string): string;
    /** Core NATS: the projector's checkpoint after each commit (edges wait on it for read-after-ack sync). */
    projectorPosition: string;
    /** Core NATS: a reader waits for the read models (a `sync` after an ack); the projector commits what it has routed now. */
    projectorCommit: string;
    /** Core NATS: a user's presence changed (`chat.presence.<userId>`); every edge listens to all. */
    presence(userId: string): string;
    presenceAll: string;
    /** Core NATS: typing signals for the users on one edge (`chat.typing.<edgeId>`). */
    typing(edgeId: string): string;
    /** Core NATS: the running edge of an id answers here (so that a second one with the same EDGE_ID refuses to start). */
    edgeInstance(edgeId: string): string;
    /** CHAT_DLQ: every dead letter, `chat.dlq.<consumer>`. */
    dlqAll: string;
    /** Dead letters of one consumer (projector, edge-<id>, …). */
    dlq(consumer: string): string;
    /** One member's preferences (mute) in one conversation; in CHAT_EVENTS, outside `chat.evt.>`. */
    prefAll: string;
    pref(conversationId: string, userId: string): string;
    /** A user's own settings (privacy, blocks): `chat.pref.user.<userId>` (no conversation id is `user`: they start `d-` or `g-`). */
    userPref(userId: string): string;
    /** Push-notification jobs (CHAT_NOTIFY). */
    notifyAll: string;
    /** Push jobs of one conversation's messages (v2; older v1 jobs are on `chat.notify.<userId>`). */
    notify(conversationId: string): string;
  };
  readonly consumers: {
    projMessages: string;
    projReceipts: string;
    projConversations: string;
    projPreferences: string;
    /** The projector's one durable on CHAT_EVENTS (every projection, live routing, push jobs). */
    projector: string;
    edge(edgeId: string): string;
    /** The notifier's job producer on CHAT_EVENTS. */
    notifier: string;
    /** The notifier's push worker on CHAT_NOTIFY. */
    notifierJobs: string;
    /** The optional archive's durable on CHAT_EVENTS (apps/archive). */
    archive: string;
  };
  /** Redis key prefix (ioredis `keyPrefix`). */
  readonly redisPrefix: string;
}

export function names(ns = ''): Names {
  if (ns && !/^[A-Za-z0-9_-]{1,32}$/.test(ns)) throw new Error(`invalid namespace: ${ns}`);
  const s = ns ? `${ns}.` : '';
  const S = ns ? `${ns}_` : '';
  return {
    ns,
    streams: { events: `${S}CHAT_EVENTS`, delivery: `${S}CHAT_DELIVERY`, dlq: `${S}CHAT_DLQ`, notify: `${S}CHAT_NOTIFY` },
    kv: { commandOwners: `${S}CHAT_CMD_OWNERS`, snapshots: `${S}CHAT_SNAPSHOTS` },
    subjects: {
      cmdAll: `${s}chat.cmd.*`,
      cmdPartition: (partition) => `${s}chat.cmd.${partition}`,
      evtAll: `${s}chat.evt.>`,
      evtConvAll: `${s}chat.evt.conv.*`,
      evtRcptAll: `${s}chat.evt.rcpt.>`,
      evtConv: (id) => `${s}chat.evt.conv.${id}`,
      evtRcpt: (id, userId) => `${s}chat.evt.rcpt.${id}.${userId}`,
      evtRcptConvAll: (id) => `${s}chat.evt.rcpt.${id}.*`,
      dlvAll: `${s}chat.dlv.>`,
      dlv: (edgeId) => `${s}chat.dlv.${edgeId}`,
      reply: (edgeId, requestId) => `${s}chat.reply.${edgeId}.${requestId}`,
      replyAll: (edgeId) => `${s}chat.reply.${edgeId}.*`,
      projectorPosition: `${s}chat.projector.position`,
      projectorCommit: `${s}chat.projector.commit`,
      prefAll: `${s}chat.pref.>`,
      pref: (id, userId) => `${s}chat.pref.${id}.${userId}`,
      userPref: (userId) => `${s}chat.pref.user.${userId}`,
      notifyAll: `${s}chat.notify.>`,
      notify: (conversationId) => `${s}chat.notify.${conversationId}`,
      presence: (userId) => `${s}chat.presence.${userId}`,
      presenceAll: `${s}chat.presence.>`,
      typing: (edgeId) => `${s}chat.typing.${edgeId}`,
      edgeInstance: (edgeId) => `${s}chat.edge.${edgeId}.instance`,
      dlqAll: `${s}chat.dlq.>`,
      dlq: (consumer) => `${s}chat.dlq.${consumer}`,
    },
    consumers: {
      projMessages: 'proj-messages',
      projReceipts: 'proj-receipts',
      projConversations: 'proj-conversations',
      projPreferences: 'proj-preferences',
      projector: 'projector',
      edge: (edgeId) => `edge-${edgeId}`,
      notifier: 'notifier',
      notifierJobs: 'notifier-jobs',
      archive: 'archive',
    },
    redisPrefix: ns ? `${ns}:` : '',
  };
}

/**
 * What an aggregate's subject (`chat.evt.conv.<id>`, `chat.evt.rcpt.<id>.<userId>`,
 * `chat.pref.<id>.<userId>`; also a snapshot's key) names: the kind of aggregate and its ids, or
 * null for any other subject.
 */
export function aggregateSubjectParser(names: Names): (subject: string) =>
  | { kind: 'conversation'; conversationId: string }
  | { kind: 'receipt' | 'preference'; conversationId: string; userId: string }
  | { kind: 'user'; userId: string }
  | null {
  const s = names.subjects;
  const conv = s.evtConvAll.slice(0, -1);
  const rcpt = s.evtRcptAll.slice(0, -1);
  const pref = s.prefAll.slice(0, -1);
  const pair = (rest: string) => {
    const dot = rest.indexOf('.');
    return dot > 0 && dot < rest.length - 1 ? { conversationId: rest.slice(0, dot), userId: rest.slice(dot + 1) } : null;
  };
  return (key) => {
    if (key.startsWith(conv)) {
      const id = key.slice(conv.length);
      return id && !id.includes('.') ? { kind: 'conversation', conversationId: id } : null;
    }
    if (key.startsWith(rcpt)) {
      const p = pair(key.slice(rcpt.length));
      return p ? { kind: 'receipt', ...p } : null;
    }
    if (key.startsWith(`${pref}user.`)) {
      const userId = key.slice(pref.length + 'user.'.length);
      return userId ? { kind: 'user', userId } : null;
    }
    if (key.startsWith(pref)) {
      const p = pair(key.slice(pref.length));
      return p ? { kind: 'preference', ...p } : null;
    }
    return null;
  };
}
