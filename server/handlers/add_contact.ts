/**
 * add_contact.
 *
 * @module
 */
import { loginKey, Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"add_contact","user_id":"bob"}`: 200 "Added to contacts: Bob"; 404 for no such
 * user, 409 when already a contact, 403 past the contact limit. The account's sessions with
 * `presence` are told when the contact comes online or goes offline from then on.
 */
export const addContact: Handler<"add_contact"> = async (ctx, request) => {
  const login = await ctx.storage.contacts.add(ctx.session.login, request.user_id, {
    max: ctx.limits.maxContacts,
  });
  // The account's sessions with `presence` hear of the new contact from now on.
  ctx.hub.watchPresence(ctx.session.key, [loginKey(login)]);
  ctx.session.reply({ response: Status.OK, alert: `Added to contacts: ${login}` });
};
