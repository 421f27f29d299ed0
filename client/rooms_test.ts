import { assert } from "./_assert.ts";
import {
  describeRoomEvent,
  isConversationName,
  isRoomName,
  parseRoomFrame,
  requireRoomName,
  roomNameProblem,
} from "./rooms.ts";
import { JimError } from "../protocol/mod.ts";

Deno.test("isRoomName() takes # and 1 to 25 login characters", async (t) => {
  await t.step("valid", () => {
    for (const name of ["#a", "#general", "#Комната_1", `#${"x".repeat(25)}`, "#a.b-c"]) {
      assert.ok(isRoomName(name), name);
      assert.ok(isConversationName(name), name);
    }
  });
  await t.step("invalid, with the reason", () => {
    const cases: [unknown, string][] = [
      ["general", 'Invalid field: room must start with "#"'],
      ["#", "Invalid field: room must not be empty"],
      [`#${"x".repeat(26)}`, "Invalid field: room exceeds 25 characters"],
      ["#a b", 'Invalid field: room may hold only letters, digits, "_", "-" and "." after "#"'],
      ["##a", 'Invalid field: room may hold only letters, digits, "_", "-" and "." after "#"'],
      [7, "Invalid field: room must be a string"],
    ];
    for (const [name, problem] of cases) {
      assert.equal(isRoomName(name), false, String(name));
      assert.equal(roomNameProblem("room", name), problem);
      assert.throws(() => requireRoomName(name), (e: unknown) => e instanceof JimError);
    }
    assert.ok(isConversationName("bob") && !isConversationName("a b"));
  });
});

Deno.test("parseRoomFrame() reads items and events and refuses what is malformed", async (t) => {
  await t.step("room_list with every field, and with the least", () => {
    assert.deepEqual(
      parseRoomFrame({
        action: "room_list",
        room: "#general",
        owner: "alice",
        members: 3,
        invite_only: false,
        history_visible: true,
        last_id: 1042,
        extra: "ignored",
      }),
      {
        kind: "room_list",
        value: {
          room: "#general",
          owner: "alice",
          members: 3,
          inviteOnly: false,
          historyVisible: true,
          lastId: 1042,
        },
      },
    );
    assert.deepEqual(parseRoomFrame({ action: "room_list", room: "#x", members: -1, last_id: 0 }), {
      kind: "room_list",
      value: { room: "#x", inviteOnly: false },
    });
  });
  await t.step("room_member", () => {
    assert.deepEqual(
      parseRoomFrame({
        action: "room_member",
        room: "#x",
        user_id: "bob",
        owner: true,
        online: true,
      }),
      { kind: "room_member", value: { login: "bob", online: true, owner: true } },
    );
    assert.equal(
      parseRoomFrame({ action: "room_member", room: "#x", user_id: "a b" }).kind,
      "invalid",
    );
  });
  await t.step("room_event", () => {
    assert.deepEqual(
      parseRoomFrame({
        action: "room_event",
        room: "#t",
        event: "kicked",
        user_id: "bob",
        by: "al",
      }),
      { kind: "room_event", value: { room: "#t", event: "kicked", user: "bob", by: "al" } },
    );
    assert.deepEqual(
      parseRoomFrame({
        action: "room_event",
        room: "#t",
        event: "config",
        invite_only: true,
        history_visible: false,
      }),
      {
        kind: "room_event",
        value: { room: "#t", event: "config", inviteOnly: true, historyVisible: false },
      },
    );
    for (
      const bad of [
        { action: "room_event", room: "t", event: "joined" },
        { action: "room_event", room: "#t", event: "exploded" },
        { action: "room_event", room: "#t", event: "joined", user_id: 5 },
        { action: "room_event", event: "joined" },
      ]
    ) {
      assert.equal(parseRoomFrame(bad).kind, "invalid", JSON.stringify(bad));
    }
  });
});

Deno.test("describeRoomEvent() says what happened from this account's side", () => {
  const say = (e: Parameters<typeof describeRoomEvent>[0]) => describeRoomEvent(e, "alice");
  assert.equal(say({ room: "#t", event: "joined", user: "bob" }), "bob joined #t");
  assert.equal(say({ room: "#t", event: "left", user: "bob" }), "bob left #t");
  assert.equal(
    say({ room: "#t", event: "kicked", user: "Alice", by: "bob" }),
    "You were removed from #t by bob",
  );
  assert.equal(
    say({ room: "#t", event: "invited", user: "alice", by: "bob" }),
    "You were invited to #t by bob: /join #t",
  );
  assert.equal(say({ room: "#t", event: "owner", user: "alice" }), "You own #t now");
  assert.equal(say({ room: "#t", event: "deleted" }), "#t was deleted");
  assert.equal(
    say({ room: "#t", event: "config", inviteOnly: false, historyVisible: true }),
    "#t is now public, whole history visible to new members",
  );
});
