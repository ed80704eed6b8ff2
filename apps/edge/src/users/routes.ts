import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ChatError, UserParams, UserSettingsPatch, type BlockList, type Command, type CommandResult, type UserSettings } from '@chat/contracts';
import { tokenFrom, type Principal, type TokenVerifier } from '../auth';
import { parse } from '../http/routes';

export interface UserRoutesDeps {
  /** Runs a command of the caller's (the edge's command gateway). */
  execute(command: Command): Promise<CommandResult>;
  meta(userId: string, deviceId: string): Command['meta'];
  lastSeenSetting(userId: string): Promise<UserSettings['lastSeen']>;
  blocks(userId: string): Promise<BlockList['blocks']>;
}

/**
 * A user's own settings (docs/protocol.md, "Privacy and blocking"): `GET`/`PATCH
 * /v1/me/settings`, `GET /v1/me/blocks`, `PUT`/`DELETE /v1/me/blocks/{userId}`. Changes are
 * commands (events on chat.pref.user.<userId>, like everything else the system remembers);
 * reads come from the read model, so a change shows there once the projector has it.
 */
export function registerUserRoutes(app: FastifyInstance, verifier: TokenVerifier, deps: UserRoutesDeps): void {
  const principal = async (req: FastifyRequest): Promise<Principal> => verifier.verify(tokenFrom(req.headers, req.query));
  const run = async <K extends CommandResult['kind']>(p: Principal, type: 'SetPrivacy' | 'BlockUser' | 'UnblockUser', data: object, kind: K) => {
    const result = await deps.execute({ type, v: 1, meta: deps.meta(p.userId, p.deviceId), data } as Command);
    if (result.kind !== kind) throw new ChatError('internal', `unexpected answer ${result.kind} to ${type}`);
    return result as Extract<CommandResult, { kind: K }>;
  };

  app.get('/v1/me/settings', async (req): Promise<UserSettings> => ({ lastSeen: await deps.lastSeenSetting((await principal(req)).userId) }));

  app.patch('/v1/me/settings', async (req): Promise<UserSettings> => {
    const p = await principal(req);
    const { lastSeen } = parse(UserSettingsPatch, req.body);
    return { lastSeen: (await run(p, 'SetPrivacy', { lastSeen }, 'settings')).lastSeen };
  });

  app.get('/v1/me/blocks', async (req): Promise<BlockList> => ({ blocks: await deps.blocks((await principal(req)).userId) }));

  app.put('/v1/me/blocks/:userId', async (req, reply) => {
    const p = await principal(req);
    await run(p, 'BlockUser', { userId: parse(UserParams, req.params).userId }, 'block');
    return reply.code(204).send();
  });

  app.delete('/v1/me/blocks/:userId', async (req, reply) => {
    const p = await principal(req);
    await run(p, 'UnblockUser', { userId: parse(UserParams, req.params).userId }, 'block');
    return reply.code(204).send();
  });
}
