/**
 * SQLite users: names under the name rules, credentials as derived outside, admin lookups.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
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
import type { SqliteChangeFeed } from "./_change_feed.ts";
import { settle } from "./_sql.ts";

type Row = Record<string, unknown>;

function toUserRow(row: Row): UserRow {
  return {
    login: row.login as string,
    lastSeen: (row.last_seen as number | null) ?? null,
    lastIp: (row.last_ip as string | null) ?? null,
    created: row.created as number,
    legacy: row.legacy_hash !== null && row.legacy_hash !== undefined,
  };
}

function noSuchClient(login: string): JimError {
  return new JimError(Status.NOT_FOUND, `No such client: ${login}`);
}

function isConstraintError(error: unknown): boolean {
  return error instanceof Error && /constraint failed/i.test(error.message);
}

/** The SQLite {@linkcode UserStore}. Created by `SqliteStorage`. */
export class SqliteUsers implements UserStore {
  readonly #q: ReturnType<typeof prepare>;
  readonly #changes: SqliteChangeFeed;

  constructor(db: DatabaseSync, changes: SqliteChangeFeed) {
    this.#q = prepare(db);
    this.#changes = changes;
  }

  add(login: string, credentials: StoredCredentials): Promise<UserRow> {
    return settle(() => {
      this.#checkNew(login);
      const display = normalizeLogin(login);
      const key = loginKey(display);
      const skeleton = loginSkeleton(display);
      const { scram, legacyHash } = credentials;
      const created = Date.now();
      try {
        this.#q.insertUser.run(
          display,
          key,
          skeleton,
          scram.salt,
          scram.iterations,
          scram.storedKey,
          scram.serverKey,
          legacyHash,
          created,
        );
      } catch (error) {
        if (isConstraintError(error)) {
          // Another process added the name (or a look-alike) after the check.
          this.#checkFree(key, skeleton, error);
          throw new JimError(Status.CONFLICT, `Client already exists: ${display}`, {
            cause: error,
          });
        }
        throw error;
      }
      return { login: display, lastSeen: null, lastIp: null, created, legacy: legacyHash !== null };
    });
  }

  checkNewLogin(login: string): Promise<void> {
    return settle(() => this.#checkNew(login));
  }

  setCredentials(login: string, credentials: StoredCredentials): Promise<void> {
    return settle(() => {
      const row = this.#adminRow(login);
      if (!row) throw noSuchClient(login);
      const { scram, legacyHash } = credentials;
      const result = this.#q.updateCredentials.run(
        scram.salt,
        scram.iterations,
        scram.storedKey,
        scram.serverKey,
        legacyHash,
        row.id as number,
      );
      if (result.changes === 0) throw noSuchClient(login);
    });
  }

  remove(login: string): Promise<void> {
    return settle(() => {
      const row = this.#adminRow(login);
      if (!row) throw noSuchClient(login);
      const result = this.#q.deleteUser.run(row.id as number);
      if (result.changes === 0) throw noSuchClient(login);
      this.#changes.note({ kind: "user-removed", login: row.login as string });
    });
  }

  get(login: string): Promise<UserRow | undefined> {
    return settle(() => {
      const row = this.#adminRow(login);
      return row ? toUserRow(row) : undefined;
    });
  }

  canonicalLogin(login: string): Promise<string | undefined> {
    return settle(() => this.#q.loginByKey.get(loginKey(login))?.login as string | undefined);
  }

  credentials(login: string): Promise<UserCredentials | undefined> {
    return settle(() => {
      const row = this.#q.userByKey.get(loginKey(login));
      if (!row) return undefined;
      return {
        login: row.login as string,
        scram: {
          salt: row.salt as Uint8Array,
          iterations: row.iterations as number,
          storedKey: row.stored_key as Uint8Array,
          serverKey: row.server_key as Uint8Array,
        },
        legacyHash: (row.legacy_hash as string | null) ?? null,
        lastIp: (row.last_ip as string | null) ?? null,
      };
    });
  }

  list(): Promise<UserRow[]> {
    return settle(() => this.#q.listUsers.all().map(toUserRow));
  }

  loginsAfter(after: string | undefined, limit: number): Promise<string[]> {
    return settle(() =>
      this.#q.loginsAfter.all(after === undefined ? "" : loginKey(after), limit)
        .map((row) => row.login as string)
    );
  }

  count(): Promise<number> {
    return settle(() => this.#q.countUsers.get()!.n as number);
  }

  nameConflicts(): Promise<NameConflict[]> {
    return settle(() =>
      this.#q.conflicts.all().map((row) => {
        const older = row.name_conflict as string;
        return {
          login: row.login as string,
          conflictsWith: older,
          kind: loginKey(older) === loginKey(row.login as string) ? "same" : "lookalike",
        };
      })
    );
  }

  #checkNew(login: string): void {
    const problem = loginProblem(login);
    if (problem) throw new JimError(Status.BAD_REQUEST, problem);
    const display = normalizeLogin(login);
    this.#checkFree(loginKey(display), loginSkeleton(display));
  }

  #checkFree(key: string, skeleton: string, cause?: unknown): void {
    const same = this.#q.loginByKey.get(key);
    if (same) {
      throw new JimError(Status.CONFLICT, `Client already exists: ${same.login}`, { cause });
    }
    const alike = this.#q.loginBySkeleton.get(skeleton);
    if (alike) {
      throw new JimError(
        Status.CONFLICT,
        `Invalid login: looks like existing user ${alike.login}`,
        { cause },
      );
    }
  }

  /**
   * The row an admin command means: the exact stored login first, so that an account whose
   * name collides with an older one (see nameConflicts) can still be removed or given a new
   * password; otherwise the row of the login's key.
   */
  #adminRow(login: string): Row | undefined {
    return this.#q.userByExactLogin.get(login) ?? this.#q.userByKey.get(loginKey(login));
  }
}

function prepare(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  return {
    userByKey: p("SELECT * FROM users WHERE login_key = ?"),
    userByExactLogin: p("SELECT * FROM users WHERE login = ? COLLATE BINARY"),
    loginByKey: p("SELECT id, login FROM users WHERE login_key = ?"),
    loginBySkeleton: p("SELECT login FROM users WHERE login_skeleton = ?"),
    conflicts: p(
      "SELECT login, name_conflict FROM users WHERE name_conflict IS NOT NULL ORDER BY created, id",
    ),
    insertUser: p(
      `INSERT INTO users (login, login_key, login_skeleton, salt, iterations, stored_key,
         server_key, legacy_hash, created)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateCredentials: p(
      `UPDATE users SET salt = ?, iterations = ?, stored_key = ?, server_key = ?, legacy_hash = ?
       WHERE id = ?`,
    ),
    deleteUser: p("DELETE FROM users WHERE id = ?"),
    listUsers: p(
      "SELECT login, last_seen, last_ip, created, legacy_hash FROM users ORDER BY created DESC, id DESC",
    ),
    countUsers: p("SELECT count(*) AS n FROM users"),
    loginsAfter: p("SELECT login FROM users WHERE login_key > ? ORDER BY login_key LIMIT ?"),
  };
}
