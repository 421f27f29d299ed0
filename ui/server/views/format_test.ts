import assert from "node:assert/strict";
import { formatDateTime, logLine, toMillis } from "./format.ts";
import type { ServiceEntry } from "../_types.ts";
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

Deno.test("logLine() gives each event one readable line", async (t) => {
  const conn = { id: 3, ip: "127.0.0.1", port: 5000, user: "alice" };
  const entry = (e: Partial<ServiceEntry>): ServiceEntry => ({
    id: 1,
    time: 1,
    type: "gui",
    category: "other",
    ...e,
  });
  await t.step("a message: from, to and size, its text only when shown", () => {
    const payload = { action: "msg", from: "alice", to: "bob", message: "[hidden]" };
    const size = { chars: 5, bytes: 5 };
    assert.equal(
      logLine(entry({ type: "request", conn, payload, size })).text,
      "Request from alice 127.0.0.1:5000 #3: msg alice → bob (5 characters, 5 bytes)",
    );
    assert.equal(
      logLine(entry({ type: "push", conn, payload: { ...payload, message: "hello" }, size }))
        .text,
      'Sent to alice 127.0.0.1:5000 #3: msg alice → bob (5 characters, 5 bytes): "hello"',
    );
  });
  await t.step("other requests name their action and target", () => {
    assert.equal(
      logLine(entry({ type: "request", conn, payload: { action: "add_contact", user_id: "bob" } }))
        .text,
      "Request from alice 127.0.0.1:5000 #3: add_contact bob",
    );
  });
  await t.step("responses carry their code; 4xx is an error", () => {
    const bad = logLine(
      entry({ type: "response", conn, payload: { response: 410, error: "Client not online" } }),
    );
    assert.deepEqual(bad, {
      text: "Response to alice 127.0.0.1:5000 #3: 410 Client not online",
      level: "error",
    });
    assert.equal(
      logLine(entry({ type: "response", conn, payload: { response: 200, alert: "OK" } })).level,
      "info",
    );
  });
  await t.step("errors, GUI notes and unknown types", () => {
    assert.deepEqual(logLine(entry({ type: "error", conn, message: "Bad frame" })), {
      text: "Error (alice 127.0.0.1:5000 #3): Bad frame",
      level: "error",
    });
    assert.equal(logLine(entry({ message: "Client added: x" })).text, "Client added: x");
    assert.equal(logLine(entry({ type: "weird" })).text, "weird");
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
