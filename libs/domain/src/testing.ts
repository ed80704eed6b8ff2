/* The Given/When/Then runner for every decider's unit tests (not exported from the library). */
import { expect } from 'vitest';
import { ChatError, type ErrorCode } from '@chat/contracts';
import type { Decider } from './decider';

/** The events a command produces, exactly; or the ChatError it is refused with: its code, and its message when named. */
export type Then<Event> = Event[] | { error: ErrorCode; message?: string | RegExp };

export interface DeciderCase<Command, Event, Context> {
  /** Folded from the decider's initial state. */
  given: Event[];
  when: Command;
  /** What the command service passes to `decide` besides the state. */
  context: Context;
  then: Then<Event>;
}

export function runDecider<State, Command, Event, Context>(
  decider: Decider<State, Command, Event, Context>,
  c: Omit<DeciderCase<Command, Event, Context>, 'then'>,
): Event[] | { error: ErrorCode; message: string } {
  const state = c.given.reduce((s, e) => decider.evolve(s, e), decider.initialState());
  try {
    return decider.decide(c.when, state, c.context);
  } catch (e) {
    if (e instanceof ChatError) return { error: e.code, message: e.message };
    throw e;
  }
}

export function checkDecider<State, Command, Event, Context>(decider: Decider<State, Command, Event, Context>, c: DeciderCase<Command, Event, Context>): void {
  const got = runDecider(decider, c);
  if ('error' in c.then && !Array.isArray(c.then)) {
    const { error, message } = c.then;
    expect(Array.isArray(got) ? got : got.error).toEqual(error);
    if (message !== undefined && !Array.isArray(got)) expect(got.message).toMatch(message);
    return;
  }
  expect(got).toEqual(c.then);
}
