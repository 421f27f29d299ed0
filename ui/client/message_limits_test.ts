import assert from "node:assert/strict";
import { JimClient } from "../../client/mod.ts";
import { startTestServer } from "../../server/testing.ts";
import { MAX_TEXT_BYTES, MAX_TEXT_CHARS, measureText, textBytes } from "./message_limits.ts";

Deno.test("textBytes() counts the UTF-8 of the JSON string, escapes and quotes included", () => {
  assert.equal(textBytes(""), 2);
  assert.equal(textBytes("hi"), 4);
  assert.equal(textBytes('a"b'), 6);
  assert.equal(textBytes("a\nb"), 6);
  assert.equal(textBytes("\u0001"), 8);
  assert.equal(textBytes("Ж"), 4);
  assert.equal(textBytes("😀"), 6);
  // A lone surrogate is escaped by JSON.stringify: \udc00 is six bytes.
  assert.equal(textBytes("\udc00"), 8);
});

Deno.test("measureText() names the limit a text passes, and warns near either", async (t) => {
  await t.step("short text: no counter, no problem", () => {
    assert.deepEqual(measureText("hello"), { chars: 5, bytes: 7, near: false, problem: null });
  });
  await t.step("characters are code points", () => {
    const m = measureText("😀".repeat(MAX_TEXT_CHARS));
    assert.equal(m.chars, MAX_TEXT_CHARS);
    assert.equal(m.problem, "Too long: 16,386 bytes once encoded, the limit is 15,872");
  });
  await t.step("at the character limit it fits; one more does not", () => {
    assert.equal(measureText("x".repeat(MAX_TEXT_CHARS)).problem, null);
    assert.equal(measureText("x".repeat(MAX_TEXT_CHARS)).near, true);
    assert.equal(
      measureText("x".repeat(MAX_TEXT_CHARS + 1)).problem,
      "Too long: 4,097 characters, the limit is 4,096",
    );
  });
  await t.step("near from 90% of either limit", () => {
    assert.equal(measureText("x".repeat(3686)).near, false);
    assert.equal(measureText("x".repeat(3687)).near, true);
    // 3,600 emoji stay under the character warning but pass 90% of the bytes.
    assert.equal(measureText("😀".repeat(3600)).near, true);
  });
});

Deno.test("a text measured as fitting is accepted by a real server", async () => {
  await using srv = await startTestServer({
    users: [{ login: "alice", password: "a-pw" }, { login: "bob", password: "b-pw" }],
    limits: { rateLimit: 0 },
  });
  await using alice = await JimClient.connect({ host: srv.host, port: srv.port });
  await alice.login("alice", "a-pw");
  await using bob = await JimClient.connect({ host: srv.host, port: srv.port });
  await bob.login("bob", "b-pw");
  const got: string[] = [];
  bob.addEventListener("message", (e) => got.push(e.detail.text));
  // 3,967 emoji of 4 bytes, one 2-byte letter and the quotes: exactly the byte limit.
  const text = "😀".repeat(3967) + "Ж";
  assert.equal(measureText(text).problem, null);
  assert.equal(textBytes(text), MAX_TEXT_BYTES);
  assert.equal(measureText(text + "x").problem?.startsWith("Too long"), true);
  await alice.send("bob", text);
  const deadline = Date.now() + 5000;
  while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, [text]);
});
