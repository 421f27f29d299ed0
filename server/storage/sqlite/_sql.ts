/**
 * Small helpers of the SQLite adapter: a write transaction, and synchronous work presented
 * through the async ports.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";

/**
 * Runs `body` inside `BEGIN IMMEDIATE` ... `COMMIT`, rolling back when it throws. IMMEDIATE
 * takes the write lock at once, so a busy database waits here (busy_timeout), not halfway.
 */
export function transaction<T>(db: DatabaseSync, body: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = body();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * The result of synchronous `body` as a promise: what it throws becomes a rejection, as it
 * would from an adapter that awaits a server, so callers handle one kind of failure.
 */
export function settle<T>(body: () => T): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}
