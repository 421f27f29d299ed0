/**
 * get_rooms (issue 13).
 *
 * @module
 */
import { streamList } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"get_rooms"}`: 202 with `quantity`, then one `room_list` push per room the
 * caller is a member of, ordered by name, with `last_id` (the newest message it may read).
 */
export const getRooms: Handler<"get_rooms"> = async (ctx) => {
  const rooms = await ctx.storage.rooms.roomsOf(ctx.session.login);
  await streamList(ctx, rooms, (r) => ({
    action: "room_list",
    room: r.name,
    owner: r.owner,
    members: r.members,
    invite_only: r.inviteOnly,
    history_visible: r.historyVisible,
    ...(r.lastId === undefined ? {} : { last_id: r.lastId }),
  }));
};
