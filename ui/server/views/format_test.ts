import assert from "node:assert/strict";
import { formatDateTime, formatLogEvent, toMillis } from "./format.ts";
import {
  hostProblem,
  loginProblem,
  MAX_PASSWORD_LENGTH,
  passwordProblem,
  portProblem,
} from "../_validate.ts";

Deno.test("toMillis() accepts seconds and milliseconds", () => {
  assert.equal(toMillis(1560964883), 1560964883000);
  assert.equal(toMillis(1560964883123), 1560964883123);
  assert.equal(formatDateTime(null), "never");
  assert.match(formatDateTime(1560964883), /^2019-06-\d\d \d\d:\d\d:\d\d$/);
});

Deno.test("formatLogEvent() gives each server event a readable head and JSON body", async (t) => {
  const conn = { id: 3, ip: "127.0.0.1", port: 5000, user: "alice" };
  await t.step("request with pretty JSON", () => {
    const e = formatLogEvent({
      time: 1,
      type: "request",
      conn,
      payload: { action: "msg", to: "bob" },
    });
    assert.equal(e.head, "Request from alice 127.0.0.1:5000 #3:");
    assert.equal(e.body, '{\n  "action": "msg",\n  "to": "bob"\n}');
  });
  await t.step("error is marked as an error", () => {
    const e = formatLogEvent({ time: 1, type: "error", conn, message: "Bad frame" });
    assert.equal(e.level, "error");
    assert.equal(e.head, "Error (alice 127.0.0.1:5000 #3): Bad frame");
  });
  await t.step("GUI notes and unknown types", () => {
    assert.equal(
      formatLogEvent({ time: 1, type: "gui", message: "Client added: x" }).head,
      "Client added: x",
    );
    assert.equal(formatLogEvent({ time: 1, type: "weird" }).head, "weird");
  });
});

Deno.test("admin input checks name the problem", async (t) => {
  await t.step("login", () => {
    assert.equal(loginProblem("Client5"), null);
    assert.equal(loginProblem("Клиент_5"), null);
    assert.equal(loginProblem(""), "Login is required");
    assert.match(loginProblem("a".repeat(26))!, /exceeds 25 characters/);
    assert.match(loginProblem("a b")!, /contains a space character U\+0020/);
    assert.match(loginProblem("a/b")!, /may hold only letters, digits/);
    assert.equal(loginProblem("\u0430lice"), "Invalid login: mixes Latin and Cyrillic");
  });
  await t.step("password", () => {
    assert.equal(passwordProblem("pässwörd 🙂"), null);
    assert.equal(passwordProblem(""), "Password is required");
    assert.match(passwordProblem("x".repeat(MAX_PASSWORD_LENGTH + 1))!, /too long/);
    assert.match(passwordProblem("a\nb")!, /bad characters/);
  });
  await t.step("host and port", () => {
    assert.equal(hostProblem("127.0.0.1"), null);
    assert.equal(hostProblem("::1"), null);
    assert.equal(hostProblem("localhost"), null);
    assert.match(hostProblem("a b")!, /bad characters/);
    assert.equal(portProblem("0"), null);
    assert.equal(portProblem(65535), null);
    for (const bad of ["", "-1", "65536", "1.5", "x"]) assert.ok(portProblem(bad), bad);
  });
});
