/**
 * One password maximum, protocol/limits.ts's MAX_PASSWORD_LENGTH, everywhere a password
 * enters: the store, the admin GUI's and the chat GUI's checks, the client library and the
 * console client. A password of exactly the limit works end to end; one more is refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import { MAX_PASSWORD_LENGTH } from "../protocol/mod.ts";
import { JimClient } from "../client/mod.ts";
import { addUser } from "../server/mod.ts";
import { startTestServer, TEST_ITERATIONS } from "../server/testing.ts";
import { passwordProblem } from "../ui/server/_validate.ts";
import { checkConnect } from "../ui/client/_validate.ts";

const LONGEST = "p".repeat(MAX_PASSWORD_LENGTH);
const TOO_LONG = LONGEST + "p";

Deno.test("a password of MAX_PASSWORD_LENGTH logs in; one character more is refused everywhere", async (t) => {
  await using srv = await startTestServer({ users: [{ login: "alice", password: LONGEST }] });

  await t.step("accounts (what storage receives)", async () => {
    await assert.rejects(
      addUser(srv.storage.users, "bob", TOO_LONG, { iterations: TEST_ITERATIONS }),
      {
        code: 400,
        message: `Invalid password: exceeds ${MAX_PASSWORD_LENGTH} characters`,
      },
    );
    assert.equal(await srv.storage.users.get("bob"), undefined, "nothing was stored");
  });

  await t.step("admin GUI", () => {
    assert.equal(passwordProblem(LONGEST), null);
    assert.match(passwordProblem(TOO_LONG)!, new RegExp(`at most ${MAX_PASSWORD_LENGTH}`));
  });

  await t.step("chat GUI", () => {
    const body = { user: "alice", host: "127.0.0.1", port: srv.port };
    assert.equal(checkConnect({ ...body, password: LONGEST }).password, LONGEST);
    assert.throws(() => checkConnect({ ...body, password: TOO_LONG }), { field: "password" });
  });

  await t.step("client library", async () => {
    await using client = await JimClient.connect({ host: srv.host, port: srv.port });
    await assert.rejects(client.login("alice", TOO_LONG), {
      name: "JimError",
      code: 400,
      message: `Invalid password: exceeds ${MAX_PASSWORD_LENGTH} characters`,
    });
    // Refused before anything was sent: the same connection still logs in.
    const result = await client.login("alice", LONGEST);
    assert.equal(result.mechanism, "SCRAM-SHA-256");
  });

  await t.step("console client: a usage error before it connects", async () => {
    const dir = await Deno.makeTempDir({ prefix: "jim-password-limit-" });
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../bin/jim-client.ts", import.meta.url).pathname,
          "send",
          "--to",
          "bob",
          "hi",
          "-u",
          "alice",
          "-p",
          String(srv.port),
          "--data-dir",
          dir,
        ],
        env: { JIM_PASSWORD: TOO_LONG, NO_COLOR: "1" },
        stdin: "null",
      }).output();
      assert.equal(out.code, 2);
      assert.match(
        new TextDecoder().decode(out.stderr),
        new RegExp(`Invalid password: exceeds ${MAX_PASSWORD_LENGTH} characters`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
