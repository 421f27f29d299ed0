/**
 * One outbound message on its way to any number of sessions, encoded at most once however
 * many sessions it reaches.
 *
 * @module
 */
import { encodeFrame, type ServerPush } from "../../protocol/mod.ts";

/**
 * A push and its frame, encoded lazily on first use and then shared by every session that
 * delivers it. Issue 12 adds a second dialect (ids and server time for sessions that announced
 * them); each dialect is then encoded once, seed sessions getting exactly today's frame.
 *
 * @example
 * ```ts
 * import { Envelope } from "./envelope.ts";
 * const envelope = new Envelope({ action: "probe", time: 1 });
 * console.log(envelope.frame().length); // 28: {"action":"probe","time":1} and a newline
 * ```
 */
export class Envelope<M extends ServerPush = ServerPush> {
  /** The message as the server built it. */
  readonly message: M;
  #frame: Uint8Array | undefined;

  /** Wraps `message`; nothing is encoded yet. */
  constructor(message: M) {
    this.message = message;
  }

  /** The encoded frame, JSON and a newline. */
  frame(): Uint8Array {
    return this.#frame ??= encodeFrame(this.message);
  }
}
