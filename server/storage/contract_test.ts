/**
 * The storage ports' contract: one suite, run against every adapter in {@linkcode ADAPTERS}.
 * A new adapter (PostgreSQL in issue 14) adds one entry; nothing else changes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { legacyStoredHash, ScramClient, ScramServerExchange } from "../../protocol/mod.ts";
import { addUser, deriveCredentials, setPassword } from "../accounts.ts";
import type { Storage, StorageChange } from "./ports.ts";
import { SqliteStorage } from "./sqlite/mod.ts";

/** An adapter under test: a fresh, empty storage and a second handle on the same data. */
export interface StorageFixture extends AsyncDisposable {
  readonly storage: Storage;
  /** Another handle on the same data, as another process (`jim-server user ...`) has it. */
  other(): Promise<Storage>;
}

/** How to make a fixture for each adapter. */
export interface AdapterFactory {
  readonly name: string;
  /** Opens empty storage whose change feed reacts within tens of milliseconds. */
  open(): Promise<StorageFixture>;
}

/** Every adapter the suite runs against. */
export const ADAPTERS: readonly AdapterFactory[] = [
  {
    name: "SQLite",
    async open() {
      const dir = await Deno.makeTempDir({ prefix: "jim-storage-contract-" });
      const path = `${dir}/contract.db`;
      const options = { changePollMs: 10, historyFlushMs: 10 };
      const storage = SqliteStorage.open(path, options);
      const others: Storage[] = [];
      return {
        storage,
        other() {
          const other = SqliteStorage.open(path, options);
          others.push(other);
          return Promise.resolve(other);
        },
        async [Symbol.asyncDispose]() {
          for (const other of others) await other.close();
          await storage.close();
          await Deno.remove(dir, { recursive: true });
        },
      };
    },
  },
];

const FAST = { iterations: 4096 };

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

for (const adapter of ADAPTERS) {
  const test = (name: string, fn: (t: Deno.TestContext, fx: StorageFixture) => Promise<void>) =>
    Deno.test(`${adapter.name}: ${name}`, async (t) => {
      await using fx = await adapter.open();
      await fn(t, fx);
    });

  test("users.add() keeps display case and is unique in any case", async (t, { storage }) => {
    const { users } = storage;
    await t.step("adds and reads back", async () => {
      const row = await addUser(users, "Alice", "pw", FAST);
      assert.equal(row.login, "Alice");
      assert.equal(row.legacy, false);
      assert.equal(row.lastSeen, null);
      assert.equal((await users.get("ALICE"))?.login, "Alice");
      assert.equal(await users.canonicalLogin("alice"), "Alice");
    });
    await t.step("duplicates in another case are 409, also for Cyrillic", async () => {
      await assert.rejects(addUser(users, "aLiCe", "pw", FAST), {
        name: "JimError",
        code: 409,
        message: "Client already exists: Alice",
      });
      await addUser(users, "Клиент", "pw", FAST);
      await assert.rejects(addUser(users, "клиент", "pw", FAST), { code: 409 });
    });
    await t.step("bad names and passwords are 400 and add nothing", async () => {
      await assert.rejects(addUser(users, "a b", "pw", FAST), { code: 400 });
      await assert.rejects(addUser(users, "x".repeat(26), "pw", FAST), { code: 400 });
      await assert.rejects(addUser(users, "ok", "", FAST), { code: 400, message: /empty/ });
      await assert.rejects(addUser(users, "ok", "p".repeat(1025), FAST), { code: 400 });
      const credentials = await deriveCredentials("pw", FAST);
      await assert.rejects(users.add("a b", credentials), { code: 400 });
      assert.equal(await users.get("ok"), undefined);
    });
    await t.step("lists newest first and counts", async () => {
      assert.deepEqual((await users.list()).map((u) => u.login), ["Клиент", "Alice"]);
      assert.equal(await users.count(), 2);
    });
  });

  test("users.add() refuses look-alikes and stores the ordinary form", async (t, { storage }) => {
    const { users } = storage;
    for (const name of ["alice", "bob", "pop"]) await addUser(users, name, "pw", FAST);
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
        await assert.rejects(users.checkNewLogin(name), { code, message });
        await assert.rejects(users.add(name, await deriveCredentials("pw", FAST)), {
          code,
          message,
        });
      });
    }
    await t.step("nothing was added", async () => {
      assert.deepEqual(await users.loginsAfter(undefined, 10), ["alice", "bob", "pop"]);
    });
    await t.step("names of one script work; fullwidth is stored in its ordinary form", async () => {
      for (const name of ["Дмитрий", "李雷", "Ελένη"]) await addUser(users, name, "pw", FAST);
      assert.equal(await users.canonicalLogin("дмитрий"), "Дмитрий");
      const row = await addUser(users, "\uff43arol", "pw", FAST);
      assert.equal(row.login, "carol");
      assert.equal(await users.canonicalLogin("\uff43arol"), "carol");
    });
    await t.step("a database created under the rules has no name conflicts", async () => {
      assert.deepEqual(await users.nameConflicts(), []);
    });
  });

  test("users keep derived credentials that a SCRAM exchange accepts", async (_t, { storage }) => {
    const { users } = storage;
    await addUser(users, "bob", "pencil", { ...FAST, legacy: true });
    const creds = (await users.credentials("BOB"))!;
    assert.equal(creds.login, "bob");
    assert.equal(creds.lastIp, null);
    assert.equal(creds.scram.iterations, 4096);
    assert.equal(creds.scram.salt.length, 16);
    assert.equal(creds.legacyHash, await legacyStoredHash("pencil"));
    const client = new ScramClient("bob", "pencil");
    const server = new ScramServerExchange();
    const first = server.serverFirst(client.clientFirst(), creds.scram);
    const final = await server.serverFinal(await client.clientFinal(first), creds.scram);
    await client.verifyServerFinal(final);
    await addUser(users, "carol", "pencil", FAST);
    assert.notDeepEqual((await users.credentials("carol"))!.scram.salt, creds.scram.salt);
    assert.equal(await users.credentials("nobody"), undefined);
  });

  test("setPassword() replaces credentials and keeps or drops the legacy hash", async (_t, fx) => {
    const { users } = fx.storage;
    await addUser(users, "bob", "one", { ...FAST, legacy: true });
    const before = (await users.credentials("bob"))!;
    await setPassword(users, "bob", "two", FAST);
    const after = (await users.credentials("bob"))!;
    assert.notDeepEqual(after.scram.storedKey, before.scram.storedKey);
    assert.equal(after.legacyHash, await legacyStoredHash("two"));
    await setPassword(users, "bob", "three", { ...FAST, legacy: false });
    assert.equal((await users.credentials("bob"))!.legacyHash, null);
    await assert.rejects(setPassword(users, "ghost", "x", FAST), {
      code: 404,
      message: "No such client: ghost",
    });
    await assert.rejects(users.setCredentials("ghost", after), {
      code: 404,
      message: "No such client: ghost",
    });
  });

  test("contacts follow the seed's errors and go with a removed user", async (_t, { storage }) => {
    const { users, contacts, logins } = storage;
    for (const name of ["alice", "Bob", "carol"]) await addUser(users, name, "pw", FAST);
    assert.equal(await contacts.add("alice", "bob"), "Bob");
    await contacts.add("alice", "carol");
    await contacts.add("carol", "alice");
    await assert.rejects(contacts.add("alice", "BOB"), {
      code: 409,
      message: "Client already in contacts: BOB",
    });
    await assert.rejects(contacts.add("alice", "zed"), {
      code: 404,
      message: "No such client: zed",
    });
    await assert.rejects(contacts.add("zed", "alice"), {
      code: 404,
      message: "No such client: zed",
    });
    assert.deepEqual(await contacts.list("ALICE"), ["Bob", "carol"]);
    assert.equal(await contacts.remove("alice", "CAROL"), "carol");
    await assert.rejects(contacts.remove("alice", "carol"), {
      code: 404,
      message: "Client not in contacts: carol",
    });
    logins.record({ login: "alice", time: 1000, ip: "127.0.0.1", port: 5 });
    await logins.flush();
    await users.remove("alice");
    await assert.rejects(users.remove("alice"), { code: 404, message: "No such client: alice" });
    assert.deepEqual(await contacts.list("carol"), []);
    assert.deepEqual(await logins.list(), []);
  });

  test("contacts.add() stops at max, atomically", async (_t, { storage }) => {
    const { users, contacts } = storage;
    for (const name of ["owner", "a", "b", "c"]) await addUser(users, name, "pw", FAST);
    await contacts.add("owner", "a", { max: 2 });
    await contacts.add("owner", "b", { max: 2 });
    await assert.rejects(contacts.add("owner", "c", { max: 2 }), {
      code: 403,
      message: "Too many contacts: the limit is 2",
    });
    await assert.rejects(contacts.add("owner", "a", { max: 2 }), { code: 409 });
    assert.deepEqual(await contacts.list("owner"), ["a", "b"]);
  });

  test("users.loginsAfter() pages without gaps or repeats while users change", async (_t, fx) => {
    const { users } = fx.storage;
    const credentials = await deriveCredentials("pw", FAST);
    for (const name of ["d", "B", "a", "e", "c"]) await users.add(name, credentials);
    const first = await users.loginsAfter(undefined, 2);
    assert.deepEqual(first, ["a", "B"]);
    await users.remove("c");
    await users.add("bb", credentials);
    assert.deepEqual(await users.loginsAfter(first.at(-1), 2), ["bb", "d"]);
    assert.deepEqual(await users.loginsAfter("D", 10), ["e"]);
    assert.deepEqual(await users.loginsAfter("zzz", 10), []);
  });

  test("logins: history, last seen and last address, written behind", async (_t, fx) => {
    const { users, logins } = fx.storage;
    await addUser(users, "alice", "pw", FAST);
    logins.record({ login: "alice", time: 1000, ip: "10.0.0.1", port: 4000 });
    logins.record({ login: "ghost", time: 1500, ip: "10.0.0.9", port: 1 });
    logins.record({ login: "ALICE", time: 2000, ip: "10.0.0.2", port: 4001 });
    await logins.flush();
    assert.deepEqual((await logins.list({ login: "alice" })).map((r) => r.ip), [
      "10.0.0.2",
      "10.0.0.1",
    ]);
    assert.deepEqual((await logins.list({ limit: 1 })).map((r) => r.time), [2000]);
    const row = (await users.get("alice"))!;
    assert.equal(row.lastSeen, 2000);
    assert.equal(row.lastIp, "10.0.0.2");
    assert.equal((await users.credentials("alice"))!.lastIp, "10.0.0.2");
    logins.seen("alice", 3000);
    await logins.flush();
    assert.equal((await users.get("alice"))!.lastSeen, 3000);
  });

  test("logins are written behind without a flush, and at close()", async (_t, fx) => {
    const { users, logins } = fx.storage;
    await addUser(users, "alice", "pw", FAST);
    logins.record({ login: "alice", time: 1000, ip: "10.0.0.1", port: 4000 });
    const other = await fx.other();
    const seen = await waitFor("the write-behind", async () => {
      const row = await other.users.get("alice");
      return row?.lastSeen ?? undefined;
    });
    assert.equal(seen, 1000);
    logins.seen("alice", 5000);
    await fx.storage.close();
    assert.equal((await other.users.get("alice"))!.lastSeen, 5000);
  });

  test("two handles on the same data see each other's writes at once", async (_t, fx) => {
    const other = await fx.other();
    await addUser(other.users, "late", "pw", FAST);
    assert.equal(await fx.storage.users.canonicalLogin("LATE"), "late");
    await other.users.remove("late");
    assert.equal(await fx.storage.users.credentials("late"), undefined);
  });

  test(
    "changes: own removals by name, others' as a change, never inside the call",
    async (t, fx) => {
      const { storage } = fx;
      await addUser(storage.users, "alice", "pw", FAST);
      await addUser(storage.users, "bob", "pw", FAST);
      const seen: StorageChange[] = [];
      const unsubscribe = storage.changes.subscribe((change) => seen.push(change));
      try {
        await t.step("a removal through this handle names the login", async () => {
          await storage.users.remove("ALICE");
          assert.deepEqual(seen, [], "not inside the call that made it");
          await waitFor("the change", () => seen.length > 0 ? true : undefined);
          assert.deepEqual(seen, [{ kind: "user-removed", login: "alice" }]);
        });
        await t.step("another handle's commit is noticed", async () => {
          seen.length = 0;
          const other = await fx.other();
          await other.users.remove("bob");
          await waitFor("the change", () => seen.length > 0 ? true : undefined);
          const change = seen[0]!;
          assert.ok(
            change.kind === "unknown" || (change.kind === "user-removed" && change.login === "bob"),
            JSON.stringify(change),
          );
        });
      } finally {
        unsubscribe();
      }
      await t.step("nothing arrives after unsubscribing", async () => {
        seen.length = 0;
        await addUser(storage.users, "carol", "pw", FAST);
        await storage.users.remove("carol");
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(seen, []);
      });
    },
  );

  test("every value is bound: hostile names are data, not SQL", async (_t, { storage }) => {
    await addUser(storage.users, "x", "pw'); DROP TABLE users; --", FAST);
    assert.equal(await storage.users.get("x'; DROP TABLE users; --"), undefined);
    await assert.rejects(storage.contacts.add("x", "' OR 1=1 --"), { code: 404 });
    assert.deepEqual(await storage.logins.list({ login: "' OR 1=1 --" }), []);
    assert.equal(await storage.users.count(), 1);
  });

  test("secrets.get() makes a secret once and every handle gets the same", async (_t, fx) => {
    const first = await fx.storage.secrets.get("decoy");
    assert.equal(first.length, 32);
    assert.deepEqual(await fx.storage.secrets.get("decoy"), first);
    assert.notDeepEqual(await fx.storage.secrets.get("other"), first);
    const other = await fx.other();
    assert.deepEqual(await other.secrets.get("decoy"), first);
  });

  test("close() is idempotent and later calls reject", async (_t, { storage }) => {
    await storage.close();
    await storage.close();
    assert.equal(storage.closed, true);
    await assert.rejects(storage.users.count());
    storage.logins.record({ login: "x", time: 1, ip: "127.0.0.1", port: 1 });
  });
}
