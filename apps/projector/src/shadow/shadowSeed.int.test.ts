import { describe, expect, it } from 'vitest';
import type { ChatEvent, MemberPreferenceEvent, StoredEvent } from '@chat/contracts';
import { buildShadow, diffShadow, discardShadow, type ShadowDeps } from '@chat/ops';
import { PROJECTION_KEYS } from '@chat/postgres';
import { buildProjection } from '../projections';
import { at, created, isPreferenceEvent, publishEvent, publishPreference, receipt, sent, snapshotsOf, startProjections, useTestEnv, waitForCheckpoint, writeSnapshots } from '../testing/env';
import { projectorApplier } from './applyStream';

/**
 * A shadow build where CHAT_EVENTS no longer holds a conversation's creation (purged, as max age
 * would): the snapshots restore it, and the shadow equals the live read models but for the
 * columns a snapshot does not hold.
 */

const t = useTestEnv();

describe('chatctl rebuild --shadow with events gone from the stream', () => {
  it('seeds what only the snapshots know; without them those rows are missing', async () => {
    const deps: ShadowDeps = { databaseUrl: t.env.databaseUrl, nats: t.env.nats, names: t.env.names, apply: projectorApplier(t.env.nats, t.env.names) };
    const stored: Array<{ streamSeq: number; event: StoredEvent }> = [];
    const append = async (events: StoredEvent[]) => {
      for (const event of events) {
        const streamSeq = isPreferenceEvent(event) ? await publishPreference(t.env.nats.js, t.env.names, event) : await publishEvent(t.env.nats.js, t.env.names, event as ChatEvent);
        stored.push({ streamSeq, event });
      }
      return stored[stored.length - 1]!.streamSeq;
    };
    const pref = (e: MemberPreferenceEvent) => e;
    // To be purged: a group without messages, a mute in it, a privacy setting, a block.
    const gone = await append([
      created('g2', ['alice', 'bob', 'carol'], 1),
      pref({ type: 'MemberMuteChanged', v: 1, conversationId: 'g2', userId: 'carol', muted: true, at: at(2) }),
      pref({ type: 'PrivacyChanged', v: 1, userId: 'bob', lastSeen: 'nobody', at: at(3) }),
      pref({ type: 'UserBlocked', v: 1, userId: 'alice', blockedUserId: 'carol', at: at(4) }),
    ]);
    const last = await append([created('g3', ['alice', 'dave'], 10), sent('g3', 1, 'alice'), sent('g3', 2, 'dave'), receipt('MessagesRead', 'g3', 'alice', 2)]);
    await writeSnapshots(t.env.nats.js, t.env.names, snapshotsOf(t.env.names, stored));
    const run = startProjections(t.env, (n) => PROJECTION_KEYS.map((k) => buildProjection(k, n, null, { cache: null })));
    try {
      for (const k of PROJECTION_KEYS) await waitForCheckpoint(t.env.pool, buildProjection(k, t.env.names, null).name, last);
      await t.env.nats.jsm.streams.purge(t.env.names.streams.events, { seq: gone + 1 });

      const seeded = await buildShadow(deps);
      expect(seeded.seed?.written).toEqual({ conversations: 1, members: 3, listRows: 3, receipts: 0, mutes: 1, userSettings: 1, blocks: 1 });
      expect(seeded.events).toBe(4);
      const diff = await diffShadow(deps);
      expect(diff.ignoredColumns).toEqual({ conversation_members: ['joined_at'] });
      expect(diff.tables.filter((d) => d.onlyLive + d.onlyShadow + d.different > 0)).toEqual([]);
      expect(diff.differences).toBe(0);

      await buildShadow(deps, PROJECTION_KEYS, { seed: false });
      const bare = await diffShadow(deps);
      const missing = Object.fromEntries(bare.tables.filter((d) => d.onlyLive > 0).map((d) => [d.table, d.onlyLive]));
      expect(missing).toEqual({ conversations: 1, conversation_members: 3, user_conversations: 3, notification_mutes: 1, user_settings: 1, user_blocks: 1 });
      expect(bare.differences).toBe(10);
    } finally {
      await run.stop();
      await discardShadow(t.env.databaseUrl);
    }
  }, 60_000);
});
