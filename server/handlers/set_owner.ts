/**
 * set_owner (issue 13).
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import { announceToMembers } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"set_owner","room":"#team","user_id":"bob"}`: the owner hands the room to a
 * member; 200 "Owner of #team is now bob", and members get `room_event` owner. 403 for a
 * caller who is not the owner, 404 when bob is not a member.
 */
export const setOwner: Handler<"set_owner"> = async (ctx, request) => {
  const login = await ctx.storage.rooms.setOwner(request.room, ctx.session.login, request.user_id);
  const room = (await ctx.storage.rooms.get(request.room))?.name ?? request.room;
  ctx.session.reply({ response: Status.OK, alert: `Owner of ${room} is now ${login}`, room });
  await announceToMembers(ctx, room, { event: "owner", user_id: login });
};
