/**
 * invite (issue 13).
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import { announce } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"invite","room":"#team","user_id":"bob"}`: a member invites a user; 200
 * "Invited bob to #team", and bob's `rooms` sessions get `room_event` invited. 404 for no
 * such room or user, 403 for an inviter who is not a member, 409 when bob is a member.
 */
export const invite: Handler<"invite"> = async (ctx, request) => {
  const by = ctx.session.login;
  const login = await ctx.storage.rooms.invite(request.room, by, request.user_id);
  const room = (await ctx.storage.rooms.get(request.room))?.name ?? request.room;
  ctx.session.reply({ response: Status.OK, alert: `Invited ${login} to ${room}`, room });
  announce(ctx, room, [login], { event: "invited", user_id: login, by });
};
