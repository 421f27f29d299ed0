/**
 * join (issue 13).
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import { announceToMembers } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"join","room":"#general"}`: 200 "Joined #general" (creating the room, owned by
 * the caller, when it does not exist; `invite_only` then sets it up invite-only), or 200
 * "Already a member of #general". Members get `room_event` joined. Refusals: 400 for a bad
 * new name, 409 for a look-alike of an existing room, 403 for an invite-only room without an
 * invite, a full room, or a user in too many rooms.
 */
export const join: Handler<"join"> = async (ctx, request) => {
  const result = await ctx.storage.rooms.join(request.room, ctx.session.login, {
    now: ctx.clock.now(),
    inviteOnly: request.invite_only === true,
    maxMembers: ctx.limits.maxRoomMembers,
    maxRoomsPerUser: ctx.limits.maxRoomsPerUser,
    maxNameLength: ctx.limits.maxRoomName,
  });
  const room = result.room.name;
  ctx.session.reply({
    response: Status.OK,
    alert: result.joined ? `Joined ${room}` : `Already a member of ${room}`,
    room,
    created: result.created,
  });
  if (result.joined) {
    await announceToMembers(ctx, room, { event: "joined", user_id: ctx.session.login });
  }
};
