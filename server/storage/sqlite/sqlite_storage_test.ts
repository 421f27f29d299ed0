import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { addUser, deriveCredentials } from "../../accounts.ts";
import { SCHEMA_VERSION, SqliteStorage } from "./mod.ts";
import { MIGRATIONS } from "./_schema.ts";
import { migrate } from "../../../common/sqlite_migrations.ts";
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
      "conversations",
      "login_history",
      "message_index",
      "message_index_state",
      "messages",
      "name_rules",
      "room_invites",
      "room_members",
      "room_messages",
      "rooms",
      "server_secrets",
      "users",
      "users_version",
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

Deno.test("SqliteMessages: messages above the index are found by every read, before and after a batch indexes them", async (t) => {
  await using fx = await tempStorage({ messageIndexBatch: 1_000_000, messageIndexIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", { iterations: 4096 });
  for (const name of ["alice", "bob", "carol"]) await storage.users.add(name, credentials);
  let id = 0;
  const send = (from: string, to: string, delivered: boolean) =>
    storage.messages.append(
      { id: ++id, ts: 1000 + id, time: 1, from, to, message: `m${id}` },
      { delivered },
    );
  // All five are above the conversation index until its next batch: 1, 2 and 4 were taken
  // by a session, 3 waits for bob, 5 is between alice and carol.
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
      // An id above the index is as invisible to a stranger as an indexed one.
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
  assert.equal(fx.storage.messagesUnindexed, 5);
  await reads("tail", [3]);
  await t.step("tail: a read mark reaches the tail", async () => {
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
  // Reopening indexes what a process left above the index.
  const path = fx.path;
  await storage.close();
  await using again = SqliteStorage.open(path, { messageIndexBatch: 1_000_000 });
  assert.equal(again.messagesUnindexed, 0);
  const raw = new DatabaseSync(path);
  try {
    assert.equal(raw.prepare("SELECT count(*) AS n FROM message_index").get()!.n, 5);
    assert.equal(raw.prepare("SELECT upto FROM message_index_state").get()!.upto, 5);
    assert.equal(raw.prepare("SELECT count(*) AS n FROM messages").get()!.n, 5);
  } finally {
    raw.close();
  }
  // The read mark of 3 took it out of the backlog.
  await reads("indexed", [], again.messages);
  const page = await again.messages.history({ caller: "alice", with: "bob", limit: 10 });
  assert.deepEqual(page.items.map((m) => [m.id, m.state]), [
    [1, "read"],
    [2, "delivered"],
    [3, "read"],
    [4, "delivered"],
  ]);
});

Deno.test("SqliteMessages: a full tail is indexed after its commit; removal and purge reach it", async () => {
  await using fx = await tempStorage({ messageIndexBatch: 10, messageIndexIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", { iterations: 4096 });
  for (const name of ["alice", "bob", "carol"]) await storage.users.add(name, credentials);
  const append = (id: number, to: string, ts: number) =>
    storage.messages.append(
      { id, ts, time: 1, from: "alice", to, message: `m${id}` },
      { delivered: true },
    );
  await Promise.all(Array.from({ length: 12 }, (_, i) => append(i + 1, "bob", 1000 + i)));
  assert.equal(storage.messagesUnindexed, 12);
  // The index batch waits for the next turn, after the commit's replies.
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(storage.messagesUnindexed, 0);
  // Below the mark, in the tail until the idle batch (an hour here).
  await Promise.all([append(13, "carol", 5000), append(14, "bob", 5000), append(15, "bob", 10)]);
  assert.equal(storage.messagesUnindexed, 3);
  // Purge reaches the index and the tail: 1 to 12 (indexed) and 15 (tail) are older than 2000.
  assert.equal(await storage.messages.purge(2000), 13);
  const left = await storage.messages.history({ caller: "alice", limit: 10 });
  assert.deepEqual(left.items.map((m) => m.id), [13, 14]);
  // Removing carol removes her message in the tail with her.
  await storage.users.remove("carol");
  const after = await storage.messages.history({ caller: "alice", limit: 10 });
  assert.deepEqual(after.items.map((m) => m.id), [14]);
});

Deno.test("SqliteMessages: read marks, purges and late appends reach the index and the tail", async () => {
  await using fx = await tempStorage({ messageIndexBatch: 3, messageIndexIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", FAST);
  for (const name of ["ann", "ben"]) await storage.users.add(name, credentials);
  const append = (id: number, ts: number) =>
    storage.messages.append(
      { id, ts, time: 1, from: "ann", to: "ben", message: `m${id}` },
      { delivered: true },
    );
  await Promise.all([append(10, 100), append(20, 200), append(30, 300)]);
  // The index batch runs on the next turn; 40 and 50 stay in the tail above it.
  await new Promise((resolve) => setTimeout(resolve, 0));
  await Promise.all([append(40, 400), append(50, 500)]);
  assert.equal(storage.messagesUnindexed, 2);
  const raw = new DatabaseSync(fx.path);
  try {
    const indexed = () =>
      raw.prepare("SELECT id FROM message_index ORDER BY id").all().map((r) => r.id);
    assert.deepEqual(indexed(), [10, 20, 30]);
    // One mark reads the indexed 10 to 30 and the tail's 40, not 50.
    assert.deepEqual(await storage.messages.markRead("ben", "ann", 40), { changed: true });
    const states = async () =>
      (await storage.messages.history({ caller: "ann", with: "ben", limit: 10 })).items
        .map((m) => [m.id, m.state]);
    assert.deepEqual(await states(), [
      [10, "read"],
      [20, "read"],
      [30, "read"],
      [40, "read"],
      [50, "delivered"],
    ]);
    // An append retried with an id the index has passed is indexed in its own commit.
    await append(25, 250);
    assert.deepEqual(indexed(), [10, 20, 25, 30]);
    const across = await storage.messages.history({ caller: "ben", before: 30, limit: 2 });
    assert.deepEqual(across.items.map((m) => m.id), [20, 25]);
    // A purge takes index entries with their messages: 10, 20 and 25, none left dangling.
    assert.equal(await storage.messages.purge(300), 3);
    assert.deepEqual(indexed(), [30]);
    assert.deepEqual((await states()).map(([id]) => id), [30, 40, 50]);
  } finally {
    raw.close();
  }
});

Deno.test("SqliteMessages: a late append is indexed when another process indexed the tail", async () => {
  await using fx = await tempStorage({ messageIndexBatch: 1000, messageIndexIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", FAST);
  for (const name of ["ann", "ben"]) await storage.users.add(name, credentials);
  const append = (id: number) =>
    storage.messages.append(
      { id, ts: id, time: 1, from: "ann", to: "ben", message: `m${id}` },
      { delivered: true },
    );
  await Promise.all([append(10), append(20)]);
  // A second process (jim-server user list, say) opens the file and indexes the tail.
  const other = SqliteStorage.open(fx.path);
  await other.close();
  await append(15);
  await storage.close();
  const raw = new DatabaseSync(fx.path);
  try {
    const indexed = raw.prepare("SELECT id FROM message_index ORDER BY id").all().map((r) => r.id);
    assert.deepEqual(indexed, [10, 15, 20]);
  } finally {
    raw.close();
  }
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

Deno.test("SqliteMessages.history() across conversations matches every message in order", async (t) => {
  const users = ["ann", "ben", "cat", "dan", "eve", "fay"];
  // Messages among six users, self-messages included, by a fixed pseudo-random walk.
  let seed = 7;
  const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const sent = Array.from({ length: 300 }, (_, i) => ({
    id: (i + 1) * 3,
    from: users[next(6)]!,
    to: users[next(6)]!,
    delivered: next(4) > 0,
  }));
  for (const [label, indexBatch] of [["all indexed", 1], ["part in the tail", 160]] as const) {
    await t.step(label, async (t) => {
      await using fx = await tempStorage({
        messageIndexBatch: indexBatch,
        messageIndexIdleMs: 60_000,
      });
      const { storage } = fx;
      const credentials = await deriveCredentials("pw", FAST);
      for (const name of users) await storage.users.add(name, credentials);
      for (const m of sent) {
        await storage.messages.append(
          { id: m.id, ts: m.id, time: 1, from: m.from, to: m.to, message: `m${m.id}` },
          { delivered: m.delivered },
        );
        // A full tail is indexed on the next turn.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      assert.ok(storage.messagesUnindexed < indexBatch + 1);
      if (indexBatch > 1) assert.ok(storage.messagesUnindexed > 0);
      for (const caller of users) {
        const mine = sent.filter((m) => m.from === caller || m.to === caller).map((m) => m.id);
        const page = async (query: { before?: number; after?: number; limit: number }) => {
          const { items, more } = await storage.messages.history({ caller, ...query });
          return { ids: items.map((i) => i.id), more };
        };
        await t.step(`${caller}: latest, back with before, forward with after`, async () => {
          for (const limit of [1, 7, 100]) {
            const latest = await page({ limit });
            assert.deepEqual(latest.ids, mine.slice(-limit));
            assert.equal(latest.more, mine.length > limit);
            const pivot = mine[Math.floor(mine.length / 2)]!;
            const older = mine.filter((id) => id < pivot);
            const newer = mine.filter((id) => id > pivot);
            const before = await page({ before: pivot, limit });
            assert.deepEqual(before.ids, older.slice(-limit));
            assert.equal(before.more, older.length > limit);
            const after = await page({ after: pivot, limit });
            assert.deepEqual(after.ids, newer.slice(0, limit));
            assert.equal(after.more, newer.length > limit);
          }
        });
      }
    });
  }
});

Deno.test("SqliteMessages: a removed user's messages and conversations go, also under a reused id", async () => {
  await using fx = await tempStorage({ messageIndexBatch: 1, messageIndexIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", FAST);
  for (const name of ["ann", "ben", "cat"]) await storage.users.add(name, credentials);
  const append = async (id: number, from: string, to: string, delivered: boolean) => {
    await storage.messages.append(
      { id, ts: id, time: 1, from, to, message: `m${id}` },
      { delivered },
    );
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  await append(1, "ann", "cat", true);
  await append(2, "cat", "ann", false);
  await append(3, "ben", "cat", true);
  await append(4, "ann", "ben", true);
  await append(5, "cat", "cat", true);
  const raw = new DatabaseSync(fx.path);
  try {
    const catId = raw.prepare("SELECT id FROM users WHERE login = 'cat'").get()!.id as number;
    await storage.users.remove("cat");
    const count = (sql: string) => raw.prepare(sql).get(catId)!.n;
    assert.equal(
      count("SELECT count(*) AS n FROM messages WHERE ? IN (sender_id, recipient_id)"),
      0,
    );
    assert.equal(
      count("SELECT count(*) AS n FROM conversations WHERE ? IN (user_id, peer_id)"),
      0,
    );
    // The newest user's id is free again: a new account may get it, and sees nothing old.
    await storage.users.add("dan", credentials);
    assert.equal(raw.prepare("SELECT id FROM users WHERE login = 'dan'").get()!.id, catId);
  } finally {
    raw.close();
  }
  const ids = async (caller: string) =>
    (await storage.messages.history({ caller, limit: 10 })).items.map((i) => i.id);
  assert.deepEqual(await ids("dan"), []);
  assert.deepEqual(await ids("ann"), [4]);
  assert.deepEqual(await ids("ben"), [4]);
  assert.deepEqual(await storage.messages.undelivered("dan", { limit: 10 }), []);
  // The append path looked cat up before: now the name is nobody's, and the id is dan's.
  await assert.rejects(append(6, "ann", "cat", true), (e: JimError) => e.code === 404);
  await append(7, "ann", "dan", true);
  assert.deepEqual(await ids("dan"), [7]);
  // So with another connection: it removes ben, whom the append path looked up too.
  const other = new DatabaseSync(fx.path);
  try {
    other.exec("PRAGMA foreign_keys = ON");
    other.prepare("DELETE FROM users WHERE login = 'ben'").run();
  } finally {
    other.close();
  }
  await assert.rejects(append(8, "ann", "ben", true), (e: JimError) => e.code === 404);
});

Deno.test("SqliteMessages: an index batch lists no conversation of a user removed while in the tail", async () => {
  await using fx = await tempStorage({ messageIndexBatch: 1000, messageIndexIdleMs: 60_000 });
  const { storage } = fx;
  const credentials = await deriveCredentials("pw", FAST);
  for (const name of ["ann", "ben", "cat"]) await storage.users.add(name, credentials);
  const append = (id: number, from: string, to: string) =>
    storage.messages.append(
      { id, ts: id, time: 1, from, to, message: `m${id}` },
      { delivered: true },
    );
  await append(1, "ann", "cat");
  await append(2, "ann", "ben");
  assert.equal(storage.messagesUnindexed, 2);
  await storage.users.remove("cat");
  // Closing indexes the tail, and the batch was told of ann and cat's conversation.
  await storage.close();
  const raw = new DatabaseSync(fx.path);
  try {
    const id = (login: string) =>
      raw.prepare("SELECT id FROM users WHERE login = ?").get(login)!.id as number;
    const rows = raw.prepare("SELECT user_id, peer_id FROM conversations ORDER BY user_id").all()
      .map((r) => [r.user_id, r.peer_id]);
    assert.deepEqual(rows, [[id("ann"), id("ben")], [id("ben"), id("ann")]]);
    assert.equal(raw.prepare("SELECT count(*) AS n FROM messages").get()!.n, 1);
  } finally {
    raw.close();
  }
});

Deno.test("SqliteMessages: an index batch lists the conversations of user ids too large for a key", async () => {
  await using fx = await tempStorage({ messageIndexBatch: 2, messageIndexIdleMs: 60_000 });
  const { storage } = fx;
  await storage.users.add("ann", await deriveCredentials("pw", FAST));
  const raw = new DatabaseSync(fx.path);
  try {
    raw.prepare(
      `INSERT INTO users (id, login, login_key, salt, iterations, stored_key, server_key, created)
       VALUES (?, 'big', 'big', x'00', 4096, x'00', x'00', 0)`,
    ).run(2 ** 26);
  } finally {
    raw.close();
  }
  await Promise.all([1, 2].map((id) =>
    storage.messages.append(
      {
        id,
        ts: id,
        time: 1,
        from: id === 1 ? "big" : "ann",
        to: "ann",
        message: `m${id}`,
      },
      { delivered: true },
    )
  ));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(storage.messagesUnindexed, 0);
  const ids = async (caller: string) =>
    (await storage.messages.history({ caller, limit: 10 })).items.map((m) => m.id);
  assert.deepEqual(await ids("big"), [1]);
  assert.deepEqual(await ids("ann"), [1, 2]);
});

Deno.test("SqliteStorage.open() upgrades schema 6 messages to the batch-built index, keeping every message", async () => {
  const dir = await Deno.makeTempDir({ prefix: "jim-sqlite-v6-" });
  try {
    const path = `${dir}/v6.db`;
    const raw = new DatabaseSync(path);
    try {
      migrate(raw, { migrations: MIGRATIONS.slice(0, 6), tooNew: () => new Error("too new") });
      const user = raw.prepare(
        `INSERT INTO users (login, login_key, salt, iterations, stored_key, server_key, created)
         VALUES (?, ?, x'00', 4096, x'00', x'00', 0) RETURNING id`,
      );
      const [ann, ben, cat] = ["ann", "ben", "cat"].map((n) => user.get(n, n)!.id as number) as [
        number,
        number,
        number,
      ];
      const row = "(?, ?, 1, ?, ?, ?, ?)";
      raw.prepare(`INSERT INTO messages VALUES ${row}, ${row}`)
        .run(1, 1, ann, ben, '"m1"', 1, 2, 2, ben, ann, '"m2"', 0);
      raw.prepare(`INSERT INTO messages_recent VALUES ${row}`).run(3, 3, cat, ann, '"m3"', 1);
    } finally {
      raw.close();
    }
    {
      await using storage = SqliteStorage.open(path);
      const page = await storage.messages.history({ caller: "ann", limit: 10 });
      assert.deepEqual(page.items.map((m) => [m.id, m.from, m.to, m.message]), [
        [1, "ann", "ben", "m1"],
        [2, "ben", "ann", "m2"],
        [3, "cat", "ann", "m3"],
      ]);
      assert.deepEqual(
        (await storage.messages.undelivered("ann", { limit: 10 })).map((m) => m.id),
        [2],
      );
      await storage.users.remove("ben");
    }
    const check = new DatabaseSync(path);
    try {
      const indexes = check.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages' ORDER BY name",
      ).all().map((r) => r.name);
      assert.deepEqual(indexes, ["messages_ts", "messages_undelivered"]);
      const indexed = check.prepare("SELECT sender_id, recipient_id, id FROM message_index").all()
        .map((r) => r.id);
      assert.deepEqual(indexed, [3]);
      assert.equal(check.prepare("SELECT upto FROM message_index_state").get()!.upto, 3);
      assert.deepEqual(check.prepare("PRAGMA foreign_key_list(messages)").all(), []);
      // ben's removal took his conversation with ann; cat's, moved at open, stays.
      const pairs = check.prepare("SELECT user_id, peer_id FROM conversations").all().length;
      assert.equal(pairs, 2);
      assert.equal(check.prepare("SELECT count(*) AS n FROM messages").get()!.n, 1);
    } finally {
      check.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
