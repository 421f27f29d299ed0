/**
 * The local history and rooms (schema 3): a version 2 file migrates keeping every message,
 * room messages keep their sender, the rooms mirror follows the server's list, and unread
 * counts and the newest cached id work per room as per contact.
 */
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { assert } from "./_assert.ts";
import { History, HISTORY_SCHEMA_VERSION } from "./history.ts";

Deno.test("History migrates a version 2 file to rooms: messages kept, no sender, no rooms", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "v2.db");
    {
      using v2 = History.open({ path });
      v2.addMessage({ contact: "bob", direction: "in", text: "before rooms", status: "read" });
    }
    // Back to version 2 as an older client left it: no sender column, no rooms table.
    const db = new DatabaseSync(path);
    db.exec(`ALTER TABLE messages DROP COLUMN sender; DROP TABLE rooms;
      PRAGMA user_version = 2;`);
    db.close();
    using history = History.open({ path });
    const [m] = history.messages("bob");
    assert.deepEqual([m?.text, m?.sender], ["before rooms", undefined]);
    assert.deepEqual(history.rooms(), []);
    assert.equal(HISTORY_SCHEMA_VERSION, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("History keeps rooms: the mirror, senders, unread counts and the newest id", async (t) => {
  using history = History.open({ path: ":memory:" });
  await t.step("putRoom adds or updates; names match in any case", () => {
    assert.equal(history.putRoom({ room: "#Team", inviteOnly: true, historyVisible: false }), true);
    assert.equal(
      history.putRoom({
        room: "#team",
        owner: "bob",
        members: 3,
        inviteOnly: true,
        historyVisible: true,
      }),
      false,
    );
    assert.deepEqual(history.rooms(), [
      { room: "#team", owner: "bob", members: 3, inviteOnly: true, historyVisible: true },
    ]);
    assert.equal(history.room("#TEAM")?.room, "#team");
  });
  await t.step("setRooms makes the mirror the server's list", () => {
    history.putRoom({ room: "#old", inviteOnly: false, historyVisible: false });
    const change = history.setRooms([
      { room: "#team", inviteOnly: false, historyVisible: false },
      { room: "#new", inviteOnly: false, historyVisible: false, members: 1 },
    ]);
    assert.deepEqual(change, { added: ["#new"], removed: ["#old"] });
    assert.deepEqual(history.rooms().map((r) => [r.room, r.owner ?? null]), [
      ["#new", null],
      ["#team", "bob"],
    ]);
  });
  await t.step("a name without # is refused by the schema", () => {
    assert.throws(() =>
      history.putRoom({ room: "team", inviteOnly: false, historyVisible: false })
    );
  });
  await t.step("room messages keep their sender; unread and the newest id per room", () => {
    for (const [id, sender] of [[10, "bob"], [12, "carol"], [11, "alice"]] as const) {
      history.storeServerMessage({
        serverId: id,
        contact: "#team",
        direction: sender === "alice" ? "out" : "in",
        text: `from ${sender}`,
        time: id,
        status: sender === "alice" ? "read" : "delivered",
        sender,
      });
    }
    assert.deepEqual(history.messages("#team").map((m) => `${m.sender}: ${m.text}`), [
      "bob: from bob",
      "alice: from alice",
      "carol: from carol",
    ]);
    assert.equal(history.unreadCounts().get("#team"), 2);
    assert.equal(history.newestServerId("#team"), 12);
    assert.equal(history.newestServerId("#none"), 0);
    assert.equal(history.markConversationRead("#team"), 2);
    assert.equal(history.unreadCounts().get("#team"), undefined);
  });
  await t.step("removeRoom forgets the room, not its messages", () => {
    assert.equal(history.removeRoom("#TEAM"), true);
    assert.equal(history.removeRoom("#team"), false);
    assert.equal(history.messages("#team").length, 3);
  });
});
