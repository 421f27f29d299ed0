/**
 * The SQLite adapter of the storage ports: users with their credentials, contacts, login
 * history written behind, change notification by `data_version`, server secrets, and
 * messages with group commit (issue 12), in one database file.
 *
 * Several processes may open the same file at once (the running server and `jim-server user
 * add`): WAL mode lets readers and one writer proceed together, and the busy timeout makes a
 * second writer wait instead of failing. Credentials are read at each login, so a user added
 * or a password changed by another process takes effect at the next login. Every statement is
 * prepared once and every value is bound. Times are Unix milliseconds.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type {
  ChangeFeed,
  ContactStore,
  LoginHistory,
  MessageStore,
  RoomStore,
  SecretStore,
  Storage,
  UserStore,
} from "../ports.ts";
import { SqliteChangeFeed } from "./_change_feed.ts";
import { SqliteContacts } from "./_contacts.ts";
import { SqliteLoginHistory } from "./_login_history.ts";
import { SqliteMessages } from "./_messages.ts";
import { openDatabase } from "./_schema.ts";
import { SqliteRooms } from "./_rooms.ts";
import { SqliteSecrets } from "./_secrets.ts";
import { SqliteUsers } from "./_users.ts";

/** Options for {@linkcode SqliteStorage.open}. */
export interface SqliteStorageOptions {
  /** Milliseconds to wait for another process's write lock; 5000 by default. */
  busyTimeoutMs?: number;
  /** How long login history may wait before it is written, ms; 200 by default. */
  historyFlushMs?: number;
  /** Login history records queued before they are written at once; 10,000 by default. */
  maxPendingHistory?: number;
  /**
   * How often to look for other processes' commits while the change feed has listeners, ms;
   * 1000 by default.
   */
  changePollMs?: number;
  /** Messages in one group commit at most; 1000 by default. */
  maxMessageBatch?: number;
  /** How long a group commit of messages waits for more, ms; 4 by default. */
  messageCommitWindowMs?: number;
  /** Messages above the conversation index from which it is extended; 1024 by default. */
  messageIndexBatch?: number;
  /** How long after the last commit the conversation index is extended anyway, ms; 1000 by default. */
  messageIndexIdleMs?: number;
}

/**
 * The SQLite storage.
 *
 * @example
 * ```ts
 * import { addUser } from "../../accounts.ts";
 * import { SqliteStorage } from "./sqlite_storage.ts";
 * await using storage = SqliteStorage.open(":memory:");
 * await addUser(storage.users, "alice", "s3cret", { iterations: 4096 });
 * await storage.contacts.add("alice", "alice");
 * console.log(await storage.contacts.list("alice")); // ["alice"]
 * ```
 */
export class SqliteStorage implements Storage {
  /** The database file path. */
  readonly path: string;
  readonly users: UserStore;
  readonly contacts: ContactStore;
  readonly logins: LoginHistory;
  readonly changes: ChangeFeed;
  readonly secrets: SecretStore;
  readonly messages: MessageStore;
  readonly #db: DatabaseSync;
  readonly #messages: SqliteMessages;
  readonly rooms: RoomStore;
  readonly #rooms: SqliteRooms;
  readonly #logins: SqliteLoginHistory;
  readonly #changes: SqliteChangeFeed;
  #closed = false;

  private constructor(path: string, db: DatabaseSync, options: SqliteStorageOptions) {
    this.path = path;
    this.#db = db;
    const dataVersion = db.prepare("PRAGMA data_version");
    this.changes = this.#changes = new SqliteChangeFeed(
      () => dataVersion.get()!.data_version as number,
      { pollMs: options.changePollMs },
    );
    this.users = new SqliteUsers(db, this.#changes);
    this.contacts = new SqliteContacts(db);
    this.logins = this.#logins = new SqliteLoginHistory(db, {
      flushMs: options.historyFlushMs,
      maxPending: options.maxPendingHistory,
    });
    this.secrets = new SqliteSecrets(db);
    this.messages = this.#messages = new SqliteMessages(db, {
      maxBatch: options.maxMessageBatch,
      commitWindowMs: options.messageCommitWindowMs,
      indexBatch: options.messageIndexBatch,
      indexIdleMs: options.messageIndexIdleMs,
    });
    this.rooms = this.#rooms = new SqliteRooms(db);
  }

  /**
   * Opens (creating if needed) and migrates the database at `path`.
   *
   * @throws {Error} when the file cannot be opened or its schema is newer than this code.
   */
  static open(path: string, options: SqliteStorageOptions = {}): SqliteStorage {
    return new SqliteStorage(path, openDatabase(path, options), options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Login history records queued and not yet written. */
  get pendingHistory(): number {
    return this.#logins.pending;
  }

  /** Message group commits made so far. */
  get messageCommits(): number {
    return this.#messages.commits;
  }

  /** Messages not yet in the conversation index, which reads find in the tail above it. */
  get messagesUnindexed(): number {
    return this.#messages.unindexed;
  }

  /** Writes the queued login history, stops the change feed and closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Room messages already accepted are committed before the database goes.
    await this.#rooms.settle().catch(() => {});
    this.#changes.close();
    try {
      this.#messages.close();
      this.#logins.close();
    } finally {
      this.#db.close();
    }
  }

  /** Closes the storage, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
