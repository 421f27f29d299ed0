/**
 * get_contacts: the contact list, streamed under backpressure.
 *
 * @module
 */
import { loginKey, Status } from "../../protocol/mod.ts";
import type { Handler } from "./context.ts";

/** A streamed list waits while more than this is queued for the client. */
const STREAM_HIGH_WATER = 64 * 1024;

/**
 * `{"action":"get_contacts"}`: 202 with `quantity`, then one `contact_list` push per contact
 * with whether it is online. A long list waits for the client to read instead of filling the
 * outbound queue, which would drop the client as too slow.
 */
export const getContacts: Handler<"get_contacts"> = async (ctx) => {
  const { session } = ctx;
  const contacts = await ctx.storage.contacts.list(session.login);
  session.reply({ response: Status.ACCEPTED, quantity: contacts.length });
  const highWater = Math.min(STREAM_HIGH_WATER, Math.floor(ctx.limits.maxOutboundBytes / 2));
  for (const login of contacts) {
    if (session.queuedBytes > highWater) await session.drain(highWater);
    if (!session.open) return;
    session.push({
      action: "contact_list",
      user_id: login,
      online: ctx.hub.isOnline(loginKey(login)),
    });
  }
};
