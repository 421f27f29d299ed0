import assert from "node:assert/strict";
import { JimError } from "./errors.ts";
import { preparePassword } from "./saslprep.ts";
import { deriveScramCredentials, saltPassword, ScramClient, ScramServerExchange } from "./scram.ts";

const SALT = new Uint8Array(16).fill(7);

Deno.test("preparePassword() gives RFC 4013's examples (section 3)", async (t) => {
  const examples: [string, string, string][] = [
    ["1: SOFT HYPHEN mapped to nothing", "I\u00ADX", "IX"],
    ["2: no transformation", "user", "user"],
    ["3: case preserved", "USER", "USER"],
    ["4: output is NFKC, input in ISO 8859-1", "\u00AA", "a"],
    ["5: output is NFKC, will match #1", "\u2168", "IX"],
  ];
  for (const [name, input, output] of examples) {
    await t.step(name, () => {
      assert.equal(preparePassword(input), output);
      assert.equal(preparePassword(input, { stored: true }), output);
    });
  }
  await t.step("6: <U+0007> is a prohibited character", () => {
    assert.throws(() => preparePassword("\u0007"), (e: unknown) => {
      assert.ok(e instanceof JimError);
      assert.equal(e.code, 400);
      assert.equal(e.message, "Invalid password: it contains a prohibited character (RFC 4013)");
      return true;
    });
  });
  await t.step("7: <U+0627><U+0031> fails the bidirectional check", () => {
    assert.throws(() => preparePassword("\u0627\u0031"), {
      name: "JimError",
      code: 400,
      message: /^Invalid password: right-to-left text must start and end the password/,
    });
  });
});

Deno.test("preparePassword() maps what NFKC alone would not, and refuses unassigned only when stored", async (t) => {
  await t.step("non-ASCII spaces become a space, zero-width characters go", () => {
    assert.equal(preparePassword("a\u00A0b\u2003c"), "a b c");
    assert.equal(preparePassword("pass\u2060word\uFE0F"), "password");
    assert.equal("pass\u2060word".normalize("NFKC"), "pass\u2060word"); // what NFKC kept
  });
  await t.step("a stored password may not hold code points Unicode 3.2 left unassigned", () => {
    assert.equal(preparePassword("\u0221"), "\u0221"); // a login passes it through
    assert.throws(() => preparePassword("\u0221", { stored: true }), {
      code: 400,
      message: "Invalid password: it contains an unassigned code point (RFC 4013)",
    });
  });
  await t.step("a password that maps to nothing is refused", () => {
    assert.throws(() => preparePassword("\u00AD\u2060"), {
      code: 400,
      message: "Invalid password: nothing is left after SASLprep (RFC 4013)",
    });
  });
});

Deno.test("SCRAM hashes the prepared password: the spellings SASLprep joins log in alike", async () => {
  assert.deepEqual(
    await saltPassword("I\u00ADX", SALT, 4096),
    await saltPassword("IX", SALT, 4096),
  );
  assert.deepEqual(await saltPassword("\u2168", SALT, 4096), await saltPassword("IX", SALT, 4096));
  assert.notDeepEqual(
    await saltPassword("USER", SALT, 4096),
    await saltPassword("user", SALT, 4096),
  );
  // Registered as Ⅸ, logged in as I<SOFT HYPHEN>X: one password.
  const creds = await deriveScramCredentials("\u2168", { iterations: 4096 });
  const client = new ScramClient("user", "I\u00ADX");
  const server = new ScramServerExchange();
  const final = await client.clientFinal(server.serverFirst(client.clientFirst(), creds));
  await client.verifyServerFinal(await server.serverFinal(final, creds));
});

Deno.test("SCRAM refuses to register or log in with a password SASLprep prohibits", async () => {
  await assert.rejects(deriveScramCredentials("bell\u0007", { iterations: 4096 }), {
    name: "JimError",
    code: 400,
    message: "Invalid password: it contains a prohibited character (RFC 4013)",
  });
  const creds = await deriveScramCredentials("fine", { iterations: 4096 });
  const client = new ScramClient("user", "bell\u0007");
  const server = new ScramServerExchange();
  await assert.rejects(client.clientFinal(server.serverFirst(client.clientFirst(), creds)), {
    code: 400,
    message: /prohibited character/,
  });
});
