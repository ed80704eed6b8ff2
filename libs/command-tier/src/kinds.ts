import { ConversationEvent, isUserSettingsEvent, type Snapshot, type SnapshotKind, type SnapshotOf, type StoredEvent } from '@chat/contracts';
import {
  conversationDecider,
  conversationFromSnapshot,
  conversationStateBytes,
  conversationToSnapshot,
  preferenceDecider,
  receiptDecider,
  userSettingsDecider,
  userSettingsFromSnapshot,
  userSettingsToSnapshot,
  type ConversationState,
  type MuteState,
  type ReceiptState,
  type UserSettingsState,
} from '@chat/domain';

/** How one kind of aggregate is rebuilt from its subject's events (its decider's initial state and evolve), and snapshotted. */
export interface AggregateKind<S> {
  /** The snapshot kind (see @chat/contracts' Snapshot). */
  name: SnapshotKind;
  initial(): S;
  /** Pure: the state after the event (the one passed in is left as it was). */
  evolve(state: S, event: StoredEvent): S;
  /** What a snapshot holds of the state; undefined when there is nothing to keep (no conversation). */
  toSnapshot(state: S): Snapshot['state'] | undefined;
  /** The state a snapshot of this kind holds (another kind's snapshot is an error). */
  fromSnapshot(snapshot: Snapshot): S;
  /** About how many bytes the state takes in memory (the cache's budget counts these). */
  bytes(state: S): number;
}

/** A kind written against its own snapshot shape. */
function kind<S, K extends SnapshotKind>(k: Omit<AggregateKind<S>, 'name' | 'toSnapshot' | 'fromSnapshot'> & {
  name: K;
  toSnapshot(state: S): SnapshotOf<K>['state'] | undefined;
  fromSnapshot(state: SnapshotOf<K>['state']): S;
}): AggregateKind<S> {
  return {
    ...k,
    fromSnapshot(snapshot) {
      if (snapshot.kind !== k.name) throw new Error(`a ${snapshot.kind} snapshot where a ${k.name} was expected`);
      return k.fromSnapshot(snapshot.state as SnapshotOf<K>['state']);
    },
  };
}

const CONVERSATION_EVENT_TYPES: ReadonlySet<string> = new Set(ConversationEvent.options.map((o) => o.shape.type.value));

export const isConversationEvent = (event: StoredEvent): event is ConversationEvent => CONVERSATION_EVENT_TYPES.has(event.type);

/** chat.evt.conv.<conversationId> */
export const conversation: AggregateKind<ConversationState> = kind({
  name: 'conversation' as const,
  initial: conversationDecider.initialState,
  evolve(state, event) {
    if (!isConversationEvent(event)) throw new Error(`${event.type} on a conversation subject`);
    return conversationDecider.evolve(state, event);
  },
  toSnapshot: (state) => conversationToSnapshot(state),
  fromSnapshot: conversationFromSnapshot,
  bytes: conversationStateBytes,
});

/** chat.evt.rcpt.<conversationId>.<userId> */
export const receipt: AggregateKind<ReceiptState> = kind({
  name: 'receipt' as const,
  initial: receiptDecider.initialState,
  evolve(state, event) {
    if (event.type !== 'MessagesDelivered' && event.type !== 'MessagesRead') throw new Error(`${event.type} on a receipt subject`);
    return receiptDecider.evolve(state, event);
  },
  toSnapshot: (state) => ({ deliveredSeq: state.deliveredSeq, readSeq: state.readSeq, devices: { ...state.devices } }),
  fromSnapshot: (s) => ({ deliveredSeq: s.deliveredSeq, readSeq: s.readSeq, devices: { ...s.devices } }),
  bytes: (state) => 200 + Object.keys(state.devices).length * 80,
});

/** chat.pref.<conversationId>.<userId> */
export const preference: AggregateKind<MuteState> = kind({
  name: 'preference' as const,
  initial: preferenceDecider.initialState,
  evolve(state, event) {
    if (event.type !== 'MemberMuteChanged') throw new Error(`${event.type} on a preference subject`);
    return preferenceDecider.evolve(state, event);
  },
  toSnapshot: (state) => ({ muted: state.muted, ...(state.until ? { until: state.until } : {}) }),
  fromSnapshot: (s) => ({ muted: s.muted, ...(s.until ? { until: s.until } : {}) }),
  bytes: () => 160,
});

/** chat.pref.user.<userId> */
export const user: AggregateKind<UserSettingsState> = kind({
  name: 'user' as const,
  initial: userSettingsDecider.initialState,
  evolve(state, event) {
    if (!isUserSettingsEvent(event)) throw new Error(`${event.type} on a user settings subject`);
    return userSettingsDecider.evolve(state, event);
  },
  toSnapshot: userSettingsToSnapshot,
  fromSnapshot: userSettingsFromSnapshot,
  bytes: (state) => 160 + state.blocked.size * 120,
});

export const KINDS = { conversation, receipt, preference, user } as const;
