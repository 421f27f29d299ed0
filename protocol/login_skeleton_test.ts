import assert from "node:assert/strict";
import { confusableSkeleton, loginSkeleton } from "./login_skeleton.ts";

Deno.test("loginSkeleton() gives look-alikes of a name the same key", async (t) => {
  const cases: [string, string, string][] = [
    ["Cyrillic а", "\u0430lice", "alice"],
    ["Cyrillic і", "al\u0456ce", "alice"],
    ["Greek ο", "b\u03bfb", "bob"],
    ["all-Cyrillic рор", "\u0440\u043e\u0440", "pop"],
    ["fullwidth", "\uff41lice", "alice"],
    ["capital I for l", "aIice", "alice"],
    ["digit 0 for o", "b0b", "bob"],
    ["dotless ı", "al\u0131ce", "alice"],
    ["U+034F dropped", "alice\u034f", "alice"],
    ["U+FE0F dropped", "alice\ufe0f", "alice"],
    ["U+3164 dropped", "alice\u3164", "alice"],
    ["capital first letter", "Alice", "alice"],
  ];
  for (const [label, name, like] of cases) {
    await t.step(label, () => assert.equal(loginSkeleton(name), loginSkeleton(like)));
  }
});

Deno.test("loginSkeleton() keeps different names apart", () => {
  for (
    const [a, b] of [["alice", "alicia"], ["bob", "rob"], ["Дмитрий", "Дмитри"], ["李雷", "李"]]
  ) {
    assert.notEqual(loginSkeleton(a!), loginSkeleton(b!), `${a} ${b}`);
  }
});

Deno.test("confusableSkeleton() is idempotent and NFD", () => {
  const once = confusableSkeleton("pаypаl");
  assert.equal(confusableSkeleton(once), once);
  assert.equal(confusableSkeleton("\u00e9"), "e\u0301");
});
