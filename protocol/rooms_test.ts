import assert from "node:assert/strict";
import { JimError } from "./errors.ts";
import { validateRequest } from "./validate.ts";

const T = 1764620000;

function accepted(value: unknown) {
  const result = validateRequest(value);
  assert.ok(result.ok, result.ok ? "" : result.error.message);
  return result.request;
}

function rejected(value: unknown): string {
  const result = validateRequest(value);
  assert.ok(!result.ok, `expected ${JSON.stringify(value)} to be rejected`);
  assert.ok(result.error instanceof JimError);
  assert.equal(result.error.code, 400);
  return result.error.message;
}

Deno.test("validateRequest() accepts every room action", async (t) => {
  await t.step("join, with and without invite_only", () => {
    assert.deepEqual(accepted({ action: "join", time: T, room: "#general" }), {
      action: "join",
      time: T,
      room: "#general",
    });
    assert.deepEqual(accepted({ action: "join", time: T, room: "#team", invite_only: true }), {
      action: "join",
      time: T,
      room: "#team",
      invite_only: true,
    });
  });
  await t.step("leave, members, delete_room, get_rooms", () => {
    for (const action of ["leave", "members", "delete_room"]) {
      assert.deepEqual(accepted({ action, time: T, room: "#a", extra: 1 }), {
        action,
        time: T,
        room: "#a",
      });
    }
    assert.deepEqual(accepted({ action: "get_rooms", time: T }), { action: "get_rooms", time: T });
  });
  await t.step("invite, kick, set_owner", () => {
    for (const action of ["invite", "kick", "set_owner"]) {
      assert.deepEqual(accepted({ action, time: T, room: "#a", user_id: "bob" }), {
        action,
        time: T,
        room: "#a",
        user_id: "bob",
      });
    }
  });
  await t.step("room_config with one or both settings", () => {
    assert.deepEqual(
      accepted({ action: "room_config", time: T, room: "#a", history_visible: true }),
      { action: "room_config", time: T, room: "#a", history_visible: true },
    );
    assert.deepEqual(
      accepted({
        action: "room_config",
        time: T,
        room: "#a",
        invite_only: false,
        history_visible: false,
      }),
      { action: "room_config", time: T, room: "#a", invite_only: false, history_visible: false },
    );
  });
  await t.step("msg to a room; from is dropped", () => {
    assert.deepEqual(
      accepted({ action: "msg", time: T, to: "#general", from: "mallory", message: "hi" }),
      { action: "msg", time: T, to: "#general", from: "mallory", encoding: "utf-8", message: "hi" },
    );
  });
});

Deno.test("validateRequest() refuses bad room requests with the field named", async (t) => {
  const cases: [string, unknown, string][] = [
    ["join without room", { action: "join", time: T }, "Missing field: room"],
    ["join without #", { action: "join", time: T, room: "general" }, 'must start with "#"'],
    ["join with only #", { action: "join", time: T, room: "#" }, "must not be empty"],
    [
      "join with a long name",
      { action: "join", time: T, room: `#${"x".repeat(26)}` },
      "Invalid field: room exceeds 25 characters",
    ],
    ["join with a space", { action: "join", time: T, room: "#a b" }, "may hold only letters"],
    ["join with a number", { action: "join", time: T, room: 5 }, "room must be a string"],
    [
      "join with invite_only not a boolean",
      { action: "join", time: T, room: "#a", invite_only: "yes" },
      "Invalid field: invite_only must be true or false",
    ],
    [
      "msg to a bad room",
      { action: "msg", time: T, to: "#a b", message: "x" },
      'Invalid field: to may hold only letters, digits, "_", "-" and "." after "#"',
    ],
    ["invite without user", { action: "invite", time: T, room: "#a" }, "Missing field: user_id"],
    [
      "kick with a bad user",
      { action: "kick", time: T, room: "#a", user_id: "a b" },
      "Invalid field: user_id",
    ],
    [
      "room_config with nothing to set",
      { action: "room_config", time: T, room: "#a" },
      "Missing field: invite_only or history_visible",
    ],
    [
      "room_config with a string",
      { action: "room_config", time: T, room: "#a", history_visible: "true" },
      "Invalid field: history_visible must be true or false",
    ],
    ["leave with a login", { action: "leave", time: T, room: "bob" }, 'must start with "#"'],
  ];
  for (const [name, value, text] of cases) {
    await t.step(name, () => assert.match(rejected(value), new RegExp(RegExp.escape(text))));
  }
});
