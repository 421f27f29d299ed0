/**
 * The SASLprep tables, read off `@mongodb-js/saslprep` (the version deno.json pins) through
 * its public function, so that the package stays the source of truth for
 * protocol/_saslprep_data.gen.ts. protocol/_saslprep_test.ts uses {@linkcode referenceSaslprep}
 * to compare the two implementations.
 *
 * What the probes can see. The package maps the input, normalises it with NFKC, then checks
 * the normalised code points. So:
 * - the two mappings are seen on every code point (one alone gives " " or nothing);
 * - the four checks are seen only on code points that NFKC can output, which are the ones
 *   NFKC leaves alone ("stable"); the rest never reach a check, in this package or ours;
 * - a prohibited code point hides whether it is unassigned or bidi, since that check comes
 *   first; a mapped one hides whether it is prohibited, since it never reaches the checks;
 * - a code point NFKC turns into a single space may or may not be mapped to one first: the
 *   result is the same, so it does not matter (U+00A0, U+2000–U+200A, U+202F, U+205F,
 *   U+3000 of C.1.2; only U+1680 and U+200B keep their mapping in the tables);
 * - bidi is read from the code point followed by HEBREW LETTER ALEF (RandALCat): an LCat
 *   one gives the "RandALCat and LCat" refusal, a RandALCat one passes, any other one gives
 *   the "first and last" refusal.
 * A code point whose membership cannot be seen is a "don't care": a range may run across
 * it between two members, but no range starts or ends on one. So every range holds a code
 * point whose answer changes if the range is dropped, which the differential test checks.
 *
 * @module
 */
import saslprepPackage from "@mongodb-js/saslprep";
import type { SaslprepResult } from "../protocol/_saslprep.ts";

/** The highest code point. */
export const MAX_CODE_POINT = 0x10ffff;

/** HEBREW LETTER ALEF: RandALCat, and nothing composes with it. */
export const RAND_AL_PROBE = "\u05d0";

/** `cp` as a string: surrogate code points as a lone UTF-16 code unit. */
export function codePointString(cp: number): string {
  return cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
}

/**
 * What `@mongodb-js/saslprep` makes of `input`, in protocol/_saslprep.ts's terms. The
 * package throws a TypeError for a non-empty input that maps to nothing; that is "" here.
 *
 * @throws {Error} for an answer the package has not given before (a new message).
 */
export function referenceSaslprep(input: string, allowUnassigned: boolean): SaslprepResult {
  try {
    return { ok: true, value: saslprepPackage(input, { allowUnassigned }) };
  } catch (error) {
    if (error instanceof TypeError && input !== "") return { ok: true, value: "" };
    const message = error instanceof Error ? error.message : String(error);
    if (message.startsWith("Prohibited character")) return { ok: false, refusal: "prohibited" };
    if (message.startsWith("Unassigned code point")) return { ok: false, refusal: "unassigned" };
    if (message.includes("RandALCat and LCat at the same time")) {
      return { ok: false, refusal: "bidi-mixed" };
    }
    if (message.includes("must be the first and the last")) {
      return { ok: false, refusal: "bidi-ends" };
    }
    throw new Error(`Cannot classify @mongodb-js/saslprep's answer: ${message}`, { cause: error });
  }
}

/** Membership of one code point: in the set, not in it, or not visible (undefined). */
type Member = boolean | undefined;

/** Inclusive [start, end] ranges of the members, bridging "don't care" code points. */
export type Ranges = [number, number][];

/** The six sets as ranges, named as in protocol/_saslprep_data.gen.ts. */
export interface SaslprepRanges {
  MAPPED_TO_NOTHING: Ranges;
  MAPPED_TO_SPACE: Ranges;
  PROHIBITED: Ranges;
  UNASSIGNED: Ranges;
  RAND_AL_CAT: Ranges;
  L_CAT: Ranges;
}

class RangeBuilder {
  readonly ranges: Ranges = [];
  #open: [number, number] | undefined;

  add(cp: number, member: Member): void {
    if (member === true) {
      if (this.#open) this.#open[1] = cp;
      else this.ranges.push(this.#open = [cp, cp]);
    } else if (member === false) {
      this.#open = undefined;
    }
  }
}

/** Whether two SASLprep answers are the same. */
export function sameResult(a: SaslprepResult, b: SaslprepResult): boolean {
  return a.ok ? b.ok && a.value === b.value : !b.ok && a.refusal === b.refusal;
}

function unexpected(cp: number, what: string, result: SaslprepResult): Error {
  const label = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return new Error(
    `Cannot derive the SASLprep tables: ${label} ${what}: ${JSON.stringify(result)}`,
  );
}

/**
 * Probes every code point through `@mongodb-js/saslprep` and returns its six sets as ranges.
 * It also checks the assumptions the probes rest on, and throws if one fails (a newer
 * package or JavaScript engine could break one).
 */
export function deriveSaslprepRanges(): SaslprepRanges {
  const builders = {
    MAPPED_TO_NOTHING: new RangeBuilder(),
    MAPPED_TO_SPACE: new RangeBuilder(),
    PROHIBITED: new RangeBuilder(),
    UNASSIGNED: new RangeBuilder(),
    RAND_AL_CAT: new RangeBuilder(),
    L_CAT: new RangeBuilder(),
  };
  const mapped = new Set<number>();
  const stable = new Uint8Array(MAX_CODE_POINT + 1);
  for (let cp = 0; cp <= MAX_CODE_POINT; cp++) {
    const char = codePointString(cp);
    const normalized = char.normalize("NFKC");
    stable[cp] = normalized === char ? 1 : 0;
    const alone = referenceSaslprep(char, true);

    // Step 1, seen on every code point.
    const toSpace = cp !== 0x20 && alone.ok && alone.value === " ";
    const spaceMember: Member = normalized === " " ? undefined : toSpace;
    const toNothing = alone.ok && alone.value === "";
    builders.MAPPED_TO_SPACE.add(cp, spaceMember);
    builders.MAPPED_TO_NOTHING.add(cp, spaceMember === true ? undefined : toNothing);
    const isMapped = spaceMember === true || toNothing;
    if (isMapped) mapped.add(cp);

    // Steps 3 to 5, seen only on what NFKC can output.
    const checked = stable[cp] === 1 && !isMapped;
    const prohibited = checked ? !alone.ok && alone.refusal === "prohibited" : undefined;
    builders.PROHIBITED.add(cp, prohibited);
    const visible = checked && !prohibited;
    let unassigned: Member;
    let randAL: Member;
    let l: Member;
    if (visible) {
      if (!sameResult(alone, { ok: true, value: char })) throw unexpected(cp, "alone gives", alone);
      const stored = referenceSaslprep(char, false);
      unassigned = !stored.ok && stored.refusal === "unassigned";
      if (!unassigned && !sameResult(stored, alone)) throw unexpected(cp, "stored gives", stored);
      const pair = char + RAND_AL_PROBE;
      if (pair.normalize("NFKC") !== pair) throw unexpected(cp, "composes with ALEF", alone);
      const bidi = referenceSaslprep(pair, true);
      randAL = bidi.ok;
      l = !bidi.ok && bidi.refusal === "bidi-mixed";
      if (!randAL && !l && !sameResult(bidi, { ok: false, refusal: "bidi-ends" })) {
        throw unexpected(cp, "before ALEF gives", bidi);
      }
    }
    builders.UNASSIGNED.add(cp, unassigned);
    builders.RAND_AL_CAT.add(cp, randAL);
    builders.L_CAT.add(cp, l);
  }

  // The "seen only on what NFKC can output" rule: NFKC outputs only stable code points, and
  // never a mapped one, so the checks never see a code point the probes could not.
  for (let cp = 0; cp <= MAX_CODE_POINT; cp++) {
    if (stable[cp] === 1 || mapped.has(cp)) continue;
    for (const char of codePointString(cp).normalize("NFKC")) {
      const out = char.codePointAt(0)!;
      if (stable[out] !== 1 || mapped.has(out)) {
        throw unexpected(out, `is in the NFKC of U+${cp.toString(16)}`, { ok: true, value: char });
      }
    }
  }
  return Object.fromEntries(
    Object.entries(builders).map(([name, builder]) => [name, builder.ranges]),
  ) as unknown as SaslprepRanges;
}

/** The package and version that deno.json pins, e.g. "@mongodb-js/saslprep@1.6.3". */
export async function saslprepPackageName(): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const specifier = String(config.imports?.["@mongodb-js/saslprep"] ?? "");
  if (!specifier.startsWith("npm:")) {
    throw new Error("Cannot find @mongodb-js/saslprep in deno.json's imports");
  }
  return specifier.slice("npm:".length);
}
