/**
 * The offline backlog of a session that just logged in: what was stored for its account and
 * not yet delivered, in id order, once per session.
 *
 * @module
 */
import { loginKey } from "../../protocol/mod.ts";
import type { StoredMessage } from "../storage/ports.ts";
import type { HandlerContext } from "./context.ts";
import { messageEnvelope, receiptEnvelope } from "./_delivery.ts";

/** Messages read from the store at a time. */
const PAGE = 100;

/**
 * Delivers the account's undelivered messages to `ctx.session`, oldest first, each as a msg
 * push (with `"stored":true` for a session with `ids`) at the client's pace, marks them
 * delivered and sends the senders' sessions a `delivered` receipt. A page is marked once its
 * messages were queued for the client, so a session that drops midway leaves the rest for the
 * next login. Resolves when the backlog is empty or the session has closed.
 *
 * @example
 * ```ts ignore
 * await deliverBacklog(ctx); // right after the 200 that ends the login
 * ```
 */
export async function deliverBacklog(ctx: HandlerContext): Promise<void> {
  const store = ctx.storage.messages;
  if (!store) return;
  const { session, hub } = ctx;
  let after = 0;
  for (;;) {
    const page = await store.undelivered(session.login, { after, limit: PAGE });
    if (page.length === 0) return;
    const handed: StoredMessage[] = [];
    for (const m of page) {
      if (!await session.deliverPaced(messageEnvelope(m, { stored: true }))) break;
      handed.push(m);
      after = m.id;
    }
    if (handed.length > 0) {
      await store.markDelivered(session.login, handed.map((m) => m.id));
      for (const m of handed) {
        hub.sendToAccount(
          loginKey(m.from),
          receiptEnvelope(ctx, m.id, session.login, "delivered"),
        );
      }
    }
    if (handed.length < page.length) return;
  }
}
