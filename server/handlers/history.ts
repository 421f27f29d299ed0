/**
 * history: a page of the caller's stored conversations, streamed under backpressure.
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";
import { messageStore } from "./_delivery.ts";
import { isRoomTarget } from "../../protocol/mod.ts";
import { roomHistory } from "./room_history.ts";

/** A streamed page waits while more than this is queued for the client. */
const STREAM_HIGH_WATER = 64 * 1024;

/**
 * `{"action":"history","with":"bob","before":1042,"limit":50}`: 202 with `quantity` and
 * `more`, then one `history_item` per message, ascending by id, each with its `state` from
 * the caller's side. Only the caller's own conversations are visible: a `with` the caller
 * never talked to is an empty page, and a `before` or `after` that is not a message the
 * caller can see is 404 "No such message: ID". Without `with`, every conversation of the
 * caller. The limit was checked by validation (1 to `--history-page-max`).
 */
export const history: Handler<"history"> = async (ctx, request) => {
  // Rooms (issue 13): a `with` that starts with "#" is a room's history.
  if (isRoomTarget(request.with)) return await roomHistory(ctx, request);
  const { session } = ctx;
  const page = await messageStore(ctx).history({
    caller: session.login,
    ...(request.with === undefined ? {} : { with: request.with }),
    ...(request.before === undefined ? {} : { before: request.before }),
    ...(request.after === undefined ? {} : { after: request.after }),
    limit: request.limit,
  });
  session.reply({ response: Status.ACCEPTED, quantity: page.items.length, more: page.more });
  const highWater = Math.min(STREAM_HIGH_WATER, Math.floor(ctx.limits.maxOutboundBytes / 2));
  for (const item of page.items) {
    if (session.queuedBytes > highWater) await session.drain(highWater);
    if (!session.open) return;
    session.push({
      action: "history_item",
      id: item.id,
      ts: item.ts,
      time: item.time,
      from: item.from,
      to: item.to,
      encoding: "utf-8",
      message: item.message,
      state: item.state,
    });
  }
};
