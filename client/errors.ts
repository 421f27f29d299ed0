/**
 * The client's own error. Server refusals arrive as {@linkcode JimError} from the protocol
 * package (they carry the JIM code); everything about the transport is a ConnectionError.
 *
 * @module
 */

/**
 * The connection could not be made, or was lost, or was closed while a request waited.
 * Every request pending at that moment rejects with one.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "./errors.ts";
 * try {
 *   throw new ConnectionError("Connection lost: server closed the connection");
 * } catch (err) {
 *   if (err instanceof ConnectionError) console.log(err.message);
 * }
 * ```
 */
export class ConnectionError extends Error {
  /** Creates the error; pass the underlying failure as `cause`. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionError";
  }
}

/**
 * The server did not announce the capability a call needs, e.g. `history` against a server
 * that keeps no messages (it answered no `ids` at login). Nothing was sent.
 *
 * @example
 * ```ts
 * import { UnsupportedError } from "./errors.ts";
 * const err = new UnsupportedError("Not supported by the server: history");
 * console.log(err.name); // "UnsupportedError"
 * ```
 */
export class UnsupportedError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UnsupportedError";
  }
}
