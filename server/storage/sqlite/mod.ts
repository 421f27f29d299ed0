/**
 * The SQLite adapter of server/storage/ports.ts.
 *
 * @example
 * ```ts
 * import { SqliteStorage } from "./mod.ts";
 * await using storage = SqliteStorage.open("jim-server.db");
 * console.log(await storage.users.count());
 * ```
 *
 * @module
 */
export { SqliteStorage, type SqliteStorageOptions } from "./sqlite_storage.ts";
export { NAME_RULES_VERSION, SCHEMA_VERSION } from "./_schema.ts";
