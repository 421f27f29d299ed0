/**
 * PostgreSQL users: names under the name rules, credentials as derived outside, admin
 * lookups. A removal notifies every node through the change feed's channel, in the same
 * transaction, so the notification goes out exactly when the removal commits.
 *
 * @module
 */
import {
  JimError,
  loginKey,
  loginProblem,
  loginSkeleton,
  normalizeLogin,
  Status,
} from "../../../protocol/mod.ts";
import type {
  NameConflict,
  StoredCredentials,
  UserCredentials,
  UserRow,
  UserStore,
} from "../ports.ts";
import { isUniqueViolation, type PgContext, type Queryable } from "./_client.ts";
import type { PostgresChangeFeed } from "./_change_feed.ts";
import { CHANGES_CHANNEL } from "./_schema.ts";

interface DbUser {
  id: number;
  login: string;
  salt: Uint8Array;
  iterations: number;
  stored_key: Uint8Array;
  server_key: Uint8Array;
  legacy_hash: string | null;
  created: number;
  last_seen: number | null;
  last_ip: string | null;
}

function toUserRow(row: DbUser): UserRow {
  return {
    login: row.login,
    lastSeen: row.last_seen,
    lastIp: row.last_ip,
    created: row.created,
    legacy: row.legacy_hash !== null,
  };
}

/** bytea arrives as a Node Buffer; the ports speak plain Uint8Array. */
function bytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value);
}

/** 404 "No such client: X". */
export function noSuchClient(login: string): JimError {
  return new JimError(Status.NOT_FOUND, `No such client: ${login}`);
}

/** The PostgreSQL {@linkcode UserStore}. Created by `PostgresStorage`. */
export class PostgresUsers implements UserStore {
  readonly #ctx: PgContext;
  readonly #changes: PostgresChangeFeed;

  constructor(ctx: PgContext, changes: PostgresChangeFeed) {
    this.#ctx = ctx;
    this.#changes = changes;
  }

  add(login: string, credentials: StoredCredentials): Promise<UserRow> {
    return this.#ctx.run(async (sql) => {
      await this.#checkNew(sql, login);
      const display = normalizeLogin(login);
      const key = loginKey(display);
      const skeleton = loginSkeleton(display);
      const { scram, legacyHash } = credentials;
      const created = Date.now();
      try {
        await sql`INSERT INTO users (login, login_key, login_skeleton, salt, iterations,
            stored_key, server_key, legacy_hash, created)
          VALUES (${display}, ${key}, ${skeleton}, ${scram.salt}, ${scram.iterations},
            ${scram.storedKey}, ${scram.serverKey}, ${legacyHash}, ${created})`;
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        // Another node added the name (or a look-alike) after the check.
        await this.#checkFree(sql, key, skeleton, error);
        throw new JimError(Status.CONFLICT, `Client already exists: ${display}`, {
          cause: error,
        });
      }
      return { login: display, lastSeen: null, lastIp: null, created, legacy: legacyHash !== null };
    });
  }

  checkNewLogin(login: string): Promise<void> {
    return this.#ctx.run((sql) => this.#checkNew(sql, login));
  }

  setCredentials(login: string, credentials: StoredCredentials): Promise<void> {
    return this.#ctx.run(async (sql) => {
      const row = await this.#adminRow(sql, login);
      if (!row) throw noSuchClient(login);
      const { scram, legacyHash } = credentials;
      const result = await sql`UPDATE users SET salt = ${scram.salt},
          iterations = ${scram.iterations}, stored_key = ${scram.storedKey},
          server_key = ${scram.serverKey}, legacy_hash = ${legacyHash}
        WHERE id = ${row.id}`;
      if (result.count === 0) throw noSuchClient(login);
    });
  }

  remove(login: string): Promise<void> {
    return this.#ctx.run(async (sql) => {
      const row = await this.#adminRow(sql, login);
      if (!row) throw noSuchClient(login);
      const change = { kind: "user-removed" as const, login: row.login };
      await sql.begin(async (tx) => {
        const deleted = await tx`DELETE FROM users WHERE id = ${row.id}`;
        if (deleted.count === 0) throw noSuchClient(login);
        const payload = JSON.stringify({ origin: this.#ctx.origin, ...change });
        await tx`SELECT pg_notify(${CHANGES_CHANNEL}, ${payload})`;
      });
      this.#changes.noteOwn(change);
    });
  }

  get(login: string): Promise<UserRow | undefined> {
    return this.#ctx.run(async (sql) => {
      const row = await this.#adminRow(sql, login);
      return row ? toUserRow(row) : undefined;
    });
  }

  canonicalLogin(login: string): Promise<string | undefined> {
    return this.#ctx.run(async (sql) => {
      const [row] = await sql<{ login: string }[]>`
        SELECT login FROM users WHERE login_key = ${loginKey(login)}`;
      return row?.login;
    });
  }

  credentials(login: string): Promise<UserCredentials | undefined> {
    return this.#ctx.run(async (sql) => {
      const [row] = await sql<DbUser[]>`SELECT * FROM users WHERE login_key = ${loginKey(login)}`;
      if (!row) return undefined;
      return {
        login: row.login,
        scram: {
          salt: bytes(row.salt),
          iterations: row.iterations,
          storedKey: bytes(row.stored_key),
          serverKey: bytes(row.server_key),
        },
        legacyHash: row.legacy_hash,
        lastIp: row.last_ip,
      };
    });
  }

  list(): Promise<UserRow[]> {
    return this.#ctx.run(async (sql) => {
      const rows = await sql<DbUser[]>`
        SELECT login, last_seen, last_ip, created, legacy_hash FROM users
        ORDER BY created DESC, id DESC`;
      return rows.map(toUserRow);
    });
  }

  loginsAfter(after: string | undefined, limit: number): Promise<string[]> {
    return this.#ctx.run(async (sql) => {
      const rows = await sql<{ login: string }[]>`
        SELECT login FROM users WHERE login_key > ${after === undefined ? "" : loginKey(after)}
        ORDER BY login_key LIMIT ${Math.max(0, Math.trunc(limit))}`;
      return rows.map((row) => row.login);
    });
  }

  count(): Promise<number> {
    return this.#ctx.run(async (sql) => {
      const [row] = await sql<{ n: number }[]>`SELECT count(*) AS n FROM users`;
      return row!.n;
    });
  }

  nameConflicts(): Promise<NameConflict[]> {
    return this.#ctx.run(async (sql) => {
      const rows = await sql<{ login: string; name_conflict: string }[]>`
        SELECT login, name_conflict FROM users WHERE name_conflict IS NOT NULL
        ORDER BY created, id`;
      return rows.map((row) => ({
        login: row.login,
        conflictsWith: row.name_conflict,
        kind: loginKey(row.name_conflict) === loginKey(row.login) ? "same" : "lookalike",
      }));
    });
  }

  async #checkNew(sql: Queryable, login: string): Promise<void> {
    const problem = loginProblem(login);
    if (problem) throw new JimError(Status.BAD_REQUEST, problem);
    const display = normalizeLogin(login);
    await this.#checkFree(sql, loginKey(display), loginSkeleton(display));
  }

  async #checkFree(sql: Queryable, key: string, skeleton: string, cause?: unknown) {
    const rows = await sql<{ login: string; same: boolean }[]>`
      SELECT login, login_key = ${key} AS same FROM users
      WHERE login_key = ${key} OR login_skeleton = ${skeleton}
      ORDER BY login_key = ${key} DESC LIMIT 1`;
    const found = rows[0];
    if (found?.same) {
      throw new JimError(Status.CONFLICT, `Client already exists: ${found.login}`, { cause });
    }
    if (found) {
      throw new JimError(
        Status.CONFLICT,
        `Invalid login: looks like existing user ${found.login}`,
        { cause },
      );
    }
  }

  /**
   * The row an admin command means: the exact stored login first, so that an account whose
   * name collides with an older one (see nameConflicts) can still be removed or given a new
   * password; otherwise the row of the login's key.
   */
  async #adminRow(sql: Queryable, login: string): Promise<DbUser | undefined> {
    const [row] = await sql<DbUser[]>`
      SELECT * FROM users WHERE login = ${login} OR login_key = ${loginKey(login)}
      ORDER BY login = ${login} DESC LIMIT 1`;
    return row;
  }
}
