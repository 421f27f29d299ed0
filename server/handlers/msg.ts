/**
 * msg: one message to one account. It gets an id and a server time, is routed through the
 * hub to every live session of the recipient at once, and is stored (group commit) for the
 * history and, when no session took it, for the recipient's next login. The sender's other
 * sessions get a carbon; the sender gets 200 once the message is committed.
 *
 * @module
 */
import { JimError, loginKey, type MsgRequest, Status } from "../../protocol/mod.ts";
import type { StoredMessage } from "../storage/ports.ts";
import type { Handler, HandlerContext } from "./context.ts";
import { carbonEnvelope, checkFits, messageEnvelope } from "./_delivery.ts";
import { isRoomTarget } from "../../protocol/mod.ts";
import { roomMsg } from "./room_msg.ts";

/**
 * `{"action":"msg","to":"bob","message":"hi"}`: the recipient's sessions get the message with
 * `from` set to the sender (and, with `ids`, its `id` and `ts`). The sender gets 200 "OK"
 * when a session of the recipient took it, 200 "Stored for bob" when none did and it waits
 * for bob's next login; a session with `ids` gets `id`, `ts` and `state` too. An unknown
 * recipient is 404; under `--offline-messages reject` an offline one is 410 as in the seed;
 * a full backlog is 503 with nothing stored; a message that would exceed the frame limit in
 * any of its forms is 413. Routing never waits on the disk. When the store fails (the
 * database is down), a message a session took is still a 200 (the failure is logged); one
 * that no session took is the store's error, 503.
 */
export const msg: Handler<"msg"> = (ctx, request) => {
  // Rooms (issue 13): a `to` that starts with "#" is a room.
  if (isRoomTarget(request.to)) return roomMsg(ctx, request);
  // The reply waits for the commit; the session's next msg does not (see defer()).
  ctx.session.defer(route(ctx, request));
};

/** Routes at once when the recipient is online; resolves with the sending of the reply. */
function route(ctx: HandlerContext, request: MsgRequest): Promise<() => void> {
  try {
    const key = loginKey(request.to);
    const to = ctx.hub.onlineLogin(key);
    if (to === undefined) return offline(ctx, request, key);
    return send(ctx, request, to, key);
  } catch (error) {
    return Promise.reject(error);
  }
}

/** A recipient with no live session now: 404 for no such account, 410 under `reject`. */
async function offline(
  ctx: HandlerContext,
  request: MsgRequest,
  key: string,
): Promise<() => void> {
  const login = await ctx.storage.users.canonicalLogin(request.to);
  if (login === undefined) throw new JimError(Status.NOT_FOUND, `No such client: ${request.to}`);
  if (ctx.offlineMessages === "reject" || !ctx.storage.messages) {
    // The recipient may have logged in meanwhile.
    if (!ctx.hub.isOnline(key)) throw new JimError(Status.GONE, `Client not online: ${login}`);
  }
  return await send(ctx, request, ctx.hub.onlineLogin(key) ?? login, key);
}

function send(
  ctx: HandlerContext,
  request: MsgRequest,
  to: string,
  key: string,
): Promise<() => void> {
  const { session, hub } = ctx;
  const m: StoredMessage = {
    id: ctx.ids.next(),
    ts: ctx.clock.now(),
    time: request.time,
    from: session.login,
    to,
    message: request.message,
  };
  const envelope = messageEnvelope(m);
  checkFits(ctx, m, envelope);
  // A message to oneself reaches every session of the account, this one included.
  const self = key === session.key;
  const result = hub.sendToAccount(key, envelope);
  const delivered = result.delivered > 0;
  const store = ctx.storage.messages;
  if (!delivered && (ctx.offlineMessages === "reject" || !store)) {
    if (result.sessions === 0) throw new JimError(Status.GONE, `Client not online: ${to}`);
    throw new JimError(
      Status.UNAVAILABLE,
      `Message not delivered: ${to} is not reading fast enough`,
    );
  }
  if (delivered && !self) {
    hub.sendToAccount(session.key, carbonEnvelope(m, "delivered"), {
      except: session.id,
    });
  }
  if (!store) return Promise.resolve(() => reply(ctx, m, true));
  return store.append(m, { delivered, maxBacklog: ctx.limits.maxOfflineMessages }).then(
    () => () => {
      // A stored message's carbon waits for the commit: a full backlog stores nothing to copy.
      if (!delivered && !self) {
        hub.sendToAccount(session.key, carbonEnvelope(m, "stored"), { except: session.id });
      }
      reply(ctx, m, delivered);
    },
    (error) => {
      if (!delivered) throw error;
      // The recipient has it: chat goes on while the database is down; only the history
      // misses this message, which the log says.
      ctx.events.publish("error", {
        conn: session.info,
        message: `Cannot store message ${m.id} for the history: ${
          error instanceof Error ? error.message : String(error)
        }`,
      });
      return () => reply(ctx, m, true);
    },
  );
}

function reply(ctx: HandlerContext, m: StoredMessage, delivered: boolean): void {
  const { session } = ctx;
  const alert = delivered ? "OK" : `Stored for ${m.to}`;
  if (session.caps.has("ids")) {
    session.reply({
      response: Status.OK,
      alert,
      id: m.id,
      ts: m.ts,
      state: delivered ? "delivered" : "stored",
    });
  } else if (delivered) {
    session.replyOk();
  } else {
    session.reply({ response: Status.OK, alert });
  }
}
