import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { nameConflictLines } from "./main.ts";
import { Store } from "./store.ts";

const FAST = { iterations: 4096 };

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "jim-names-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("Store.addUser() refuses look-alikes of existing users", async (t) => {
  await using dir = await tempDir();
  using store = Store.open(`${dir.path}/names.db`);
  await store.addUser("alice", "pw", FAST);
  await store.addUser("bob", "pw", FAST);
  await store.addUser("pop", "pw", FAST);
  const refused: [string, string, number, RegExp][] = [
    ["Cyrillic а", "\u0430lice", 400, /^Invalid login: mixes Latin and Cyrillic$/],
    ["Cyrillic і", "al\u0456ce", 400, /^Invalid login: mixes Latin and Cyrillic$/],
    ["Greek ο", "b\u03bfb", 400, /^Invalid login: mixes Latin and Greek$/],
    ["fullwidth ａ: the same name", "\uff41lice", 409, /^Client already exists: alice$/],
    ["U+034F", "alice\u034f", 400, /^Invalid login: contains an invisible character U\+034F$/],
    ["U+FE0F", "alice\ufe0f", 400, /^Invalid login: contains an invisible character U\+FE0F$/],
    ["U+3164", "alice\u3164", 400, /^Invalid login: contains an invisible character U\+3164$/],
    ["only U+3164", "\u3164", 400, /^Invalid login: contains an invisible character U\+3164$/],
    [
      "all-Cyrillic рор",
      "\u0440\u043e\u0440",
      409,
      /^Invalid login: looks like existing user pop$/,
    ],
    ["dotless ı", "al\u0131ce", 409, /^Invalid login: looks like existing user alice$/],
    ["capital I", "aIice", 409, /^Invalid login: looks like existing user alice$/],
    ["digit 0", "b0b", 409, /^Invalid login: looks like existing user bob$/],
    ["other case", "ALICE", 409, /^Client already exists: alice$/],
  ];
  for (const [label, name, code, message] of refused) {
    await t.step(label, async () => {
      await assert.rejects(store.addUser(name, "pw", FAST), (e: Error & { code?: number }) => {
        assert.equal(e.code, code);
        assert.match(e.message, message);
        return true;
      });
    });
  }
  await t.step("nothing was added", () => {
    assert.deepEqual(store.logins(), ["alice", "bob", "pop"]);
  });
  await t.step("names of one script still work", async () => {
    for (const name of ["Дмитрий", "李雷", "Ελένη"]) await store.addUser(name, "pw", FAST);
    assert.equal(store.canonicalLogin("дмитрий"), "Дмитрий");
  });
  await t.step("a fullwidth new name is stored in its ordinary form", async () => {
    const row = await store.addUser("\uff43arol", "pw", FAST);
    assert.equal(row.login, "carol");
    assert.equal(store.canonicalLogin("CAROL"), "carol");
    assert.equal(store.canonicalLogin("\uff43arol"), "carol");
  });
});

Deno.test("Store.open() gives users of schema 1 skeletons and reports collisions", async (t) => {
  await using dir = await tempDir();
  const path = `${dir.path}/v1.db`;
  // A database as schema 1 wrote it, with the look-alikes that schema 1 let in.
  const raw = new DatabaseSync(path);
  raw.exec(`
    CREATE TABLE users (
      id INTEGER PRIMARY KEY, login TEXT NOT NULL UNIQUE COLLATE NOCASE,
      login_key TEXT NOT NULL UNIQUE, salt BLOB NOT NULL, iterations INTEGER NOT NULL,
      stored_key BLOB NOT NULL, server_key BLOB NOT NULL, legacy_hash TEXT,
      created INTEGER NOT NULL, last_seen INTEGER, last_ip TEXT) STRICT;
    CREATE TABLE contacts (
      owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      contact_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      added INTEGER NOT NULL, PRIMARY KEY (owner_id, contact_id)) STRICT, WITHOUT ROWID;
    CREATE INDEX contacts_contact ON contacts(contact_id);
    CREATE TABLE login_history (
      id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      time INTEGER NOT NULL, ip TEXT NOT NULL, port INTEGER NOT NULL) STRICT;
    CREATE INDEX login_history_user_time ON login_history(user_id, time);
    PRAGMA user_version = 1;
  `);
  const insert = raw.prepare(
    `INSERT INTO users (login, login_key, salt, iterations, stored_key, server_key, created)
     VALUES (?, ?, x'00', 4096, x'00', x'00', ?)`,
  );
  const v1Key = (login: string) => login.normalize("NFC").toLowerCase();
  const old = ["alice", "\uff41lice", "\u0430lice", "Zoë", "alice\u034f"];
  old.forEach((login, i) => insert.run(login, v1Key(login), i + 1));
  raw.close();

  using store = Store.open(path);
  await t.step("opens, and lists every collision with the account that keeps the name", () => {
    assert.deepEqual(store.nameConflicts(), [
      { login: "\uff41lice", conflictsWith: "alice", kind: "same" },
      { login: "\u0430lice", conflictsWith: "alice", kind: "lookalike" },
      { login: "alice\u034f", conflictsWith: "alice", kind: "lookalike" },
    ]);
    const lines = nameConflictLines(store);
    assert.match(lines[0]!, /ａlice is the same name as alice and cannot log in/);
    assert.match(lines[1]!, /аlice looks like alice; it still works/);
  });
  await t.step("look-alikes made before the rules still log in as themselves", () => {
    assert.equal(store.credentials("\u0430lice")?.login, "\u0430lice");
    assert.equal(store.credentials("alice\u034f")?.login, "alice\u034f");
    assert.equal(store.credentials("ZOË")?.login, "Zoë");
    assert.equal(store.credentials("alice")?.login, "alice");
  });
  await t.step("the fullwidth duplicate's name now reaches alice", () => {
    assert.equal(store.canonicalLogin("\uff41lice"), "alice");
  });
  await t.step("an admin can still remove the duplicate by its exact name", () => {
    store.removeUser("\uff41lice");
    assert.equal(store.getUser("alice")?.login, "alice");
    assert.equal(store.userCount(), old.length - 1);
  });
  await t.step("new look-alikes are refused against the migrated users", async () => {
    await assert.rejects(store.addUser("zoe\u0308", "pw", FAST), /Client already exists: Zoë/);
    await assert.rejects(store.addUser("al\u0131ce", "pw", FAST), /looks like existing user alice/);
  });
  await t.step("the skeleton column is unique", () => {
    store.close();
    const db = new DatabaseSync(path);
    try {
      const skeleton = db.prepare("SELECT login_skeleton FROM users WHERE login = 'alice'")
        .get()!.login_skeleton as string;
      assert.throws(
        () => db.prepare("UPDATE users SET login_skeleton = ? WHERE login = 'Zoë'").run(skeleton),
        /UNIQUE constraint failed: users.login_skeleton/,
      );
    } finally {
      db.close();
    }
  });
  await t.step("a second open changes nothing", () => {
    using again = Store.open(path);
    assert.equal(again.nameConflicts().length, 2);
  });
});
