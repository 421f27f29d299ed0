import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { assert } from "./_assert.ts";
import { defaultDataDir, History, HISTORY_SCHEMA_VERSION, historyPath } from "./history.ts";

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
      assert.throws(() => History.open({ path }), /schema version 2, newer than this client's 1/);
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
