/**
 * The one schema migrator of jim's SQLite files: the server's database and the client's local
 * history both keep their schema version in `PRAGMA user_version` and step it up through a
 * list of migrations, all in one `BEGIN IMMEDIATE` transaction, so that two processes opening
 * a new file migrate it once and a failure leaves the file as it was.
 *
 * It takes the database structurally (anything with `exec` and `prepare`, such as
 * `node:sqlite`'s `DatabaseSync`), so common/ imports no `node:` module.
 *
 * @module
 */

/** What the migrator needs of a SQLite connection; `DatabaseSync` has it. */
export interface MigratableDatabase {
  /** Runs one or more SQL statements. */
  exec(sql: string): void;
  /** Prepares one statement. */
  prepare(sql: string): { get(): unknown };
}

/** One step of a schema: SQL to run, or a function for what SQL alone cannot do. */
export type Migration<DB extends MigratableDatabase = MigratableDatabase> =
  | string
  | ((db: DB) => void);

/** A file's schema, from version 0 (empty) to `migrations.length`. */
export interface Schema<DB extends MigratableDatabase = MigratableDatabase> {
  /** Migration `i` takes the schema from version `i` to `i + 1`; never edit a released one. */
  readonly migrations: readonly Migration<DB>[];
  /** The error for a file whose version is newer than this code's. */
  tooNew(found: number, latest: number): Error;
  /**
   * Work outside the version count, in the same transaction: derived data that must be
   * recomputed when something other than the schema changes (e.g. the server's name rules).
   * `needed` is asked before and after the migrations; it runs only against the latest schema.
   */
  refresh?: { needed(db: DB): boolean; run(db: DB): void };
}

/** What {@linkcode migrate} did. */
export interface MigrationResult {
  /** The version the file had. */
  from: number;
  /** The version it has now: the schema's latest. */
  to: number;
  /** Whether `refresh` ran. */
  refreshed: boolean;
}

/** The schema version recorded in the file. */
export function schemaVersion(db: MigratableDatabase): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number | bigint };
  return Number(row.user_version);
}

/**
 * Brings `db` to the latest version of `schema`, or leaves it alone when it is there already.
 *
 * @throws {Error} `schema.tooNew(...)` for a file written by newer code; whatever a migration
 *   throws, after rolling everything back.
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { migrate } from "./sqlite_migrations.ts";
 * const db = new DatabaseSync(":memory:");
 * const result = migrate(db, {
 *   migrations: ["CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL) STRICT"],
 *   tooNew: (found, latest) => new Error(`Cannot open notes: version ${found} > ${latest}`),
 * });
 * console.log(result); // { from: 0, to: 1, refreshed: false }
 * db.close();
 * ```
 */
export function migrate<DB extends MigratableDatabase>(
  db: DB,
  schema: Schema<DB>,
): MigrationResult {
  const latest = schema.migrations.length;
  const from = schemaVersion(db);
  if (from > latest) throw schema.tooNew(from, latest);
  if (from === latest && !(schema.refresh?.needed(db) ?? false)) {
    return { from, to: latest, refreshed: false };
  }
  // IMMEDIATE takes the write lock first: a second process waits, then finds the work done.
  db.exec("BEGIN IMMEDIATE");
  try {
    const start = schemaVersion(db);
    if (start > latest) throw schema.tooNew(start, latest);
    for (let version = start; version < latest; version++) {
      const migration = schema.migrations[version]!;
      if (typeof migration === "string") db.exec(migration);
      else migration(db);
      // PRAGMA takes no parameters; the number comes from this code, never from input.
      db.exec(`PRAGMA user_version = ${version + 1}`);
    }
    const refreshed = schema.refresh?.needed(db) ?? false;
    if (refreshed) schema.refresh!.run(db);
    db.exec("COMMIT");
    return { from, to: latest, refreshed };
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
