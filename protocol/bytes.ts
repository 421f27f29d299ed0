import { equalBytes } from "@noble/ciphers/utils.js";

/**
 * Compares two byte strings in time that depends only on their lengths, so that a secret's
 * content cannot be learned by timing. Strings are compared as UTF-8. The comparison is
 * `equalBytes` of the audited, pure-JS `@noble/ciphers`, so protocol/ needs no `node:` module
 * and runs in a browser.
 *
 * @example
 * ```ts
 * import { constantTimeEqual } from "./bytes.ts";
 * constantTimeEqual("abc", "abc"); // true
 * ```
 */
export function constantTimeEqual(a: Uint8Array | string, b: Uint8Array | string): boolean {
  const x = typeof a === "string" ? utf8.encode(a) : a;
  const y = typeof b === "string" ? utf8.encode(b) : b;
  return equalBytes(x, y);
}

const utf8 = new TextEncoder();

/**
 * Lowercase hex of bytes.
 *
 * @example
 * ```ts
 * import { toHex } from "./bytes.ts";
 * toHex(new Uint8Array([0xca, 0xfe])); // "cafe"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * Bytes of a hex string.
 *
 * @example
 * ```ts
 * import { fromHex } from "./bytes.ts";
 * fromHex("cafe"); // Uint8Array [0xca, 0xfe]
 * ```
 * @throws {TypeError} when `hex` is not an even-length hex string.
 */
export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError("Cannot decode hex: not an even-length hex string");
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Standard base64 of bytes or of a string's UTF-8.
 *
 * @example
 * ```ts
 * import { toBase64 } from "./bytes.ts";
 * toBase64("n,,"); // "biws"
 * ```
 */
export function toBase64(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/**
 * Bytes of a standard base64 string.
 *
 * @example
 * ```ts
 * import { fromBase64 } from "./bytes.ts";
 * fromBase64("biws"); // bytes of "n,,"
 * ```
 * @throws {TypeError} when `text` is not base64.
 */
export function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch (cause) {
    throw new TypeError("Cannot decode base64: invalid input", { cause });
  }
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * Cryptographically random bytes.
 *
 * @example
 * ```ts
 * import { randomBytes } from "./bytes.ts";
 * const salt = randomBytes(16);
 * ```
 */
export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}
