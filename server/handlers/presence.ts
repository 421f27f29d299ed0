/**
 * presence after login: the client says it is still there (the answer to a probe).
 *
 * @module
 */
import { JimError, loginKey, Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"presence","user":{"account_name":"alice"}}` on a logged-in session: 200, and
 * the account's last-seen time moves on. Another account's name is 400. (Before login,
 * presence starts the login instead.)
 */
export const presence: Handler<"presence"> = (ctx, request) => {
  const { session } = ctx;
  if (loginKey(request.user.account_name) !== session.key) {
    throw new JimError(
      Status.BAD_REQUEST,
      `Invalid field: user.account_name must be this session's login, ${session.login}`,
    );
  }
  ctx.storage.logins.seen(session.login, ctx.clock.now());
  session.replyOk();
};
