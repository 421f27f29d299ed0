import assert from "node:assert/strict";
import { isAccountName } from "./validate.ts";
import { loginKey, loginProblem, normalizeLogin, sameLogin } from "./login_name.ts";

Deno.test("loginProblem() refuses the look-alikes of issue 10 and names the rule", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["Cyrillic а in alice", "\u0430lice", /^Invalid login: mixes Latin and Cyrillic$/],
    ["Cyrillic і in alice", "al\u0456ce", /^Invalid login: mixes Latin and Cyrillic$/],
    ["Greek ο in bob", "b\u03bfb", /^Invalid login: mixes Latin and Greek$/],
    [
      "U+034F after alice",
      "alice\u034f",
      /^Invalid login: contains an invisible character U\+034F$/,
    ],
    [
      "U+FE0F after alice",
      "alice\ufe0f",
      /^Invalid login: contains an invisible character U\+FE0F$/,
    ],
    [
      "U+3164 after alice",
      "alice\u3164",
      /^Invalid login: contains an invisible character U\+3164$/,
    ],
    ["only U+3164", "\u3164", /^Invalid login: contains an invisible character U\+3164$/],
    ["zero width joiner", "al\u200dice", /invisible character U\+200D/],
    ["zero width space", "al\u200bice", /invisible character U\+200B/],
    ["soft hyphen", "al\u00adice", /invisible character U\+00AD/],
    ["right-to-left override", "al\u202eice", /invisible character U\+202E/],
    ["braille blank", "al\u2800ice", /invisible character U\+2800/],
    ["ideographic space", "al\u3000ice", /space character U\+3000/],
    ["Arabic-Indic with ASCII digits", "ali1\u0662", /mixes digits of different number systems/],
    ["stacked marks", "a\u0301\u0301", /repeats a combining mark/],
    ["Hebrew after a digit", "1\u05e9\u05dc\u05d5\u05dd", /must start with a letter/],
    ["Latin and Hebrew", "a\u05e9\u05dc\u05d5\u05dd", /mixes Latin and Hebrew/],
    ["a script not recommended for names", "\u{10900}\u{10901}", /is not allowed in names/],
    ["compatibility character", "\ufb01x", /"ﬁ" \(U\+FB01\) is not allowed in names/],
  ];
  for (const [label, name, error] of cases) {
    await t.step(label, () => assert.match(loginProblem(name) ?? "accepted", error));
  }
});

Deno.test("loginProblem() keeps names of any single script working", async (t) => {
  for (
    const name of [
      "alice",
      "Alice_2",
      "a.b-c",
      "Дмитрий",
      "李雷",
      "李雷lei", // Latin with Han is Highly Restrictive
      "ひらがなカタカナ漢字",
      "한국어abc",
      "Ελένη",
      "שלום",
      "مرحبا",
      "नमस्ते",
      "Клиент_5",
      "ａlice", // valid: PRECIS maps it to alice (which the store then finds taken)
    ]
  ) {
    await t.step(name, () => assert.equal(loginProblem(name), null));
  }
});

Deno.test("loginProblem() follows the examples of RFC 8265 section 3.5", async (t) => {
  await t.step("legal: fussball, fußball, π, Σ, σ, ς", () => {
    for (const name of ["fussball", "fußball", "π", "Σ", "σ", "ς"]) {
      assert.equal(loginProblem(name), null, name);
    }
  });
  await t.step("Σ and σ are one name; ς stays itself (toLowerCase maps only Σ)", () => {
    assert.equal(loginKey("Σ"), "σ");
    assert.ok(sameLogin("Σ", "σ"));
    assert.ok(!sameLogin("ς", "σ"));
  });
  await t.step("juliet@example.com: PRECIS allows @, jim's character set does not", () => {
    assert.match(loginProblem("juliet@example.com")!, /may hold only letters.*"@"/);
  });
  await t.step("illegal: a space, the empty string, henryⅣ (compatibility), ♚ (symbol)", () => {
    assert.match(loginProblem("foo bar")!, /space character U\+0020/);
    assert.match(loginProblem("")!, /must not be empty/);
    assert.match(loginProblem("henry\u2163")!, /U\+2163/);
    assert.match(loginProblem("\u265a")!, /U\+265A/);
  });
  await t.step("width mapping: fullwidth and halfwidth forms map to ordinary ones", () => {
    assert.equal(normalizeLogin("\uff21\uff4c\uff49\uff43\uff45"), "Alice");
    assert.equal(loginKey("\uff21lice"), "alice");
    assert.equal(normalizeLogin("\uff76\uff9e"), "\u30ac"); // halfwidth ｶﾞ to ガ (NFC)
  });
  await t.step("too long after normalization", () => {
    assert.match(loginProblem("a".repeat(26))!, /exceeds 25 characters/);
  });
  await t.step("not a string", () => assert.match(loginProblem(5)!, /must be a string/));
});

Deno.test("isAccountName() stays lenient: names made before the rules still pass the wire", () => {
  for (const name of ["\u0430lice", "alice\u034f", "alice\ufe0f", "alice\u3164", "\u3164"]) {
    assert.ok(isAccountName(name), JSON.stringify(name));
    assert.notEqual(loginProblem(name), null);
  }
});

Deno.test("loginKey() is case-insensitive, width-insensitive and NFC", () => {
  assert.equal(loginKey("Клиент"), loginKey("клиент"));
  assert.equal(loginKey("e\u0301"), "\u00e9");
  assert.equal(loginKey("ALICE"), "alice");
  assert.equal(loginKey(loginKey("ＡＬＩＣＥ")), loginKey("ＡＬＩＣＥ"));
});
