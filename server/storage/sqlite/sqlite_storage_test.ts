import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { legacyStoredHash, ScramClient, ScramServerExchange } from "../protocol/mod.ts";
import { SCHEMA_VERSION, Store } from "./store.ts";

const FAST = { iterations: 4096 };

async function tempStore(): Promise<{ store: Store; path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "jim-store-test-" });
  const path = `${dir}/store.db`;
  const store = Store.open(path);
  return {
    store,
    path,
    async [Symbol.asyncDispose]() {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("Store.open() sets WAL, foreign keys and the schema version", async () => {
  await using t = await tempStore();
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

Deno.test("Store.open() refuses a database from a newer version", async () => {
  await using t = await tempStore();
  t.store.close();
  const raw = new DatabaseSync(t.path);
  raw.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => Store.open(t.path), /schema version \d+ is newer/);
});

Deno.test("Store.addUser() keeps display case and is unique in any case", async (t) => {
  await using s = await tempStore();
  const { store } = s;
  await t.step("adds and reads back", async () => {
    const row = await store.addUser("Alice", "pw", FAST);
    assert.equal(row.login, "Alice");
    assert.equal(row.legacy, false);
    assert.equal(store.getUser("ALICE")?.login, "Alice");
    assert.equal(store.canonicalLogin("alice"), "Alice");
  });
  await t.step("duplicates in another case are 409, also for Cyrillic", async () => {
    await assert.rejects(store.addUser("aLiCe", "pw", FAST), { name: "JimError", code: 409 });
    await store.addUser("Клиент", "pw", FAST);
    await assert.rejects(store.addUser("клиент", "pw", FAST), { code: 409 });
  });
  await t.step("bad names and passwords are 400", async () => {
    await assert.rejects(store.addUser("a b", "pw", FAST), { code: 400 });
    await assert.rejects(store.addUser("x".repeat(26), "pw", FAST), { code: 400 });
    await assert.rejects(store.addUser("ok", "", FAST), { code: 400, message: /empty/ });
    await assert.rejects(store.addUser("ok", "p".repeat(1025), FAST), { code: 400 });
  });
  await t.step("lists newest first", () => {
    assert.deepEqual(store.listUsers().map((u) => u.login), ["Клиент", "Alice"]);
    assert.equal(store.userCount(), 2);
  });
});

Deno.test("Store keeps SCRAM credentials that are not the password", async () => {
  await using s = await tempStore();
  await s.store.addUser("bob", "pencil", { iterations: 4096, legacy: true });
  const creds = s.store.credentials("BOB")!;
  assert.equal(creds.scram.iterations, 4096);
  assert.equal(creds.scram.salt.length, 16);
  assert.equal(creds.legacyHash, await legacyStoredHash("pencil"));
  // A full exchange against the stored values proves they are right.
  const client = new ScramClient("bob", "pencil");
  const server = new ScramServerExchange();
  const first = server.serverFirst(client.clientFirst(), creds.scram);
  const final = await server.serverFinal(await client.clientFinal(first), creds.scram);
  await client.verifyServerFinal(final);
  // Salts differ per user.
  await s.store.addUser("carol", "pencil", FAST);
  assert.notDeepEqual(s.store.credentials("carol")!.scram.salt, creds.scram.salt);
});

Deno.test("Store.setPassword() replaces credentials and keeps or drops the legacy hash", async () => {
  await using s = await tempStore();
  await s.store.addUser("bob", "one", { ...FAST, legacy: true });
  const before = s.store.credentials("bob")!;
  await s.store.setPassword("bob", "two", FAST);
  const after = s.store.credentials("bob")!;
  assert.notDeepEqual(after.scram.storedKey, before.scram.storedKey);
  assert.equal(after.legacyHash, await legacyStoredHash("two"));
  await s.store.setPassword("bob", "three", { ...FAST, legacy: false });
  assert.equal(s.store.credentials("bob")!.legacyHash, null);
  await assert.rejects(s.store.setPassword("ghost", "x", FAST), {
    code: 404,
    message: "No such client: ghost",
  });
});

Deno.test("Store contacts follow the seed's errors and go with a removed user", async () => {
  await using s = await tempStore();
  const { store } = s;
  for (const name of ["alice", "Bob", "carol"]) await store.addUser(name, "pw", FAST);
  assert.equal(store.addContact("alice", "bob"), "Bob");
  store.addContact("alice", "carol");
  store.addContact("carol", "alice");
  assert.throws(() => store.addContact("alice", "BOB"), {
    code: 409,
    message: "Client already in contacts: BOB",
  });
  assert.throws(() => store.addContact("alice", "zed"), {
    code: 404,
    message: "No such client: zed",
  });
  assert.deepEqual(store.contacts("ALICE"), ["Bob", "carol"]);
  store.removeContact("alice", "carol");
  assert.throws(() => store.removeContact("alice", "carol"), {
    code: 404,
    message: "Client not in contacts: carol",
  });
  store.recordLogins([{ login: "alice", time: 1000, ip: "127.0.0.1", port: 5 }]);
  store.removeUser("alice");
  assert.throws(() => store.removeUser("alice"), { code: 404 });
  assert.deepEqual(store.contacts("carol"), []);
  assert.deepEqual(store.loginHistory(), []);
});

Deno.test("Store records login history, last seen and last IP", async () => {
  await using s = await tempStore();
  await s.store.addUser("alice", "pw", FAST);
  s.store.recordLogins([
    { login: "alice", time: 1000, ip: "10.0.0.1", port: 4000 },
    { login: "ghost", time: 1500, ip: "10.0.0.9", port: 1 },
    { login: "ALICE", time: 2000, ip: "10.0.0.2", port: 4001 },
  ]);
  assert.deepEqual(s.store.loginHistory({ login: "alice" }).map((r) => r.ip), [
    "10.0.0.2",
    "10.0.0.1",
  ]);
  assert.deepEqual(s.store.getUser("alice"), {
    login: "alice",
    lastSeen: 2000,
    lastIp: "10.0.0.2",
    created: s.store.getUser("alice")!.created,
    legacy: false,
  });
  s.store.recordLogouts([{ login: "alice", time: 3000 }]);
  assert.equal(s.store.getUser("alice")!.lastSeen, 3000);
});

Deno.test("Store instances on one file see each other's writes at once", async () => {
  await using s = await tempStore();
  using other = Store.open(s.path);
  await other.addUser("late", "pw", FAST);
  assert.equal(s.store.canonicalLogin("LATE"), "late");
  other.removeUser("late");
  assert.equal(s.store.credentials("late"), undefined);
});

Deno.test("Store.dataVersion() changes on another connection's commit, not its own", async () => {
  await using s = await tempStore();
  using other = Store.open(s.path);
  const start = s.store.dataVersion();
  await s.store.addUser("own", "pw", FAST);
  assert.equal(s.store.dataVersion(), start);
  other.removeUser("own");
  const afterRemove = s.store.dataVersion();
  assert.notEqual(afterRemove, start);
  assert.equal(s.store.dataVersion(), afterRemove);
});

Deno.test("Store binds every value: hostile names are data, not SQL", async () => {
  await using s = await tempStore();
  await s.store.addUser("x", "pw'); DROP TABLE users; --", FAST);
  assert.equal(s.store.getUser("x'; DROP TABLE users; --"), undefined);
  assert.throws(() => s.store.addContact("x", "' OR 1=1 --"), { code: 404 });
  assert.equal(s.store.userCount(), 1);
});

Deno.test("Store.close() is idempotent", async () => {
  await using s = await tempStore();
  s.store.close();
  s.store.close();
  assert.equal(s.store.closed, true);
});

Deno.test("Store.secret() makes a secret once and keeps it across reopenings", async () => {
  await using t = await tempStore();
  const first = t.store.secret("decoy");
  assert.equal(first.length, 32);
  assert.deepEqual(t.store.secret("decoy"), first);
  assert.notDeepEqual(t.store.secret("other"), first);
  t.store.close();
  using again = Store.open(t.path);
  assert.deepEqual(again.secret("decoy"), first);
});
