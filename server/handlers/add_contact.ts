/**
 * add_contact.
 *
 * @module
 */
import { Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/**
 * `{"action":"add_contact","user_id":"bob"}`: 200 "Added to contacts: Bob"; 404 for no such
 * user, 409 when already a contact, 403 past the contact limit.
 */
export const addContact: Handler<"add_contact"> = async (ctx, request) => {
  const login = await ctx.storage.contacts.add(ctx.session.login, request.user_id, {
    max: ctx.limits.maxContacts,
  });
  ctx.session.reply({ response: Status.OK, alert: `Added to contacts: ${login}` });
};
