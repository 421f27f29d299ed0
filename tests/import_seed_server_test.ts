/**
 * `jim-server import-seed FILE` against databases made by the seed's own schema
 * (tests/seed/make_seed_server_db.py): users arrive flagged legacy and log in with the seed's
 * login, contacts follow, a second run changes nothing, and files that are not a seed
 * server's database are refused with a clear error and nothing written. On SQLite always,
 * on a throwaway PostgreSQL when it is installed.
 */
import assert from "node:assert/strict";
import {
  addUser,
  JimServer,
  openStorage,
  setPassword,
  SqliteStorage,
  type Storage,
} from "../server/mod.ts";
import { main } from "../server/cli.ts";
import { connectRaw, now, TEST_ITERATIONS } from "../server/testing.ts";
import { POSTGRESQL, startPostgres } from "./_services.ts";
import { PYTHON3, testWithTools, toolPath } from "./_tools.ts";

const MAKE_SERVER_DB = new URL("./seed/make_seed_server_db.py", import.meta.url).pathname;
const MAKE_CLIENT_DB = new URL("./seed/make_seed_client_db.py", import.meta.url).pathname;

async function python(args: string[]): Promise<void> {
  const out = await new Deno.Command(toolPath(PYTHON3), { args, stderr: "piped" }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    env: () => undefined,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function withStorage<T>(db: string, body: (storage: Storage) => Promise<T>): Promise<T> {
  const storage = await openStorage(db, {});
  try {
    return await body(storage);
  } finally {
    await storage.close();
  }
}

/** Logs in over a real socket: the seed's way, or SCRAM; returns the response code. */
async function loginCode(server: JimServer, login: string, password: string, legacy: boolean) {
  await using conn = await connectRaw({ host: "127.0.0.1", port: server.addr.port });
  const reply = legacy
    ? await conn.legacyLogin(login, password)
    : await conn.login(login, password);
  return reply.response;
}

testWithTools([PYTHON3], {
  name: "jim-server import-seed imports the seed's users (legacy) and contacts, once",
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "jim-import-seed-" });
    try {
      const seed = `${dir}/seed_server.db`;
      const db = `${dir}/jim.db`;
      await python([MAKE_SERVER_DB, seed]);

      await t.step("first run: three users, three contacts, and what to do next", async () => {
        const run = await cli(["import-seed", seed, "--db", db]);
        assert.equal(run.code, 0, run.err);
        assert.match(
          run.out,
          /3 users added, 0 already there; 3 contacts added, 0 already there; 0 rows skipped/,
        );
        assert.match(run.out, /--legacy-auth/);
        assert.match(run.out, /user passwd NAME/);
        const list = await cli(["user", "list", "--db", db]);
        for (const login of ["Client5", "Client6", "client3"]) {
          assert.match(list.out, new RegExp(`^${login} .* yes$`, "m"), list.out);
        }
        await withStorage(db, async (storage) => {
          assert.deepEqual(await storage.contacts.list("Client5"), ["client3", "Client6"]);
          assert.deepEqual(await storage.contacts.list("Client6"), ["Client5"]);
          assert.deepEqual(await storage.contacts.list("client3"), []);
        });
      });

      await t.step("second run: nothing added, nothing changed", async () => {
        const before = await withStorage(db, (s) => s.users.credentials("Client5"));
        const run = await cli(["import-seed", seed, "--db", db]);
        assert.equal(run.code, 0, run.err);
        assert.match(
          run.out,
          /0 users added, 3 already there; 0 contacts added, 3 already there; 0 rows skipped/,
        );
        assert.doesNotMatch(run.out, /--legacy-auth/, "no advice when nobody was added");
        const after = await withStorage(db, (s) => s.users.credentials("Client5"));
        assert.deepEqual(after, before);
      });

      await t.step("they log in with the seed's login and their seed password only", async () => {
        await using storage = SqliteStorage.open(db);
        await using server = await JimServer.listen({ storage, port: 0, legacyAuth: true });
        assert.equal(await loginCode(server, "Client5", "secret", true), 200);
        assert.equal(await loginCode(server, "client3", "пароль", true), 200);
        assert.equal(await loginCode(server, "Client6", "wrong", true), 402);
        // No SCRAM credentials can be made from the seed's hash: SCRAM fails like a wrong
        // password, until a password is set.
        assert.equal(await loginCode(server, "Client5", "secret", false), 402);
        await using conn = await connectRaw({ host: "127.0.0.1", port: server.addr.port });
        assert.equal((await conn.legacyLogin("Client5", "secret")).response, 200);
        const listed = await conn.request({ action: "get_contacts", time: now() });
        assert.equal(listed.quantity, 2);
      });

      await t.step("set a password: SCRAM works, the legacy hash is gone", async () => {
        // What `jim-server user passwd Client5` does (its stdin cannot be fed in-process).
        await withStorage(db, (storage) =>
          setPassword(storage.users, "Client5", "new-secret", {
            iterations: TEST_ITERATIONS,
            legacy: false,
          }));
        await using storage = SqliteStorage.open(db);
        await using server = await JimServer.listen({ storage, port: 0, legacyAuth: true });
        assert.equal(await loginCode(server, "Client5", "new-secret", false), 200);
        assert.equal(await loginCode(server, "Client5", "secret", true), 402);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

testWithTools([PYTHON3], {
  name: "jim-server import-seed skips bad rows and never touches an account jim has already",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "jim-import-seed-messy-" });
    try {
      const seed = `${dir}/seed_server.db`;
      const db = `${dir}/jim.db`;
      await python([MAKE_SERVER_DB, seed, "--messy"]);
      await withStorage(db, async (storage) => {
        await addUser(storage.users, "client6", "jim-password", { iterations: TEST_ITERATIONS });
      });
      const before = await withStorage(db, (s) => s.users.credentials("client6"));
      const run = await cli(["import-seed", seed, "--db", db]);
      assert.equal(run.code, 0, run.err);
      assert.match(run.out, /2 users added, 0 already there; 1 contacts added/);
      assert.match(
        run.out,
        /Skipped users #\d+ \(Client6\): client6 exists with other credentials/,
      );
      assert.match(run.out, /Skipped users #\d+ \(bad login\): Invalid login/);
      assert.match(run.out, /Skipped users #\d+ \(Client9\): password_hash must be 64 hex/);
      assert.match(run.out, /Skipped contacts #\d+: owner_id and contact_id must name users/);
      assert.match(run.out, /Skipped contacts #\d+: Client6 was not imported/);
      await withStorage(db, async (storage) => {
        assert.deepEqual(await storage.users.credentials("client6"), before, "kept as it is");
        assert.deepEqual(await storage.contacts.list("Client5"), ["client3"]);
        assert.deepEqual(await storage.contacts.list("client6"), []);
        assert.equal(await storage.users.count(), 3);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

testWithTools([PYTHON3], {
  name: "jim-server import-seed refuses what is not a seed server's database, writing nothing",
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "jim-import-seed-bad-" });
    try {
      const db = `${dir}/jim.db`;
      await withStorage(db, async (storage) => {
        await addUser(storage.users, "alice", "pw", { iterations: TEST_ITERATIONS });
      });
      const refused = async (file: string, message: RegExp) => {
        const run = await cli(["import-seed", file, "--db", db]);
        assert.equal(run.code, 1, run.out);
        assert.match(run.err, message);
        assert.equal(run.out, "");
        await withStorage(db, async (storage) => {
          assert.deepEqual((await storage.users.list()).map((u) => u.login), ["alice"]);
        });
        const fresh = `${dir}/never-made.db`;
        assert.equal((await cli(["import-seed", file, "--db", fresh])).code, 1);
        await assert.rejects(Deno.stat(fresh), Deno.errors.NotFound, "no database is created");
      };
      await t.step("random bytes", async () => {
        const file = `${dir}/noise.db`;
        await Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(8192)));
        await refused(file, /Cannot import .*noise\.db: not an SQLite database, or a damaged one/);
      });
      await t.step("a truncated seed database", async () => {
        const whole = `${dir}/whole.db`;
        await python([MAKE_SERVER_DB, whole]);
        const bytes = await Deno.readFile(whole);
        const file = `${dir}/truncated.db`;
        await Deno.writeFile(file, bytes.subarray(0, 100));
        await refused(file, /truncated\.db: (not an SQLite database|Not a seed server|.*damaged)/);
      });
      await t.step("a seed client's database", async () => {
        const file = `${dir}/client.db`;
        await python([MAKE_CLIENT_DB, file, "Client5"]);
        await refused(file, /seed client's; use jim-client import-seed/);
      });
      await t.step("jim's own database", async () => {
        const other = `${dir}/other-jim.db`;
        SqliteStorage.open(other).close();
        await refused(other, /Not a seed server database: .* has no (column|table)/);
      });
      await t.step("a file that is not there", async () => {
        await refused(`${dir}/missing.db`, /Cannot open .*missing\.db/);
      });
      await t.step("no file, or two: a usage error", async () => {
        for (const args of [["import-seed"], ["import-seed", "a.db", "b.db"]]) {
          const run = await cli([...args, "--db", db]);
          assert.equal(run.code, 2);
          assert.match(run.err, /Expected one file: import-seed FILE/);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

testWithTools([PYTHON3, POSTGRESQL], {
  name: "jim-server import-seed into PostgreSQL: the same import, once",
  async fn() {
    await using pg = await startPostgres();
    const dir = await Deno.makeTempDir({ prefix: "jim-import-seed-pg-" });
    try {
      const seed = `${dir}/seed_server.db`;
      await python([MAKE_SERVER_DB, seed]);
      const first = await cli(["import-seed", seed, "--db", pg.url]);
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /3 users added, 0 already there; 3 contacts added/);
      assert.ok(!first.out.includes(pg.password));
      const again = await cli(["import-seed", seed, "--db", pg.url]);
      assert.match(again.out, /0 users added, 3 already there; 0 contacts added, 3 already there/);
      await withStorage(pg.url, async (storage) => {
        assert.deepEqual(await storage.contacts.list("Client5"), ["client3", "Client6"]);
        assert.equal((await storage.users.get("client3"))?.legacy, true);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
