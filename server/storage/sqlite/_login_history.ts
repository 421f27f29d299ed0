/**
 * SQLite login history, written behind: `record()` and `seen()` only queue, and one
 * transaction every `flushMs` writes the queue, so that a login or a message never waits for a
 * commit. The queue is bounded: past `maxPending` it is written at once.
 *
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { loginKey } from "../../../protocol/mod.ts";
import type { LoginHistory, LoginRecord } from "../ports.ts";
import { settle, transaction } from "./_sql.ts";

/** Options of the write-behind. */
export interface WriteBehindOptions {
  /** How long a record may wait before it is written, ms; 200 by default. */
  flushMs?: number;
  /** Records queued before they are written at once; 10,000 by default. */
  maxPending?: number;
}

/** The SQLite {@linkcode LoginHistory}. Created by `SqliteStorage`. */
export class SqliteLoginHistory implements LoginHistory {
  readonly #db: DatabaseSync;
  readonly #flushMs: number;
  readonly #maxPending: number;
  readonly #q: ReturnType<typeof prepare>;
  readonly #errorListeners = new Set<(error: Error) => void>();
  #logins: LoginRecord[] = [];
  #seen: { login: string; time: number }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(db: DatabaseSync, options: WriteBehindOptions = {}) {
    this.#db = db;
    this.#flushMs = options.flushMs ?? 200;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#q = prepare(db);
  }

  /** Records queued and not yet written. */
  get pending(): number {
    return this.#logins.length + this.#seen.length;
  }

  record(record: LoginRecord): void {
    if (this.#closed) return;
    this.#logins.push(record);
    this.#schedule();
  }

  seen(login: string, time: number): void {
    if (this.#closed) return;
    this.#seen.push({ login, time });
    this.#schedule();
  }

  flush(): Promise<void> {
    this.#write();
    return Promise.resolve();
  }

  list(options: { login?: string; limit?: number } = {}): Promise<LoginRecord[]> {
    return settle(() => {
      const limit = Math.max(1, Math.min(10_000, Math.trunc(options.limit ?? 100)));
      const rows = options.login === undefined
        ? this.#q.historyAll.all(limit)
        : this.#q.historyOf.all(loginKey(options.login), limit);
      return rows.map((row) => ({
        login: row.login as string,
        time: row.time as number,
        ip: row.ip as string,
        port: row.port as number,
      }));
    });
  }

  onWriteError(listener: (error: Error) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /** Writes what is queued and takes no more; the database closes after. */
  close(): void {
    if (this.#closed) return;
    this.#write();
    this.#closed = true;
  }

  #schedule(): void {
    if (this.pending > this.#maxPending) {
      // The disk cannot keep up (or is locked); keep memory bounded by writing now.
      this.#write();
      return;
    }
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#write();
    }, this.#flushMs);
  }

  #write(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const logins = this.#logins;
    const seen = this.#seen;
    if (logins.length === 0 && seen.length === 0) return;
    this.#logins = [];
    this.#seen = [];
    try {
      transaction(this.#db, () => {
        for (const r of logins) {
          const row = this.#q.loginByKey.get(loginKey(r.login));
          // A user removed since the login: their history went with them.
          if (!row) continue;
          this.#q.insertHistory.run(row.id as number, r.time, r.ip, r.port);
          this.#q.touchUser.run(r.time, r.ip, row.id as number);
        }
        for (const r of seen) this.#q.touchLastSeen.run(r.time, loginKey(r.login));
      });
    } catch (cause) {
      const error = new Error(
        `Cannot write login history: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
      if (this.#errorListeners.size === 0) console.error(error.message);
      for (const listener of this.#errorListeners) listener(error);
    }
  }
}

function prepare(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  return {
    loginByKey: p("SELECT id FROM users WHERE login_key = ?"),
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
