/**
 * msg: one message to one account, routed through the hub to every live session of it.
 *
 * @module
 */
import { JimError, loginKey, Status } from "../../protocol/mod.ts";
import { Envelope } from "../hub/envelope.ts";
import type { Handler, HandlerContext } from "./context.ts";

/**
 * `{"action":"msg","to":"bob","message":"hi"}`: the recipient's sessions get the message with
 * `from` set to the sender, and the sender gets 200. An unknown recipient is 404, one with no
 * live session 410, one whose every session is too slow 503, and a message that would exceed
 * the frame limit with `from` and `encoding` added 413. Routing never waits on the disk.
 */
export const msg: Handler<"msg"> = (ctx, request) => {
  const key = loginKey(request.to);
  const to = ctx.hub.onlineLogin(key);
  if (to === undefined) return notOnline(ctx, request.to);
  const envelope = new Envelope({
    action: "msg",
    time: request.time,
    to,
    from: ctx.session.login,
    encoding: "utf-8",
    message: request.message,
  });
  // The request fitted; what the recipient gets has `from` and `encoding` added, and a
  // client drops a connection whose frame exceeds what it accepts.
  const max = ctx.limits.maxFrameBytes;
  if (envelope.frame().length > max) {
    throw new JimError(
      Status.TOO_LARGE,
      `Message not delivered: with sender and encoding added it exceeds ${max} bytes`,
    );
  }
  const result = ctx.hub.sendToAccount(key, envelope);
  if (result.delivered === 0) {
    if (result.sessions === 0) return notOnline(ctx, request.to);
    throw new JimError(
      Status.UNAVAILABLE,
      `Message not delivered: ${to} is not reading fast enough`,
    );
  }
  ctx.session.replyOk();
};

/** 404 for no such account, else 410 with the login in its display case. */
async function notOnline(ctx: HandlerContext, to: string): Promise<void> {
  const login = await ctx.storage.users.canonicalLogin(to);
  if (login === undefined) throw new JimError(Status.NOT_FOUND, `No such client: ${to}`);
  throw new JimError(Status.GONE, `Client not online: ${login}`);
}
