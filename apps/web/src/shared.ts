import { z } from 'zod';
import { DeviceId, UserId } from '@chat/contracts';

// What the web server and its page exchange besides the edge's own API (which the page reaches
// through the server's /v1 pass-through).

/** `GET /config.json`: where the page finds the edge, and whether the development sign-in is on. */
export const PageConfig = z.object({
  /** The edge's HTTP API origin for the page (the web server itself, which passes `/v1/*` on). */
  httpUrl: z.url({ protocol: /^https?$/ }),
  /** The edge's WebSocket URL for the page (through the same pass-through). */
  wsUrl: z.url({ protocol: /^wss?$/ }),
  /** `POST /dev/token` answers (development only). */
  devSignIn: z.boolean(),
});
export type PageConfig = z.infer<typeof PageConfig>;

/** `POST /dev/token`: a client token for any user, development only. */
export const DevTokenRequest = z.object({ userId: UserId, deviceId: DeviceId.optional() }).strict();
export type DevTokenRequest = z.infer<typeof DevTokenRequest>;

export const DevTokenResponse = z.object({ token: z.string(), userId: UserId, deviceId: DeviceId, expiresAt: z.string() });
export type DevTokenResponse = z.infer<typeof DevTokenResponse>;
