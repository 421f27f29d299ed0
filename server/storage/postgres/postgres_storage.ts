/**
 * The PostgreSQL adapter of the storage ports: users with their credentials, contacts, login
 * history written behind, change notification by LISTEN/NOTIFY, server secrets and messages
 * with group commit, in one database that any number of nodes share.
 *
 * Every value is bound (the client's tagged templates make string-built SQL impossible by
 * accident). The pool is bounded; while the database cannot be reached every call fails at
 * once with {@linkcode StorageUnavailableError} (503), and the pool reconnects by itself with a
 * backoff of at most `maxBackoffMs`, so the server recovers without a restart.
 *
 * @module
 */
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
import { DEFAULT_POOL_SIZE } from "../open_storage.ts";
import { createClient, PgContext } from "./_client.ts";
import { PostgresChangeFeed } from "./_change_feed.ts";
import { PostgresContacts } from "./_contacts.ts";
import { PostgresLoginHistory } from "./_login_history.ts";
import { PostgresMessages } from "./_messages.ts";
import { PostgresRooms } from "./_rooms.ts";
import { migrate } from "./_schema.ts";
import { PostgresSecrets } from "./_secrets.ts";
import { PostgresUsers } from "./_users.ts";

export { DEFAULT_POOL_SIZE };

/** Options for {@linkcode PostgresStorage.open}. */
export interface PostgresStorageOptions {
  /** Connections in the pool, 1 to 1000; 10 by default. The change feed's LISTEN adds one. */
  pool?: number;
  /** Seconds a connection attempt may take before the call fails with 503; 5 by default. */
  connectTimeoutSeconds?: number;
  /** Longest wait between reconnection attempts, ms; 1000 by default. */
  maxBackoffMs?: number;
  /** How long login history may wait before it is written, ms; 200 by default. */
  historyFlushMs?: number;
  /** Login history records queued before they are written at once; 10,000 by default. */
  maxPendingHistory?: number;
  /** Messages in one group commit at most; 1000 by default. */
  maxCommitBatch?: number;
}

/**
 * The PostgreSQL storage.
 *
 * @example
 * ```ts ignore
 * import { addUser } from "../../accounts.ts";
 * import { PostgresStorage } from "./postgres_storage.ts";
 * await using storage = await PostgresStorage.open("postgres://jim@127.0.0.1:5432/jim");
 * await addUser(storage.users, "alice", "s3cret");
 * console.log(await storage.users.count());
 * ```
 */
export class PostgresStorage implements Storage {
  readonly users: UserStore;
  readonly contacts: ContactStore;
  readonly logins: LoginHistory;
  readonly changes: ChangeFeed;
  readonly secrets: SecretStore;
  readonly messages: MessageStore;
  readonly rooms: RoomStore;
  /** The pool size in force. */
  readonly poolSize: number;
  readonly #ctx: PgContext;
  readonly #logins: PostgresLoginHistory;
  readonly #changes: PostgresChangeFeed;
  readonly #messages: PostgresMessages;
  readonly #rooms: PostgresRooms;
  #closing: Promise<void> | undefined;

  private constructor(ctx: PgContext, poolSize: number, options: PostgresStorageOptions) {
    this.#ctx = ctx;
    this.poolSize = poolSize;
    const maxRetrySeconds = (options.maxBackoffMs ?? 1000) / 1000;
    this.changes = this.#changes = new PostgresChangeFeed(ctx.sql, ctx.origin, {
      maxRetrySeconds,
    });
    this.users = new PostgresUsers(ctx, this.#changes);
    this.contacts = new PostgresContacts(ctx);
    this.logins = this.#logins = new PostgresLoginHistory(ctx, {
      flushMs: options.historyFlushMs,
      maxPending: options.maxPendingHistory,
      retryMs: Math.max(100, options.maxBackoffMs ?? 1000),
    });
    this.secrets = new PostgresSecrets(ctx);
    this.messages = this.#messages = new PostgresMessages(ctx, {
      maxBatch: options.maxCommitBatch,
    });
    this.rooms = this.#rooms = new PostgresRooms(ctx);
  }

  /**
   * Connects to the database at `url` (`postgres://USER:PASSWORD@HOST:PORT/DB`) and migrates
   * it under an advisory lock, so that nodes starting together migrate once.
   *
   * @throws {RangeError} for a pool size out of range; {Error} when the database cannot be
   *   reached or its schema is newer than this code.
   */
  static async open(url: string, options: PostgresStorageOptions = {}): Promise<PostgresStorage> {
    const pool = options.pool ?? DEFAULT_POOL_SIZE;
    if (!Number.isInteger(pool) || pool < 1 || pool > 1000) {
      throw new RangeError(`Invalid pool size: ${pool} (1 to 1000)`);
    }
    const sql = createClient(url, {
      pool,
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? 5,
      maxBackoffSeconds: (options.maxBackoffMs ?? 1000) / 1000,
    });
    try {
      await migrate(sql);
    } catch (error) {
      await sql.end({ timeout: 0 });
      // At start-up the operator needs the client's reason ("connect ECONNREFUSED ..."), not
      // the 503 that a client gets.
      throw error;
    }
    return new PostgresStorage(new PgContext(sql), pool, options);
  }

  get closed(): boolean {
    return this.#ctx.closed;
  }

  /** Login history records queued and not yet written. */
  get pendingHistory(): number {
    return this.#logins.pending;
  }

  /**
   * Commits the queued messages, writes the queued login history, stops listening and ends
   * the pool. Idempotent; calls made after it started reject.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#ctx.closed = true;
      this.#changes.close();
      try {
        await this.#messages.settle();
        await this.#rooms.settle();
        await this.#logins.close();
      } finally {
        this.#ctx.ended = true;
        await this.#ctx.sql.end({ timeout: 5 });
      }
    })();
    return this.#closing;
  }

  /** Closes the storage, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
