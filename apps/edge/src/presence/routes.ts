import type { FastifyInstance } from 'fastify';
import { ChatError, UserParams, type UserPresence } from '@chat/contracts';
import { tokenFrom, type TokenVerifier } from '../auth';
import { parse } from '../http/routes';
import type { PresenceWatch } from './watch';

/** `GET /v1/users/{userId}/presence` under the rules of `presence.subscribe` (docs/protocol.md, "Presence"). */
export function registerPresenceRoutes(app: FastifyInstance, verifier: TokenVerifier, presence: Pick<PresenceWatch, 'view'>): void {
  app.get('/v1/users/:userId/presence', async (req): Promise<UserPresence> => {
    const viewer = (await verifier.verify(tokenFrom(req.headers, req.query))).userId;
    const found = await presence.view(viewer, parse(UserParams, req.params).userId);
    // Not 403: whether a user exists is not shown to those who share nothing with them.
    if (!found) throw new ChatError('not_found', 'no such user');
    return found;
  });
}
