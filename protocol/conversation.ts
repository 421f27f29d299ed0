/**
 * The conversation additions to JIM (issue 12): capabilities announced at login, message ids
 * and server times, receipts, presence pushes and history pages. Types and the checks of what
 * a server sends; docs/protocol.md has the wire text with examples.
 *
 * @module
 */

/**
 * What a jim client may announce in the presence that starts its login, and what the server
 * answers it supports: `ids` (message ids and server times, the stored/delivered state),
 * `carbons` (copies of what the account's other sessions sent), `presence` (pushes when a
 * contact comes online or goes offline), `receipts` (delivery and read updates for what the
 * account sent) and `rooms` (room traffic, issue 13).
 */
export type Capability = "ids" | "carbons" | "presence" | "receipts" | "rooms";

/** Every capability, in the order of the protocol text. */
export const CAPABILITIES: readonly Capability[] = [
  "ids",
  "carbons",
  "presence",
  "receipts",
  "rooms",
];

/**
 * Whether `value` names a capability.
 *
 * @example
 * ```ts
 * import { isCapability } from "./conversation.ts";
 * isCapability("ids"); // true
 * isCapability("telepathy"); // false
 * ```
 */
export function isCapability(value: unknown): value is Capability {
  return typeof value === "string" && (CAPABILITIES as readonly string[]).includes(value);
}

/**
 * Where a message stands for its sender: `stored` (the server keeps it; no session of the
 * recipient has it yet), `delivered` (at least one session of the recipient got it), `read`
 * (the recipient marked the conversation read up to it or further).
 */
export type DeliveryState = "stored" | "delivered" | "read";

/** Every delivery state, from the least to the most advanced. */
export const DELIVERY_STATES: readonly DeliveryState[] = ["stored", "delivered", "read"];

/**
 * Whether `value` names a delivery state.
 *
 * @example
 * ```ts
 * import { isDeliveryState } from "./conversation.ts";
 * isDeliveryState("read"); // true
 * ```
 */
export function isDeliveryState(value: unknown): value is DeliveryState {
  return typeof value === "string" && (DELIVERY_STATES as readonly string[]).includes(value);
}

/**
 * A delivery or read update for a message this account sent (sessions with `receipts`), or,
 * with `own`, a read mark made by another session of this account.
 */
export interface ReceiptMessage {
  /** The action name. */
  action: "receipt";
  /** When the server sent it, Unix seconds (JIM's `time`). */
  time?: number;
  /** The message id; for `read`, the highest id read. */
  id: number;
  /** The other party: the recipient, or with `own` the sender whose messages were read. */
  user_id: string;
  /** `delivered` or `read`. */
  state: "delivered" | "read";
  /** Set when the reader is another session of this account. */
  own?: boolean;
}

/** A contact came online or went offline (sessions with `presence`). */
export interface PresencePushMessage {
  /** The action name. */
  action: "presence";
  /** The contact and where it stands now. */
  user: { account_name: string; status: "online" | "offline" };
}

/** One message of a history page, after a 202 with `quantity` to `history`. */
export interface HistoryItemMessage {
  /** The action name. */
  action: "history_item";
  /** The server's id of the message. */
  id: number;
  /** Server time in Unix milliseconds. */
  ts: number;
  /** The sender's time in Unix seconds, as JIM has it. */
  time: number;
  /** The sender. */
  from: string;
  /** The recipient. */
  to: string;
  /** Always "utf-8". */
  encoding?: string;
  /** The text. */
  message: string;
  /** For what the caller sent: stored/delivered/read; for what it received: delivered/read. */
  state?: DeliveryState;
}

/**
 * Whether `value` is a message id: a positive integer below 2^53.
 *
 * @example
 * ```ts
 * import { isMessageId } from "./conversation.ts";
 * isMessageId(1042); // true
 * isMessageId(0); // false
 * ```
 */
export function isMessageId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/**
 * Whether `value` is a server time: Unix milliseconds, a non-negative safe integer.
 *
 * @example
 * ```ts
 * import { isServerTime } from "./conversation.ts";
 * isServerTime(1764620000123); // true
 * ```
 */
export function isServerTime(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** The most items one history page may hold (the protocol's hard maximum). */
export const MAX_HISTORY_PAGE = 100;
