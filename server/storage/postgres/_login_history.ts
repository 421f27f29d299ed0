/**
 * PostgreSQL login history, written behind: `record()` and `seen()` only queue; one statement
 * every `flushMs` writes the whole queue (history rows and last-seen times together), so a
 * login never waits for a round trip. One write is in flight at a time.
 *
 * The queue is bounded. Past `maxPending` it is written at once. While the database cannot be
 * reached, a batch stays queued and is retried; should the queue outgrow `maxPending`
 * meanwhile, the oldest records are dropped and counted, and the count is reported once
 * writing works again (or at close).
 *
 * @module
 */
import { loginKey } from "../../../protocol/mod.ts";
import type { LoginHistory, LoginRecord } from "../ports.ts";
import { isUnavailable, type PgContext } from "./_client.ts";

/** Options of the write-behind. */
export interface WriteBehindOptions {
  /** How long a record may wait before it is written, ms; 200 by default. */
  flushMs?: number;
  /** Records queued before they are written at once, and kept at most; 10,000 by default. */
  maxPending?: number;
  /** How long to wait before retrying while the database is unreachable, ms; 1000. */
  retryMs?: number;
}

/** A queued record: a login (with address) or a last-seen time. */
interface Entry {
  key: string;
  time: number;
  /** Absent for a last-seen time. */
  ip?: string;
  port?: number;
}

/** At most this many records go in one statement. */
const BATCH = 5000;

/** The PostgreSQL {@linkcode LoginHistory}. Created by `PostgresStorage`. */
export class PostgresLoginHistory implements LoginHistory {
  readonly #ctx: PgContext;
  readonly #flushMs: number;
  readonly #maxPending: number;
  readonly #retryMs: number;
  readonly #errorListeners = new Set<(error: Error) => void>();
  #queue: Entry[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> | undefined;
  /** Records dropped during the current outage. */
  #dropped = 0;
  /** Whether the last write found the database unreachable (reported once per outage). */
  #failing = false;
  #closed = false;

  constructor(ctx: PgContext, options: WriteBehindOptions = {}) {
    this.#ctx = ctx;
    this.#flushMs = options.flushMs ?? 200;
    this.#maxPending = Math.max(1, options.maxPending ?? 10_000);
    this.#retryMs = options.retryMs ?? 1000;
  }

  /** Records queued and not yet written. */
  get pending(): number {
    return this.#queue.length;
  }

  record(record: LoginRecord): void {
    if (this.#closed) return;
    this.#enqueue({
      key: loginKey(record.login),
      time: record.time,
      ip: record.ip,
      port: record.port,
    });
  }

  seen(login: string, time: number): void {
    if (this.#closed) return;
    this.#enqueue({ key: loginKey(login), time });
  }

  flush(): Promise<void> {
    return this.#write();
  }

  list(options: { login?: string; limit?: number } = {}): Promise<LoginRecord[]> {
    return this.#ctx.run(async (sql) => {
      const limit = Math.max(1, Math.min(10_000, Math.trunc(options.limit ?? 100)));
      const rows = options.login === undefined
        ? await sql<LoginRecord[]>`
          SELECT u.login, h.time, h.ip, h.port FROM login_history h
          JOIN users u ON u.id = h.user_id ORDER BY h.time DESC, h.id DESC LIMIT ${limit}`
        : await sql<LoginRecord[]>`
          SELECT u.login, h.time, h.ip, h.port FROM login_history h
          JOIN users u ON u.id = h.user_id WHERE u.login_key = ${loginKey(options.login)}
          ORDER BY h.time DESC, h.id DESC LIMIT ${limit}`;
      return rows.map(({ login, time, ip, port }) => ({ login, time, ip, port }));
    });
  }

  onWriteError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Writes what is queued and takes no more; reports what could not be written. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#write();
    const lost = this.#queue.length + this.#dropped;
    this.#queue = [];
    this.#dropped = 0;
    if (lost > 0) {
      this.#report(new Error(`Cannot write login history: ${lost} records lost at close`));
    }
  }

  #enqueue(entry: Entry): void {
    this.#queue.push(entry);
    if (this.#queue.length > this.#maxPending) {
      if (this.#failing) {
        // Unreachable: keep memory bounded by forgetting the oldest.
        this.#dropped += this.#queue.length - this.#maxPending;
        this.#queue.splice(0, this.#queue.length - this.#maxPending);
        return;
      }
      void this.#write();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, this.#flushMs);
  }

  /** Starts writing, or joins the write in flight; resolves once the queue was tried. */
  #write(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing ??= this.#drain().finally(() => (this.#writing = undefined));
    return this.#writing;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#ctx.ended) {
      const batch = this.#queue.splice(0, BATCH);
      try {
        await this.#insert(batch);
      } catch (error) {
        if (isUnavailable(this.#ctx.translate(error))) {
          this.#queue.unshift(...batch);
          const excess = this.#queue.length - this.#maxPending;
          if (excess > 0) {
            this.#dropped += excess;
            this.#queue.splice(0, excess);
          }
          // Closing: no retry; close() counts what is left.
          if (this.#closed) return;
          if (!this.#failing) {
            this.#failing = true;
            this.#report(
              new Error("Cannot write login history: the database is unavailable; will retry", {
                cause: error,
              }),
            );
          }
          this.#timer ??= setTimeout(() => {
            this.#timer = undefined;
            void this.#write();
          }, this.#retryMs);
          return;
        }
        this.#report(
          new Error(
            `Cannot write login history: ${error instanceof Error ? error.message : error}`,
            { cause: error },
          ),
        );
        continue;
      }
      if (this.#failing) {
        this.#failing = false;
        if (this.#dropped > 0) {
          this.#report(
            new Error(
              `Cannot write login history: ${this.#dropped} records dropped while the database was unavailable`,
            ),
          );
          this.#dropped = 0;
        }
      }
    }
  }

  /**
   * One statement: history rows for the logins of users that still exist, then each user's
   * last-seen time (the latest in the batch, never moving backwards) and the address of their
   * latest login.
   */
  async #insert(batch: readonly Entry[]): Promise<void> {
    const sql = this.#ctx.sql;
    const rows = sql.json(batch.map((e, n) => ({
      n,
      key: e.key,
      time: e.time,
      ip: e.ip ?? null,
      port: e.port ?? null,
    })));
    await sql`
      WITH r AS (
        SELECT * FROM jsonb_to_recordset(${rows})
          AS r(n int4, key text, time int8, ip text, port int4)
      ), history AS (
        INSERT INTO login_history (user_id, time, ip, port)
        SELECT u.id, r.time, r.ip, r.port FROM r JOIN users u ON u.login_key = r.key
        WHERE r.ip IS NOT NULL ORDER BY r.n
      ), latest AS (
        SELECT key, max(time) AS time,
          (array_agg(ip ORDER BY time DESC, n DESC) FILTER (WHERE ip IS NOT NULL))[1] AS ip
        FROM r GROUP BY key
      )
      UPDATE users u SET last_seen = greatest(u.last_seen, latest.time),
        last_ip = coalesce(latest.ip, u.last_ip)
      FROM latest WHERE u.login_key = latest.key`;
  }

  #report(error: Error): void {
    if (this.#errorListeners.size === 0) console.error(error.message);
    for (const listener of this.#errorListeners) {
      try {
        listener(error);
      } catch (thrown) {
        reportError(thrown);
      }
    }
  }
}
