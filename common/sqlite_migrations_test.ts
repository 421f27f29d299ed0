import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { migrate, type Schema, schemaVersion } from "./sqlite_migrations.ts";

const tooNew = (found: number, latest: number) =>
  new Error(`Cannot open test file: schema version ${found} is newer than ${latest}`);

function tables(db: DatabaseSync): string[] {
  return db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all()
    .map((row) => row.name as string);
}

async function tempFile(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "jim-migrations-test-" });
  return {
    path: `${dir}/test.db`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("migrate() steps a new file through every migration and records the version", () => {
  using db = new DatabaseSync(":memory:");
  const schema: Schema<DatabaseSync> = {
    migrations: [
      "CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT",
      (d) => d.exec("CREATE TABLE b (id INTEGER PRIMARY KEY) STRICT"),
    ],
    tooNew,
  };
  assert.deepEqual(migrate(db, schema), { from: 0, to: 2, refreshed: false });
  assert.equal(schemaVersion(db), 2);
  assert.deepEqual(tables(db), ["a", "b"]);
  assert.deepEqual(migrate(db, schema), { from: 2, to: 2, refreshed: false });
});

Deno.test("migrate() runs only the migrations a file lacks", () => {
  using db = new DatabaseSync(":memory:");
  migrate(db, { migrations: ["CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT"], tooNew });
  const result = migrate(db, {
    migrations: [
      "CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT",
      "ALTER TABLE a ADD COLUMN note TEXT",
    ],
    tooNew,
  });
  assert.deepEqual(result, { from: 1, to: 2, refreshed: false });
  assert.deepEqual(db.prepare("SELECT name FROM pragma_table_info('a')").all().map((r) => r.name), [
    "id",
    "note",
  ]);
});

Deno.test("migrate() refuses a newer file and leaves it untouched", async () => {
  await using file = await tempFile();
  {
    using db = new DatabaseSync(file.path);
    db.exec("PRAGMA user_version = 7");
  }
  using db = new DatabaseSync(file.path);
  assert.throws(
    () => migrate(db, { migrations: ["CREATE TABLE a (x TEXT)"], tooNew }),
    /schema version 7 is newer than 1/,
  );
  assert.deepEqual(tables(db), []);
  assert.equal(schemaVersion(db), 7);
});

Deno.test("migrate() rolls every step back when one fails", () => {
  using db = new DatabaseSync(":memory:");
  assert.throws(
    () =>
      migrate(db, {
        migrations: ["CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT", "THIS IS NOT SQL"],
        tooNew,
      }),
    /syntax error/,
  );
  assert.equal(schemaVersion(db), 0);
  assert.deepEqual(tables(db), []);
});

Deno.test("migrate() runs a refresh when it is needed, in the same transaction", async (t) => {
  using db = new DatabaseSync(":memory:");
  let rules = "v1";
  const schema: Schema<DatabaseSync> = {
    migrations: ["CREATE TABLE rules (version TEXT NOT NULL) STRICT"],
    tooNew,
    refresh: {
      needed: (d) => d.prepare("SELECT version FROM rules").get()?.version !== rules,
      run: (d) => {
        d.exec("DELETE FROM rules");
        d.prepare("INSERT INTO rules (version) VALUES (?)").run(rules);
      },
    },
  };
  await t.step("after the migrations of a new file", () => {
    assert.deepEqual(migrate(db, schema), { from: 0, to: 1, refreshed: true });
  });
  await t.step("not again while nothing changed", () => {
    assert.deepEqual(migrate(db, schema), { from: 1, to: 1, refreshed: false });
  });
  await t.step("when what it derives from changed", () => {
    rules = "v2";
    assert.deepEqual(migrate(db, schema), { from: 1, to: 1, refreshed: true });
    assert.equal(db.prepare("SELECT version FROM rules").get()?.version, "v2");
  });
  await t.step("a failing refresh rolls back", () => {
    rules = "v3";
    const failing: Schema<DatabaseSync> = {
      ...schema,
      refresh: {
        needed: schema.refresh!.needed,
        run: (d) => {
          d.exec("DELETE FROM rules");
          throw new Error("refresh failed");
        },
      },
    };
    assert.throws(() => migrate(db, failing), /refresh failed/);
    assert.equal(db.prepare("SELECT version FROM rules").get()?.version, "v2");
  });
});

Deno.test("migrate() re-reads the version under the write lock", async () => {
  await using file = await tempFile();
  let runs = 0;
  const schema: Schema = {
    migrations: [(d) => {
      runs++;
      d.exec("CREATE TABLE a (id INTEGER PRIMARY KEY) STRICT");
    }],
    tooNew,
  };
  using first = new DatabaseSync(file.path);
  using second = new DatabaseSync(file.path);
  migrate(first, schema);
  // The second process read version 0 just before the first one committed.
  let stale = true;
  const racing = {
    exec: (sql: string) => second.exec(sql),
    prepare: (sql: string) => {
      if (stale && sql === "PRAGMA user_version") {
        stale = false;
        return { get: () => ({ user_version: 0 }) };
      }
      return second.prepare(sql);
    },
  };
  assert.deepEqual(migrate(racing, schema), { from: 0, to: 1, refreshed: false });
  assert.equal(runs, 1);
  assert.deepEqual(tables(second), ["a"]);
});
