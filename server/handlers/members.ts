/**
 * members (issue 13).
 *
 * @module
 */
import { loginKey } from "../../protocol/mod.ts";
import { streamList } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"members","room":"#general"}`: 202 with `quantity`, then one `room_member` push
 * per member, ordered by login, with whether it owns the room and is online. Members only:
 * 404 for no such room, 403 for a non-member.
 */
export const members: Handler<"members"> = async (ctx, request) => {
  const rows = await ctx.storage.rooms.members(request.room, ctx.session.login);
  const room = (await ctx.storage.rooms.get(request.room))?.name ?? request.room;
  await streamList(ctx, rows, (m) => ({
    action: "room_member",
    room,
    user_id: m.login,
    owner: m.owner,
    online: ctx.hub.isOnline(loginKey(m.login)),
  }));
};
