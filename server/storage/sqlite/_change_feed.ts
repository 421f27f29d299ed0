/**
 * SQLite change notification. `PRAGMA data_version` changes whenever another connection (e.g.
 * `jim-server user remove` in another process) commits, and never for this connection's own
 * writes; polling it costs one PRAGMA per interval and says only "something changed". This
 * connection's own removals are known exactly and are passed on by name.
 *
 * @module
 */
import type { ChangeFeed, StorageChange } from "../ports.ts";

/** Options of the change feed. */
export interface ChangeFeedOptions {
  /** How often to look for other processes' commits while someone listens, ms; 1000 by default. */
  pollMs?: number;
}

/** The SQLite {@linkcode ChangeFeed}. Created by `SqliteStorage`. */
export class SqliteChangeFeed implements ChangeFeed {
  readonly #readVersion: () => number;
  readonly #pollMs: number;
  readonly #listeners = new Set<(change: StorageChange) => void>();
  #own: StorageChange[] = [];
  #version = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(readVersion: () => number, options: ChangeFeedOptions = {}) {
    this.#readVersion = readVersion;
    this.#pollMs = Math.max(1, options.pollMs ?? 1000);
  }

  subscribe(listener: (change: StorageChange) => void): () => void {
    if (this.#closed) return () => {};
    if (this.#listeners.size === 0) {
      this.#version = this.#readVersion();
      this.#timer = setInterval(() => this.#poll(), this.#pollMs);
    }
    this.#listeners.add(listener);
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#own = [];
    };
  }

  /**
   * A change this connection made; passed on at the next poll, never inside the call that
   * made it. Nothing is kept while nobody listens.
   */
  note(change: StorageChange): void {
    if (this.#listeners.size > 0) this.#own.push(change);
  }

  /** Stops polling and drops the listeners. Idempotent. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
    this.#own = [];
  }

  #poll(): void {
    const changes = this.#own;
    this.#own = [];
    try {
      const version = this.#readVersion();
      if (version !== this.#version) {
        this.#version = version;
        changes.push({ kind: "unknown" });
      }
    } catch (error) {
      // The database went away under the feed: nothing more will change.
      this.close();
      reportError(error);
      return;
    }
    for (const change of changes) {
      for (const listener of [...this.#listeners]) {
        try {
          listener(change);
        } catch (error) {
          reportError(error);
        }
      }
    }
  }
}
