/** Size limits the protocol enforces; both are configurable per server or client. */
export interface ProtocolLimits {
  /** Largest frame (one JSON object) in bytes. */
  maxFrameBytes: number;
  /** Longest `msg.message` text, in characters (Unicode code points). */
  maxMessageLength: number;
}

/**
 * The defaults: 16 KiB frames and 4096-character messages.
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * const limits = { ...DEFAULT_LIMITS, maxMessageLength: 1000 };
 * ```
 */
export const DEFAULT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxFrameBytes: 16 * 1024,
  maxMessageLength: 4096,
});

/**
 * How many bytes above its own `maxFrameBytes` a client accepts in a frame from the server.
 * A jim server never sends more than its `maxFrameBytes`; the margin keeps a client working
 * with servers that add fields (`from`, `encoding`) to a message after checking its size.
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS, RECEIVE_MARGIN_BYTES } from "./limits.ts";
 * const accepted = DEFAULT_LIMITS.maxFrameBytes + RECEIVE_MARGIN_BYTES; // 17408
 * ```
 */
export const RECEIVE_MARGIN_BYTES = 1024;

/** Longest `action` value, from the JIM course material. */
export const MAX_ACTION_LENGTH = 15;
/** Longest account name, in characters. */
export const MAX_NAME_LENGTH = 25;
/**
 * Longest password, in UTF-16 code units. The store, both CLIs, both GUIs and the client
 * refuse longer ones; PBKDF2's cost grows with the length.
 */
export const MAX_PASSWORD_LENGTH = 1024;
