/**
 * The JIM chat server: {@linkcode JimServer}, its SQLite {@linkcode Store} and its
 * {@linkcode EventFeed}.
 *
 * @example
 * ```ts
 * import { JimServer, Store } from "./mod.ts";
 * using store = Store.open("jim-server.db");
 * await store.addUser("alice", "s3cret");
 * await using server = await JimServer.listen({ store, port: 7777 });
 * for await (const event of server.events.subscribe({ types: ["login"] })) console.log(event);
 * ```
 *
 * @module
 */
export * from "./clock.ts";
export * from "./events.ts";
export * from "./limits.ts";
export * from "./server.ts";
export * from "./store.ts";
export type { ScramCredentials } from "../protocol/mod.ts";
