/**
 * What the room handlers share: the room_event push to a room's members, and streaming a
 * list under backpressure.
 *
 * @module
 */
import { loginKey, type RoomEventMessage, roomKey, type ServerPush } from "../../protocol/mod.ts";
import { Envelope } from "../hub/envelope.ts";
import type { HandlerContext } from "./context.ts";

/** A streamed list waits while more than this is queued for the client. */
const STREAM_HIGH_WATER = 64 * 1024;

/** A room event's fields besides action, time and room. */
export type RoomEventFields = Omit<RoomEventMessage, "action" | "time" | "room">;

/**
 * Pushes `room_event` to every `rooms` session of the accounts `logins`, the acting session
 * included: events are state updates, and the client applies each one idempotently.
 */
export function announce(
  ctx: HandlerContext,
  room: string,
  logins: Iterable<string>,
  fields: RoomEventFields,
): void {
  const keys = new Set<string>();
  for (const login of logins) keys.add(loginKey(login));
  const envelope = new Envelope({
    action: "room_event",
    time: Math.floor(ctx.clock.now() / 1000),
    room,
    ...fields,
  });
  ctx.hub.sendToRoom(roomKey(room), keys, envelope);
}

/** Pushes `room_event` to the room's members now, and to `also` (who just left it). */
export async function announceToMembers(
  ctx: HandlerContext,
  room: string,
  fields: RoomEventFields,
  also: readonly string[] = [],
): Promise<void> {
  const members = await ctx.storage.rooms.members(room).catch(() => []);
  announce(ctx, room, [...members.map((m) => m.login), ...also], fields);
}

/**
 * Sends 202 with `quantity`, then one push per item, waiting for the client to read while a
 * long list would otherwise fill its outbound queue (which drops a client as too slow).
 */
export async function streamList<T>(
  ctx: HandlerContext,
  items: readonly T[],
  toPush: (item: T) => ServerPush,
): Promise<void> {
  const { session } = ctx;
  session.reply({ response: 202, quantity: items.length });
  const highWater = Math.min(STREAM_HIGH_WATER, Math.floor(ctx.limits.maxOutboundBytes / 2));
  for (const item of items) {
    if (session.queuedBytes > highWater) await session.drain(highWater);
    if (!session.open) return;
    session.push(toPush(item));
  }
}
