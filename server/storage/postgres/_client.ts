/**
 * The PostgreSQL client the adapter uses (`postgres`, porsager's), set up once: a bounded
 * pool, a bounded reconnect backoff, int8 read as numbers, notices dropped, and the mapping of
 * its failures to the storage's errors. Every store of the adapter works through a
 * {@linkcode PgContext}.
 *
 * @module
 */
import postgres from "postgres";
import { JimError } from "../../../protocol/mod.ts";
import { StorageUnavailableError } from "../errors.ts";

/** How the client connects. */
export interface ClientOptions {
  /** Connections in the pool; the change feed's LISTEN connection comes on top. */
  pool: number;
  /** Seconds a connection attempt may take before it counts as failed. */
  connectTimeoutSeconds: number;
  /** Longest wait between reconnection attempts, in seconds. */
  maxBackoffSeconds: number;
}

/**
 * The wait before the next connection attempt, in seconds, after `failures` failed ones: 0.1,
 * 0.2, 0.4, ... up to `max`. The client's own default grows as 3^n up to 20 s for the whole
 * pool, so after an outage the first query could wait 20 s for a database that is back.
 */
export function reconnectDelay(failures: number, max: number): number {
  return Math.min(0.05 * 2 ** Math.max(0, failures), max);
}

/**
 * The user for a URL that names none, from the variables libpq reads: the client would
 * otherwise ask the OS (a permission jim-server does not have, and a prompt in a terminal).
 */
function defaultUser(url: string): { user?: string } {
  if (new URL(url).username !== "") return {};
  for (const name of ["PGUSER", "PGUSERNAME", "USER", "LOGNAME"]) {
    const user = Deno.env.get(name);
    if (user) return { user };
  }
  throw new Error("the URL names no user: use postgres://USER@HOST:PORT/DB or set PGUSER");
}

/** Opens a pool on `url`; no connection is made until the first query. */
export function createClient(url: string, options: ClientOptions) {
  return postgres(url, {
    ...defaultUser(url),
    max: options.pool,
    connect_timeout: options.connectTimeoutSeconds,
    backoff: (failures: number) => reconnectDelay(failures, options.maxBackoffSeconds),
    // "relation already exists, skipping" and the like are not for the server's log.
    onnotice: () => {},
    connection: { application_name: "jim-server" },
    types: {
      // Ids, times and counts: all below 2^53, so a number loses nothing.
      int8: {
        to: 20,
        from: [20],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
  });
}

/** The pool. */
export type Sql = ReturnType<typeof createClient>;
/** A transaction on one of the pool's connections. */
export type Tx = Sql extends postgres.Sql<infer T> ? postgres.TransactionSql<T> : never;
/** A transaction or the pool: what a statement can run on. */
export type Queryable = Sql | Tx;

/**
 * SQLSTATE codes and client error codes that mean "the database is not there right now"
 * (class 08 is matched as a whole): shutting down, starting up, out of connections, or the
 * socket refused, reset or timed out.
 */
const UNAVAILABLE = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/** Whether `error` says the database cannot be reached (as opposed to a query's own fault). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StorageUnavailableError) return true;
  const code = codeOf(error);
  return UNAVAILABLE.has(code) || code.startsWith("08");
}

/** Whether `error` is a unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  return codeOf(error) === "23505";
}

/** The error every call of a closed storage rejects with. */
export function closedError(): Error {
  return new Error("Cannot use storage: it is closed");
}

/**
 * What the adapter's stores share: the pool, whether the storage is closed, and this
 * handle's origin, which tags the notifications it sends so that it can tell its own.
 */
export class PgContext {
  readonly sql: Sql;
  /** Random per handle: a notification carrying it came from this handle. */
  readonly origin: string = crypto.randomUUID();
  /** Set when close() starts: new calls reject. */
  closed = false;
  /** Set when the pool is about to end: not even the write-behind may query. */
  ended = false;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /**
   * Runs `body` unless the storage is closed, and turns the client's failures into the
   * storage's: {@linkcode StorageUnavailableError} while the database cannot be reached,
   * "it is closed" once the pool has ended. JimErrors and other errors pass unchanged.
   */
  run<T>(body: (sql: Sql) => Promise<T>): Promise<T> {
    return this.#guarded(this.closed, body);
  }

  /**
   * As {@linkcode run}, for the storage's own writes that close() waits for (the group
   * commit): allowed until the pool ends.
   */
  write<T>(body: (sql: Sql) => Promise<T>): Promise<T> {
    return this.#guarded(this.ended, body);
  }

  async #guarded<T>(refused: boolean, body: (sql: Sql) => Promise<T>): Promise<T> {
    if (refused) throw closedError();
    try {
      return await body(this.sql);
    } catch (error) {
      throw this.translate(error);
    }
  }

  /** The storage's error for what the client threw. */
  translate(error: unknown): unknown {
    if (error instanceof JimError) return error;
    if (codeOf(error) === "CONNECTION_ENDED") return closedError();
    if (isUnavailable(error)) return new StorageUnavailableError({ cause: error });
    return error;
  }
}

/**
 * A PostgreSQL array literal of integers, bound as one text parameter and cast in the SQL
 * (`${intArray(ids)}::int8[]`): the values are checked integers, never SQL.
 *
 * @throws {RangeError} for anything but safe integers.
 */
export function intArray(values: readonly number[]): string {
  for (const value of values) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`Not an integer id: ${value}`);
  }
  return `{${values.join(",")}}`;
}
