/**
 * The server's SQLite storage: users with their SCRAM credentials, contacts and login history.
 *
 * Several processes may open the same file at once (the running server and `jim-server user
 * add`): WAL mode lets readers and one writer proceed together, and the busy timeout makes a
 * second writer wait instead of failing. The server reads credentials at login time, so a user
 * added or a password changed by another process takes effect at the next login.
 *
 * Times are Unix milliseconds.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  deriveScramCredentials,
  JimError,
  legacyStoredHash,
  loginKey,
  loginProblem,
  loginSkeleton,
  MAX_PASSWORD_LENGTH,
  normalizeLogin,
  type ScramCredentials,
  Status,
} from "../protocol/mod.ts";

export { loginKey };

/** A user as the admin tools show it. */
export interface UserRow {
  /** The login in its display case. */
  login: string;
  /** Last login or logout, Unix ms; null if never seen. */
  lastSeen: number | null;
  /** Address of the last login; null if never seen. */
  lastIp: string | null;
  /** When the user was added, Unix ms. */
  created: number;
  /** Whether a legacy (seed HMAC-MD5) hash is stored. */
  legacy: boolean;
}

/** What a login needs: read fresh from the database at each login. */
export interface UserCredentials {
  /** The login in display case. */
  login: string;
  /** SCRAM-SHA-256 salt, iteration count, StoredKey and ServerKey. */
  scram: ScramCredentials;
  /** The seed's password-equivalent hash, only for users allowed to log in from seed clients. */
  legacyHash: string | null;
  /** Address of the last successful login, or null. */
  lastIp: string | null;
}

/** One row of the login history. */
export interface LoginRecord {
  /** The login in display case. */
  login: string;
  /** When, Unix ms. */
  time: number;
  /** The client's address. */
  ip: string;
  /** The client's port. */
  port: number;
}

/** Options for setting a password. */
export interface PasswordOptions {
  /** Also store the seed's legacy hash. For `setPassword` it defaults to keeping the user's current choice. */
  legacy?: boolean;
  /** PBKDF2 iteration count; 600,000 by default. */
  iterations?: number;
}

/** Options for {@linkcode Store.open}. */
export interface StoreOptions {
  /** Milliseconds to wait for another process's write lock; 5000 by default. */
  busyTimeoutMs?: number;
}

/** Longest accepted password, in UTF-16 units: the protocol's one limit. */
export { MAX_PASSWORD_LENGTH };

/** An account created before the name rules whose name another account already has. */
export interface NameConflict {
  /** The account's login. */
  login: string;
  /** The account that keeps the name, or that it looks like. */
  conflictsWith: string;
  /**
   * "same": the same name under PRECIS (e.g. fullwidth `ａlice` beside `alice`): the name now
   * reaches the other account, so this one cannot log in until it is removed or renamed.
   * "lookalike": a different account with the same UTS #39 skeleton; it keeps working.
   */
  kind: "same" | "lookalike";
}

/**
 * Which rules computed the stored login_key and login_skeleton columns. When the rules or
 * their Unicode data change, {@linkcode Store.open} recomputes both for every row.
 */
export const NAME_RULES_VERSION = "precis-8265/uts39-17.0.0/confusables-13.0.0/1";

type Migration = string | ((db: DatabaseSync) => void);

const MIGRATIONS: readonly Migration[] = [
  // 1: initial schema.
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE COLLATE NOCASE,
    login_key TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL,
    server_key BLOB NOT NULL,
    legacy_hash TEXT,
    created INTEGER NOT NULL,
    last_seen INTEGER,
    last_ip TEXT
  ) STRICT;
  CREATE TABLE contacts (
    owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    added INTEGER NOT NULL,
    PRIMARY KEY (owner_id, contact_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX contacts_contact ON contacts(contact_id);
  CREATE TABLE login_history (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    time INTEGER NOT NULL,
    ip TEXT NOT NULL,
    port INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX login_history_user_time ON login_history(user_id, time);
  `,
  // 2: look-alike names. The skeleton is unique where set; a row whose name collides with an
  // older one keeps a NULL skeleton and says with whom in name_conflict. The columns are
  // filled by refreshNameKeys(), which runs after every migration.
  `
  ALTER TABLE users ADD COLUMN login_skeleton TEXT;
  ALTER TABLE users ADD COLUMN name_conflict TEXT;
  CREATE UNIQUE INDEX users_login_skeleton ON users(login_skeleton);
  CREATE TABLE name_rules (id INTEGER PRIMARY KEY CHECK (id = 1), version TEXT NOT NULL) STRICT;
  `,
  // 3: secrets the server keeps across restarts (the key of the decoy SCRAM salts).
  `
  CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

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

function checkLogin(login: string): void {
  const problem = loginProblem(login);
  if (problem) throw new JimError(Status.BAD_REQUEST, problem);
}

function checkPassword(password: string): void {
  if (typeof password !== "string" || password.length === 0) {
    throw new JimError(Status.BAD_REQUEST, "Invalid password: must not be empty");
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new JimError(
      Status.BAD_REQUEST,
      `Invalid password: exceeds ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
}

function noSuchClient(login: string): JimError {
  return new JimError(Status.NOT_FOUND, `No such client: ${login}`);
}

/**
 * The SQLite store. Every statement is prepared once and every value is bound.
 *
 * @example
 * ```ts
 * import { Store } from "./store.ts";
 * using store = Store.open(":memory:");
 * await store.addUser("alice", "s3cret", { iterations: 4096 });
 * store.addContact("alice", "alice");
 * console.log(store.contacts("alice")); // ["alice"]
 * ```
 */
export class Store {
  /** The database file path. */
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #q: ReturnType<typeof prepareAll>;
  #closed = false;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
    this.#q = prepareAll(db);
  }

  /**
   * Opens (creating if needed) and migrates the database at `path`.
   *
   * @throws {Error} when the file cannot be opened or its schema is newer than this code.
   */
  static open(path: string, options: StoreOptions = {}): Store {
    const db = new DatabaseSync(path);
    try {
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      db.exec("PRAGMA journal_mode = WAL");
      // NORMAL is durable across application crashes in WAL mode; only a power cut may lose the
      // last commits, which for login history and last-seen is acceptable.
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA foreign_keys = ON");
      migrate(db);
      return new Store(path, db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Whether {@linkcode close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the database; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  /** Closes the database, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Adds a user with fresh SCRAM credentials (and the seed's hash when `legacy`).
   *
   * The login is stored as {@linkcode normalizeLogin} gives it (fullwidth letters mapped).
   *
   * @throws {JimError} 400 for a login the name rules refuse or a bad password; 409 when the
   *   login exists in any case or width, or a look-alike does (see {@linkcode checkNewLogin}).
   */
  async addUser(login: string, password: string, options: PasswordOptions = {}): Promise<UserRow> {
    this.checkNewLogin(login);
    checkPassword(password);
    const display = normalizeLogin(login);
    const key = loginKey(display);
    const skeleton = loginSkeleton(display);
    const scram = await deriveScramCredentials(password, { iterations: options.iterations });
    const legacy = options.legacy ? await legacyStoredHash(password) : null;
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
        legacy,
        created,
      );
    } catch (error) {
      if (isConstraintError(error)) {
        // Another process added the name (or a look-alike) while PBKDF2 ran.
        this.#checkFree(key, skeleton, error);
        throw new JimError(Status.CONFLICT, `Client already exists: ${display}`, { cause: error });
      }
      throw error;
    }
    return { login: display, lastSeen: null, lastIp: null, created, legacy: legacy !== null };
  }

  /**
   * Checks that `login` may be added now, without adding it: the name rules of
   * `loginProblem`, then that neither the name (in any case or width) nor a look-alike
   * (same skeleton) exists.
   *
   * @throws {JimError} 400 "Invalid login: …" for a name the rules refuse; 409 "Client
   *   already exists: alice" or "Invalid login: looks like existing user alice".
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * using store = Store.open(":memory:");
   * store.checkNewLogin("alice"); // fine on an empty database
   * ```
   */
  checkNewLogin(login: string): void {
    checkLogin(login);
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
   * Logins that the name rules found taken by older accounts when this database was
   * migrated or its rules updated; empty for a database created under the rules.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * using store = Store.open(":memory:");
   * console.log(store.nameConflicts()); // []
   * ```
   */
  nameConflicts(): NameConflict[] {
    return this.#q.conflicts.all().map((row) => {
      const older = row.name_conflict as string;
      return {
        login: row.login as string,
        conflictsWith: older,
        kind: loginKey(older) === loginKey(row.login as string) ? "same" : "lookalike",
      };
    });
  }

  /**
   * Replaces a user's password; the legacy hash is kept or dropped per `options.legacy`,
   * defaulting to what the user had.
   *
   * @throws {JimError} 404 when the user does not exist, 400 for a bad password.
   */
  async setPassword(login: string, password: string, options: PasswordOptions = {}): Promise<void> {
    checkPassword(password);
    const row = this.#adminRow(login);
    if (!row) throw noSuchClient(login);
    const legacy = options.legacy ?? row.legacy_hash !== null;
    const scram = await deriveScramCredentials(password, { iterations: options.iterations });
    const hash = legacy ? await legacyStoredHash(password) : null;
    const result = this.#q.updatePassword.run(
      scram.salt,
      scram.iterations,
      scram.storedKey,
      scram.serverKey,
      hash,
      row.id as number,
    );
    if (result.changes === 0) throw noSuchClient(login);
  }

  /**
   * Removes a user with their contacts, their place in others' contacts, and their history.
   *
   * @throws {JimError} 404 when the user does not exist.
   */
  removeUser(login: string): void {
    const row = this.#adminRow(login);
    if (!row) throw noSuchClient(login);
    const result = this.#q.deleteUser.run(row.id as number);
    if (result.changes === 0) throw noSuchClient(login);
  }

  /**
   * The row an admin command means: the exact stored login first, so that an account whose
   * name collides with an older one (see {@linkcode nameConflicts}) can still be removed or
   * given a new password; otherwise the row of the login's key.
   */
  #adminRow(login: string): Row | undefined {
    return this.#q.userByExactLogin.get(login) ?? this.#q.userByKey.get(loginKey(login));
  }

  /**
   * SQLite's `PRAGMA data_version` for this connection: it changes whenever another
   * connection (e.g. `jim-server user remove` in another process) commits, and never for this
   * connection's own writes. Polling it is a cheap way to notice outside changes.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * using store = Store.open(":memory:");
   * const before = store.dataVersion();
   * // ... later: if (store.dataVersion() !== before) re-read what matters
   * ```
   */
  dataVersion(): number {
    return this.#q.dataVersion.get()!.data_version as number;
  }

  /** One user, or undefined. */
  getUser(login: string): UserRow | undefined {
    const row = this.#adminRow(login);
    return row ? toUserRow(row) : undefined;
  }

  /** The login in its display case, or undefined when there is no such user. */
  canonicalLogin(login: string): string | undefined {
    const row = this.#q.loginByKey.get(loginKey(login));
    return row ? row.login as string : undefined;
  }

  /** Credentials for a login, read now (never cached), or undefined for an unknown login. */
  credentials(login: string): UserCredentials | undefined {
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
  }

  /**
   * A random 32-byte secret stored under `name`, made on first use and the same ever after,
   * in this process and in every later one on the same database. Never shown or logged.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * using store = Store.open(":memory:");
   * store.secret("decoy-salt").length; // 32
   * ```
   */
  secret(name: string): Uint8Array {
    this.#q.insertSecret.run(name, crypto.getRandomValues(new Uint8Array(32)));
    return new Uint8Array(this.#q.secretByName.get(name)!.value as Uint8Array);
  }

  /** Every user, newest first. */
  listUsers(): UserRow[] {
    return this.#q.listUsers.all().map(toUserRow);
  }

  /** Every login in display case, sorted case-insensitively. */
  logins(): string[] {
    return this.#q.listLogins.all().map((row) => row.login as string);
  }

  /**
   * Up to `limit` logins in display case, in the order of {@linkcode logins}, starting after
   * `after` (any case; it need not exist). Pages follow each other without gaps or repeats
   * while users are added or removed between them.
   *
   * @example
   * ```ts
   * import { Store } from "./store.ts";
   * using store = Store.open(":memory:");
   * const first = store.loginsAfter(undefined, 100);
   * const second = store.loginsAfter(first.at(-1), 100);
   * ```
   */
  loginsAfter(after: string | undefined, limit: number): string[] {
    return this.#q.loginsAfter.all(after === undefined ? "" : loginKey(after), limit)
      .map((row) => row.login as string);
  }

  /** How many users exist. */
  userCount(): number {
    return this.#q.countUsers.get()!.n as number;
  }

  /** The owner's contacts in display case, sorted case-insensitively. */
  contacts(owner: string): string[] {
    return this.#q.contactsOf.all(loginKey(owner)).map((row) => row.login as string);
  }

  /**
   * Adds `contact` to `owner`'s contacts and returns its display-case login. With
   * `options.max`, an owner who already has that many contacts is refused.
   *
   * @throws {JimError} 404 "No such client: X", 409 "Client already in contacts: X",
   *   403 "Too many contacts: the limit is N".
   */
  addContact(owner: string, contact: string, options: { max?: number } = {}): string {
    const ownerRow = this.#q.loginByKey.get(loginKey(owner));
    if (!ownerRow) throw noSuchClient(owner);
    const contactRow = this.#q.loginByKey.get(loginKey(contact));
    if (!contactRow) throw noSuchClient(contact);
    const ownerId = ownerRow.id as number;
    const contactId = contactRow.id as number;
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    // One statement: the count and the insert cannot be split by another writer.
    const result = this.#q.insertContact.run(ownerId, contactId, Date.now(), ownerId, max);
    if (result.changes === 0) {
      if (this.#q.hasContact.get(ownerId, contactId)) {
        throw new JimError(Status.CONFLICT, `Client already in contacts: ${contact}`);
      }
      throw new JimError(Status.FORBIDDEN, `Too many contacts: the limit is ${max}`);
    }
    return contactRow.login as string;
  }

  /**
   * Removes `contact` from `owner`'s contacts and returns its display-case login.
   *
   * @throws {JimError} 404 "No such client: X" or "Client not in contacts: X".
   */
  removeContact(owner: string, contact: string): string {
    const ownerRow = this.#q.loginByKey.get(loginKey(owner));
    if (!ownerRow) throw noSuchClient(owner);
    const contactRow = this.#q.loginByKey.get(loginKey(contact));
    if (!contactRow) throw noSuchClient(contact);
    const result = this.#q.deleteContact.run(ownerRow.id as number, contactRow.id as number);
    if (result.changes === 0) {
      throw new JimError(Status.NOT_FOUND, `Client not in contacts: ${contact}`);
    }
    return contactRow.login as string;
  }

  /**
   * Records successful logins (history row plus last_seen/last_ip) in one transaction.
   * Records for users removed in the meantime are skipped.
   */
  recordLogins(records: readonly LoginRecord[]): void {
    if (records.length === 0) return;
    this.#transaction(() => {
      for (const r of records) {
        const row = this.#q.loginByKey.get(loginKey(r.login));
        if (!row) continue;
        this.#q.insertHistory.run(row.id as number, r.time, r.ip, r.port);
        this.#q.touchUser.run(r.time, r.ip, row.id as number);
      }
    });
  }

  /** Sets last_seen for users who logged out, in one transaction. */
  recordLogouts(records: readonly { login: string; time: number }[]): void {
    if (records.length === 0) return;
    this.#transaction(() => {
      for (const r of records) this.#q.touchLastSeen.run(r.time, loginKey(r.login));
    });
  }

  /** Login history, newest first; for one user when `login` is given. */
  loginHistory(options: { login?: string; limit?: number } = {}): LoginRecord[] {
    const limit = Math.max(1, Math.min(10_000, options.limit ?? 100));
    const rows = options.login === undefined
      ? this.#q.historyAll.all(limit)
      : this.#q.historyOf.all(loginKey(options.login), limit);
    return rows.map((row) => ({
      login: row.login as string,
      time: row.time as number,
      ip: row.ip as string,
      port: row.port as number,
    }));
  }

  #transaction(body: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      body();
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

function isConstraintError(error: unknown): boolean {
  return error instanceof Error && /constraint failed/i.test(error.message);
}

function migrate(db: DatabaseSync): void {
  const current = () => (db.prepare("PRAGMA user_version").get()!.user_version as number);
  if (current() > MIGRATIONS.length) {
    throw new Error(
      `Cannot open database: schema version ${current()} is newer than this program's ${MIGRATIONS.length}`,
    );
  }
  if (current() === MIGRATIONS.length && nameRulesVersion(db) === NAME_RULES_VERSION) return;
  // IMMEDIATE takes the write lock first, so two processes opening a new file migrate once.
  db.exec("BEGIN IMMEDIATE");
  try {
    for (let version = current(); version < MIGRATIONS.length; version++) {
      const migration = MIGRATIONS[version]!;
      if (typeof migration === "string") db.exec(migration);
      else migration(db);
      db.exec(`PRAGMA user_version = ${version + 1}`);
    }
    if (nameRulesVersion(db) !== NAME_RULES_VERSION) refreshNameKeys(db);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

function nameRulesVersion(db: DatabaseSync): string | undefined {
  return db.prepare("SELECT version FROM name_rules WHERE id = 1").get()?.version as
    | string
    | undefined;
}

/**
 * Recomputes login_key and login_skeleton of every user under the current name rules, oldest
 * first, and records collisions instead of failing. A row whose new key another row holds
 * keeps its old key (nothing is lost; the name now reaches the other account); so an account
 * whose key does not change never loses its name, and among changed ones the older wins. A
 * row whose skeleton an older row has keeps a NULL skeleton. Both get name_conflict.
 */
function refreshNameKeys(db: DatabaseSync): void {
  const rows = db.prepare("SELECT id, login FROM users ORDER BY created, id").all();
  db.exec("UPDATE users SET login_skeleton = NULL, name_conflict = NULL");
  const setKey = db.prepare("UPDATE users SET login_key = ? WHERE id = ?");
  const setSkeleton = db.prepare("UPDATE users SET login_skeleton = ? WHERE id = ?");
  const setConflict = db.prepare("UPDATE users SET name_conflict = ? WHERE id = ?");
  const byKey = db.prepare("SELECT login FROM users WHERE login_key = ? AND id != ?");
  const bySkeleton = db.prepare("SELECT login FROM users WHERE login_skeleton = ?");
  for (const row of rows) {
    const id = row.id as number;
    const login = row.login as string;
    const key = loginKey(login);
    const skeleton = loginSkeleton(login);
    const sameName = byKey.get(key, id);
    if (sameName) {
      setConflict.run(sameName.login as string, id);
      continue;
    }
    setKey.run(key, id);
    const alike = bySkeleton.get(skeleton);
    if (alike) setConflict.run(alike.login as string, id);
    else setSkeleton.run(skeleton, id);
  }
  db.prepare(
    "INSERT INTO name_rules (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version",
  ).run(NAME_RULES_VERSION);
}

function prepareAll(db: DatabaseSync) {
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
    updatePassword: p(
      `UPDATE users SET salt = ?, iterations = ?, stored_key = ?, server_key = ?, legacy_hash = ?
       WHERE id = ?`,
    ),
    deleteUser: p("DELETE FROM users WHERE id = ?"),
    dataVersion: p("PRAGMA data_version"),
    listUsers: p(
      "SELECT login, last_seen, last_ip, created, legacy_hash FROM users ORDER BY created DESC, id DESC",
    ),
    listLogins: p("SELECT login FROM users ORDER BY login_key"),
    countUsers: p("SELECT count(*) AS n FROM users"),
    contactsOf: p(
      `SELECT c.login FROM users o JOIN contacts k ON k.owner_id = o.id
       JOIN users c ON c.id = k.contact_id WHERE o.login_key = ? ORDER BY c.login_key`,
    ),
    insertContact: p(
      `INSERT INTO contacts (owner_id, contact_id, added) SELECT ?, ?, ?
       WHERE (SELECT count(*) FROM contacts WHERE owner_id = ?) < ? ON CONFLICT DO NOTHING`,
    ),
    insertSecret: p(
      "INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
    ),
    secretByName: p("SELECT value FROM server_secrets WHERE name = ?"),
    hasContact: p("SELECT 1 AS yes FROM contacts WHERE owner_id = ? AND contact_id = ?"),
    loginsAfter: p("SELECT login FROM users WHERE login_key > ? ORDER BY login_key LIMIT ?"),
    deleteContact: p("DELETE FROM contacts WHERE owner_id = ? AND contact_id = ?"),
    insertHistory: p("INSERT INTO login_history (user_id, time, ip, port) VALUES (?, ?, ?, ?)"),
    touchUser: p("UPDATE users SET last_seen = ?, last_ip = ? WHERE id = ?"),
    touchLastSeen: p("UPDATE users SET last_seen = ? WHERE login_key = ?"),
    historyAll: p(
      `SELECT u.login, h.time, h.ip, h.port FROM login_history h JOIN users u ON u.id = h.user_id
       ORDER BY h.time DESC, h.id DESC LIMIT ?`,
    ),
    historyOf: p(
      `SELECT u.login, h.time, h.ip, h.port FROM login_history h JOIN users u ON u.id = h.user_id
       WHERE u.login_key = ? ORDER BY h.time DESC, h.id DESC LIMIT ?`,
    ),
  };
}
