import type { JetStreamClient } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { isUserSettingsEvent, type ConversationEvent, type MemberMuteChanged, type MemberPreferenceEvent, type Names, type ReceiptEvent, type Snapshot, type StoredEvent, type UserSettingsEvent } from '@chat/contracts';
import { conversationToSnapshot, evolveAll, evolveMute, evolveReceipt, evolveUserSettings, initialMuteState, initialReceiptState, initialState, initialUserSettings, userSettingsToSnapshot } from '@chat/domain';
import { snapshotsBucket } from '@chat/streams';

/** An event of chat.pref.> (a member's mute, a user's own settings). */
export const isPreferenceEvent = (e: StoredEvent): e is MemberPreferenceEvent => e.type === 'MemberMuteChanged' || isUserSettingsEvent(e);

/** Appends a preference event (chat.pref.<conv>.<user> or chat.pref.user.<user>); returns the stream sequence. */
export async function publishPreference(js: JetStreamClient, names: Names, e: MemberPreferenceEvent): Promise<number> {
  return (await js.publish(subjectOf(names, e), JSON.stringify(e))).seq;
}

/** The CHAT_EVENTS subject of a stored event (the aggregate's subject, the snapshot's key). */
export function subjectOf(names: Names, e: StoredEvent): string {
  if (e.type === 'MemberMuteChanged') return names.subjects.pref(e.conversationId, e.userId);
  if (isUserSettingsEvent(e)) return names.subjects.userPref(e.userId);
  if (e.type === 'MessagesDelivered' || e.type === 'MessagesRead') return names.subjects.evtRcpt(e.conversationId, e.userId);
  return names.subjects.evtConv(e.conversationId);
}

/**
 * The snapshots the command service would hold after these events (stream order, each with its
 * stream sequence), by subject: the domain's states folded from every event of the subject,
 * position = the stream sequence of the subject's last event.
 */
export function snapshotsOf(names: Names, stored: ReadonlyArray<{ streamSeq: number; event: StoredEvent }>, takenAt = new Date().toISOString()): Map<string, Snapshot> {
  const bySubject = new Map<string, Array<{ streamSeq: number; event: StoredEvent }>>();
  for (const x of stored) {
    const s = subjectOf(names, x.event);
    (bySubject.get(s) ?? bySubject.set(s, []).get(s)!).push(x);
  }
  const out = new Map<string, Snapshot>();
  for (const [subject, list] of bySubject) {
    const position = list[list.length - 1]!.streamSeq;
    const first = list[0]!.event;
    if (isUserSettingsEvent(first)) {
      const state = (list.map((x) => x.event) as UserSettingsEvent[]).reduce(evolveUserSettings, initialUserSettings());
      out.set(subject, { v: 1, kind: 'user', position, takenAt, state: userSettingsToSnapshot(state) });
    } else if (first.type === 'MemberMuteChanged') {
      const state = (list.map((x) => x.event) as MemberMuteChanged[]).reduce(evolveMute, initialMuteState());
      out.set(subject, { v: 1, kind: 'preference', position, takenAt, state });
    } else if (first.type === 'MessagesDelivered' || first.type === 'MessagesRead') {
      const state = (list.map((x) => x.event) as ReceiptEvent[]).reduce(evolveReceipt, initialReceiptState());
      out.set(subject, { v: 1, kind: 'receipt', position, takenAt, state });
    } else {
      const state = conversationToSnapshot(evolveAll(initialState(), list.map((x) => x.event) as ConversationEvent[]));
      if (state) out.set(subject, { v: 1, kind: 'conversation', position, takenAt, state });
    }
  }
  return out;
}

/** Writes snapshots into the namespace's CHAT_SNAPSHOTS bucket (key = subject), as the command service does. */
export async function writeSnapshots(js: JetStreamClient, names: Names, snapshots: ReadonlyMap<string, Snapshot>): Promise<void> {
  const kv = await new Kvm(js).open(snapshotsBucket(names, { replicas: 1 }).name);
  for (const [subject, snapshot] of snapshots) await kv.put(subject, JSON.stringify(snapshot));
}
