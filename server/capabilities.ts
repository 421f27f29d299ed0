/**
 * The capabilities this server supports (issue 12): a login's 401 to presence answers the
 * subset of those the client announced, and that subset is the session's for its lifetime.
 * A client that announces nothing gets exactly the seed dialect.
 *
 * @module
 */
import type { Capability } from "../protocol/mod.ts";

/**
 * What the server implements. `presence` (presence push) and `rooms` (issue 13) join the set
 * when their features land; a capability is listed only once it works end to end.
 */
export const SERVER_CAPABILITIES: ReadonlySet<Capability> = Object.freeze(
  new Set<Capability>([
    // issue 12, messaging: ids and server times, carbons, receipts.
    "ids",
    "carbons",
    "receipts",
    // Rooms (issue 13): room messages and room events.
    "rooms",
  ]),
);

/**
 * The capabilities of `announced` that `supported` has, in announced order.
 *
 * @example
 * ```ts
 * import { SERVER_CAPABILITIES, supportedSubset } from "./capabilities.ts";
 * supportedSubset(["rooms", "ids"], SERVER_CAPABILITIES); // ["ids"] until rooms land
 * ```
 */
export function supportedSubset(
  announced: readonly Capability[],
  supported: ReadonlySet<Capability>,
): Capability[] {
  return announced.filter((c) => supported.has(c));
}
