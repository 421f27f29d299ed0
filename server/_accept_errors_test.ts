import assert from "node:assert/strict";
import { acceptErrorKind } from "./_accept_errors.ts";

function osError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

Deno.test("acceptErrorKind() pauses only for exhausted resources", async (t) => {
  await t.step("descriptor and memory shortages pause", () => {
    for (const code of ["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]) {
      assert.equal(acceptErrorKind(osError(code, code)), "resources", code);
    }
  });
  await t.step("errors of one connection are skipped", () => {
    assert.equal(
      acceptErrorKind(new Deno.errors.NotConnected("Transport endpoint is not connected")),
      "connection",
    );
    assert.equal(acceptErrorKind(new Deno.errors.ConnectionAborted("aborted")), "connection");
    assert.equal(acceptErrorKind(new Deno.errors.ConnectionReset("reset")), "connection");
    for (const code of ["EPROTO", "ENETDOWN", "EHOSTUNREACH", "ETIMEDOUT", "EPERM"]) {
      assert.equal(acceptErrorKind(osError(code, code)), "connection", code);
    }
    assert.equal(acceptErrorKind("not even an error"), "connection");
  });
  await t.step("a closed listener ends the loop", () => {
    assert.equal(acceptErrorKind(new Deno.errors.BadResource("closed")), "closed");
    assert.equal(acceptErrorKind(new Deno.errors.Interrupted("interrupted")), "closed");
  });
});
