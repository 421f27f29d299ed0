import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { addUser } from "../../accounts.ts";
import { SCHEMA_VERSION, SqliteStorage } from "./mod.ts";

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
