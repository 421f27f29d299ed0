import assert from "node:assert/strict";
import { addUser } from "../accounts.ts";
import { describeDatabase, isPostgresUrl, openStorage } from "./open_storage.ts";
import { SqliteStorage } from "./sqlite/mod.ts";

Deno.test("describeDatabase() hides the password of a URL and nothing of a path", async (t) => {
  const cases: [string, string][] = [
    ["jim-server.db", "jim-server.db"],
    ["/var/lib/jim/jim.db", "/var/lib/jim/jim.db"],
    ["postgres://jim@db:5432/jim", "postgres://jim@db:5432/jim"],
    ["postgres://jim:s3cret@db:5432/jim", "postgres://jim:***@db:5432/jim"],
    ["postgresql://jim:p%40ss%3Aw0rd@10.0.0.5/jim", "postgresql://jim:***@10.0.0.5/jim"],
    [
      "postgres://db/jim?user=jim&password=s3cret&sslmode=require",
      "postgres://db/jim?user=jim&password=***&sslmode=require",
    ],
    ["postgres://jim:s3cret@[not a host", "postgres://***"],
  ];
  for (const [spec, shown] of cases) {
    await t.step(spec, () => {
      assert.equal(describeDatabase(spec), shown);
      assert.ok(!describeDatabase(spec).includes("s3cret"));
    });
  }
});

Deno.test("isPostgresUrl() takes postgres:// and postgresql:// in any case, nothing else", () => {
  for (const spec of ["postgres://h/d", "POSTGRESQL://h/d", "postgresql://u@h:1/d"]) {
    assert.equal(isPostgresUrl(spec), true, spec);
  }
  for (const spec of ["jim.db", "./postgres://x", "mysql://h/d", "postgres:/h", ":memory:"]) {
    assert.equal(isPostgresUrl(spec), false, spec);
  }
});

Deno.test("openStorage() opens SQLite for a path and refuses what it cannot open", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "jim-open-storage-" });
  try {
    await t.step("a path is a SQLite file", async () => {
      await using storage = await openStorage(`${dir}/a.db`);
      assert.ok(storage instanceof SqliteStorage);
      await addUser(storage.users, "alice", "pw", { iterations: 4096 });
      assert.equal(await storage.users.count(), 1);
    });
    await t.step("a pool is refused for SQLite", async () => {
      await assert.rejects(openStorage(`${dir}/b.db`, { pool: 4 }), {
        name: "RangeError",
        message: "Invalid pool size: a pool is for a postgres:// database only",
      });
    });
    await t.step("another scheme is refused, its password hidden", async () => {
      await assert.rejects(openStorage("mysql://root:s3cret@db/jim"), {
        message:
          "Cannot open database mysql://root:***@db/jim: use a file path or a postgres:// URL",
      });
    });
    await t.step("an unparsable URL says so without quoting it", async () => {
      await assert.rejects(openStorage("postgres://jim:s3cret@[oops/jim"), {
        message: "Cannot open database postgres://***: not a valid URL",
      });
    });
    await t.step("a URL with nobody listening fails at once, its password hidden", async () => {
      const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (probe.addr as Deno.NetAddr).port;
      probe.close();
      const url = `postgres://jim:s3cret-pw@127.0.0.1:${port}/jim`;
      const error = await openStorage(url).then(
        () => assert.fail("opened a database that is not there"),
        (e: Error) => e,
      );
      assert.match(
        error.message,
        new RegExp(`^Cannot open database postgres://jim:\\*\\*\\*@127\\.0\\.0\\.1:${port}/jim: `),
      );
      assert.match(error.message, /ECONNREFUSED/);
      assert.ok(!error.message.includes("s3cret"), error.message);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
