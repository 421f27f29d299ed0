/**
 * Differential test: protocol/_saslprep.ts against `@mongodb-js/saslprep`, the package its
 * tables are generated from, on every code point.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  codePointString,
  MAX_CODE_POINT,
  RAND_AL_PROBE,
  referenceSaslprep,
  sameResult,
} from "../tasks/_saslprep_tables.ts";
import {
  SASLPREP_TABLES,
  type SaslprepResult,
  type SaslprepTables,
  saslprepWith,
} from "./_saslprep.ts";
import type { RangeTable } from "./_code_point_tables.ts";

/**
 * The strings each code point is tried in. Alone, it shows the mappings, NFKC and the
 * prohibited and unassigned checks; beside a RandALCat letter, which bidi class it has and
 * how it fares at either end of right-to-left text. (The package takes some 3 µs a call, so
 * longer mixes are left to the random test.)
 */
const PROBES: readonly [string, (char: string) => string][] = [
  ["alone", (c) => c],
  ["before a RandALCat letter", (c) => c + RAND_AL_PROBE],
  ["after a RandALCat letter", (c) => RAND_AL_PROBE + c],
];

function label(input: string): string {
  return [...input].map((c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase()}`).join(" ");
}

/** The inputs on which `tables` and the package disagree, at most `limit` of them. */
function differences(
  tables: SaslprepTables,
  inputs: Iterable<string>,
  limit = 10,
): { count: number; first: string[] } {
  let count = 0;
  const first: string[] = [];
  for (const input of inputs) {
    for (const allowUnassigned of [true, false]) {
      const ours = saslprepWith(tables, input, allowUnassigned);
      const theirs = referenceSaslprep(input, allowUnassigned);
      if (sameResult(ours, theirs)) continue;
      count++;
      if (first.length < limit) {
        first.push(
          `${label(input)} allowUnassigned=${allowUnassigned}: ours ${
            JSON.stringify(ours)
          }, package ${JSON.stringify(theirs)}`,
        );
      }
    }
  }
  return { count, first };
}

function* everyCodePoint(probe: (char: string) => string): Generator<string> {
  for (let cp = 0; cp <= MAX_CODE_POINT; cp++) yield probe(codePointString(cp));
}

Deno.test("saslprep() answers as @mongodb-js/saslprep for every code point", async (t) => {
  for (const [name, probe] of PROBES) {
    await t.step(name, () => {
      assert.deepEqual(differences(SASLPREP_TABLES, everyCodePoint(probe)), {
        count: 0,
        first: [],
      });
    });
  }
});

Deno.test("saslprep() gives RFC 4013's seven examples, as the package does", () => {
  const examples: [string, SaslprepResult][] = [
    ["I\u00adX", { ok: true, value: "IX" }],
    ["user", { ok: true, value: "user" }],
    ["USER", { ok: true, value: "USER" }],
    ["\u00aa", { ok: true, value: "a" }],
    ["\u2168", { ok: true, value: "IX" }],
    ["\u0007", { ok: false, refusal: "prohibited" }],
    ["\u0627\u0031", { ok: false, refusal: "bidi-ends" }],
  ];
  for (const [input, expected] of examples) {
    for (const allowUnassigned of [true, false]) {
      assert.deepEqual(saslprepWith(SASLPREP_TABLES, input, allowUnassigned), expected);
      assert.deepEqual(referenceSaslprep(input, allowUnassigned), expected);
    }
  }
});

Deno.test("saslprep() answers as the package where mapping, NFKC and the checks meet", () => {
  const cases = [
    "",
    "a\u00ad\u0301", // the dropped soft hyphen lets NFKC compose á
    "\ud800\u00ad\udc00", // the dropped soft hyphen joins a surrogate pair: U+10000
    "\ud800",
    "x\udfff",
    "\u00a0\u3000\u2000", // spaces NFKC would make anyway
    "\u1680\u200b", // spaces only the mapping makes
    "\u200b\u00ad", // U+200B is in both B.1 and C.1.2: a space wins
    "\u0221\u0007", // unassigned, then prohibited: prohibited is reported
    "\u0627\u0221\u0628", // unassigned inside right-to-left text
    "\u0627a\u0628", // RandALCat around an LCat letter
    "a\u0627", // an LCat letter before RandALCat
    "\u0627\u0031\u0628", // a digit inside right-to-left text
    "\ufb1d", // NFKC ends it on a non-spacing mark
    "\u0627\u0340", // U+0340 becomes U+0300 before the checks
    "\u{e0001}",
    "\u{10ffff}",
  ];
  assert.deepEqual(differences(SASLPREP_TABLES, cases), { count: 0, first: [] });
});

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("saslprep() answers as the package on random mixes of every kind of code point", () => {
  // Each table's ends and their neighbours, characters NFKC changes, and marks that compose.
  const pool = new Set<number>([0x20, 0x41, 0x301, 0x5d0, 0x627, 0x31, 0x661, 0xd800, 0xdc00]);
  for (const table of Object.values(SASLPREP_TABLES) as RangeTable[]) {
    for (let i = 0; i < table.starts.length; i++) {
      for (const cp of [table.starts[i]!, table.ends[i]!]) {
        for (const near of [cp - 1, cp, cp + 1]) {
          if (near >= 0 && near <= MAX_CODE_POINT) pool.add(near);
        }
      }
    }
  }
  for (let cp = 0; cp <= 0xffff; cp++) {
    const char = codePointString(cp);
    if (char.normalize("NFKC") !== char && cp % 7 === 0) pool.add(cp);
  }
  const chars = [...pool].map(codePointString);
  const next = random(4013);
  const inputs: string[] = [];
  for (let i = 0; i < 20_000; i++) {
    let input = "";
    const length = 1 + Math.floor(next() * 6);
    for (let j = 0; j < length; j++) input += chars[Math.floor(next() * chars.length)];
    inputs.push(input);
  }
  assert.deepEqual(differences(SASLPREP_TABLES, inputs), { count: 0, first: [] });
});

function without(table: RangeTable, index: number): RangeTable {
  const keep = (_: number, i: number) => i !== index;
  return { starts: table.starts.filter(keep), ends: table.ends.filter(keep) };
}

Deno.test("the every-code-point comparison fails if any range of any table is dropped", async (t) => {
  for (const name of Object.keys(SASLPREP_TABLES) as (keyof SaslprepTables)[]) {
    await t.step(name, () => {
      const table = SASLPREP_TABLES[name];
      assert.ok(table.starts.length > 0);
      const unnoticed: string[] = [];
      for (let i = 0; i < table.starts.length; i++) {
        const mutant = { ...SASLPREP_TABLES, [name]: without(table, i) };
        // Inputs of the every-code-point test: the range's first code point in each probe,
        // and "a" before ALEF, which notices a missing ALEF, the probes' own letter.
        const char = codePointString(table.starts[i]!);
        const inputs = [...PROBES.map(([, probe]) => probe(char)), "a" + RAND_AL_PROBE];
        const found = differences(mutant, inputs, 1);
        if (found.count === 0) unnoticed.push(`${table.starts[i]!.toString(16)}`);
      }
      assert.deepEqual(unnoticed, []);
    });
  }
});
