/**
 * The JIM chat server: {@linkcode JimServer}, the storage ports with their SQLite adapter
 * {@linkcode SqliteStorage}, the {@linkcode Hub} that knows who is online, account
 * administration, and the {@linkcode EventFeed}.
 *
 * @example
 * ```ts
 * import { addUser, JimServer, SqliteStorage } from "./mod.ts";
 * await using storage = SqliteStorage.open("jim-server.db");
 * await addUser(storage.users, "alice", "s3cret");
 * await using server = await JimServer.listen({ storage, port: 7777 });
 * for await (const event of server.events.subscribe({ types: ["login"] })) console.log(event);
 * ```
 *
 * @module
 */
export * from "./accounts.ts";
export * from "./clock.ts";
export * from "./cluster.ts";
export * from "./events.ts";
export * from "./limits.ts";
export * from "./server.ts";
export * from "./hub/envelope.ts";
export * from "./hub/hub.ts";
export * from "./hub/local_hub.ts";
export * from "./storage/errors.ts";
export * from "./storage/open_storage.ts";
export * from "./storage/ports.ts";
export * from "./storage/sqlite/mod.ts";
export { loginKey } from "../protocol/mod.ts";
export type { ScramCredentials } from "../protocol/mod.ts";
