import type { ContactsRequest, ReadModels } from '../queries';
import { TurnBatch } from '../turnBatch';

/** Users asked about in one statement at most (a turn asking about more takes several). */
const MAX_USERS_PER_STATEMENT = 10_000;

/**
 * The read-model lookups of presence, batched per turn of the event loop (TurnBatch): the
 * `presence.subscribe`s of a reconnect wave (each asks who among up to 1,000 users shares a
 * conversation with its user, and who of them hides their presence) become one statement of
 * each kind per turn, instead of two queries per subscribe queued behind the pool's
 * connections, where the deliveries of presence changes wait for theirs.
 */
export class PresenceLookups {
  private readonly contacts: TurnBatch<ContactsRequest, Set<string>>;
  private readonly hiding: TurnBatch<readonly string[], Set<string>>;

  constructor(rm: Pick<ReadModels, 'contactsAmongMany' | 'hidingPresence'>) {
    this.contacts = new TurnBatch({ run: (requests) => rm.contactsAmongMany(requests), maxWeight: MAX_USERS_PER_STATEMENT, weight: (r) => r.userIds.length });
    this.hiding = new TurnBatch({
      run: async (requests) => {
        const hidden = await rm.hidingPresence([...new Set(requests.flat())]);
        return requests.map((users) => new Set(users.filter((u) => hidden.has(u))));
      },
      maxWeight: MAX_USERS_PER_STATEMENT,
      weight: (users) => users.length,
    });
  }

  /** Of `userIds`, those who share a conversation with `viewerId`. */
  contactsAmong(viewerId: string, userIds: readonly string[]): Promise<Set<string>> {
    return userIds.length ? this.contacts.get({ viewerId, userIds }) : Promise.resolve(new Set());
  }

  /** Of `userIds`, those who show their presence to nobody. */
  hidingAmong(userIds: readonly string[]): Promise<Set<string>> {
    return userIds.length ? this.hiding.get(userIds) : Promise.resolve(new Set());
  }

  /** Lookups asked for, and the statements they took. */
  get stats(): { contacts: TurnBatch<ContactsRequest, Set<string>>['stats']; hiding: TurnBatch<readonly string[], Set<string>>['stats'] } {
    return { contacts: this.contacts.stats, hiding: this.hiding.stats };
  }
}
