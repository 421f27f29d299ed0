/**
 * The PostgreSQL adapter of server/storage/ports.ts, for a cluster of jim-server nodes on one
 * database. Loaded only for a `postgres://` database (see `openStorage()`), so a server on
 * SQLite never reads the client library.
 *
 * @example
 * ```ts ignore
 * import { PostgresStorage } from "./mod.ts";
 * await using storage = await PostgresStorage.open("postgres://jim@127.0.0.1:5432/jim", {
 *   pool: 10,
 * });
 * console.log(await storage.users.count());
 * ```
 *
 * @module
 */
export {
  DEFAULT_POOL_SIZE,
  PostgresStorage,
  type PostgresStorageOptions,
} from "./postgres_storage.ts";
export { SCHEMA_VERSION } from "./_schema.ts";
