/**
 * Login names: one family of functions that every part of jim uses.
 *
 * - {@linkcode normalizeLogin}: the form a new name is stored and shown in (PRECIS
 *   UsernameCasePreserved preparation, RFC 8265 section 3.4: width mapping, then NFC).
 * - {@linkcode loginKey}: the form names are unique and looked up by (PRECIS
 *   UsernameCaseMapped, RFC 8265 section 3.3: width mapping, lower case, NFC).
 * - {@linkcode sameLogin}: whether two names are one account's.
 * - {@linkcode loginProblem}: why a *new* name is refused, or null. It applies the PRECIS
 *   IdentifierClass (RFC 8264) and the Bidi Rule (RFC 5893), jim's own character set
 *   (letters, marks, decimal digits, "_", "-", "."), refuses invisible characters, and applies
 *   UTS #39: an identifier profile, the "Highly Restrictive" mixed-script level, mixed
 *   numbers and stacked marks.
 * - `loginSkeleton` (login_skeleton.ts): the UTS #39 confusable skeleton, for "looks like an
 *   existing user".
 *
 * Names arriving on the wire are only checked with the lenient `isAccountName`
 * (validate.ts), so that accounts created before these rules keep working; the strict
 * rules apply when a name is created.
 *
 * The tables are generated from Unicode 17.0 by tasks/unicode_data.ts.
 *
 * @module
 */
import {
  ALLOWED,
  BIDI_RUNS,
  BIDI_VALUES,
  DIGIT_ZEROS,
  INVISIBLE,
  SCRIPT_NAMES,
  SCRIPT_RUNS,
  SCRIPT_VALUES,
  WIDTH,
} from "./_login_name_data.gen.ts";
import {
  codePointLabel,
  decodeRanges,
  decodeRuns,
  findRange,
  inRanges,
  runValue,
} from "./_code_point_tables.ts";
import { MAX_NAME_LENGTH } from "./limits.ts";
import { isAccountName } from "./validate.ts";

const allowed = decodeRanges(ALLOWED);
const invisible = decodeRanges(INVISIBLE);
const width = decodeRuns(WIDTH);
const digitZeros = decodeRanges(DIGIT_ZEROS).starts;
const bidi = decodeRuns(BIDI_RUNS);
const scripts = decodeRuns(SCRIPT_RUNS);

/** UTS #39 section 5.1: Han, Hiragana, Katakana, Hangul and Bopomofo augment their sets. */
const AUGMENT: Readonly<Record<string, readonly string[]>> = {
  Hani: ["Hanb", "Jpan", "Kore"],
  Hira: ["Jpan"],
  Kana: ["Jpan"],
  Hang: ["Kore"],
  Bopo: ["Hanb"],
};
const scriptSets: ReadonlySet<string>[] = SCRIPT_VALUES.map((value) => {
  const set = new Set<string>();
  for (const s of value.split(" ")) {
    set.add(s);
    for (const extra of AUGMENT[s] ?? []) set.add(extra);
  }
  return set;
});

// deno-lint-ignore no-control-regex
const ASCII = /^[\x00-\x7f]*$/;

function mapWidth(name: string): string {
  let out = "";
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    const i = findRange(width, cp);
    out += i < 0 ? ch : String.fromCodePoint(cp + width.values[i]!);
  }
  return out;
}

/**
 * The form a new login is stored and shown in: fullwidth and halfwidth characters mapped to
 * their ordinary forms, then NFC (PRECIS UsernameCasePreserved preparation).
 *
 * @example
 * ```ts
 * import { normalizeLogin } from "./login_name.ts";
 * normalizeLogin("ａlice"); // "alice"
 * normalizeLogin("Alice"); // "Alice"
 * ```
 */
export function normalizeLogin(name: string): string {
  if (ASCII.test(name)) return name;
  return mapWidth(name).normalize("NFC");
}

/**
 * The key logins are unique and looked up by: PRECIS UsernameCaseMapped (width mapping,
 * Unicode lower case, NFC). Total: every string has a key, valid or not.
 *
 * @example
 * ```ts
 * import { loginKey } from "./login_name.ts";
 * loginKey("Клиент") === loginKey("клиент"); // true
 * loginKey("ＡＬＩＣＥ"); // "alice"
 * ```
 */
export function loginKey(name: string): string {
  // Logins are mostly ASCII, and a key is computed for every routed message.
  if (ASCII.test(name)) return name.toLowerCase();
  return mapWidth(name).toLowerCase().normalize("NFC");
}

/**
 * Whether two names denote the same account.
 *
 * @example
 * ```ts
 * import { sameLogin } from "./login_name.ts";
 * sameLogin("Bob", "bob"); // true
 * ```
 */
export function sameLogin(a: string, b: string): boolean {
  return a === b || loginKey(a) === loginKey(b);
}

function describe(cp: number): string {
  return `"${String.fromCodePoint(cp)}" (${codePointLabel(cp)})`;
}

function invisibleProblem(name: string): string | null {
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    if (!inRanges(invisible, cp)) continue;
    return /\s/u.test(ch)
      ? `Invalid login: contains a space character ${codePointLabel(cp)}`
      : `Invalid login: contains an invisible character ${codePointLabel(cp)}`;
  }
  return null;
}

function characterProblem(text: string): string | null {
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (inRanges(allowed, cp)) continue;
    if (!/^[\p{L}\p{M}\p{Nd}_.\-]$/u.test(ch)) {
      return `Invalid login: may hold only letters, digits, "_", "-" and ".", not ${describe(cp)}`;
    }
    return `Invalid login: ${describe(cp)} is not allowed in names`;
  }
  return null;
}

function marksProblem(display: string): string | null {
  let run: string[] = [];
  for (const ch of display.normalize("NFD")) {
    if (!/\p{Mn}/u.test(ch)) {
      run = [];
      continue;
    }
    if (run.includes(ch)) return "Invalid login: repeats a combining mark on one letter";
    run.push(ch);
    if (run.length > 4) return "Invalid login: stacks more than 4 combining marks on one letter";
  }
  return null;
}

function numbersProblem(display: string): string | null {
  let zero: number | undefined;
  for (const ch of display) {
    if (!/\p{Nd}/u.test(ch)) continue;
    const cp = ch.codePointAt(0)!;
    let lo = 0;
    let hi = digitZeros.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (digitZeros[mid]! <= cp) {
        found = digitZeros[mid]!;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (zero === undefined) zero = found;
    else if (zero !== found) return "Invalid login: mixes digits of different number systems";
  }
  return null;
}

function scriptName(code: string): string {
  return SCRIPT_NAMES[code] ?? code;
}

/** UTS #39 section 5.2, Highly Restrictive, as ICU's SpoofChecker computes it. */
function scriptsProblem(display: string): string | null {
  let resolved: Set<string> | undefined;
  let withoutLatin: Set<string> | undefined;
  const seen: string[] = [];
  for (const ch of display) {
    const index = runValue(scripts, ch.codePointAt(0)!, -1);
    if (index < 0) continue; // Common or Inherited: goes with any script.
    const set = scriptSets[index]!;
    resolved = resolved === undefined
      ? new Set(set)
      : new Set([...resolved].filter((s) => set.has(s)));
    if (!set.has("Latn")) {
      withoutLatin = withoutLatin === undefined
        ? new Set(set)
        : new Set([...withoutLatin].filter((s) => set.has(s)));
    }
    const own = SCRIPT_VALUES[index]!.split(" ");
    if (!own.some((s) => seen.includes(s))) seen.push(own[0]!);
  }
  if (resolved === undefined || resolved.size > 0) return null;
  if (
    withoutLatin !== undefined &&
    (withoutLatin.has("Jpan") || withoutLatin.has("Hanb") || withoutLatin.has("Kore"))
  ) {
    return null;
  }
  const names = [...seen].sort((a, b) => (a === "Latn" ? -1 : b === "Latn" ? 1 : 0))
    .map(scriptName);
  const list = names.length <= 2
    ? names.join(" and ")
    : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  return `Invalid login: mixes ${list}`;
}

function bidiClassOf(cp: number): string {
  const index = runValue(bidi, cp, -1);
  return index < 0 ? "L" : BIDI_VALUES[index]!;
}

/** RFC 5893 section 2, which RFC 8265 applies to names holding right-to-left characters. */
function bidiProblem(display: string): string | null {
  const classes = [...display].map((ch) => bidiClassOf(ch.codePointAt(0)!));
  if (!classes.some((c) => c === "R" || c === "AN")) return null;
  if (classes[0] !== "R" && classes[0] !== "L") {
    return "Invalid login: a right-to-left name must start with a letter";
  }
  if (classes.includes("L")) {
    return "Invalid login: mixes right-to-left and left-to-right letters";
  }
  const last = classes.findLast((c) => c !== "NSM");
  if (last !== "R" && last !== "EN" && last !== "AN") {
    return "Invalid login: a right-to-left name must end with a letter or digit";
  }
  if (classes.includes("EN") && classes.includes("AN")) {
    return "Invalid login: mixes European and Arabic-Indic digits";
  }
  return null;
}

/**
 * Why `name` cannot be a new login, or null when it can: the message names the rule, e.g.
 * "Invalid login: mixes Latin and Cyrillic" or "Invalid login: contains an invisible
 * character U+034F". Whether the name is taken, or looks like a taken one, is the store's
 * question (see `loginSkeleton`).
 *
 * @example
 * ```ts
 * import { loginProblem } from "./login_name.ts";
 * loginProblem("Дмитрий"); // null
 * loginProblem("аlice"); // "Invalid login: mixes Latin and Cyrillic"
 * ```
 */
export function loginProblem(name: unknown): string | null {
  if (typeof name !== "string") return "Invalid login: must be a string";
  if (name.length === 0) return "Invalid login: must not be empty";
  const hidden = invisibleProblem(name);
  if (hidden) return hidden;
  const display = normalizeLogin(name);
  if ([...display].length > MAX_NAME_LENGTH) {
    return `Invalid login: exceeds ${MAX_NAME_LENGTH} characters`;
  }
  return characterProblem(display) ?? characterProblem(loginKey(display)) ??
    marksProblem(display) ?? numbersProblem(display) ?? scriptsProblem(display) ??
    bidiProblem(display) ??
    // The tables may know characters this JavaScript engine does not; a name must also pass
    // the wire check, or nobody could address it.
    (isAccountName(display)
      ? null
      : 'Invalid login: may hold only letters, digits, "_", "-" and "."');
}
