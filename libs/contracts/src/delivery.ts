import { z } from 'zod';
import { DeviceId, UserId } from './ids';
import { ServerFrame } from './frames';

/**
 * What a projector routes to one edge on chat.dlv.<edgeId>: one frame and the users whose
 * connected devices on that edge should get it. Routing once per edge (not per recipient)
 * keeps a big group's fan-out to one publish per edge.
 */
export const DeliveryEnvelope = z.object({
  users: z.array(UserId),
  /** The device that caused the frame (it already has it); skipped when pushing. */
  exceptDevice: z.object({ userId: UserId, deviceId: DeviceId }).optional(),
  /** The frame as the devices get it. */
  frame: ServerFrame,
});
export type DeliveryEnvelope = z.infer<typeof DeliveryEnvelope>;
