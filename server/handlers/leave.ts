/**
 * leave (issue 13).
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import { announce, announceToMembers } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"leave","room":"#general"}`: 200 "Left #general". Members and the leaver's
 * sessions get `room_event` left; when the owner left, `room_event` owner names the member
 * who took over. The last member's leaving deletes the room. 404 for no such room, 403 for
 * one the caller is not in.
 */
export const leave: Handler<"leave"> = async (ctx, request) => {
  const login = ctx.session.login;
  const result = await ctx.storage.rooms.leave(request.room, login);
  const room = result.name;
  ctx.session.reply({ response: Status.OK, alert: `Left ${room}`, room });
  if (result.deleted) {
    announce(ctx, room, [login], { event: "left", user_id: login });
    return;
  }
  await announceToMembers(ctx, room, { event: "left", user_id: login }, [login]);
  if (result.newOwner !== undefined) {
    await announceToMembers(ctx, room, { event: "owner", user_id: result.newOwner });
  }
};
