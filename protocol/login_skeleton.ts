/**
 * The UTS #39 confusable skeleton of a login: two names with the same skeleton look alike,
 * and a new name whose skeleton an existing user already has is taken.
 *
 * Kept apart from login_name.ts so that a browser bundle that only checks names does not
 * carry the confusables table.
 *
 * @module
 */
import { CONFUSABLES } from "./_confusables.gen.ts";
import { DEFAULT_IGNORABLE } from "./_login_name_data.gen.ts";
import { decodeRanges, inRanges } from "./_code_point_tables.ts";
import { normalizeLogin } from "./login_name.ts";

const ignorable = decodeRanges(DEFAULT_IGNORABLE);
const prototypes = new Map<number, string>();
{
  let cp = 0;
  for (const entry of CONFUSABLES.split(",")) {
    const [delta, target] = entry.split(":") as [string, string];
    cp += parseInt(delta, 36);
    prototypes.set(cp, String.fromCodePoint(...target.split(".").map((c) => parseInt(c, 36))));
  }
}

/**
 * The UTS #39 section 4 skeleton: NFD, default-ignorable characters dropped, each character
 * replaced by its prototype, NFD again. Not for display: it is a comparison key.
 *
 * @example
 * ```ts
 * import { confusableSkeleton } from "./login_skeleton.ts";
 * confusableSkeleton("раураl") === confusableSkeleton("paypal"); // true
 * ```
 */
export function confusableSkeleton(text: string): string {
  let out = "";
  for (const ch of text.normalize("NFD")) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(ignorable, cp)) continue;
    out += prototypes.get(cp) ?? ch;
  }
  return out.normalize("NFD");
}

/**
 * The key that look-alike logins share: the skeleton of the lower-cased skeleton of the
 * normalized name. Lower-casing between the two passes makes it case-insensitive like
 * `loginKey` while a capital I that reads as l still counts as l.
 *
 * @example
 * ```ts
 * import { loginSkeleton } from "./login_skeleton.ts";
 * loginSkeleton("аlice") === loginSkeleton("alice"); // true: Cyrillic а
 * loginSkeleton("aIice") === loginSkeleton("alice"); // true: capital I
 * ```
 */
export function loginSkeleton(name: string): string {
  return confusableSkeleton(confusableSkeleton(normalizeLogin(name)).toLowerCase());
}
