import assert from "node:assert/strict";
import { validateServerMessage } from "./validate.ts";
import { isCapability, isDeliveryState, isMessageId, isServerTime } from "./conversation.ts";

function accepted(value: unknown) {
  const result = validateServerMessage(value);
  assert.ok(result.ok, result.ok ? "" : `${JSON.stringify(value)}: ${result.error.message}`);
  return result.frame;
}

function rejected(value: unknown, message: string | RegExp): void {
  const result = validateServerMessage(value);
  assert.ok(!result.ok, `expected ${JSON.stringify(value)} to be rejected`);
  assert.equal(result.error.code, 400);
  if (typeof message === "string") assert.equal(result.error.message, message);
  else assert.match(result.error.message, message);
}

const TS = 1764620000123;

Deno.test("isCapability(), isDeliveryState(), isMessageId() and isServerTime() name the wire's values", () => {
  for (const c of ["ids", "carbons", "presence", "receipts", "rooms"]) assert.ok(isCapability(c));
  for (const c of ["IDS", "", "x", 1, null]) assert.ok(!isCapability(c), String(c));
  for (const s of ["stored", "delivered", "read"]) assert.ok(isDeliveryState(s));
  for (const s of ["sent", "failed", "READ", 2]) assert.ok(!isDeliveryState(s), String(s));
  for (const id of [1, 1042, Number.MAX_SAFE_INTEGER]) assert.ok(isMessageId(id), String(id));
  for (const id of [0, -1, 1.5, 2 ** 53, "1", NaN, Infinity]) assert.ok(!isMessageId(id));
  assert.ok(isServerTime(0) && isServerTime(TS));
  for (const ts of [-1, 1.5, "1", NaN]) assert.ok(!isServerTime(ts), String(ts));
});

Deno.test("validateServerMessage() reads the conversation additions", async (t) => {
  await t.step("the 401 to presence with capabilities", () => {
    const f = accepted({
      response: 401,
      error: "Authentication required",
      token: "00",
      mechanisms: ["SCRAM-SHA-256"],
      capabilities: ["ids", "carbons", "some-future-one"],
    });
    assert.ok(f.kind === "response");
    // Unknown names pass the check; the client keeps only those it asked for.
    assert.deepEqual(f.message.capabilities, ["ids", "carbons", "some-future-one"]);
  });
  await t.step("the 200 to msg with id, ts and state", () => {
    const f = accepted({ response: 200, alert: "OK", id: 1042, ts: TS, state: "delivered" });
    assert.ok(f.kind === "response");
    assert.deepEqual([f.message.id, f.message.ts, f.message.state], [1042, TS, "delivered"]);
    const s = accepted({
      response: 200,
      alert: "Stored for bob",
      id: 1043,
      ts: TS,
      state: "stored",
    });
    assert.ok(s.kind === "response" && s.message.state === "stored");
  });
  await t.step("the 202 to history with more", () => {
    const f = accepted({ response: 202, quantity: 2, more: false });
    assert.ok(f.kind === "response" && f.message.more === false && f.message.quantity === 2);
  });
  await t.step("msg pushes: live, stored backlog, carbon, and the seed's without id", () => {
    const base = { action: "msg", time: 1, to: "bob", from: "alice", message: "hi" };
    const live = accepted({ ...base, encoding: "utf-8", id: 1042, ts: TS });
    assert.ok(live.kind === "msg");
    assert.deepEqual([live.message.id, live.message.ts, live.message.stored], [
      1042,
      TS,
      undefined,
    ]);
    const stored = accepted({ ...base, id: 7, ts: TS, stored: true });
    assert.ok(stored.kind === "msg" && stored.message.stored === true);
    const carbon = accepted({ ...base, id: 8, ts: TS, carbon: true });
    assert.ok(carbon.kind === "msg" && carbon.message.carbon === true);
    const seed = accepted(base);
    assert.ok(
      seed.kind === "msg" && seed.message.id === undefined && seed.message.ts === undefined,
    );
  });
  await t.step("receipts", () => {
    const d = accepted({
      action: "receipt",
      time: 1,
      id: 1043,
      user_id: "bob",
      state: "delivered",
    });
    assert.deepEqual(d, {
      kind: "receipt",
      message: { action: "receipt", id: 1043, user_id: "bob", state: "delivered" },
    });
    const own = accepted({ action: "receipt", id: 9, user_id: "bob", state: "read", own: true });
    assert.ok(own.kind === "receipt" && own.message.own === true && own.message.state === "read");
  });
  await t.step("presence pushes", () => {
    const p = accepted({
      action: "presence",
      time: 1,
      type: "status",
      user: { account_name: "bob", status: "offline" },
    });
    assert.deepEqual(p, {
      kind: "presence",
      message: { action: "presence", user: { account_name: "bob", status: "offline" } },
    });
  });
  await t.step("history items", () => {
    const h = accepted({
      action: "history_item",
      id: 1001,
      ts: TS,
      time: 1764620000,
      from: "alice",
      to: "bob",
      encoding: "utf-8",
      message: "…",
      state: "read",
    });
    assert.deepEqual(h, {
      kind: "history_item",
      message: {
        action: "history_item",
        id: 1001,
        ts: TS,
        time: 1764620000,
        from: "alice",
        to: "bob",
        message: "…",
        state: "read",
      },
    });
  });
});

Deno.test("validateServerMessage() refuses malformed conversation frames with a clear error", async (t) => {
  const item = { action: "history_item", id: 1, ts: TS, time: 1, from: "a", to: "b", message: "x" };
  const receipt = { action: "receipt", id: 1, user_id: "bob", state: "read" };
  const cases: [string, unknown, string | RegExp][] = [
    ["a reply id that is a string", { response: 200, id: "1042" }, /^Invalid field: id must be/],
    ["a reply id of zero", { response: 200, id: 0 }, /^Invalid field: id must be/],
    [
      "a reply ts that is negative",
      { response: 200, ts: -5 },
      "Invalid field: ts must be Unix milliseconds",
    ],
    ["an unknown reply state", { response: 200, state: "queued" }, /^Invalid field: state must be/],
    [
      "more that is not a boolean",
      { response: 202, more: "no" },
      "Invalid field: more must be true or false",
    ],
    [
      "capabilities that are not strings",
      { response: 401, capabilities: [1] },
      /capabilities must be a list/,
    ],
    [
      "a msg id of 2^53",
      { action: "msg", time: 1, to: "a", from: "b", message: "x", id: 2 ** 53 },
      /id must be/,
    ],
    ["a msg stored flag that is a string", {
      action: "msg",
      time: 1,
      to: "a",
      from: "b",
      message: "x",
      stored: "yes",
    }, "Invalid field: stored must be true or false"],
    ["a receipt without id", { ...receipt, id: undefined }, "Missing field: id"],
    [
      "a receipt with a forged state",
      { ...receipt, state: "stored" },
      /^Invalid field: state must be "delivered" or "read"/,
    ],
    ["a receipt for an invalid login", { ...receipt, user_id: "a b" }, /^Invalid field: user_id/],
    ["a receipt with a fractional id", { ...receipt, id: 1.5 }, /id must be/],
    ["a presence push with another status", {
      action: "presence",
      user: { account_name: "bob", status: "away" },
    }, /user\.status must be "online" or "offline"/],
    ["a presence push without a user", { action: "presence" }, "Missing field: user"],
    ["a history item without id", { ...item, id: undefined }, "Missing field: id"],
    ["a history item without ts", { ...item, ts: undefined }, "Missing field: ts"],
    ["a history item without text", { ...item, message: undefined }, "Missing field: message"],
    [
      "a history item with a forged state",
      { ...item, state: "seen" },
      /^Invalid field: state must be/,
    ],
    ["an unknown push", { action: "room_event", room: "#x" }, "Unknown action: room_event"],
  ];
  for (const [name, value, message] of cases) {
    await t.step(name, () => rejected(value, message));
  }
});
