import { hmac } from "@noble/hashes/hmac.js";
import { md5 } from "@noble/hashes/legacy.js";
import { constantTimeEqual, fromHex, randomBytes, toHex } from "./bytes.ts";

/** The seed's fixed salt: `ca fe be ef` six times, the same for every user. */
export const LEGACY_SALT: Uint8Array<ArrayBuffer> = new Uint8Array(24).map((_, i) =>
  [0xca, 0xfe, 0xbe, 0xef][i % 4]!
);
/** The seed's PBKDF2 iteration count. */
export const LEGACY_ITERATIONS = 100_000;

/**
 * The seed's stored value: hex of PBKDF2-HMAC-SHA256(password, fixed salt, 100000, 32 bytes).
 * It is password-equivalent, which is why this project stores it only for users who must log
 * in from seed clients.
 *
 * @example
 * ```ts
 * import { legacyStoredHash } from "./legacy.ts";
 * await legacyStoredHash("secret"); // "f6d5e52e…7cda31"
 * ```
 */
export async function legacyStoredHash(password: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: LEGACY_SALT, iterations: LEGACY_ITERATIONS },
    key,
    256,
  );
  return toHex(new Uint8Array(bits));
}

/**
 * The seed's login digest: hex of HMAC-MD5 keyed with the stored value's 32 bytes over the
 * token's 16 bytes. Web Crypto has no MD5, hence the pure-JS `@noble/hashes`.
 *
 * @example
 * ```ts
 * import { legacyDigest } from "./legacy.ts";
 * legacyDigest("f6d5…7cda31", "00112233445566778899aabbccddeeff"); // "bdfe4c7d…c92b"
 * ```
 * @throws {TypeError} when either argument is not hex.
 */
export function legacyDigest(storedHex: string, tokenHex: string): string {
  return toHex(hmac(md5, fromHex(storedHex), fromHex(tokenHex)));
}

/**
 * Checks a client's legacy digest against the stored value and token in constant time.
 *
 * @example
 * ```ts
 * import { legacyDigest, verifyLegacyDigest } from "./legacy.ts";
 * const stored = "f6d5e52e48897f9b8dd785461f1d68ea83c2233e35443872713cccde747cda31";
 * const token = "00112233445566778899aabbccddeeff";
 * verifyLegacyDigest(stored, token, legacyDigest(stored, token)); // true
 * ```
 */
export function verifyLegacyDigest(storedHex: string, tokenHex: string, digest: string): boolean {
  return constantTimeEqual(legacyDigest(storedHex, tokenHex), digest.toLowerCase());
}

/**
 * A fresh challenge token: 16 random bytes as 32 hex characters, as the seed sends.
 *
 * @example
 * ```ts
 * import { newToken } from "./legacy.ts";
 * newToken().length; // 32
 * ```
 */
export function newToken(): string {
  return toHex(randomBytes(16));
}
