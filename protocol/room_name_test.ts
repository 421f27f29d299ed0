import assert from "node:assert/strict";
import {
  isRoomName,
  isRoomTarget,
  newRoomProblem,
  normalizeRoom,
  roomKey,
  roomNameProblem,
  roomSkeleton,
} from "./room_name.ts";

Deno.test("isRoomName() takes # and 1 to 25 login characters", async (t) => {
  await t.step("valid", () => {
    for (const name of ["#a", "#general", "#Клуб_5", "#a.b-c", `#${"x".repeat(25)}`]) {
      assert.ok(isRoomName(name), name);
    }
  });
  await t.step("invalid", () => {
    for (const name of ["general", "#", "##a", "#a b", `#${"x".repeat(26)}`, "#a/b", 5, null]) {
      assert.ok(!isRoomName(name), String(name));
    }
  });
  await t.step("isRoomTarget() is only the #", () => {
    assert.ok(isRoomTarget("#a b"));
    assert.ok(!isRoomTarget("bob"));
    assert.ok(!isRoomTarget(undefined));
  });
});

Deno.test("roomNameProblem() names the field and the rule", () => {
  assert.equal(roomNameProblem("room", 3), "Invalid field: room must be a string");
  assert.equal(roomNameProblem("room", "gen"), 'Invalid field: room must start with "#"');
  assert.equal(roomNameProblem("room", "#"), "Invalid field: room must not be empty");
  assert.equal(
    roomNameProblem("to", `#${"x".repeat(26)}`),
    "Invalid field: to exceeds 25 characters",
  );
  assert.equal(
    roomNameProblem("room", "#a b"),
    'Invalid field: room may hold only letters, digits, "_", "-" and "." after "#"',
  );
});

Deno.test("newRoomProblem() applies the strict login rules and the server's length", async (t) => {
  await t.step("accepts ordinary names", () => {
    assert.equal(newRoomProblem("#general"), null);
    assert.equal(newRoomProblem("#Клуб"), null);
  });
  await t.step("refuses mixed scripts as the login rules do", () => {
    assert.equal(newRoomProblem("#аdmins"), "Invalid room: mixes Latin and Cyrillic");
  });
  await t.step("refuses a name longer than the server allows", () => {
    assert.equal(newRoomProblem("#abcd", 3), "Invalid field: room exceeds 3 characters");
    assert.equal(newRoomProblem("#abc", 3), null);
  });
  await t.step("refuses what the wire check refuses", () => {
    assert.equal(newRoomProblem("#"), "Invalid field: room must not be empty");
  });
});

Deno.test("roomKey(), normalizeRoom() and roomSkeleton() follow the login forms", () => {
  assert.equal(roomKey("#General"), roomKey("#general"));
  assert.equal(roomKey("#ＧＥＮ"), "#gen");
  assert.equal(normalizeRoom("#ｔeam"), "#team");
  assert.equal(normalizeRoom("#Team"), "#Team");
  assert.equal(roomSkeleton("#аdmins"), roomSkeleton("#admins"));
  assert.equal(roomSkeleton("#adIns"), roomSkeleton("#adlns"));
  assert.notEqual(roomSkeleton("#team"), roomSkeleton("#teams"));
});
