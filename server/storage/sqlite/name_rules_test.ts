import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { addUser } from "../../accounts.ts";
import { nameConflictLines } from "../../cli.ts";
import { SqliteStorage } from "./mod.ts";

const FAST = { iterations: 4096 };

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "jim-names-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("SqliteStorage.open() gives users of schema 1 skeletons and reports collisions", async (t) => {
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

  const storage = SqliteStorage.open(path);
  const { users } = storage;
  try {
    await t.step(
      "opens, and lists every collision with the account that keeps the name",
      async () => {
        assert.deepEqual(await users.nameConflicts(), [
          { login: "\uff41lice", conflictsWith: "alice", kind: "same" },
          { login: "\u0430lice", conflictsWith: "alice", kind: "lookalike" },
          { login: "alice\u034f", conflictsWith: "alice", kind: "lookalike" },
        ]);
        const lines = await nameConflictLines(users);
        assert.match(lines[0]!, /ａlice is the same name as alice and cannot log in/);
        assert.match(lines[1]!, /аlice looks like alice; it still works/);
      },
    );
    await t.step("look-alikes made before the rules still log in as themselves", async () => {
      assert.equal((await users.credentials("\u0430lice"))?.login, "\u0430lice");
      assert.equal((await users.credentials("alice\u034f"))?.login, "alice\u034f");
      assert.equal((await users.credentials("ZOË"))?.login, "Zoë");
      assert.equal((await users.credentials("alice"))?.login, "alice");
    });
    await t.step("the fullwidth duplicate's name now reaches alice", async () => {
      assert.equal(await users.canonicalLogin("\uff41lice"), "alice");
    });
    await t.step("an admin can still remove the duplicate by its exact name", async () => {
      await users.remove("\uff41lice");
      assert.equal((await users.get("alice"))?.login, "alice");
      assert.equal(await users.count(), old.length - 1);
    });
    await t.step("new look-alikes are refused against the migrated users", async () => {
      await assert.rejects(addUser(users, "zoe\u0308", "pw", FAST), /Client already exists: Zoë/);
      await assert.rejects(
        addUser(users, "al\u0131ce", "pw", FAST),
        /looks like existing user alice/,
      );
    });
  } finally {
    await storage.close();
  }
  await t.step("the skeleton column is unique", () => {
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
  await t.step("a second open changes nothing", async () => {
    await using again = SqliteStorage.open(path);
    assert.equal((await again.users.nameConflicts()).length, 2);
  });
});
