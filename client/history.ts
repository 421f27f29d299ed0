import { DatabaseSync, type StatementSync } from "node:sqlite";
import { join } from "node:path";
import { migrate } from "../common/sqlite_migrations.ts";

/** Which way a message went. */
export type Direction = "in" | "out";
/**
 * Where a message stands: "sent" while an outgoing message waits for the server's reply,
 * "delivered" once the server accepted it (and for every incoming message), "failed" with the
 * error when the server refused it or the connection was lost.
 */
export type MessageStatus = "sent" | "delivered" | "failed";

/** One stored message. */
export interface MessageRecord {
  /** Unique within the database; used by retry. */
  id: number;
  /** The other side of the conversation. */
  contact: string;
  /** "in" received, "out" sent. */
  direction: Direction;
  /** The message text. */
  text: string;
  /** Milliseconds since the epoch: when it was sent, or when it arrived. */
  time: number;
  /** Where it stands; see {@linkcode MessageStatus}. */
  status: MessageStatus;
  /** Why it failed, for a failed message. */
  error?: string;
}

/** What {@linkcode History.addMessage} takes. */
export interface NewMessage {
  /** The other side of the conversation. */
  contact: string;
  /** "in" received, "out" sent. */
  direction: Direction;
  /** The message text. */
  text: string;
  /** Milliseconds since the epoch; now by default. */
  time?: number;
  /** The initial status. */
  status: MessageStatus;
  /** Why it failed, for a failed message. */
  error?: string;
}

/** Which database to open: an explicit file, or the one for an account on a server. */
export type HistoryLocation =
  | { path: string }
  | { dataDir?: string; account: string; host: string; port: number };

const MIGRATIONS: readonly string[] = [
  // 0 -> 1
  `CREATE TABLE contacts (
     login TEXT PRIMARY KEY NOT NULL,
     added INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE messages (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     contact TEXT NOT NULL,
     direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
     text TEXT NOT NULL,
     time INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'failed')),
     error TEXT
   ) STRICT;
   CREATE INDEX messages_by_contact ON messages (contact, time, id);`,
];

/** The schema version this code writes, kept in PRAGMA user_version. */
export const HISTORY_SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * The data directory: `$XDG_DATA_HOME/jim`, else `~/.local/share/jim`.
 *
 * @example
 * ```ts
 * import { defaultDataDir } from "./history.ts";
 * defaultDataDir({ XDG_DATA_HOME: "/tmp/xdg" }); // "/tmp/xdg/jim"
 * ```
 * @throws {Error} when neither XDG_DATA_HOME nor HOME is set.
 */
export function defaultDataDir(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string {
  const xdg = env.XDG_DATA_HOME;
  if (xdg) return join(xdg, "jim");
  const home = env.HOME ?? env.USERPROFILE;
  if (!home) {
    throw new Error("Cannot find the data directory: set XDG_DATA_HOME or HOME, or --data-dir");
  }
  return join(home, ".local", "share", "jim");
}

/**
 * The database file of an account on a server, e.g. `alice@127.0.0.1_7777.db`. Characters
 * that a file name cannot hold safely are percent-encoded, so different servers never share
 * a file.
 *
 * @example
 * ```ts
 * import { historyPath } from "./history.ts";
 * historyPath("/data", "alice", "::1", 7777); // "/data/alice@%3A%3A1_7777.db"
 * ```
 */
export function historyPath(dataDir: string, account: string, host: string, port: number): string {
  const safe = (s: string) =>
    s.replace(
      /[^\p{L}\p{N}._-]/gu,
      (c) =>
        [...new TextEncoder().encode(c)].map((b) => `%${b.toString(16).toUpperCase()}`).join(""),
    );
  return join(dataDir, `${safe(account)}@${safe(host.toLowerCase())}_${port}.db`);
}

interface MessageRow {
  id: number;
  contact: string;
  direction: Direction;
  text: string;
  time: number;
  status: MessageStatus;
  error: string | null;
}

function toRecord(row: MessageRow): MessageRecord {
  const record: MessageRecord = {
    id: Number(row.id),
    contact: row.contact,
    direction: row.direction,
    text: row.text,
    time: Number(row.time),
    status: row.status,
  };
  if (row.error !== null) record.error = row.error;
  return record;
}

/**
 * The local history of one account on one server: a mirror of the contact list and every
 * message sent or received, in a SQLite file. The schema is versioned with PRAGMA
 * user_version and migrated on open.
 *
 * @example
 * ```ts
 * import { History } from "./history.ts";
 * using history = History.open({ dataDir: "/tmp/jim", account: "alice", host: "127.0.0.1", port: 7777 });
 * const m = history.addMessage({ contact: "bob", direction: "out", text: "hi", status: "sent" });
 * history.setStatus(m.id, "delivered");
 * console.log(history.messages("bob", { limit: 20 }));
 * ```
 */
export class History {
  /** The database file. */
  readonly path: string;
  #db: DatabaseSync | undefined;
  #statements = new Map<string, StatementSync>();

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  /**
   * Opens (creating if needed) a history database and brings its schema up to date.
   *
   * @throws {Error} when the file was written by a newer version, or cannot be opened.
   */
  static open(location: HistoryLocation): History {
    let path: string;
    if ("path" in location) {
      path = location.path;
    } else {
      const dir = location.dataDir ?? defaultDataDir();
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      path = historyPath(dir, location.account, location.host, location.port);
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (cause) {
      throw new Error(`Cannot open history: ${path}: ${(cause as Error).message}`, { cause });
    }
    try {
      // WAL with synchronous=NORMAL: a power cut may lose the last messages but never
      // corrupts the file, and a send no longer waits for two fsyncs.
      db.exec(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;",
      );
      migrate(db, {
        migrations: MIGRATIONS,
        tooNew: (found, latest) =>
          new Error(
            `Cannot open history: ${path} has schema version ${found}, newer than this ` +
              `client's ${latest}`,
          ),
      });
    } catch (error) {
      db.close();
      throw error;
    }
    return new History(path, db);
  }

  #stmt(sql: string): StatementSync {
    const db = this.#db;
    if (!db) throw new Error("Cannot use history: it is closed");
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /** The contacts mirror, sorted by login. */
  contacts(): string[] {
    const rows = this.#stmt("SELECT login FROM contacts ORDER BY login").all() as {
      login: string;
    }[];
    return rows.map((r) => r.login);
  }

  /** Whether `login` is in the contacts mirror. */
  hasContact(login: string): boolean {
    return this.#stmt("SELECT 1 FROM contacts WHERE login = ?").get(login) !== undefined;
  }

  /** Adds a contact to the mirror; returns false when it was there already. */
  addContact(login: string): boolean {
    const result = this.#stmt("INSERT OR IGNORE INTO contacts (login, added) VALUES (?, ?)").run(
      login,
      Date.now(),
    );
    return Number(result.changes) > 0;
  }

  /** Removes a contact from the mirror; its messages stay. Returns false when it was absent. */
  removeContact(login: string): boolean {
    const result = this.#stmt("DELETE FROM contacts WHERE login = ?").run(login);
    return Number(result.changes) > 0;
  }

  /**
   * Makes the mirror equal to `logins` (the server's list, the source of truth), in one
   * transaction. Returns what was added and removed.
   */
  setContacts(logins: readonly string[]): { added: string[]; removed: string[] } {
    const db = this.#db;
    if (!db) throw new Error("Cannot use history: it is closed");
    const wanted = new Set(logins);
    const added: string[] = [];
    const removed: string[] = [];
    db.exec("BEGIN IMMEDIATE");
    try {
      const current = new Set(this.contacts());
      for (const login of current) {
        if (!wanted.has(login)) {
          this.removeContact(login);
          removed.push(login);
        }
      }
      for (const login of wanted) {
        if (!current.has(login)) {
          this.addContact(login);
          added.push(login);
        }
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    return { added, removed };
  }

  /** Stores a message and returns it with its id. */
  addMessage(message: NewMessage): MessageRecord {
    const time = message.time ?? Date.now();
    const row = this.#stmt(
      `INSERT INTO messages (contact, direction, text, time, status, error)
       VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
    ).get(
      message.contact,
      message.direction,
      message.text,
      Math.round(time),
      message.status,
      message.error ?? null,
    ) as unknown as MessageRow;
    return toRecord(row);
  }

  /**
   * Updates a message's status, and its error (cleared unless given) and time (kept unless
   * given); returns the new record, or undefined for an unknown id.
   */
  setStatus(
    id: number,
    status: MessageStatus,
    options: { error?: string; time?: number } = {},
  ): MessageRecord | undefined {
    const row = this.#stmt(
      "UPDATE messages SET status = ?, error = ?, time = coalesce(?, time) WHERE id = ? RETURNING *",
    ).get(
      status,
      options.error ?? null,
      options.time === undefined ? null : Math.round(options.time),
      id,
    ) as unknown as MessageRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** One message by id. */
  message(id: number): MessageRecord | undefined {
    const row = this.#stmt("SELECT * FROM messages WHERE id = ?").get(id) as unknown as
      | MessageRow
      | undefined;
    return row ? toRecord(row) : undefined;
  }

  /**
   * The last `limit` messages with `contact` (default 50), oldest first. With `before` (a
   * message's time and id), the last `limit` that sort before it: the page before that one.
   *
   * @example
   * ```ts
   * import { History } from "./history.ts";
   * using history = History.open({ path: ":memory:" });
   * const latest = history.messages("bob", { limit: 20 });
   * const older = latest[0] ? history.messages("bob", { limit: 20, before: latest[0] }) : [];
   * ```
   */
  messages(
    contact: string,
    options: { limit?: number; before?: { time: number; id: number } } = {},
  ): MessageRecord[] {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError("Invalid limit: must be a positive integer");
    }
    const before = options.before;
    const rows = (before === undefined
      ? this.#stmt(
        `SELECT * FROM (
           SELECT * FROM messages WHERE contact = ? ORDER BY time DESC, id DESC LIMIT ?
         ) ORDER BY time, id`,
      ).all(contact, limit)
      : this.#stmt(
        `SELECT * FROM (
           SELECT * FROM messages WHERE contact = ? AND (time, id) < (?, ?)
           ORDER BY time DESC, id DESC LIMIT ?
         ) ORDER BY time, id`,
      ).all(contact, Math.round(before.time), before.id, limit)) as unknown as MessageRow[];
    return rows.map(toRecord);
  }

  /** Outgoing messages that failed, oldest first. */
  failed(contact?: string): MessageRecord[] {
    const rows = (contact === undefined
      ? this.#stmt(
        "SELECT * FROM messages WHERE direction = 'out' AND status = 'failed' ORDER BY id",
      ).all()
      : this.#stmt(
        `SELECT * FROM messages WHERE direction = 'out' AND status = 'failed' AND contact = ?
         ORDER BY id`,
      ).all(contact)) as unknown as MessageRow[];
    return rows.map(toRecord);
  }

  /** Closes the database. Idempotent. */
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    this.#statements.clear();
    db?.close();
  }

  /** Closes the database, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
