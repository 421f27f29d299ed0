/**
 * quit (and its alias exit): says goodbye and ends the session in order.
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/** `{"action":"quit"}`: 200 "Bye", then the session ends. Allowed before login. */
export const quit: Handler<"quit"> = (ctx) => {
  ctx.session.reply({ response: Status.OK, alert: "Bye" });
  ctx.session.end("Client quit");
};
