/**
 * What an error from `listener.accept()` means for the accept loop.
 *
 * Linux hands errors of a connection that failed before it was accepted to `accept()`
 * itself: a peer that connects and resets at once makes it fail with ENOTCONN or
 * ECONNABORTED, and accept(2) lists further network errors to "treat like EAGAIN by
 * retrying". Those concern one connection, which is already gone, so the loop goes on at
 * once; pausing for them would let anyone stall the server by resetting connections.
 * Only a shortage of descriptors or memory calls for a pause: retrying at once would spin
 * while nothing has been freed.
 *
 * @module
 */

/** `closed`: the listener is gone; `resources`: pause briefly; `connection`: skip at once. */
export type AcceptErrorKind = "closed" | "resources" | "connection";

/** errno names of resource exhaustion: the process or system is out of descriptors or memory. */
const RESOURCE_CODES: ReadonlySet<string> = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/**
 * Sorts an accept error. Anything that is neither the listener closing nor resource
 * exhaustion is taken to concern one connection: that is every error accept(2) passes on
 * from a pending connection (ECONNABORTED, ENOTCONN, ECONNRESET, EPROTO, ENETDOWN,
 * EHOSTUNREACH, ETIMEDOUT, EPERM from a firewall, …).
 *
 * @example
 * ```ts
 * import { acceptErrorKind } from "./_accept_errors.ts";
 * const error = Object.assign(new Error("Too many open files (os error 24)"), { code: "EMFILE" });
 * acceptErrorKind(error); // "resources"
 * ```
 */
export function acceptErrorKind(error: unknown): AcceptErrorKind {
  if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
    return "closed";
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && RESOURCE_CODES.has(code)) return "resources";
  return "connection";
}

/** The first pause after resource exhaustion, in ms; it doubles while the shortage lasts. */
export const FIRST_ACCEPT_PAUSE_MS = 5;
/** The longest pause, in ms: long enough to let sessions free descriptors, short enough to notice. */
export const MAX_ACCEPT_PAUSE_MS = 250;
