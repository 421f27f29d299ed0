/**
 * SASLprep (RFC 4013), the preparation RFC 5802 applies to a SCRAM password before it is
 * hashed: non-ASCII spaces become a space, characters commonly mapped to nothing (soft
 * hyphen, zero-width joiners, variation selectors) go, the rest is NFKC-normalised, and
 * control characters, private-use and other prohibited code points, or right-to-left text
 * mixed the wrong way, are refused.
 *
 * @module
 */
import { saslprep, type SaslprepRefusal } from "./_saslprep.ts";
import { JimError } from "./errors.ts";
import { Status } from "./status.ts";

/** Options for {@linkcode preparePassword}. */
export interface PreparePasswordOptions {
  /**
   * A password being registered, a "stored string" in RFC 3454's terms: code points that
   * Unicode 3.2 leaves unassigned are refused too. A login prepares a "query", which lets
   * them through, so that it agrees with whatever was stored.
   */
  stored?: boolean;
}

/**
 * Prepares a password with SASLprep.
 *
 * @example
 * ```ts
 * import { preparePassword } from "./saslprep.ts";
 * preparePassword("I\u00ADX"); // "IX": the soft hyphen is mapped to nothing
 * preparePassword("\u2168"); // "IX": NFKC
 * ```
 * @throws {JimError} 400 "Invalid password: …" for a password SASLprep refuses, or one that
 *   it maps to nothing at all.
 */
export function preparePassword(password: string, options: PreparePasswordOptions = {}): string {
  const result = saslprep(password, !options.stored);
  if (!result.ok) {
    throw new JimError(
      Status.BAD_REQUEST,
      `Invalid password: ${REASONS[result.refusal]} (RFC 4013)`,
    );
  }
  if (result.value === "" && password !== "") {
    throw new JimError(
      Status.BAD_REQUEST,
      "Invalid password: nothing is left after SASLprep (RFC 4013)",
    );
  }
  return result.value;
}

/** Why, in words; never which character, since that would be part of the password. */
const REASONS: Readonly<Record<SaslprepRefusal, string>> = {
  prohibited: "it contains a prohibited character",
  unassigned: "it contains an unassigned code point",
  "bidi-mixed": "right-to-left text must not mix with left-to-right",
  "bidi-ends": "right-to-left text must start and end the password",
};
