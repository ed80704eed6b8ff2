import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { parsePreferenceEvent, type MemberMuteChanged } from '@chat/contracts';
import { evolveMute, initialMuteState, type MuteState } from '@chat/domain';

/**
 * A member's preferences on chat.pref.<conv>.<user> (in CHAT_EVENTS). The state is the last
 * event on the subject (each event carries the whole setting), read with a direct get; appends
 * expect the subject's last sequence like the event store's.
 */
export interface PreferenceStore {
  load(subject: string): Promise<{ state: MuteState; lastSubjectSeq: number }>;
  /** Resolves with the new last sequence; rejects with a `WrongLastSequence` on a race. */
  append(subject: string, event: MemberMuteChanged, expectedLastSubjectSeq: number, msgId: string): Promise<number>;
}

export class WrongLastSequence extends Error {
  override readonly name = 'WrongLastSequence';
}

export class JetStreamPreferenceStore implements PreferenceStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}

  async load(subject: string): Promise<{ state: MuteState; lastSubjectSeq: number }> {
    let m;
    try {
      m = await this.jsm.direct.getMessage(this.stream, { last_by_subj: subject });
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound) return { state: initialMuteState(), lastSubjectSeq: 0 };
      throw e;
    }
    if (!m) return { state: initialMuteState(), lastSubjectSeq: 0 };
    return { state: evolveMute(initialMuteState(), parsePreferenceEvent(m.json())), lastSubjectSeq: m.seq };
  }

  async append(subject: string, event: MemberMuteChanged, expectedLastSubjectSeq: number, msgId: string): Promise<number> {
    try {
      const ack = await this.js.publish(subject, JSON.stringify(event), { msgID: msgId, expect: { lastSubjectSequence: expectedLastSubjectSeq } });
      return ack.seq;
    } catch (e) {
      if (e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === 10164)) throw new WrongLastSequence(subject, { cause: e });
      throw e;
    }
  }
}
