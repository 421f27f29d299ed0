/**
 * Test support: the seed's rules on a jim server for the tests written for them (issue 6):
 * a message to someone offline is refused (410) rather than stored, and one session per
 * account (409 "Client already online"). Issue 12 made storing and several sessions the
 * server's defaults; the conversation tests cover those.
 *
 * @module
 */
import type { TestServerOptions } from "../server/testing.ts";

/** `options` with `offlineMessages: "reject"` and `maxSessionsPerUser: 1` added. */
export function seedRules(options: TestServerOptions): TestServerOptions {
  return {
    ...options,
    offlineMessages: "reject",
    limits: { maxSessionsPerUser: 1, ...options.limits },
  };
}
