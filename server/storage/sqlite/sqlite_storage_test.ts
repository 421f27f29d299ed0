import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { addUser, deriveCredentials } from "../../accounts.ts";
import { SCHEMA_VERSION, SqliteStorage } from "./mod.ts";
import type { JimError } from "../../../protocol/mod.ts";

const FAST = { iterations: 4096 };

async function tempStorage(
  options: Parameters<typeof SqliteStorage.open>[1] = {},
): Promise<{ storage: SqliteStorage; path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "jim-sqlite-test-" });
  const path = `${dir}/store.db`;
  const storage = SqliteStorage.open(path, options);
  return {
    storage,
    path,
    async [Symbol.asyncDispose]() {
      await storage.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("SqliteStorage.open() sets WAL and the schema version", async () => {
  await using t = await tempStorage();
  const raw = new DatabaseSync(t.path);
  try {
    assert.equal(raw.prepare("PRAGMA journal_mode").get()!.journal_mode, "wal");
    assert.equal(raw.prepare("PRAGMA user_version").get()!.user_version, SCHEMA_VERSION);
    const tables = raw.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
      .all().map((r) => r.name);
    assert.deepEqual(tables, [
      "contacts",
      "login_history",
      "messages",
      "messages_recent",
      "name_rules",
      "room_invites",
      "room_members",
      "room_messages",
      "rooms",
      "server_secrets",
      "users",
    ]);
  } finally {
    raw.close();
  }
});

Deno.test("SqliteStorage.open() refuses a database from a newer version", async () => {
  await using t = await tempStorage();
  await t.storage.close();
  const raw = new DatabaseSync(t.path);
  raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => SqliteStorage.open(t.path), /schema version \d+ is newer/);
});

Deno.test("SqliteStorage stores no password, only what SCRAM and the seed need", async () => {
  await using t = await tempStorage();
  await addUser(t.storage.users, "bob", "pencil-9f3e", { ...FAST, legacy: true });
  const raw = new DatabaseSync(t.path);
  try {
    const row = raw.prepare("SELECT * FROM users").get()!;
    for (const value of Object.values(row)) {
      assert.ok(!String(value).includes("pencil"), "no column holds the password");
    }
  } finally {
    raw.close();
  }
});

Deno.test("SqliteStorage enforces foreign keys: removing a user cascades to every row that names them", async () => {
  await using t = await tempStorage();
  const { users, contacts, logins } = t.storage;
  for (const name of ["alice", "bob", "carol"]) await addUser(users, name, "pw", FAST);
  await contacts.add("alice", "bob");
  await contacts.add("bob", "alice");
  await contacts.add("carol", "alice");
  await contacts.add("bob", "carol");
  logins.record({ login: "alice", time: 1000, ip: "127.0.0.1", port: 1 });
  logins.record({ login: "bob", time: 2000, ip: "127.0.0.1", port: 2 });
  await logins.flush();
  // A second connection that enforces nothing: what it sees is what the storage's own
  // connection (PRAGMA foreign_keys = ON) did.
  const raw = new DatabaseSync(t.path, { enableForeignKeyConstraints: false });
  try {
    assert.equal(raw.prepare("PRAGMA foreign_keys").get()!.foreign_keys, 0);
    const id = (login: string) =>
      raw.prepare("SELECT id FROM users WHERE login = ?").get(login)!.id as number;
    const aliceId = id("alice");
    const rows = (sql: string) => raw.prepare(sql).get(aliceId, aliceId)!.n;
    const contactRows = "SELECT count(*) AS n FROM contacts WHERE owner_id = ? OR contact_id = ?";
    const historyRows = "SELECT count(*) AS n FROM login_history WHERE user_id = ? OR user_id = ?";
    assert.equal(rows(contactRows), 3);
    assert.equal(rows(historyRows), 1);

    await users.remove("alice");
    // The rows are gone from the tables, not merely hidden by the joins contacts.list() uses.
    assert.equal(rows(contactRows), 0);
    assert.equal(rows(historyRows), 0);
    assert.deepEqual(raw.prepare("PRAGMA foreign_key_check").all(), []);
    assert.equal(raw.prepare("SELECT count(*) AS n FROM contacts").get()!.n, 1); // bob → carol
    assert.deepEqual(await contacts.list("bob"), ["carol"]);
    assert.deepEqual((await logins.list()).map((r) => r.login), ["bob"]);
  } finally {
    raw.close();
  }
});

Deno.test("SqliteStorage reports a login history batch it cannot write", async () => {
  await using t = await tempStorage({ historyFlushMs: 5, busyTimeoutMs: 0 });
  await addUser(t.storage.users, "alice", "pw", FAST);
  const errors: Error[] = [];
  const off = t.storage.logins.onWriteError((error) => errors.push(error));
  // Another process holds the write lock, and this one may not wait.
  const raw = new DatabaseSync(t.path);
  raw.exec("BEGIN IMMEDIATE");
  try {
    t.storage.logins.record({ login: "alice", time: 1, ip: "127.0.0.1", port: 1 });
    await t.storage.logins.flush();
  } finally {
    raw.exec("ROLLBACK");
    raw.close();
    off();
  }
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /^Cannot write login history: database is locked/);
  // The storage keeps working.
  t.storage.logins.record({ login: "alice", time: 2, ip: "127.0.0.1", port: 1 });
  await t.storage.logins.flush();
  assert.equal((await t.storage.users.get("alice"))!.lastSeen, 2);
});

Deno.test("SqliteStorage writes login history at once past the queue bound", async () => {
  await using t = await tempStorage({ historyFlushMs: 60_000, maxPendingHistory: 3 });
  await addUser(t.storage.users, "alice", "pw", FAST);
  for (let time = 1; time <= 4; time++) {
    t.storage.logins.record({ login: "alice", time, ip: "127.0.0.1", port: 1 });
  }
  assert.equal(t.storage.pendingHistory, 0);
  assert.equal((await t.storage.users.get("alice"))!.lastSeen, 4);
});

Deno.test("SqliteMessages: a batch of every chunk size commits once, each append with its own outcome", async () => {
  await using storage = SqliteStorage.open(":memory:");
  const credentials = await deriveCredentials("pw", { iterations: 4096 });
  await storage.users.add("alice", credentials);
  await storage.users.add("bob", credentials);
  const before = storage.messageCommits;
  // 149 rows: two chunks of 64, one of 16, one of 4 and one of 1, around refused appends.
  const appends = Array.from({ length: 149 }, (_, i) =>
    storage.messages.append(
      { id: i + 1, ts: 1000 + i, time: 1, from: "alice", to: "bob", message: `m${i + 1}` },
      { delivered: true },
    ));
  const duplicate = storage.messages.append(
    { id: 7, ts: 5000, time: 1, from: "alice", to: "bob", message: "again" },
    { delivered: true },
  );
  const unknown = storage.messages.append(
    { id: 500, ts: 5000, time: 1, from: "alice", to: "nobody", message: "x" },
    { delivered: true },
  );
  await Promise.all([...appends, duplicate]);
  await assert.rejects(unknown, (e: JimError) => e.code === 404);
  assert.equal(storage.messageCommits, before + 1);
  const page = await storage.messages.history({ caller: "bob", with: "alice", limit: 100 });
  const older = await storage.messages.history({
    caller: "bob",
    with: "alice",
    before: page.items[0]!.id,
    limit: 100,
  });
  const all = [...older.items, ...page.items];
  assert.deepEqual(all.map((m) => m.id), Array.from({ length: 149 }, (_, i) => i + 1));
  // The first append of an id wins; a retry of it changes nothing.
  assert.equal(all[6]!.message, "m7");
  assert.deepEqual(all.map((m) => m.message), Array.from({ length: 149 }, (_, i) => `m${i + 1}`));
});

Deno.test("SqliteMessages: staged messages are found by every read, before and after they move", async (t) => {
  await using fx = await tempStorage({ messageMoveAt: 1_000_000, messageMoveIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", { iterations: 4096 });
  for (const name of ["alice", "bob", "carol"]) await storage.users.add(name, credentials);
  let id = 0;
  const send = (from: string, to: string, delivered: boolean) =>
    storage.messages.append(
      { id: ++id, ts: 1000 + id, time: 1, from, to, message: `m${id}` },
      { delivered },
    );
  // 1, 2 and 4 were taken by a session (staged); 3 waits for bob (indexed at once); 5 is
  // between alice and carol.
  await Promise.all([
    send("alice", "bob", true),
    send("bob", "alice", true),
    send("alice", "bob", false),
    send("alice", "bob", true),
    send("alice", "carol", true),
  ]);
  const reads = async (step: string, waiting: number[], store = storage.messages) => {
    await t.step(`${step}: history with a peer, in order, both ways`, async () => {
      const page = await store.history({ caller: "bob", with: "alice", limit: 10 });
      assert.deepEqual(page.items.map((m) => m.id), [1, 2, 3, 4]);
      const after = await store.history({
        caller: "alice",
        with: "bob",
        after: 1,
        limit: 2,
      });
      assert.deepEqual(after.items.map((m) => m.id), [2, 3]);
      assert.equal(after.more, true);
    });
    await t.step(`${step}: history of every conversation, and none for others`, async () => {
      const page = await store.history({ caller: "alice", limit: 10 });
      assert.deepEqual(page.items.map((m) => m.id), [1, 2, 3, 4, 5]);
      const carol = await store.history({ caller: "carol", limit: 10 });
      assert.deepEqual(carol.items.map((m) => m.id), [5]);
      // A staged id is as invisible to a stranger as an indexed one.
      await assert.rejects(
        store.history({ caller: "carol", with: "alice", before: 4, limit: 10 }),
        (e: JimError) => e.code === 404,
      );
    });
    await t.step(`${step}: the backlog holds only what no session took`, async () => {
      const found = await store.undelivered("bob", { limit: 10 });
      assert.deepEqual(found.map((m) => m.id), waiting);
      assert.equal(await store.lastId(), 5);
    });
  };
  assert.equal(fx.storage.messagesStaged, 4);
  await reads("staged", [3]);
  await t.step("staged: a read mark reaches staged and indexed messages", async () => {
    assert.deepEqual(await storage.messages.markRead("bob", "alice", 3), { changed: true });
    const page = await storage.messages.history({ caller: "alice", with: "bob", limit: 10 });
    assert.deepEqual(page.items.map((m) => [m.id, m.state]), [
      [1, "read"],
      [2, "delivered"],
      [3, "read"],
      [4, "delivered"],
    ]);
    await assert.rejects(
      storage.messages.markRead("carol", "alice", 4),
      (e: JimError) => e.code === 404,
    );
  });
  // Reopening moves what a process left staged.
  const path = fx.path;
  await storage.close();
  await using again = SqliteStorage.open(path, { messageMoveAt: 1_000_000 });
  assert.equal(again.messagesStaged, 0);
  const raw = new DatabaseSync(path);
  try {
    assert.equal(raw.prepare("SELECT count(*) AS n FROM messages_recent").get()!.n, 0);
    assert.equal(raw.prepare("SELECT count(*) AS n FROM messages").get()!.n, 5);
  } finally {
    raw.close();
  }
  // The read mark of 3 took it out of the backlog.
  await reads("moved", [], again.messages);
  const page = await again.messages.history({ caller: "alice", with: "bob", limit: 10 });
  assert.deepEqual(page.items.map((m) => [m.id, m.state]), [
    [1, "read"],
    [2, "delivered"],
    [3, "read"],
    [4, "delivered"],
  ]);
});

Deno.test("SqliteMessages: a full stage moves after its commit; removal and purge reach it", async () => {
  await using fx = await tempStorage({ messageMoveAt: 10, messageMoveIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", { iterations: 4096 });
  for (const name of ["alice", "bob", "carol"]) await storage.users.add(name, credentials);
  const append = (id: number, to: string, ts: number) =>
    storage.messages.append(
      { id, ts, time: 1, from: "alice", to, message: `m${id}` },
      { delivered: true },
    );
  await Promise.all(Array.from({ length: 12 }, (_, i) => append(i + 1, "bob", 1000 + i)));
  assert.equal(storage.messagesStaged, 12);
  // The move waits for the next turn, after the commit's replies.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(storage.messagesStaged, 0);
  // Below the mark, staged until the idle move (an hour here).
  await Promise.all([append(13, "carol", 5000), append(14, "bob", 5000), append(15, "bob", 10)]);
  assert.equal(storage.messagesStaged, 3);
  // Purge reaches both tables: 1 to 12 (indexed) and 15 (staged) are older than 2000.
  assert.equal(await storage.messages.purge(2000), 13);
  const left = await storage.messages.history({ caller: "alice", limit: 10 });
  assert.deepEqual(left.items.map((m) => m.id), [13, 14]);
  // Removing carol removes her staged message with her.
  await storage.users.remove("carol");
  const after = await storage.messages.history({ caller: "alice", limit: 10 });
  assert.deepEqual(after.items.map((m) => m.id), [14]);
});

Deno.test("SqliteMessages: appends of one task share one commit, and survive a reopen", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-sqlite-messages-" });
  try {
    const path = `${dir}/server.db`;
    {
      await using storage = SqliteStorage.open(path);
      const credentials = await deriveCredentials("pw", { iterations: 4096 });
      await storage.users.add("alice", credentials);
      await storage.users.add("bob", credentials);
      const before = storage.messageCommits;
      const appends = Array.from({ length: 50 }, (_, i) =>
        storage.messages.append(
          { id: i + 1, ts: 1000 + i, time: 1, from: "alice", to: "bob", message: `m${i + 1}` },
          { delivered: false },
        ));
      // Queued, not written: the appending code returns before any disk write.
      assert.equal(storage.messageCommits, before);
      await Promise.all(appends);
      assert.equal(storage.messageCommits, before + 1);
    }
    await using again = SqliteStorage.open(path);
    const waiting = await again.messages.undelivered("bob", { limit: 100 });
    assert.deepEqual(waiting.map((m) => m.id), Array.from({ length: 50 }, (_, i) => i + 1));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
