import { describe, expect, it } from 'vitest';
import { ChatError } from '@chat/contracts';
import { httpError } from './routes';

const fastifyError = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });

describe('httpError: every HTTP error in the protocol vocabulary', () => {
  it('a ChatError keeps its code and status', () => {
    expect(httpError(new ChatError('not_found', 'no such conversation'))).toEqual({ status: 404, body: { error: { code: 'not_found', message: 'no such conversation' } } });
  });
  it("fastify's own 4xx get the code of their status, bad_request where there is none", () => {
    expect(httpError(fastifyError(413, 'Request body is too large'))).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    expect(httpError(fastifyError(401, 'no'))).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
    expect(httpError(fastifyError(415, 'Unsupported Media Type'))).toMatchObject({ status: 415, body: { error: { code: 'bad_request', message: 'Unsupported Media Type' } } });
  });
  it('anything else is a 500 that says nothing of its cause', () => {
    expect(httpError(new Error('db password is hunter2'))).toEqual({ status: 500, body: { error: { code: 'internal', message: 'internal error' } } });
  });
});
