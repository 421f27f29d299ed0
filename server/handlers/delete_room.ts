/**
 * delete_room (issue 13).
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import { announce } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"delete_room","room":"#team"}`: the owner deletes the room with its members,
 * invites and messages; 200 "Deleted #team". Every member's `rooms` sessions, online now,
 * get `room_event` deleted. 403 for a caller who is not the owner.
 */
export const deleteRoom: Handler<"delete_room"> = async (ctx, request) => {
  const room = (await ctx.storage.rooms.get(request.room))?.name ?? request.room;
  const by = ctx.session.login;
  const logins = await ctx.storage.rooms.delete(request.room, by);
  ctx.session.reply({ response: Status.OK, alert: `Deleted ${room}`, room });
  announce(ctx, room, logins, { event: "deleted", by });
};
