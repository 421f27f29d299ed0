/**
 * del_contact.
 *
 * @module
 */
import { loginKey, Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"del_contact","user_id":"bob"}`: 200 "Removed from contacts: Bob"; 404 for no
 * such user or one not in the list. Presence pushes about the contact stop.
 */
export const delContact: Handler<"del_contact"> = async (ctx, request) => {
  const login = await ctx.storage.contacts.remove(ctx.session.login, request.user_id);
  ctx.hub.unwatchPresence(ctx.session.key, [loginKey(login)]);
  ctx.session.reply({ response: Status.OK, alert: `Removed from contacts: ${login}` });
};
