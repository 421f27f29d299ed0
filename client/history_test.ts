import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { assert } from "./_assert.ts";
import {
  defaultDataDir,
  ftsQuery,
  History,
  HISTORY_SCHEMA_VERSION,
  historyPath,
} from "./history.ts";

Deno.test("defaultDataDir() follows XDG_DATA_HOME, then HOME", () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: "/x", HOME: "/h" }), "/x/jim");
  assert.equal(defaultDataDir({ HOME: "/h" }), "/h/.local/share/jim");
  assert.throws(() => defaultDataDir({}), /Cannot find the data directory/);
});

Deno.test("historyPath() gives each account and server its own safe file", () => {
  assert.equal(historyPath("/d", "alice", "127.0.0.1", 7777), "/d/alice@127.0.0.1_7777.db");
  assert.equal(historyPath("/d", "Клиент_5", "Host.example", 1), "/d/Клиент_5@host.example_1.db");
  assert.equal(historyPath("/d", "a", "::1", 7777), "/d/a@%3A%3A1_7777.db");
  assert.equal(historyPath("/d", "a", "../../etc", 1), "/d/a@..%2F..%2Fetc_1.db");
  assert.notEqual(historyPath("/d", "a", "h", 1), historyPath("/d", "a", "h", 2));
});

Deno.test("History keeps contacts and messages across reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const where = { dataDir: join(dir, "nested"), account: "alice", host: "127.0.0.1", port: 7 };
    {
      using history = History.open(where);
      assert.equal(history.path, join(dir, "nested", "alice@127.0.0.1_7.db"));
      assert.equal(history.addContact("bob"), true);
      assert.equal(history.addContact("bob"), false);
      history.addMessage({
        contact: "bob",
        direction: "out",
        text: "hi 'bob'; --",
        status: "sent",
      });
      const failed = history.addMessage({
        contact: "carol",
        direction: "out",
        text: "are you there?",
        status: "sent",
        time: 1000,
      });
      history.setStatus(failed.id, "failed", { error: "Client not online: carol" });
      history.addMessage({ contact: "bob", direction: "in", text: "привет", status: "delivered" });
    }
    using history = History.open(where);
    assert.deepEqual(history.contacts(), ["bob"]);
    const bob = history.messages("bob");
    assert.deepEqual(bob.map((m) => [m.direction, m.text, m.status]), [
      ["out", "hi 'bob'; --", "sent"],
      ["in", "привет", "delivered"],
    ]);
    assert.deepEqual(history.failed().map((m) => [m.contact, m.error, m.time]), [
      ["carol", "Client not online: carol", 1000],
    ]);
    const again = history.setStatus(history.failed()[0]!.id, "delivered", { time: 2000 })!;
    assert.equal(again.error, undefined);
    assert.equal(again.time, 2000);
    assert.equal(history.setStatus(9999, "failed"), undefined);
    const info = Deno.statSync(join(dir, "nested"));
    assert.equal(info.mode! & 0o777, 0o700);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("History.messages() returns the last N, oldest first", () => {
  using history = History.open({ path: ":memory:" });
  for (let i = 1; i <= 5; i++) {
    history.addMessage({
      contact: "bob",
      direction: "in",
      text: `m${i}`,
      status: "delivered",
      time: i,
    });
  }
  history.addMessage({ contact: "eve", direction: "in", text: "other", status: "delivered" });
  assert.deepEqual(history.messages("bob", { limit: 2 }).map((m) => m.text), ["m4", "m5"]);
  assert.equal(history.messages("bob").length, 5);
  assert.throws(() => history.messages("bob", { limit: 0 }), RangeError);
  assert.deepEqual(history.messages("nobody"), []);
});

Deno.test("History.messages() pages back before a message, ties in time broken by id", () => {
  using history = History.open({ path: ":memory:" });
  // Two share a time, as messages stored within one millisecond do.
  const times = [10, 20, 20, 30, 40];
  const ids = times.map((time, i) =>
    history.addMessage({
      contact: "bob",
      direction: "in",
      text: `m${i}`,
      status: "delivered",
      time,
    })
      .id
  );
  history.addMessage({
    contact: "eve",
    direction: "in",
    text: "other",
    status: "delivered",
    time: 15,
  });
  const latest = history.messages("bob", { limit: 2 });
  assert.deepEqual(latest.map((m) => m.text), ["m3", "m4"]);
  const older = history.messages("bob", { limit: 2, before: latest[0]! });
  assert.deepEqual(older.map((m) => m.text), ["m1", "m2"]);
  const oldest = history.messages("bob", { limit: 2, before: older[0]! });
  assert.deepEqual(oldest.map((m) => m.text), ["m0"]);
  assert.deepEqual(history.messages("bob", { limit: 2, before: oldest[0]! }), []);
  // Between the two at time 20, only the lower id is before the higher one.
  const tie = history.messages("bob", { limit: 5, before: { time: 20, id: ids[2]! } });
  assert.deepEqual(tie.map((m) => m.text), ["m0", "m1"]);
});

Deno.test("History.setContacts() mirrors the server list in one step", () => {
  using history = History.open({ path: ":memory:" });
  history.addContact("old");
  history.addContact("kept");
  history.addMessage({ contact: "old", direction: "in", text: "bye", status: "delivered" });
  const diff = history.setContacts(["kept", "new"]);
  assert.deepEqual(diff, { added: ["new"], removed: ["old"] });
  assert.deepEqual(history.contacts(), ["kept", "new"]);
  assert.equal(history.messages("old").length, 1, "removing a contact keeps its messages");
  assert.deepEqual(history.setContacts(["kept", "new"]), { added: [], removed: [] });
});

Deno.test("History rejects bad rows and newer schemas without changing anything", async (t) => {
  await t.step("a CHECK constraint guards direction and status", () => {
    using history = History.open({ path: ":memory:" });
    assert.throws(() =>
      history.addMessage({
        contact: "bob",
        direction: "sideways" as "in",
        text: "x",
        status: "delivered",
      })
    );
    assert.throws(() =>
      history.addMessage({ contact: "bob", direction: "in", text: "x", status: "lost" as "sent" })
    );
    assert.deepEqual(history.messages("bob"), []);
  });

  await t.step("a file from a newer client is refused and left alone", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const path = join(dir, "future.db");
      const db = new DatabaseSync(path);
      db.exec(`PRAGMA user_version = ${HISTORY_SCHEMA_VERSION + 1}`);
      db.close();
      assert.throws(() => History.open({ path }), /schema version 4, newer than this client's 3/);
      const check = new DatabaseSync(path);
      const tables = check.prepare("SELECT name FROM sqlite_master").all();
      check.close();
      assert.deepEqual(tables, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("a closed history says so", () => {
    const history = History.open({ path: ":memory:" });
    history.close();
    history.close();
    assert.throws(() => history.contacts(), /Cannot use history: it is closed/);
  });
});

const V1_SCHEMA = `CREATE TABLE contacts (
     login TEXT PRIMARY KEY NOT NULL,
     added INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE messages (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     contact TEXT NOT NULL,
     direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
     text TEXT NOT NULL,
     time INTEGER NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('sent', 'delivered', 'failed')),
     error TEXT
   ) STRICT;
   CREATE INDEX messages_by_contact ON messages (contact, time, id);
   PRAGMA user_version = 1;`;

Deno.test("History migrates a version 1 file: ids kept, old incoming read, search over old rows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "v1.db");
    const old = new DatabaseSync(path);
    old.exec(V1_SCHEMA);
    const insert = old.prepare(
      "INSERT INTO messages (contact, direction, text, time, status, error) VALUES (?, ?, ?, ?, ?, ?)",
    );
    insert.run("bob", "in", "the blue whale", 1000, "delivered", null);
    insert.run("bob", "out", "a red fox", 2000, "delivered", null);
    insert.run("bob", "out", "lost one", 3000, "failed", "Client not online: bob");
    insert.run("bob", "out", "interrupted", 4000, "sent", null);
    // A deleted last row: AUTOINCREMENT must not hand out its id again.
    insert.run("bob", "out", "deleted", 5000, "delivered", null);
    old.exec("DELETE FROM messages WHERE id = 5");
    old.exec("INSERT INTO contacts VALUES ('bob', 1)");
    old.close();

    using history = History.open({ path });
    assert.deepEqual(history.contacts(), ["bob"]);
    assert.deepEqual(history.messages("bob").map((m) => [m.id, m.direction, m.status]), [
      [1, "in", "read"],
      [2, "out", "delivered"],
      [3, "out", "failed"],
      [4, "out", "sent"],
    ]);
    assert.equal(history.unreadCounts().size, 0, "what came before the cache counts as read");
    assert.deepEqual(history.search("whale").map((m) => m.id), [1]);
    const next = history.addMessage({
      contact: "bob",
      direction: "in",
      text: "new",
      status: "delivered",
    });
    assert.equal(next.id, 6);
    assert.deepEqual(history.search("new").map((m) => m.id), [6]);
    // The interrupted send may have reached the server: a server copy takes its place.
    const adopted = history.storeServerMessage(
      {
        serverId: 70,
        contact: "bob",
        direction: "out",
        text: "interrupted",
        time: 4100,
        status: "delivered",
      },
      { adopt: true },
    );
    assert.deepEqual([adopted.outcome, adopted.record.id, adopted.record.serverId], [
      "adopted",
      4,
      70,
    ]);
    const check = new DatabaseSync(path);
    const version = check.prepare("PRAGMA user_version").get() as { user_version: number };
    check.close();
    assert.equal(version.user_version, HISTORY_SCHEMA_VERSION);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("History caches server messages by id: no duplicates, states only move forward", async (t) => {
  using history = History.open({ path: ":memory:" });
  const bob = (
    serverId: number,
    status: "stored" | "delivered" | "read",
    direction: "in" | "out" = "in",
  ) => ({
    serverId,
    contact: "bob",
    direction,
    text: `m${serverId}`,
    time: serverId * 10,
    status,
  });
  await t.step("added once, then the same", () => {
    const first = history.storeServerMessage(bob(1, "delivered"));
    assert.equal(first.outcome, "added");
    assert.equal(first.record.serverId, 1);
    assert.equal(history.storeServerMessage(bob(1, "delivered")).outcome, "same");
    assert.equal(history.messages("bob").length, 1);
  });
  await t.step("read moves forward; delivered does not move it back", () => {
    assert.equal(history.storeServerMessage(bob(1, "read")).outcome, "updated");
    assert.equal(history.storeServerMessage(bob(1, "delivered")).outcome, "same");
    assert.equal(history.messageByServerId(1)?.status, "read");
  });
  await t.step("an id reused for another conversation changes nothing", () => {
    const forged = history.storeServerMessage({
      ...bob(1, "delivered"),
      contact: "eve",
      text: "x",
    });
    assert.equal(forged.outcome, "same");
    assert.deepEqual(history.messages("eve"), []);
  });
  await t.step("incoming can be only delivered or read", () => {
    assert.throws(() => history.storeServerMessage(bob(2, "stored", "in")));
    assert.equal(history.messageByServerId(2), undefined);
  });
  await t.step("without adopt, a lost send and the server's copy are two messages", () => {
    const local = history.addMessage({
      contact: "bob",
      direction: "out",
      text: "m3",
      status: "sent",
    });
    assert.equal(history.storeServerMessage(bob(3, "stored", "out")).outcome, "added");
    assert.equal(history.message(local.id)?.serverId, undefined);
  });
  await t.step("a refused send (certain) is never adopted", () => {
    const refused = history.addMessage({
      contact: "bob",
      direction: "out",
      text: "m4",
      status: "sent",
    });
    history.setStatus(refused.id, "failed", { error: "Client not online: bob" });
    const result = history.storeServerMessage(bob(4, "stored", "out"), { adopt: true });
    assert.equal(result.outcome, "added");
    assert.equal(history.message(refused.id)?.status, "failed");
  });
  await t.step("an uncertain failure is adopted", () => {
    const lost = history.addMessage({
      contact: "bob",
      direction: "out",
      text: "m5",
      status: "sent",
    });
    history.setStatus(lost.id, "failed", { error: "Connection lost", uncertain: true });
    const result = history.storeServerMessage(bob(5, "delivered", "out"), { adopt: true });
    assert.deepEqual([result.outcome, result.record.id, result.record.status], [
      "adopted",
      lost.id,
      "delivered",
    ]);
    assert.equal(history.failed().some((m) => m.id === lost.id), false);
  });
});

Deno.test("History.confirmSent() takes the server's id, time and state", () => {
  using history = History.open({ path: ":memory:" });
  const sent = history.addMessage({
    contact: "bob",
    direction: "out",
    text: "hi",
    status: "sent",
    time: 5,
  });
  const { record } = history.confirmSent(sent.id, { status: "stored", serverId: 1043, time: 99 });
  assert.deepEqual([record?.status, record?.serverId, record?.time], ["stored", 1043, 99]);
  // The server's copy came first (a history page): it gives way to the local one.
  const again = history.addMessage({
    contact: "bob",
    direction: "out",
    text: "yo",
    status: "sent",
  });
  const copy = history.storeServerMessage({
    serverId: 1044,
    contact: "bob",
    direction: "out",
    text: "yo",
    time: 100,
    status: "delivered",
  });
  const confirmed = history.confirmSent(again.id, { status: "read", serverId: 1044 });
  assert.equal(confirmed.replaced, again.id);
  assert.equal(history.message(again.id), undefined);
  assert.deepEqual([confirmed.record?.id, confirmed.record?.status], [copy.record.id, "read"]);
  assert.equal(history.messages("bob").length, 2);
  assert.equal(history.confirmSent(9999, { status: "stored" }).record, undefined);
});

Deno.test("History applies receipts only to the conversation they name", () => {
  using history = History.open({ path: ":memory:" });
  const out = (serverId: number, contact = "bob") =>
    history.storeServerMessage({
      serverId,
      contact,
      direction: "out",
      text: "t",
      time: serverId,
      status: "stored",
    });
  out(10);
  out(11);
  out(12);
  out(13, "eve");
  assert.equal(history.markDelivered("bob", 10)?.status, "delivered");
  assert.equal(history.markDelivered("bob", 10), undefined, "already delivered");
  assert.equal(history.markDelivered("eve", 11), undefined, "a receipt naming the wrong peer");
  assert.equal(history.markDelivered("bob", 999), undefined, "an unknown id");
  assert.deepEqual(history.markReadByPeer("bob", 11).map((m) => m.serverId), [10, 11]);
  assert.deepEqual(history.markReadByPeer("bob", 99).map((m) => m.serverId), [12]);
  assert.equal(
    history.messageByServerId(13)?.status,
    "stored",
    "eve's message is not bob's to read",
  );
});

Deno.test("History keeps read state: unread counts, read marks, what the server still lacks", () => {
  using history = History.open({ path: ":memory:" });
  const inc = (serverId: number | undefined, contact = "bob") =>
    serverId === undefined
      ? history.addMessage({ contact, direction: "in", text: "local", status: "delivered" })
      : history.storeServerMessage({
        serverId,
        contact,
        direction: "in",
        text: "t",
        time: serverId,
        status: "delivered",
      }).record;
  inc(1);
  inc(2);
  inc(3);
  inc(undefined);
  inc(4, "eve");
  assert.deepEqual([...history.unreadCounts()], [["bob", 4], ["eve", 1]]);
  // Read elsewhere up to 2: the local-only message stays unread.
  assert.equal(history.markConversationRead("bob", 2), 2);
  assert.deepEqual(history.unreadCounts().get("bob"), 2);
  assert.equal(history.markConversationRead("bob"), 2);
  assert.equal(history.unreadCounts().has("bob"), false);
  assert.equal(history.lastReadIncoming("bob"), 3);
  assert.deepEqual(history.unsentReadMarks(), [{ contact: "bob", serverId: 3 }]);
  history.setReadMark("bob", 3);
  history.setReadMark("bob", 1);
  assert.equal(history.readMark("bob"), 3, "a read mark never goes back");
  assert.deepEqual(history.unsentReadMarks(), []);
  assert.equal(history.readMark("nobody"), 0);
});

Deno.test("History keeps the sync cursor and which conversations are complete", () => {
  using history = History.open({ path: ":memory:" });
  assert.equal(history.syncCursor(), 0);
  history.setSyncCursor(50);
  history.setSyncCursor(20);
  assert.equal(history.syncCursor(), 50);
  assert.equal(history.isComplete("bob"), false);
  history.setReadMark("bob", 4);
  history.setComplete("bob");
  assert.equal(history.isComplete("bob"), true);
  assert.equal(history.readMark("bob"), 4);
  assert.equal(history.oldestServerId("bob"), undefined);
  for (const serverId of [30, 20, 40]) {
    history.storeServerMessage({
      serverId,
      contact: "bob",
      direction: "in",
      text: "t",
      time: 1,
      status: "read",
    });
  }
  assert.equal(history.oldestServerId("bob"), 20);
});

Deno.test("History.messages() pages forward after a message", () => {
  using history = History.open({ path: ":memory:" });
  const all = [10, 20, 30, 40].map((time) =>
    history.addMessage({ contact: "bob", direction: "in", text: `t${time}`, status: "read", time })
  );
  assert.deepEqual(history.messages("bob", { after: all[0]!, limit: 2 }).map((m) => m.time), [
    20,
    30,
  ]);
  assert.deepEqual(history.messages("bob", { after: all[3]!, limit: 2 }), []);
});

Deno.test("History.search() finds words by prefix in any case, and no input can break it", async (t) => {
  using history = History.open({ path: ":memory:" });
  const add = (contact: string, text: string, time: number) =>
    history.addMessage({ contact, direction: "in", text, status: "read", time });
  add("bob", "Meet at the Café on Friday", 1);
  add("bob", "friday it is", 2);
  add("eve", "Пятница? FRIDAY!", 3);
  add("bob", 'he said "quote" AND (left)', 4);
  await t.step("prefixes, case and accents", () => {
    assert.deepEqual(history.search("fri").map((m) => m.time), [3, 2, 1]);
    assert.deepEqual(history.search("cafe").map((m) => m.time), [1]);
    assert.deepEqual(history.search("пятн").map((m) => m.time), [3]);
    assert.deepEqual(history.search("meet FRI").map((m) => m.time), [1], "every term must match");
    assert.deepEqual(history.search("friday", { contact: "eve" }).map((m) => m.time), [3]);
    assert.deepEqual(history.search("fri", { limit: 1 }).map((m) => m.time), [3]);
  });
  await t.step("syntax typed by the user is text", () => {
    for (
      const q of [
        '"',
        '""',
        '"quote',
        "AND",
        "OR NOT",
        "(left",
        "NEAR(a b)",
        "*",
        "text:x",
        "^f",
        "-",
        "'",
        "\\",
        "\u0000",
        "😀",
        "a".repeat(10_000),
        "x ".repeat(500),
      ]
    ) {
      assert.doesNotThrow(() => history.search(q), q.slice(0, 20));
    }
    assert.deepEqual(history.search('"quote"').map((m) => m.time), [4]);
    assert.deepEqual(history.search("(left)").map((m) => m.time), [4]);
    assert.deepEqual(history.search("   "), []);
  });
  await t.step("kept in sync on update and delete", () => {
    const m = add("bob", "ephemeral words", 5);
    assert.equal(history.search("ephemeral").length, 1);
    history.confirmSent(m.id, { status: "read" });
    assert.equal(history.search("ephemeral").length, 1);
    const other = history.addMessage({
      contact: "bob",
      direction: "out",
      text: "zebra",
      status: "sent",
    });
    const copy = history.storeServerMessage({
      serverId: 9,
      contact: "bob",
      direction: "out",
      text: "zebra",
      time: 9,
      status: "read",
    });
    history.confirmSent(other.id, { status: "read", serverId: 9 });
    assert.deepEqual(
      history.search("zebra").map((r) => r.id),
      [copy.record.id],
      "the replaced row left the index",
    );
  });
  assert.equal(ftsQuery('a "b"'), '"a"* """b"""*');
});

Deno.test("History.importMessage() adds a message once per key; pending contacts queue", () => {
  using history = History.open({ path: ":memory:" });
  const m = {
    contact: "bob",
    direction: "in" as const,
    text: "old",
    status: "read" as const,
    time: 7,
  };
  assert.equal(history.importMessage(m, "seed:1"), true);
  assert.equal(history.importMessage(m, "seed:1"), false);
  assert.equal(history.importMessage(m, "seed:2"), true);
  assert.equal(history.messages("bob").length, 2);
  assert.equal(history.addPendingContact("bob"), true);
  assert.equal(history.addPendingContact("bob"), false);
  assert.deepEqual(history.pendingContacts(), ["bob"]);
  history.removePendingContact("bob");
  assert.deepEqual(history.pendingContacts(), []);
});
