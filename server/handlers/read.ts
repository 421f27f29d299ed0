/**
 * read: marks a conversation read up to a message, and tells the peer and the reader's other
 * sessions.
 *
 * @module
 */
import { loginKey } from "../../protocol/mod.ts";
import { noSuchMessage } from "../storage/message_checks.ts";
import type { Handler } from "./context.ts";
import { messageStore, receiptEnvelope } from "./_delivery.ts";

/**
 * `{"action":"read","user_id":"alice","id":1043}`: what alice sent this account up to message
 * 1043 is read. 200 "OK"; 404 "No such message: 1043" when 1043 is not a message from alice to
 * this account (unknown, forged, someone else's). Monotonic: an id at or below the current
 * mark is a 200 that changes nothing and tells nobody. Otherwise alice's sessions get a
 * `receipt` with `state` `read`, and this account's other sessions one with `own`.
 */
export const read: Handler<"read"> = async (ctx, request) => {
  const { session, hub } = ctx;
  const store = messageStore(ctx);
  const peer = await ctx.storage.users.canonicalLogin(request.user_id);
  if (peer === undefined) throw noSuchMessage(request.id);
  const { changed } = await store.markRead(session.login, peer, request.id);
  session.replyOk();
  if (!changed) return;
  const peerKey = loginKey(peer);
  if (peerKey !== session.key) {
    hub.sendToAccount(peerKey, receiptEnvelope(ctx, request.id, session.login, "read"));
  }
  hub.sendToAccount(session.key, receiptEnvelope(ctx, request.id, peer, "read", true), {
    except: session.id,
  });
};
