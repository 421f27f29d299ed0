/**
 * kick (issue 13).
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import { announceToMembers } from "./_rooms.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"kick","room":"#team","user_id":"bob"}`: the owner removes a member (and its
 * pending invite); 200 "Removed bob from #team". Members and bob's sessions get `room_event`
 * kicked. 403 for a caller who is not the owner, 404 when bob is not a member, 400 for
 * kicking oneself.
 */
export const kick: Handler<"kick"> = async (ctx, request) => {
  const by = ctx.session.login;
  const login = await ctx.storage.rooms.kick(request.room, by, request.user_id);
  const room = (await ctx.storage.rooms.get(request.room))?.name ?? request.room;
  ctx.session.reply({ response: Status.OK, alert: `Removed ${login} from ${room}`, room });
  await announceToMembers(ctx, room, { event: "kicked", user_id: login, by }, [login]);
};
