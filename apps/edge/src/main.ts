import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { gaugeFrom, runApp, type Readiness } from '@chat/app';
import { CommandConfig, HANDED_BY_HEADER, loadConfig, loadEdgeConfig, names, type DeliveryEnvelope } from '@chat/contracts';
import { newInstanceId, startCommandTier, type CommandTier } from '@chat/command-tier';
import { connectNats, publisherFor } from '@chat/nats';
import { createPool, PAST_END_FIX, projectionsPastEnd } from '@chat/postgres';
import { ConnectionRegistry, ConversationListCache, PresenceStore, SharedRateLimiter, createRedis, type PresenceChange } from '@chat/redis';
import { edgeConsumerConfig, ensureConsumerWhenStreamExists } from '@chat/streams';
import { TokenVerifier } from './auth';
import { CommandGateway } from './commands';
import { ConversationList } from './conversationList';
import { DeliveryConsumer } from './delivery/consumer';
import { HubFanOut } from './delivery/fanOut';
import { HandOverHere } from './delivery/handOver';
import { registerHttpRoutes } from './http/routes';
import { createMetrics, perLabel } from './metrics';
import { ReadModels } from './queries';
import { claimEdgeId } from './identity';
import { createServer, originPolicy, type Probes } from './server';
import { registerGateway, WS_PATH } from './ws/gateway';
import { Hub } from './ws/hub';
import { HandedReceipts } from './receipts/handed';
import { InboxReader } from './sync/inboxReader';
import { PresenceLookups } from './presence/lookups';
import { ReadAfterAck } from './sync/readAfterAck';
import { CLOSE_CODES } from '@chat/contracts';
import { MediaInspector, MediaStore } from '@chat/media';
import { MediaRecords } from './media/records';
import { registerMediaRoutes } from './media/routes';
import { MediaService } from './media/service';
import { registerPresenceRoutes } from './presence/routes';
import { TypingRelay, type TypingSignal } from './presence/typing';
import { PresenceWatch } from './presence/watch';
import { BlockDirectory } from './users/blocks';
import { registerUserRoutes } from './users/routes';

runApp(
  'edge',
  () => loadEdgeConfig(),
  async ({ cfg, log, summary, metrics: promRegistry }) => {
    const n = names(cfg.CHAT_NS);

    const nats = await connectNats(cfg.NATS_URL, `edge-${cfg.EDGE_ID}`, { security: cfg });
    // Before anything of the id is touched: a second edge with a running edge's id fails here.
    await claimEdgeId(nats.nc, n.subjects.edgeInstance(cfg.EDGE_ID), cfg.EDGE_ID, {
      instance: randomUUID(),
      host: hostname(),
      pid: process.pid,
      startedAt: Date.now(),
    }).catch(async (e: unknown) => {
      await nats.nc.close();
      throw e;
    });
    const pool = createPool(cfg.DATABASE_URL, cfg.CHAT_PG_POOL);
    pool.on('error', (err) => log.warn({ err }, 'idle postgres connection failed'));
    const redis = createRedis(cfg.REDIS_URL, n.redisPrefix);
    const registry = new ConnectionRegistry(redis, cfg.CHAT_REGISTRY_TTL);
    const metrics = createMetrics(promRegistry);

    const edgeConsumer = edgeConsumerConfig(n, cfg.EDGE_ID);
    await ensureConsumerWhenStreamExists(nats.jsm, edgeConsumer.stream, edgeConsumer.config, (stream) =>
      log.warn({ stream }, 'waiting for the stream to be created (chatctl streams apply)'),
    );

    // Per-user limits shared by every edge (Redis token buckets; fail open onto a local bucket).
    let lastFallbackLog = 0;
    const onFallback = (err: unknown) => {
      metrics.rateLimiterFallbacks.inc();
      if (Date.now() - lastFallbackLog > 10_000) {
        lastFallbackLog = Date.now();
        log.warn({ err }, 'rate limiter: Redis unavailable, enforcing limits per edge');
      }
    };
    const limiters = {
      send: new SharedRateLimiter(redis, 'send', { perMinute: cfg.CHAT_SEND_RATE, burst: cfg.CHAT_SEND_BURST }, { onFallback }),
      create: new SharedRateLimiter(redis, 'create', { perMinute: cfg.CHAT_CREATE_RATE, burst: cfg.CHAT_CREATE_BURST }, { onFallback }),
    };

    const framesIn = perLabel((type) => metrics.framesIn.labels({ type }));
    const commandOutcomes = perLabel((key) => {
      const [type, outcome] = key.split('\u0000') as [string, string];
      return metrics.commands.labels({ type, outcome });
    });
    const commandSeconds = perLabel((type) => metrics.commandSeconds.labels({ type }));

    const rm = new ReadModels(pool);
    // Media bytes go between clients and object storage; the edge presigns, checks and redirects.
    const store = MediaStore.fromEnv(cfg, n.ns);
    const inspector = new MediaInspector(store.config, { thumbnailPx: cfg.CHAT_MEDIA_THUMBNAIL });
    const media = new MediaService({ store, inspector, records: new MediaRecords(pool), limits: cfg });
    // Sync waits (bounded) until the read model holds everything acknowledged before it arrived.
    const readAfterAck = new ReadAfterAck({
      nc: nats.nc,
      jsm: nats.jsm,
      stream: n.streams.events,
      positionSubject: n.subjects.projectorPosition,
      commitSubject: n.subjects.projectorCommit,
      readPosition: async () => (await rm.checkpoint(n.consumers.projMessages)) ?? 0,
      maxWaitMs: cfg.CHAT_SYNC_WAIT,
    });
    readAfterAck.start();
    const inbox = new InboxReader(rm, n.consumers.projMessages);
    async function sync(userId: string, after: number, limit: number) {
      const target = await readAfterAck.target();
      await readAfterAck.reach(target);
      const r = await inbox.read(userId, after, limit);
      readAfterAck.observe(r.checkpoint);
      // Past the wait the batch is still a correct prefix; hasMore makes the client ask again.
      return { frames: r.frames, hasMore: r.hasMore || r.checkpoint < target };
    }
    const hub = new Hub();
    // Who blocks whom, from the read model, kept CHAT_BLOCKS_CACHE (checked on every send), read in batches.
    let lastBlockLookupLog = 0;
    const blocks = new BlockDirectory({ blockedByAmong: (u) => rm.blockedByAmong(u), blockingAmong: (u) => rm.blockingAmong(u) }, cfg.CHAT_BLOCKS_CACHE, Date.now, (err) => {
      metrics.blockLookupFailures.inc();
      if (Date.now() - lastBlockLookupLog > 10_000) {
        lastBlockLookupLog = Date.now();
        log.warn({ err }, 'block lookup failed; sends go ahead unchecked until the read model is back');
      }
    }).start();
    // Presence and typing travel over core NATS: best effort by design, nothing stored.
    const presenceLookups = new PresenceLookups(rm);
    const presence = new PresenceWatch({
      blockedBy: (u) => blocks.blockedBy(u),
      blockingAmong: (users) => rm.blockingAmong(users),
      hidingAmong: (users) => presenceLookups.hidingAmong(users),
      store: new PresenceStore(redis),
      announce: (change) => nats.nc.publish(n.subjects.presence(change.userId), JSON.stringify(change)),
      contactsAmong: (viewer, userIds) => presenceLookups.contactsAmong(viewer, userIds),
      graceMs: cfg.CHAT_PRESENCE_GRACE,
      now: Date.now,
      onError: (err, what) => log.warn({ err }, `${what} failed`),
    });
    nats.nc.subscribe(n.subjects.presenceAll, {
      callback: (err, msg) => {
        if (!err) presence.heard(msg.json<PresenceChange>());
      },
    });
    const typing = new TypingRelay({
      memberIds: (conversationId) => rm.memberIds(conversationId),
      blockedEitherWay: (u) => blocks.either(u),
      usersByEdge: (userIds) => registry.usersByEdge(userIds),
      publish: (edgeId, signal) => nats.nc.publish(n.subjects.typing(edgeId), JSON.stringify(signal)),
      edgeId: cfg.EDGE_ID,
      deliverHere: typingHere,
      now: Date.now,
      onDropped: (reason) => metrics.typingDropped.inc({ reason }),
    });
    function typingHere({ to, ...signal }: TypingSignal): void {
      const json = JSON.stringify({ type: 'typing', ...signal });
      for (const u of to) for (const s of hub.devicesOf(u)) s.sendRaw(json, 'typing');
    }
    nats.nc.subscribe(n.subjects.typing(cfg.EDGE_ID), {
      callback: (err, msg) => {
        if (!err) typingHere(msg.json<TypingSignal>());
      },
    });
    // Receipts for messages this edge handed over are appended here; the rest go to the command processes.
    const publisher = publisherFor(nats.nc);
    const receiptOutcomes = perLabel((outcome) => metrics.receipts.labels(outcome));
    const receipts = new HandedReceipts({
      subject: (c, u) => n.subjects.evtRcpt(c, u),
      append: async (subject, json, msgId, headers) => void (await publisher.publish(subject, json, { msgId, ...(headers ? { headers: { ...headers } } : {}) })),
      onOutcome: (outcome) => receiptOutcomes(outcome).inc(),
      // Direct conversations' receipts go to the members here at once (CHAT_EDGE_HANDOVER), like messages.
      ...(cfg.CHAT_EDGE_HANDOVER ? { handOver: { headers: { [HANDED_BY_HEADER]: cfg.EDGE_ID }, deliver: (env: DeliveryEnvelope) => fanOut.deliver(env) } } : {}),
    });
    // Every frame for the sockets here goes through one fan-out: routed by the projector, or handed over at the append.
    const fanOut = new HubFanOut(hub, (k) => metrics.deliveries.inc(k), {
      conversationUpdated: (frame, users) => {
        typing.membersChanged(frame.conversationId, frame.members);
        receipts.membershipChanged(frame, users);
      },
      handed: (u, c, seq, direct) => receipts.handed(u, c, seq, direct),
    });
    // CHAT_EDGE_COMMANDS=hosted: a command tier in this process, holding leases like a command process,
    // which hands the messages it appends to the devices here (CHAT_EDGE_HANDOVER).
    const handOver =
      cfg.CHAT_EDGE_COMMANDS === 'hosted' && cfg.CHAT_EDGE_HANDOVER
        ? new HandOverHere({
            edgeId: cfg.EDGE_ID,
            deliver: (env) => fanOut.deliver(env),
            syncRequired: (users) => {
              for (const u of users) for (const s of hub.devicesOf(u)) s.send({ type: 'sync.required', reason: 'a message may have been stored without its live frame' });
            },
          })
        : undefined;
    if (handOver) {
      gaugeFrom(promRegistry, 'chat_edge_handover_claimed', 'Messages this edge appended and handed to its own devices at the append (the projector routes them to the other edges only), since start', () => handOver.stats.claimed);
      gaugeFrom(promRegistry, 'chat_edge_handover_declined', 'Messages this edge appended and left to the projector (a frame of the conversation it routed may still be on its way here), since start', () => handOver.stats.declined);
      gaugeFrom(promRegistry, 'chat_edge_handover_unsure', 'Claimed appends that failed without proving they were not stored; the members here were asked to sync, since start', () => handOver.stats.unsure);
    }
    const commandTier: CommandTier | undefined =
      cfg.CHAT_EDGE_COMMANDS === 'hosted'
        ? await startCommandTier({
            nats,
            cfg: loadConfig(CommandConfig),
            log: log.child({ part: 'commands' }),
            registry: promRegistry,
            instanceId: `${cfg.EDGE_ID}-${newInstanceId()}`,
            summary,
            ...(handOver ? { handOver } : {}),
          })
        : undefined;
    const gateway = new CommandGateway(
      nats.nc,
      n,
      cfg.EDGE_ID,
      cfg.CHAT_COMMAND_TIMEOUT,
      cfg.CHAT_COMMAND_PARTITIONS,
      commandTier && { owns: (p) => commandTier.leases.owns(p), handle: (p, commands) => commandTier.service.handle(p, commands) },
    );
    gateway.start();
    gaugeFrom(promRegistry, 'chat_edge_command_batches', 'Command batches sent to a command process over NATS, since start', () => gateway.stats.batches - gateway.stats.local);
    gaugeFrom(promRegistry, 'chat_edge_command_batches_hosted', 'Command batches run by the command tier this edge hosts (CHAT_EDGE_COMMANDS=hosted), with no NATS round trip, since start', () => gateway.stats.local);

    // The oldest stream position still kept; cursors before it cannot be served (sync.reset).
    let firstSeq = { value: 0, at: 0 };
    async function oldestPosition(): Promise<number> {
      if (Date.now() - firstSeq.at > 10_000) {
        const si = await nats.jsm.streams.info(n.streams.events);
        firstSeq = { value: si.state.first_seq, at: Date.now() };
      }
      return firstSeq.value;
    }

    let draining = false;
    // Browser Origins allowed on HTTP and WebSocket upgrades alike (CHAT_ALLOWED_ORIGINS; empty = any).
    const originAllowed = originPolicy(cfg.CHAT_ALLOWED_ORIGINS);
    const probes: Probes = {
      async ready(): Promise<Readiness> {
        if (draining) return { checks: { accepting: false } };
        const [natsOk, pgOk, redisOk, stream, mediaProblem] = await Promise.all([
          nats.nc.flush().then(() => true, () => false),
          pool.query('SELECT 1').then(() => true, () => false),
          redis.ping().then(() => true, () => false),
          nats.jsm.streams.info(n.streams.events).then((si) => si.state.last_seq, () => null),
          store.ping().then(() => null, (e: unknown) => `media storage: ${e instanceof Error ? e.message : String(e)}`),
        ]);
        // A projection whose checkpoint is past the end of CHAT_EVENTS (the stream was re-created)
        // refuses to run: sends would be acknowledged and nothing delivered or synced.
        const pastEnd = pgOk && stream !== null ? await projectionsPastEnd(pool, n, stream).catch(() => []) : [];
        const problems = [
          ...(pastEnd.length ? [`projections past the end of ${n.streams.events} (last sequence ${stream}): ${pastEnd.map((p) => `${p.name} at ${p.position}`).join(', ')}; ${PAST_END_FIX}`] : []),
          ...(mediaProblem ? [mediaProblem] : []),
        ];
        return { checks: { nats: natsOk, postgres: pgOk, redis: redisOk, events: stream !== null, projections: pastEnd.length === 0, media: mediaProblem === null }, problems };
      },
    };
    const app = await createServer(log, metrics, probes, { originAllowed });
    const verifier = new TokenVerifier(cfg.CHAT_JWT_SECRET);
    const wsGateway = registerGateway(app, {
      edgeId: cfg.EDGE_ID,
      log,
      originAllowed,
      verifier,
      hub,
      registry,
      metrics,
      heartbeatMs: cfg.CHAT_HEARTBEAT,
      maxSocketBuffer: cfg.CHAT_MAX_SOCKET_BUFFER,
      draining: () => draining,
      maxConnectionsPerUser: cfg.CHAT_MAX_CONNECTIONS_PER_USER,
      lastDeviceClosed: (u) => receipts.forget(u),
      presence: { connected: (u) => presence.connected(u), left: (u, at) => presence.left(u, at), closed: (s) => presence.unsubscribe(s) },
      deps: {
        frameRate: { perSecond: cfg.CHAT_FRAME_RATE, burst: cfg.CHAT_FRAME_BURST },
        floodLimitPerMinute: cfg.CHAT_FLOOD_LIMIT,
        limit: (kind, userId) => limiters[kind].take(userId),
        onRateLimited: (kind) => metrics.rateLimited.inc({ kind }),
        execute: (c) => receipts.mark(c) ?? gateway.execute(c),
        meta: (u, d) => gateway.meta(u, d),
        sync,
        forwardable: (u, c, m) => rm.forwardable(u, c, m),
        sendableMedia: (u, id) => media.sendable(u, id),
        blocks,
        watchPresence: (session, userIds) => presence.subscribe(session, userIds),
        typing: async (u, c, state) => void (await typing.relay(u, c, state)),
        oldestPosition,
        maxBadFramesPerMinute: cfg.CHAT_MAX_BAD_FRAMES,
        now: Date.now,
        onFrameIn: (type) => framesIn(type).inc(),
        onCommand: (type, outcome, seconds) => {
          commandOutcomes(`${type}\u0000${outcome}`).inc();
          commandSeconds(type).observe(seconds);
        },
      },
    });
    // The client already prefixes every key with the namespace.
    const conversationList = new ConversationList({
      cache: new ConversationListCache(redis),
      loadFromSource: (userId) => rm.listEntriesAt(userId, n.consumers.projConversations),
      pageFromSource: (userId, q) => rm.conversations(userId, q),
      log,
    });
    // Queries after an acknowledged write see it, as a sync does (bounded by CHAT_SYNC_WAIT).
    const fresh = async () => {
      await readAfterAck.reach(await readAfterAck.target());
    };
    registerHttpRoutes(app, verifier, rm, conversationList, fresh);
    registerMediaRoutes(app, verifier, media, fresh);
    registerPresenceRoutes(app, verifier, presence);
    registerUserRoutes(app, verifier, {
      execute: (c) => gateway.execute(c),
      meta: (u, d) => gateway.meta(u, d),
      lastSeenSetting: (u) => rm.lastSeenSetting(u),
      blocks: (u) => rm.blocks(u),
    });

    const delivery = new DeliveryConsumer(
      nats.js,
      edgeConsumer.stream,
      edgeConsumer.config.durable_name,
      fanOut,
      log,
      { names: n },
      (seq) => handOver?.routedThrough(seq),
      () => ensureConsumerWhenStreamExists(nats.jsm, edgeConsumer.stream, edgeConsumer.config, (stream) => log.warn({ stream }, 'waiting for the stream to be created again')),
    );
    await delivery.start();

    // Heartbeat: keep this edge's device routes alive in the registry.
    const refresh = setInterval(() => {
      const devices = hub.all().map((s) => ({ userId: s.userId, deviceId: s.deviceId, edgeId: cfg.EDGE_ID }));
      registry
        .refresh(devices)
        .then((lost) => {
          if (lost.length) log.warn({ devices: lost.length }, 'device routes were gone from the registry; asking those devices to sync');
          for (const { userId, deviceId } of lost) {
            for (const s of hub.devicesOf(userId)) if (s.deviceId === deviceId) s.send({ type: 'sync.required', reason: 'route re-created: live frames may have been missed' });
          }
        })
        .catch((err) => log.warn({ err }, 'registry refresh failed'));
      presence.recheck().catch((err: unknown) => log.warn({ err }, 'presence recheck failed'));
    }, Math.max(1000, Math.floor(cfg.CHAT_REGISTRY_TTL / 3)));

    const address = await app.listen({ host: cfg.CHAT_EDGE_HOST, port: cfg.CHAT_EDGE_PORT, backlog: cfg.CHAT_EDGE_BACKLOG });
    log.info({ address, ws: `${address.replace('http', 'ws')}${WS_PATH}` }, 'edge listening');

    /**
     * Graceful drain: refuse new connections (readyz and upgrades answer 503), tell every client
     * to move (`server.draining`), keep delivering to those still here for CHAT_DRAIN_GRACE, then
     * close the rest with 1001 and stop. Undelivered frames stay in this edge's consumer and the
     * inbox; the clients' sync on their new edge returns them.
     */
    async function drainAndStop(): Promise<void> {
      draining = true;
      const closeInMs = hub.size > 0 ? cfg.CHAT_DRAIN_GRACE : 0;
      log.info({ connections: hub.size, closeInMs }, 'edge draining');
      for (const s of hub.all()) s.send({ type: 'server.draining', closeInMs });
      const deadline = Date.now() + closeInMs;
      while (hub.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      log.info({ remaining: hub.size }, 'edge stopping');
      clearInterval(refresh);
      wsGateway.stop();
      for (const s of hub.all()) s.close(CLOSE_CODES.goingAway, 'server shutting down');
      await presence.stop();
      blocks.stop();
      await app.close().catch(() => undefined);
      await delivery.stop();
      await gateway.stop();
      await commandTier?.stop();
      await readAfterAck.stop();
      await nats.nc.drain().catch(() => undefined);
      await inspector.close();
      store.close();
      await Promise.allSettled([pool.end(), redis.quit()]);
    }
    return { stop: drainAndStop, ready: () => probes.ready(), exitWhenStopped: true };
  },
  { base: (cfg) => ({ edge: cfg.EDGE_ID }) },
);
