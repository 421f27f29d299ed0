/**
 * The storage's one error of its own: the database cannot be reached. It is a
 * {@linkcode JimError} with code 503, so a session that meets it answers the request with a
 * clear `503` and keeps running, and a login waits for nothing: the client may try again.
 *
 * @module
 */
import { JimError, Status } from "../../protocol/mod.ts";

/** What a client is told while the database cannot be reached. */
export const STORAGE_UNAVAILABLE = "Database unavailable: try again later";

/**
 * The database is down or unreachable (refused, reset, shut down, timed out). The low-level
 * error is the `cause`; the message is the same for every cause, so that nothing about the
 * database's address reaches a client.
 *
 * @example
 * ```ts
 * import { StorageUnavailableError } from "./errors.ts";
 * const error = new StorageUnavailableError({ cause: new Error("connect ECONNREFUSED") });
 * console.log(error.toResponse()); // { response: 503, error: "Database unavailable: try again later" }
 * ```
 */
export class StorageUnavailableError extends JimError {
  /** Creates the error; pass what the database client threw as `cause`. */
  constructor(options?: ErrorOptions) {
    super(Status.UNAVAILABLE, STORAGE_UNAVAILABLE, options);
    this.name = "StorageUnavailableError";
  }
}
