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

Deno.test("SqliteStorage.open() sets WAL, foreign keys and the schema version", async () => {
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

Deno.test("SqliteStorage's foreign keys cascade a removal in the tables themselves", async () => {
  await using t = await tempStorage();
  const { users, contacts, logins } = t.storage;
  await addUser(users, "alice", "pw", FAST);
  await addUser(users, "bob", "pw", FAST);
  await contacts.add("alice", "bob");
  await contacts.add("bob", "alice");
  logins.record({ login: "alice", time: 1, ip: "127.0.0.1", port: 1 });
  await logins.flush();
  await users.remove("alice");
  const raw = new DatabaseSync(t.path);
  try {
    assert.equal(raw.prepare("SELECT count(*) AS n FROM contacts").get()!.n, 0);
    assert.equal(raw.prepare("SELECT count(*) AS n FROM login_history").get()!.n, 0);
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
