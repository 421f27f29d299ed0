/**
 * SASLprep (RFC 4013), the preparation RFC 5802 applies to a SCRAM password before it is
 * hashed: non-ASCII spaces become a space, characters commonly mapped to nothing (soft
 * hyphen, zero-width joiners, variation selectors) go, the rest is NFKC-normalised, and
 * control characters, private-use and other prohibited code points, or right-to-left text
 * mixed the wrong way, are refused.
 *
 * @module
 */
import saslprep from "@mongodb-js/saslprep";
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
  // The library fails on input it maps to nothing; say so plainly first.
  if (MAPPED_TO_NOTHING_ONLY.test(password)) throw nothingLeft();
  let prepared: string;
  try {
    prepared = saslprep(password, { allowUnassigned: !options.stored });
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new JimError(Status.BAD_REQUEST, `Invalid password: ${reason(detail)} (RFC 4013)`, {
      cause,
    });
  }
  if (prepared === "" && password !== "") throw nothingLeft();
  return prepared;
}

/** RFC 3454 table B.1, less U+200B, which RFC 4013 maps to a space as table C.1.2 says. */
const MAPPED_TO_NOTHING_ONLY =
  /^[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]+$/;

function nothingLeft(): JimError {
  return new JimError(
    Status.BAD_REQUEST,
    "Invalid password: nothing is left after SASLprep (RFC 4013)",
  );
}

function reason(detail: string): string {
  if (/^prohibited character/i.test(detail)) return "it contains a prohibited character";
  if (/^unassigned code point/i.test(detail)) return "it contains an unassigned code point";
  if (/bidirectional/i.test(detail)) {
    return "right-to-left text must start and end the password and not mix with left-to-right";
  }
  return detail.replace(/, see https?:\/\/\S+$/, "");
}
