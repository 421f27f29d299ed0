/**
 * PostgreSQL change notification through LISTEN/NOTIFY. A removal commits with a
 * `pg_notify` on {@linkcode CHANGES_CHANNEL}, so every node that listens hears it by name.
 * This handle's own removals are passed on from the call that made them, after it returned;
 * their notifications are recognised by the handle's origin and skipped.
 *
 * The client renews LISTEN by itself after a reconnect. Notifications sent while the
 * connection was down are lost, so each renewal after the first is passed on as `unknown`:
 * "something may have changed, re-check".
 *
 * @module
 */
import type { ChangeFeed, StorageChange } from "../ports.ts";
import { reconnectDelay, type Sql } from "./_client.ts";
import { CHANGES_CHANNEL } from "./_schema.ts";

/** The PostgreSQL {@linkcode ChangeFeed}. Created by `PostgresStorage`. */
export class PostgresChangeFeed implements ChangeFeed {
  readonly #sql: Sql;
  readonly #origin: string;
  readonly #maxRetrySeconds: number;
  readonly #listeners = new Set<(change: StorageChange) => void>();
  /** Timers of own changes waiting to be passed on, and of a LISTEN retry. */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #unlisten: (() => Promise<void>) | undefined;
  /** Bumped at every start and stop: an answer for an older generation is stale. */
  #generation = 0;
  #listens = 0;
  #failures = 0;
  #closed = false;

  constructor(sql: Sql, origin: string, options: { maxRetrySeconds: number }) {
    this.#sql = sql;
    this.#origin = origin;
    this.#maxRetrySeconds = options.maxRetrySeconds;
  }

  subscribe(listener: (change: StorageChange) => void): () => void {
    if (this.#closed) return () => {};
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) {
      this.#listens = 0;
      this.#start();
    }
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#stop();
    };
  }

  /** A change this handle made: passed on once the call that made it has returned. */
  noteOwn(change: StorageChange): void {
    if (this.#listeners.size === 0) return;
    this.#later(0, () => this.#dispatch(change));
  }

  /** Stops listening and drops the listeners. Idempotent; the pool's end closes the rest. */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#stop();
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #start(): void {
    const generation = ++this.#generation;
    this.#sql.listen(
      CHANGES_CHANNEL,
      (payload) => {
        if (generation === this.#generation) this.#notified(payload);
      },
      () => {
        if (generation !== this.#generation) return;
        this.#failures = 0;
        // The first LISTEN starts the feed; any later one follows a lost connection or a
        // failed first attempt, and notifications may have been missed meanwhile.
        if (this.#listens++ > 0) this.#dispatch({ kind: "unknown" });
      },
    ).then(
      (meta) => {
        if (generation === this.#generation) this.#unlisten = meta.unlisten;
        else meta.unlisten().catch(() => {});
      },
      () => {
        // The database is down at the first LISTEN; the client renews only what it had.
        if (generation !== this.#generation || this.#closed) return;
        const seconds = reconnectDelay(++this.#failures, this.#maxRetrySeconds);
        this.#listens = Math.max(this.#listens, 1);
        this.#later(seconds * 1000, () => {
          if (generation === this.#generation && this.#listeners.size > 0) this.#start();
        });
      },
    );
  }

  #stop(): void {
    this.#generation++;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    unlisten?.().catch(() => {});
  }

  #notified(payload: string): void {
    let change: StorageChange = { kind: "unknown" };
    try {
      const parsed = JSON.parse(payload);
      if (parsed?.origin === this.#origin) return;
      if (parsed?.kind === "user-removed" && typeof parsed.login === "string") {
        change = { kind: "user-removed", login: parsed.login };
      }
    } catch {
      // Not ours, or mangled: re-checking is always safe.
    }
    this.#dispatch(change);
  }

  #dispatch(change: StorageChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        reportError(error);
      }
    }
  }
}
