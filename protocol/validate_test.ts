import assert from "node:assert/strict";
import { isAccountName, validateRequest, validateServerMessage } from "./validate.ts";
import { JimError } from "./errors.ts";

function rejected(value: unknown, limits = {}): JimError {
  const result = validateRequest(value, limits);
  assert.ok(!result.ok, `expected ${JSON.stringify(value)} to be rejected`);
  assert.ok(result.error instanceof JimError);
  assert.equal(result.error.code, 400);
  return result.error;
}

function accepted(value: unknown, limits = {}) {
  const result = validateRequest(value, limits);
  assert.ok(result.ok, result.ok ? "" : result.error.message);
  return result.request;
}

const T = 1560964883;

Deno.test("validateRequest() accepts every request of the seed dialect", async (t) => {
  await t.step("presence", () => {
    assert.deepEqual(
      accepted({ action: "presence", time: T, type: "status", user: { account_name: "Client5" } }),
      { action: "presence", time: T, type: "status", user: { account_name: "Client5" } },
    );
  });
  await t.step("legacy authenticate", () => {
    const digest = "bdfe4c7d0c0da4ab8bef3f2b7013c92b";
    assert.deepEqual(
      accepted({ action: "authenticate", time: T, user: { account_name: "a", password: digest } }),
      { action: "authenticate", time: T, user: { account_name: "a", password: digest } },
    );
  });
  await t.step("SCRAM authenticate", () => {
    const request = accepted({
      action: "authenticate",
      time: T,
      mechanism: "SCRAM-SHA-256",
      user: { account_name: "a" },
      data: "biws",
    });
    assert.deepEqual(request, {
      action: "authenticate",
      time: T,
      mechanism: "SCRAM-SHA-256",
      user: { account_name: "a" },
      data: "biws",
    });
  });
  await t.step("msg, with the seed's string time", () => {
    assert.deepEqual(
      accepted({
        action: "msg",
        time: "1560964883",
        to: "Client5",
        from: "Client6",
        encoding: "utf-8",
        message: "Hey!",
      }),
      {
        action: "msg",
        time: T,
        to: "Client5",
        from: "Client6",
        encoding: "utf-8",
        message: "Hey!",
      },
    );
  });
  await t.step("contacts, users and quit", () => {
    assert.deepEqual(accepted({ action: "get_contacts", time: T }), {
      action: "get_contacts",
      time: T,
    });
    assert.deepEqual(accepted({ action: "add_contact", user_id: "b", time: T }), {
      action: "add_contact",
      time: T,
      user_id: "b",
    });
    assert.deepEqual(accepted({ action: "del_contact", user_id: "b", time: T }), {
      action: "del_contact",
      time: T,
      user_id: "b",
    });
    assert.deepEqual(accepted({ action: "get_users", time: T }), { action: "get_users", time: T });
    assert.deepEqual(accepted({ action: "get_users", time: T, after: "bob" }), {
      action: "get_users",
      time: T,
      after: "bob",
    });
    assert.deepEqual(accepted({ action: "quit", time: T }), { action: "quit", time: T });
    assert.deepEqual(accepted({ action: "exit", time: T }), { action: "quit", time: T });
  });
});

Deno.test("validateRequest() drops unknown extra fields", () => {
  const request = accepted({ action: "get_users", time: T, extra: { a: 1 }, __proto__x: 1 });
  assert.deepEqual(Object.keys(request), ["action", "time"]);
});

Deno.test("validateRequest() names the field it rejects", async (t) => {
  const cases: [string, unknown, string][] = [
    ["not an object", [1], "Invalid request: expected a JSON object"],
    ["missing action", { time: T }, "Missing field: action"],
    ["action not a string", { action: 5, time: T }, "Invalid field: action must be a string"],
    [
      "action too long",
      { action: "a".repeat(16), time: T },
      "Invalid field: action exceeds 15 characters",
    ],
    ["unknown action", { action: "teleport", time: T }, "Unknown action: teleport"],
    ["missing time", { action: "quit" }, "Missing field: time"],
    [
      "non-numeric time",
      { action: "quit", time: "soon" },
      "Invalid field: time must be a number or a numeric string",
    ],
    [
      "infinite time",
      { action: "quit", time: "1e999" },
      "Invalid field: time must be a number or a numeric string",
    ],
    [
      "get_users after not a string",
      { action: "get_users", time: T, after: 5 },
      "Invalid field: after must be a string",
    ],
    ["missing user", { action: "presence", time: T }, "Missing field: user"],
    [
      "user not an object",
      { action: "presence", time: T, user: "bob" },
      "Invalid field: user must be an object",
    ],
    [
      "missing account name",
      { action: "presence", time: T, user: {} },
      "Missing field: user.account_name",
    ],
    [
      "account name with a space",
      { action: "presence", time: T, user: { account_name: "a b" } },
      'Invalid field: user.account_name may hold only letters, digits, "_", "-" and "."',
    ],
    [
      "account name too long",
      { action: "presence", time: T, user: { account_name: "a".repeat(26) } },
      "Invalid field: user.account_name exceeds 25 characters",
    ],
    [
      "empty account name",
      { action: "presence", time: T, user: { account_name: "" } },
      "Invalid field: user.account_name must not be empty",
    ],
    [
      "account name not a string",
      { action: "presence", time: T, user: { account_name: 7 } },
      "Invalid field: user.account_name must be a string",
    ],
    [
      "legacy authenticate without password",
      { action: "authenticate", time: T, user: { account_name: "a" } },
      "Missing field: user.password",
    ],
    [
      "unknown mechanism",
      { action: "authenticate", time: T, mechanism: "PLAIN", user: { account_name: "a" } },
      'Invalid field: mechanism must be "SCRAM-SHA-256" or "HMAC-MD5"',
    ],
    [
      "SCRAM without data",
      { action: "authenticate", time: T, mechanism: "SCRAM-SHA-256", user: { account_name: "a" } },
      "Missing field: data",
    ],
    [
      "SCRAM data not base64",
      {
        action: "authenticate",
        time: T,
        mechanism: "SCRAM-SHA-256",
        user: { account_name: "a" },
        data: "n,,n=a",
      },
      "Invalid field: data must be base64",
    ],
    ["msg without to", { action: "msg", time: T, message: "x" }, "Missing field: to"],
    [
      "msg to a bad name",
      { action: "msg", time: T, to: "a,b", message: "x" },
      'Invalid field: to may hold only letters, digits, "_", "-" and "."',
    ],
    ["msg without message", { action: "msg", time: T, to: "b" }, "Missing field: message"],
    [
      "msg with a number message",
      { action: "msg", time: T, to: "b", message: 5 },
      "Invalid field: message must be a string",
    ],
    [
      "msg with another encoding",
      { action: "msg", time: T, to: "b", message: "x", encoding: "koi8-r" },
      'Invalid field: encoding must be "utf-8"',
    ],
    [
      "msg with a non-string from",
      { action: "msg", time: T, to: "b", message: "x", from: {} },
      "Invalid field: from must be a string",
    ],
    ["add_contact without user_id", { action: "add_contact", time: T }, "Missing field: user_id"],
    [
      "del_contact with a bad user_id",
      { action: "del_contact", time: T, user_id: ["b"] },
      "Invalid field: user_id must be a string",
    ],
  ];
  for (const [name, value, message] of cases) {
    await t.step(name, () => assert.equal(rejected(value).message, message));
  }
});

Deno.test("validateRequest() limits message text, configurably", async (t) => {
  const msg = (message: string) => ({ action: "msg", time: T, to: "b", message });
  await t.step("4096 characters by default", () => {
    accepted(msg("я".repeat(4096)));
    assert.equal(
      rejected(msg("я".repeat(4097))).message,
      "Invalid field: message exceeds 4096 characters",
    );
  });
  await t.step("counts characters, not UTF-16 units", () => {
    accepted(msg("😀".repeat(4096)));
    rejected(msg("😀".repeat(4097)));
  });
  await t.step("a configured limit", () => {
    accepted(msg("x".repeat(10)), { maxMessageLength: 10 });
    assert.equal(
      rejected(msg("x".repeat(11)), { maxMessageLength: 10 }).message,
      "Invalid field: message exceeds 10 characters",
    );
  });
});

Deno.test("isAccountName() takes letters of any script, digits, '_', '-' and '.'", () => {
  for (const good of ["Client5", "Клиент_5", "名前", "a.b-c_d", "é", "x".repeat(25), "ß9"]) {
    assert.ok(isAccountName(good), good);
  }
  for (const bad of ["", "a b", "a,b", "a=b", "a@b", "😀", "x".repeat(26), "tab\t", "null\0"]) {
    assert.ok(!isAccountName(bad), JSON.stringify(bad));
  }
});

Deno.test("validateServerMessage() sorts what a server sends", async (t) => {
  await t.step("responses", () => {
    const r = validateServerMessage({
      response: 401,
      error: "Authentication required",
      token: "ab",
    });
    assert.ok(r.ok && r.frame.kind === "response");
    assert.equal(r.frame.message.token, "ab");
  });
  await t.step("pushes", () => {
    const m = validateServerMessage({
      action: "msg",
      time: "1",
      to: "a",
      from: "b",
      message: "hi",
    });
    assert.ok(m.ok && m.frame.kind === "msg");
    assert.equal(m.frame.message.time, 1);
    const c = validateServerMessage({ action: "contact_list", user_id: "b", online: true });
    assert.ok(c.ok && c.frame.kind === "contact_list" && c.frame.message.online === true);
    const p = validateServerMessage({ action: "probe", time: 1 });
    assert.ok(p.ok && p.frame.kind === "probe");
  });
  await t.step("garbage", () => {
    for (
      const bad of [
        [],
        { response: "200" },
        { response: 99 },
        { response: 200, users: [1] },
        { response: 202, users: [], next: 5 },
        { action: "msg", to: "a" },
        { action: "wat" },
      ]
    ) {
      const r = validateServerMessage(bad);
      assert.ok(!r.ok, JSON.stringify(bad));
    }
  });
});
