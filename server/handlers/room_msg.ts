/**
 * msg to a room (issue 13): routed through the hub to every `rooms` session of every member
 * at once, each into its own bounded queue, then stored (group commit) for the room's
 * history; the sender gets 200 once it is committed.
 *
 * @module
 */
import { type MsgMessage, type MsgRequest, roomKey, Status } from "../../protocol/mod.ts";
import { Envelope } from "../hub/envelope.ts";
import type { StoredMessage } from "../storage/ports.ts";
import type { HandlerContext } from "./context.ts";
import { checkFits } from "./_delivery.ts";

/**
 * `{"action":"msg","to":"#general","message":"hi"}` from a member: every other `rooms`
 * session of every member (the sender's other sessions included) gets the push with `from`
 * set by the server and `id` and `ts`; a session that is too slow drops out alone. 200 "OK"
 * once stored, with `id`, `ts` and `state` (`delivered` when a session of another member
 * took it, else `stored`) for a session with `ids`. 404 for no such room, 403 for a
 * non-member: nothing stored, nothing delivered. 413 for a push over the frame limit.
 */
export function roomMsg(ctx: HandlerContext, request: MsgRequest): Promise<void> {
  const { promise: routed, resolve } = Promise.withResolvers<void>();
  // The reply keeps its place among the session's deferred replies and waits for the commit;
  // the session's next request waits only until this one is routed, so that a sender's room
  // messages are routed (and given ids) in order, and still share group commits.
  ctx.session.defer(
    route(ctx, request).then(async (m) => {
      resolve();
      await ctx.storage.rooms.append(m.message);
      return () => reply(ctx, m.message, m.delivered);
    }, (error) => {
      resolve();
      throw error;
    }),
  );
  return routed;
}

type RoomMessage = StoredMessage & { room: string };

async function route(
  ctx: HandlerContext,
  request: MsgRequest,
): Promise<{ message: RoomMessage; delivered: boolean }> {
  const { session, hub } = ctx;
  const { name, keys } = await ctx.storage.rooms.audience(request.to, session.login);
  const m: RoomMessage = {
    id: ctx.ids.next(),
    ts: ctx.clock.now(),
    time: request.time,
    from: session.login,
    to: name,
    room: name,
    message: request.message,
  };
  const push: MsgMessage = {
    action: "msg",
    time: m.time,
    to: name,
    from: m.from,
    encoding: "utf-8",
    message: m.message,
    id: m.id,
    ts: m.ts,
  };
  // Room traffic is for `rooms` sessions only, all of which speak the jim dialect.
  const envelope = new Envelope(push, { requires: "rooms" });
  checkFits(ctx, m, envelope);
  const room = roomKey(name);
  const others = keys.filter((key) => key !== session.key);
  const result = hub.sendToRoom(room, others, envelope);
  hub.sendToRoom(room, [session.key], envelope, { except: session.id });
  return { message: m, delivered: result.delivered > 0 };
}

function reply(ctx: HandlerContext, m: RoomMessage, delivered: boolean): void {
  const { session } = ctx;
  if (session.caps.has("ids")) {
    session.reply({
      response: Status.OK,
      alert: "OK",
      id: m.id,
      ts: m.ts,
      state: delivered ? "delivered" : "stored",
    });
  } else {
    session.replyOk();
  }
}
