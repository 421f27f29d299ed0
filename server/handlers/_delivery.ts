/**
 * What the messaging handlers (msg, read, history) and the backlog share: the envelopes of a
 * message, a carbon and a receipt, and the frame-size rule that every form of a message must
 * fit in.
 *
 * @module
 */
import {
  type DeliveryState,
  encodeFrame,
  JimError,
  type MsgMessage,
  type ReceiptMessage,
  Status,
} from "../../protocol/mod.ts";
import { Envelope } from "../hub/envelope.ts";
import type { MessageStore, StoredMessage } from "../storage/ports.ts";
import type { HandlerContext } from "./context.ts";

function push(m: StoredMessage): MsgMessage {
  return {
    action: "msg",
    time: m.time,
    to: m.to,
    from: m.from,
    encoding: "utf-8",
    message: m.message,
  };
}

/**
 * A message as its recipient's sessions get it: the seed push, with `id` and `ts` (and
 * `stored` for the offline backlog) for sessions with `ids`.
 */
export function messageEnvelope(m: StoredMessage, options: { stored?: boolean } = {}): Envelope {
  return new Envelope(push(m), {
    ids: options.stored ? { id: m.id, ts: m.ts, stored: true } : { id: m.id, ts: m.ts },
  });
}

/**
 * A copy of a message for the sender's other sessions (`carbons` only): the recipient's push
 * with `carbon` and the state as known when it was routed.
 */
export function carbonEnvelope(m: StoredMessage, state: DeliveryState): Envelope {
  return new Envelope({ ...push(m), carbon: true, state }, {
    ids: { id: m.id, ts: m.ts },
    requires: "carbons",
  });
}

/** A delivery or read update (`receipts` only). */
export function receiptEnvelope(
  ctx: HandlerContext,
  id: number,
  userId: string,
  state: "delivered" | "read",
  own = false,
): Envelope<ReceiptMessage> {
  const receipt: ReceiptMessage = {
    action: "receipt",
    time: Math.floor(ctx.clock.now() / 1000),
    id,
    user_id: userId,
    state,
    ...(own ? { own: true } : {}),
  };
  return new Envelope(receipt, { requires: "receipts" });
}

/** What the added fields of the longest form of a message (a carbon, a history item) take. */
const ADDED_BYTES = 160;

/**
 * Refuses with 413 a message some form of which would exceed the frame limit: the push with
 * `from`, `encoding`, `id` and `ts`, the carbon, the history item. A client drops a
 * connection whose frame exceeds what it accepts.
 */
export function checkFits(ctx: HandlerContext, m: StoredMessage, seed: Envelope): void {
  const max = ctx.limits.maxFrameBytes;
  const base = seed.frame().length;
  // Only a message near the limit is encoded again in its longer forms.
  if (base + ADDED_BYTES <= max) return;
  const longest = Math.max(
    base,
    encodeFrame({ ...push(m), id: m.id, ts: m.ts, carbon: true, state: "delivered" }).length,
    encodeFrame({
      action: "history_item",
      id: m.id,
      ts: m.ts,
      time: m.time,
      from: m.from,
      to: m.to,
      encoding: "utf-8",
      message: m.message,
      state: "delivered",
    }).length,
  );
  if (longest > max) {
    throw new JimError(
      Status.TOO_LARGE,
      `Message not delivered: with sender and encoding added it exceeds ${max} bytes`,
    );
  }
}

/** The message store, or 503 on a server whose storage keeps no messages. */
export function messageStore(ctx: HandlerContext): MessageStore {
  const store = ctx.storage.messages;
  if (!store) {
    throw new JimError(Status.UNAVAILABLE, "Messages are not kept on this server");
  }
  return store;
}
