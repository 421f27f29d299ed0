/**
 * The two limits a chat message meets, measured the way the JIM server sees the text: its
 * length in characters (Unicode code points) and its size in bytes once JSON-encoded as UTF-8
 * inside the frame. Shared by the browser (live counter) and the GUI's route check, so the
 * page never offers what the route refuses.
 *
 * @module
 */
import { DEFAULT_LIMITS } from "../../protocol/limits.ts";

/** Longest text in characters (code points): the server's default limit. */
export const MAX_TEXT_CHARS: number = DEFAULT_LIMITS.maxMessageLength;
/**
 * Largest text in bytes once JSON-encoded as UTF-8, quotes included: a JIM frame holds
 * 16,384 bytes, and 512 are left for the rest of the msg object (action, time, both logins).
 */
export const MAX_TEXT_BYTES: number = DEFAULT_LIMITS.maxFrameBytes - 512;
/** The counter shows from this share of either limit on. */
export const NEAR_LIMIT = 0.9;

/** What {@linkcode measureText} finds. */
export interface TextMeasure {
  /** Code points. */
  chars: number;
  /** UTF-8 bytes of the JSON string, quotes included. */
  bytes: number;
  /** Within 90% of either limit, or past one. */
  near: boolean;
  /** Why the text cannot be sent, or null. */
  problem: string | null;
}

const encoder = new TextEncoder();
const grouped = (n: number) => n.toLocaleString("en-US");

/**
 * Bytes the text takes inside a JIM frame: UTF-8 of its JSON string form, so a quote or a
 * line break counts 2, a control character 6, a letter of another script 2 or 3, an emoji 4.
 *
 * @example
 * ```ts
 * textBytes("hi"); // 4: the two quotes count
 * textBytes("a\nb"); // 6
 * ```
 */
export function textBytes(text: string): number {
  return encoder.encode(JSON.stringify(text)).length;
}

function codePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Counts a text against both limits.
 *
 * @example
 * ```ts
 * measureText("😀".repeat(4000)).problem;
 * // "Too long: 16,002 bytes once encoded, the limit is 15,872"
 * ```
 */
export function measureText(text: string): TextMeasure {
  const chars = codePoints(text);
  const bytes = textBytes(text);
  let problem: string | null = null;
  if (chars > MAX_TEXT_CHARS) {
    problem = `Too long: ${grouped(chars)} characters, the limit is ${grouped(MAX_TEXT_CHARS)}`;
  } else if (bytes > MAX_TEXT_BYTES) {
    problem = `Too long: ${grouped(bytes)} bytes once encoded, the limit is ${
      grouped(MAX_TEXT_BYTES)
    }`;
  }
  const near = chars >= MAX_TEXT_CHARS * NEAR_LIMIT || bytes >= MAX_TEXT_BYTES * NEAR_LIMIT;
  return { chars, bytes, near, problem };
}

/** The limits in plain words, for the hint under the message box. */
export const LIMITS_TEXT = `Up to ${grouped(MAX_TEXT_CHARS)} characters and ${
  grouped(MAX_TEXT_BYTES)
} bytes once encoded (an emoji takes 4 bytes, a letter of many scripts 2 or 3).`;
