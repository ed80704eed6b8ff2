import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MediaParams, MediaUploadRequest, type MediaReady, type MediaUpload } from '@chat/contracts';
import { tokenFrom, type TokenVerifier } from '../auth';
import { parse, type ReadAfterAckWait } from '../http/routes';
import type { MediaService } from './service';

/**
 * The media endpoints (docs/protocol.md "Media", docs/media.md). Errors go through the HTTP
 * API's error handler. Downloads are read after ack (`fresh`): a member who just got the
 * message that carries the media may fetch it.
 */
export function registerMediaRoutes(app: FastifyInstance, verifier: TokenVerifier, media: MediaService, fresh: ReadAfterAckWait): void {
  const user = async (req: FastifyRequest): Promise<string> => (await verifier.verify(tokenFrom(req.headers, req.query))).userId;

  app.post('/v1/media', async (req, reply): Promise<MediaUpload> => {
    const userId = await user(req);
    const upload = await media.register(userId, parse(MediaUploadRequest, req.body));
    reply.code(201);
    return upload;
  });

  app.post('/v1/media/:mediaId/complete', async (req): Promise<MediaReady> => {
    const userId = await user(req);
    return media.complete(userId, parse(MediaParams, req.params).mediaId);
  });

  app.get('/v1/media/:mediaId', async (req, reply) => {
    const userId = await user(req);
    await fresh();
    return reply.redirect(await media.download(userId, parse(MediaParams, req.params).mediaId, 'media'), 302);
  });

  app.get('/v1/media/:mediaId/thumbnail', async (req, reply) => {
    const userId = await user(req);
    await fresh();
    return reply.redirect(await media.download(userId, parse(MediaParams, req.params).mediaId, 'thumbnail'), 302);
  });
}
