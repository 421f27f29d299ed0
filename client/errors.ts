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
