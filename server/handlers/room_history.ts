/**
 * history of a room (issue 13): the same page as a conversation's, for members only.
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import type { HandlerContext, RequestOf } from "./context.ts";
import { streamList } from "./_rooms.ts";

/**
 * `{"action":"history","with":"#general","before":1042,"limit":50}`: 202 with `quantity`
 * and `more`, then one `history_item` per message, ascending by id, without `state`. A member
 * sees what was sent since it joined, or everything when the room is `history_visible`.
 * 404 for no such room, 403 for a non-member, 404 "No such message: ID" for a cursor the
 * caller cannot see.
 */
export async function roomHistory(
  ctx: HandlerContext,
  request: RequestOf<"history">,
): Promise<void> {
  const page = await ctx.storage.rooms.history({
    caller: ctx.session.login,
    room: request.with!,
    ...(request.before === undefined ? {} : { before: request.before }),
    ...(request.after === undefined ? {} : { after: request.after }),
    limit: request.limit,
  });
  await streamList(ctx, page.items, (item) => ({
    action: "history_item",
    id: item.id,
    ts: item.ts,
    time: item.time,
    from: item.from,
    to: item.to,
    encoding: "utf-8",
    message: item.message,
  }), { response: Status.ACCEPTED, quantity: page.items.length, more: page.more });
}
