import { Status } from "./status.ts";

/**
 * A domain error that crosses the wire as `{ response: code, error: message }`.
 *
 * @example
 * ```ts
 * import { JimError } from "./errors.ts";
 * const err = new JimError(410, "Client not online: bob");
 * console.log(err.toResponse()); // { response: 410, error: "Client not online: bob" }
 * ```
 */
export class JimError extends Error {
  /** The JIM response code this error is sent with. */
  readonly code: number;

  /**
   * Creates an error that is sent as `{ response: code, error: message }`.
   *
   * @param code The JIM response code, e.g. 410.
   * @param message Sentence case, detail after a colon: "Client not online: bob".
   */
  constructor(code: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "JimError";
    this.code = code;
  }

  /** The wire form of this error. */
  toResponse(): { response: number; error: string } {
    return { response: this.code, error: this.message };
  }
}

/**
 * A framing failure. A non-fatal one (a balanced object that is not valid JSON) lets the
 * stream go on; a fatal one (oversized frame, non-object at top level, invalid UTF-8) means
 * the stream cannot resynchronise and its owner must close the connection.
 *
 * @example
 * ```ts
 * import { FrameError } from "./errors.ts";
 * const err = new FrameError("Cannot decode frame: exceeds 16384 bytes", { fatal: true });
 * console.log(err.fatal, err.code); // true 400
 * ```
 */
export class FrameError extends Error {
  /** Whether the byte stream is lost and the connection must close. */
  readonly fatal: boolean;
  /** The JIM code to answer with before closing or continuing. */
  readonly code: number;

  /**
   * Creates a framing error.
   *
   * @param message Sentence case, detail after a colon: "Cannot decode frame: invalid UTF-8".
   * @param options `fatal` when the stream is lost; `code` defaults to 400.
   */
  constructor(message: string, options: ErrorOptions & { fatal: boolean; code?: number }) {
    super(message, options);
    this.name = "FrameError";
    this.fatal = options.fatal;
    this.code = options.code ?? Status.BAD_REQUEST;
  }
}
