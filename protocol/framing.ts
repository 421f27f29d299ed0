import { FrameError } from "./errors.ts";
import { DEFAULT_LIMITS } from "./limits.ts";

/** One decoded frame: a parsed JSON object, or a non-fatal error for a balanced bad object. */
export type DecodedFrame =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; error: FrameError };

/** Options for {@linkcode FrameDecoder} and {@linkcode JimDecoderStream}. */
export interface FrameDecoderOptions {
  /** Largest accepted frame in bytes; defaults to 16 KiB. */
  maxFrameBytes?: number;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// Shared by every decoder: it decodes whole objects without streaming, so it holds no state
// between calls, and a server with 10,000 connections keeps one instead of 10,000.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
// What a decoder holds between objects: shared, since nothing is ever written into it.
const NOTHING = new Uint8Array(0);

function isJsonWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * Splits a byte stream into JSON objects. Objects may follow each other with or without
 * whitespace, and chunks may split them at any byte, including inside multi-byte UTF-8
 * sequences and escaped quotes. The scanner works on bytes: every structural character is
 * ASCII and never occurs inside a UTF-8 multi-byte sequence, so no decoding is needed until
 * an object is complete.
 *
 * Only the bytes of an unfinished object are kept, and never more than `maxFrameBytes`.
 * `push()` throws a fatal {@linkcode FrameError} once the stream cannot be resynchronised;
 * after that every call throws the same error.
 *
 * @example
 * ```ts
 * import { FrameDecoder } from "./framing.ts";
 * const decoder = new FrameDecoder();
 * const bytes = new TextEncoder().encode('{"action":"quit"}{"act');
 * console.log(decoder.push(bytes)); // [{ ok: true, value: { action: "quit" } }]
 * ```
 */
export class FrameDecoder {
  /** Largest accepted frame in bytes. */
  readonly maxFrameBytes: number;
  #pending: Uint8Array = NOTHING;
  #pendingLength = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;
  #failure: FrameError | undefined;

  /** Creates a decoder that accepts frames up to `options.maxFrameBytes` (16 KiB). */
  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  }

  /** Bytes held for an unfinished object. */
  get bufferedBytes(): number {
    return this.#pendingLength;
  }

  /** Whether the decoder sits between objects, holding nothing. */
  get idle(): boolean {
    return this.#depth === 0 && this.#pendingLength === 0;
  }

  /**
   * Feeds a chunk and returns the frames it completes, in order.
   *
   * @throws {FrameError} fatal, for an oversized frame, a non-object at top level or invalid UTF-8.
   */
  push(chunk: Uint8Array): DecodedFrame[] {
    if (this.#failure) throw this.#failure;
    const frames: DecodedFrame[] = [];
    let depth = this.#depth;
    let inString = this.#inString;
    let escaped = this.#escaped;
    // Start of the current object within this chunk; 0 when it began in an earlier chunk.
    let start = 0;
    const length = chunk.length;
    for (let i = 0; i < length; i++) {
      const b = chunk[i]!;
      if (depth === 0) {
        if (isJsonWhitespace(b)) continue;
        if (b !== OPEN_BRACE) {
          throw this.#fail(
            `Cannot decode frame: expected an object, found ${describeByte(b)}`,
          );
        }
        depth = 1;
        start = i;
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (b === BACKSLASH) escaped = true;
        else if (b === QUOTE) inString = false;
        continue;
      }
      if (b === QUOTE) inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
      else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) {
          frames.push(this.#complete(chunk, start, i + 1));
        }
      }
    }
    this.#depth = depth;
    this.#inString = inString;
    this.#escaped = escaped;
    if (depth > 0) this.#keep(chunk, start, length);
    return frames;
  }

  /**
   * Declares the end of the stream.
   *
   * @throws {FrameError} fatal, when the stream ends inside an object.
   */
  finish(): void {
    if (this.#failure) throw this.#failure;
    if (this.#depth > 0) {
      throw this.#fail("Cannot decode frame: stream ended inside an object");
    }
  }

  #complete(chunk: Uint8Array, start: number, end: number): DecodedFrame {
    let bytes: Uint8Array;
    if (this.#pendingLength === 0) {
      bytes = chunk.subarray(start, end);
    } else {
      this.#keep(chunk, 0, end);
      bytes = this.#pending.subarray(0, this.#pendingLength);
    }
    if (bytes.length > this.maxFrameBytes) throw this.#oversized();
    let text: string;
    try {
      text = utf8Decoder.decode(bytes);
    } catch (cause) {
      throw this.#fail("Cannot decode frame: invalid UTF-8", cause);
    }
    this.#pendingLength = 0;
    if (this.#pending.length > 4096) this.#pending = NOTHING;
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (cause) {
      const detail = cause instanceof SyntaxError ? cause.message : String(cause);
      return {
        ok: false,
        error: new FrameError(`Cannot parse frame: ${detail}`, { fatal: false, cause }),
      };
    }
  }

  #keep(chunk: Uint8Array, start: number, end: number): void {
    const needed = this.#pendingLength + (end - start);
    if (needed > this.maxFrameBytes) throw this.#oversized();
    if (needed > this.#pending.length) {
      const grown = new Uint8Array(Math.min(this.maxFrameBytes, Math.max(needed, 256) * 2));
      grown.set(this.#pending.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pending.set(chunk.subarray(start, end), this.#pendingLength);
    this.#pendingLength = needed;
  }

  #oversized(): FrameError {
    return this.#fail(`Cannot decode frame: exceeds ${this.maxFrameBytes} bytes`);
  }

  #fail(message: string, cause?: unknown): FrameError {
    this.#pending = NOTHING;
    this.#pendingLength = 0;
    this.#failure = new FrameError(message, { fatal: true, cause });
    return this.#failure;
  }
}

function describeByte(b: number): string {
  if (b >= 0x20 && b < 0x7f) return JSON.stringify(String.fromCharCode(b));
  return `byte 0x${b.toString(16).padStart(2, "0")}`;
}

/**
 * A TransformStream from bytes to {@linkcode DecodedFrame}s. Non-fatal errors are passed on as
 * frames; a fatal error errors the stream, and its owner should close the connection.
 *
 * @example
 * ```ts
 * import { JimDecoderStream } from "./framing.ts";
 * const body = new Blob(['{"a":1}\n{"b":2}']).stream();
 * for await (const frame of body.pipeThrough(new JimDecoderStream())) console.log(frame);
 * ```
 */
export class JimDecoderStream extends TransformStream<Uint8Array, DecodedFrame> {
  /** Creates the stream; see {@linkcode FrameDecoderOptions}. */
  constructor(options: FrameDecoderOptions = {}) {
    const decoder = new FrameDecoder(options);
    super({
      transform(chunk, controller) {
        for (const frame of decoder.push(chunk)) controller.enqueue(frame);
      },
      flush() {
        decoder.finish();
      },
    });
  }
}

const utf8Encoder = new TextEncoder();

/**
 * Encodes one message as compact JSON followed by "\n"; a seed peer's `json.loads` accepts
 * the trailing newline.
 *
 * @example
 * ```ts
 * import { encodeFrame } from "./framing.ts";
 * const bytes = encodeFrame({ response: 200 }); // '{"response":200}\n'
 * ```
 */
export function encodeFrame(message: unknown): Uint8Array {
  return utf8Encoder.encode(JSON.stringify(message) + "\n");
}

/**
 * A TransformStream from messages to framed bytes.
 *
 * @example
 * ```ts
 * import { JimEncoderStream } from "./framing.ts";
 * const { readable, writable } = new JimEncoderStream();
 * ```
 */
export class JimEncoderStream extends TransformStream<unknown, Uint8Array> {
  /** Creates the stream. */
  constructor() {
    super({
      transform(message, controller) {
        controller.enqueue(encodeFrame(message));
      },
    });
  }
}
