import assert from "node:assert/strict";
import { POSTGRESQL, startPostgres } from "../tests/_services.ts";
import { testWithTools } from "../tests/_tools.ts";
import { addUser } from "./accounts.ts";
import { type CliIo, main } from "./cli.ts";
import { adminRoomName } from "./room_admin.ts";
import { openStorage } from "./storage/open_storage.ts";

function capture(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    out: (line) => lines.push(line),
    err: (line) => errors.push(line),
    env: () => undefined,
  };
}

/** Two users, a room with both and one message, and an empty invite-only room. */
async function seed(db: string): Promise<void> {
  await using storage = await openStorage(db, {});
  for (const name of ["alice", "bob"]) {
    await addUser(storage.users, name, "pw", { iterations: 4096 });
  }
  await storage.rooms.join("#General", "alice", { now: Date.UTC(2026, 11, 1, 10) });
  await storage.rooms.join("#general", "bob", { now: Date.UTC(2026, 11, 1, 11) });
  await storage.rooms.join("#team", "bob", { now: Date.UTC(2026, 11, 1, 12), inviteOnly: true });
  const ts = Date.UTC(2026, 11, 1, 13);
  await storage.rooms.append({
    id: 7,
    ts,
    time: ts / 1000,
    from: "bob",
    to: "#General",
    room: "#General",
    message: "hi",
  });
}

async function roomCommands(t: Deno.TestContext, db: string): Promise<void> {
  await seed(db);
  await t.step("room list prints every room with owner, members, messages, activity", async () => {
    const io = capture();
    assert.equal(await main(["room", "list", "--db", db], io), 0, io.errors.join("\n"));
    assert.deepEqual(io.lines, [
      "ROOM      OWNER  MEMBERS  MESSAGES  LAST ACTIVITY         INVITE-ONLY",
      "#General  alice  2        1         2026-12-01 13:00:00Z  no",
      "#team     bob    1        0         2026-12-01 12:00:00Z  yes",
    ]);
  });
  await t.step("room show takes the name with or without #", async () => {
    const io = capture();
    assert.equal(await main(["room", "show", "general", "--db", db], io), 0, io.errors.join());
    assert.deepEqual(io.lines, [
      "Room:            #General",
      "Owner:           alice",
      "Created:         2026-12-01 10:00:00Z",
      "Invite-only:     no",
      "History visible: no",
      "Messages:        1",
      "Last activity:   2026-12-01 13:00:00Z",
      "Members (2):",
      "  LOGIN  JOINED                ROLE",
      "  alice  2026-12-01 10:00:00Z  owner",
      "  bob    2026-12-01 11:00:00Z",
    ]);
  });
  await t.step("room delete deletes it with its messages", async () => {
    const io = capture();
    assert.equal(await main(["room", "delete", "#GENERAL", "--db", db], io), 0, io.errors.join());
    assert.deepEqual(io.lines, ["Deleted room #General (2 members)"]);
    const list = capture();
    await main(["room", "list", "--db", db], list);
    assert.equal(list.lines.length, 2);
    assert.match(list.lines[1]!, /^#team/);
  });
  await t.step("a missing room is a runtime failure, a bad name a usage error", async () => {
    const missing = capture();
    assert.equal(await main(["room", "show", "nope", "--db", db], missing), 1);
    assert.deepEqual(missing.errors, ["jim-server: No such room: #nope"]);
    const deleted = capture();
    assert.equal(await main(["room", "delete", "#General", "--db", db], deleted), 1);
    assert.deepEqual(deleted.errors, ["jim-server: No such room: #General"]);
    const bad = capture();
    assert.equal(await main(["room", "show", "a b", "--db", db], bad), 2);
    assert.deepEqual(bad.errors, ["jim-server: Invalid room name: a b"]);
  });
  await t.step("usage errors", async () => {
    for (
      const [argv, text] of [
        [["room"], "jim-server: Missing command: room list|show|delete"],
        [["room", "rename"], "jim-server: Unknown command: room rename"],
        [["room", "show"], "jim-server: Missing argument for room show: NAME"],
        [["room", "list", "x"], "jim-server: Unexpected argument: x"],
      ] as const
    ) {
      const io = capture();
      assert.equal(await main([...argv, "--db", db], io), 2, argv.join(" "));
      assert.equal(io.errors[0], text);
    }
  });
}

Deno.test("jim-server room list|show|delete on SQLite", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-room-cli-" });
  try {
    await roomCommands(t, `${dir}/jim.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testWithTools([POSTGRESQL], "jim-server room list|show|delete on a postgres:// --db", async (t) => {
  await using pg = await startPostgres();
  await roomCommands(t, pg.url);
});

Deno.test("adminRoomName() adds the # a shell would have eaten", () => {
  assert.equal(adminRoomName("general"), "#general");
  assert.equal(adminRoomName("#general"), "#general");
  assert.throws(() => adminRoomName("#"), /Invalid room name: #/);
});
