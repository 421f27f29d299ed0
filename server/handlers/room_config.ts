/**
 * room_config (issue 13).
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import { announce } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"room_config","room":"#team","history_visible":true}`: the owner changes
 * `invite_only` and/or `history_visible`; 200 "Updated #team" with both settings, and
 * members get `room_event` config. 403 for a caller who is not the owner.
 */
export const roomConfig: Handler<"room_config"> = async (ctx, request) => {
  const row = await ctx.storage.rooms.configure(request.room, ctx.session.login, {
    inviteOnly: request.invite_only,
    historyVisible: request.history_visible,
  });
  const settings = { invite_only: row.inviteOnly, history_visible: row.historyVisible };
  ctx.session.reply({
    response: Status.OK,
    alert: `Updated ${row.name}`,
    room: row.name,
    ...settings,
  });
  const members = await ctx.storage.rooms.members(row.name);
  announce(ctx, row.name, members.map((m) => m.login), { event: "config", ...settings });
};
