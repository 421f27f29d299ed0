/**
 * jim-server on PostgreSQL end to end, against a throwaway server (tests/_services.ts): the
 * CLI's user commands and `serve` with a postgres:// `--db` (no password in any output), two
 * nodes sharing users and removals, the admin GUI over HTTP, and the "PostgreSQL
 * down" promises: new logins get 503, live sessions keep chatting where no database is needed
 * and get 503 where it is, and everything recovers without a restart.
 *
 * @module
 */
import assert from "node:assert/strict";
import { addUser, JimServer, STORAGE_UNAVAILABLE } from "../server/mod.ts";
import { PostgresStorage } from "../server/storage/postgres/mod.ts";
import { connectRaw, now, type RawConnection } from "../server/testing.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { POSTGRESQL, startPostgres } from "./_services.ts";
import { testWithTools } from "./_tools.ts";
import { JimServerProcess } from "./_jim_server.ts";

const FAST = { iterations: 4096 };

/** Runs a jim-server command to completion; returns its exit code and all it printed. */
function jimServer(
  args: string[],
  options: { stdin?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; output: string }> {
  return new JimServerProcess(args, options).finished();
}

/** `jim-server serve` on a free port. */
function node(args: string[], env: Record<string, string> = {}): JimServerProcess {
  return new JimServerProcess(["serve", "--port", "0", ...args], { env });
}

async function waitUntil(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function contacts(conn: RawConnection): Promise<Record<string, unknown>> {
  return await conn.request({ action: "get_contacts", time: now() });
}

testWithTools([POSTGRESQL], {
  name: "jim-server on PostgreSQL: CLI, two nodes, admin GUI, and an outage it recovers from",
  async fn(t) {
    await using pg = await startPostgres();
    const url = pg.url;
    const noPassword = (output: string) =>
      assert.ok(!output.includes(pg.password), `the password was printed:\n${output}`);

    await t.step("user add, list, passwd and remove take a postgres:// --db", async () => {
      for (const name of ["alice", "bob", "carol"]) {
        const add = await jimServer(
          ["user", "add", name, "--db", url, "--password-stdin", "--iterations", "4096"],
          { stdin: `${name}-pw\n` },
        );
        assert.equal(add.code, 0, add.output);
        assert.match(add.output, new RegExp(`Added user ${name}`));
        noPassword(add.output);
      }
      // The variable, as a service unit would set it (the URL then is in no process list).
      const list = await jimServer(["user", "list"], { env: { JIM_DB: url } });
      assert.equal(list.code, 0, list.output);
      assert.match(list.output, /^alice\s/m);
      assert.match(list.output, /^carol\s/m);
      const passwd = await jimServer(
        ["user", "passwd", "carol", "--password-stdin", "--iterations", "4096"],
        { stdin: "carol-new\n", env: { JIM_DB: url } },
      );
      assert.equal(passwd.code, 0, passwd.output);
      const taken = await jimServer(
        ["user", "add", "ALICE", "--db", url, "--password-stdin"],
        { stdin: "x\n" },
      );
      assert.equal(taken.code, 1);
      assert.match(taken.output, /Client already exists: alice/);
      for (const run of [list, passwd, taken]) noPassword(run.output);
    });

    await t.step("history purge takes a postgres:// --db (issue 12)", async () => {
      {
        await using storage = await PostgresStorage.open(url);
        const day = 86_400_000;
        for (const [id, age] of [[1, 10], [2, 0]] as const) {
          await storage.messages.append(
            { id, ts: Date.now() - age * day, time: 1, from: "alice", to: "carol", message: "x" },
            { delivered: false },
          );
        }
      }
      const purge = await jimServer(["history", "purge", "--history-days", "5", "--db", url]);
      assert.equal(purge.code, 0, purge.output);
      assert.match(purge.output, /Purged 1 message older than 5 days/);
      noPassword(purge.output);
      await using storage = await PostgresStorage.open(url);
      assert.deepEqual(
        (await storage.messages.undelivered("carol", { limit: 10 })).map((m) => m.id),
        [2],
      );
      await storage.messages.markDelivered("carol", [2]);
    });

    await t.step(
      "bad --db and --db-pool values are usage errors that hide the password",
      async () => {
        const sqlitePool = await jimServer(["user", "list", "--db", "x.db", "--db-pool", "3"]);
        assert.equal(sqlitePool.code, 2);
        assert.match(sqlitePool.output, /--db-pool is for a postgres:\/\/ --db only/);
        const badPool = await jimServer(["user", "list", "--db", url, "--db-pool", "0"]);
        assert.equal(badPool.code, 2);
        assert.match(badPool.output, /Invalid --db-pool: /);
        const scheme = await jimServer(["user", "list", "--db", `mysql://jim:${pg.password}@h/db`]);
        assert.equal(scheme.code, 2);
        assert.match(scheme.output, /a file path or a postgres:\/\/ URL/);
        const down = await jimServer([
          "user",
          "list",
          "--db",
          url.replace(`:${pg.port}/`, `:${pg.port === 1 ? 2 : 1}/`),
        ]);
        assert.equal(down.code, 1);
        assert.match(
          down.output,
          /Cannot open database postgres:\/\/jim:\*\*\*@127\.0\.0\.1:\d+\/jim: /,
        );
        for (const run of [sqlitePool, badPool, scheme, down]) noPassword(run.output);
      },
    );

    await t.step("two nodes share users, and a removal ends sessions on both", async () => {
      await using one = node(["--db", url, "--db-pool", "3"]);
      await using two = node([], { JIM_DB: url });
      const [portOne, portTwo] = await Promise.all([one.port(), two.port()]);
      assert.match(
        one.output,
        /settings: .* db=postgres:\/\/jim:\*\*\*@127\.0\.0\.1:\d+\/jim db-pool=3 /,
      );
      assert.match(two.output, / db-pool=10 /);
      await using onOne = await connectRaw({ host: "127.0.0.1", port: portOne });
      await using onTwo = await connectRaw({ host: "127.0.0.1", port: portTwo });
      assert.equal((await onOne.login("bob", "bob-pw")).response, 200);
      assert.equal((await onTwo.login("bob", "bob-pw")).response, 200);
      const removed = await jimServer(["user", "remove", "bob", "--db", url]);
      assert.equal(removed.code, 0, removed.output);
      // Each node hears the removal through NOTIFY and ends bob's session there.
      for (const session of [onOne, onTwo]) {
        assert.deepEqual(await session.next(10_000), { response: 403, error: "Account removed" });
      }
      await using late = await connectRaw({ host: "127.0.0.1", port: portTwo });
      assert.equal((await late.login("bob", "bob-pw")).response, 402);
      noPassword(await one.stop());
      noPassword(await two.stop());
    });

    await t.step(
      "the admin GUI lists, adds, resets and removes clients on PostgreSQL",
      async () => {
        await using storage = await PostgresStorage.open(url, { pool: 2 });
        await using gui = await startAdminGui({
          storage,
          jim: { host: "127.0.0.1", port: 0 },
          guiPort: 0,
          warn: () => {},
        });
        const opened = await fetch(gui.url, { redirect: "manual" });
        await opened.body?.cancel();
        assert.equal(opened.status, 303);
        const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0]!;
        const api = async (method: string, path: string, body?: unknown) => {
          const res = await fetch(`${gui.origin}${path}`, {
            method,
            headers: { cookie, origin: gui.origin, "content-type": "application/json" },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
          const text = await res.text();
          return { status: res.status, body: text ? JSON.parse(text) : undefined };
        };
        const logins = async () =>
          ((await api("GET", "/api/clients")).body as { login: string }[]).map((c) => c.login)
            .sort();
        assert.deepEqual(await logins(), ["alice", "carol"]);
        assert.equal(
          (await api("POST", "/api/clients", { login: "dave", password: "d-pw" })).status,
          201,
        );
        const twice = await api("POST", "/api/clients", { login: "DAVE", password: "x" });
        assert.equal(twice.status, 409, JSON.stringify(twice.body));
        assert.equal(
          (await api("POST", "/api/clients/dave/password", { password: "d-new" })).status,
          200,
        );
        assert.equal((await api("DELETE", "/api/clients/dave")).status, 200);
        assert.deepEqual(await logins(), ["alice", "carol"]);
      },
    );

    await t.step(
      "PostgreSQL down: 503 where the database is needed, chat goes on, all recovers",
      async (t) => {
        await using storage = await PostgresStorage.open(url, { pool: 3, maxBackoffMs: 500 });
        await addUser(storage.users, "erin", "erin-pw", FAST);
        await storage.contacts.add("alice", "carol");
        await using server = await JimServer.listen({ storage, port: 0, limits: { rateLimit: 0 } });
        const at = { host: "127.0.0.1", port: server.addr.port };
        await using alice = await connectRaw(at);
        await using carol = await connectRaw(at);
        assert.equal((await alice.login("alice", "alice-pw")).response, 200);
        assert.equal((await carol.login("carol", "carol-new")).response, 200);

        await pg.stop();
        await t.step("a new login gets a clear 503", async () => {
          await using erin = await connectRaw(at);
          assert.deepEqual(await erin.login("erin", "erin-pw"), {
            response: 503,
            error: STORAGE_UNAVAILABLE,
          });
        });
        await t.step("live sessions keep chatting with online peers", async () => {
          const sent = await alice.request({
            action: "msg",
            time: now(),
            to: "carol",
            message: "still here?",
          });
          assert.deepEqual(sent, { response: 200, alert: "OK" });
          const got = await carol.next();
          assert.equal(got.message, "still here?");
          assert.equal(got.from, "alice");
        });
        await t.step(
          "actions that need the database get a clear 503 and the session stays",
          async () => {
            assert.deepEqual(await contacts(alice), { response: 503, error: STORAGE_UNAVAILABLE });
            const add = await alice.request({
              action: "add_contact",
              time: now(),
              user_id: "erin",
            });
            assert.deepEqual(add, { response: 503, error: STORAGE_UNAVAILABLE });
            const del = await alice.request({
              action: "del_contact",
              time: now(),
              user_id: "carol",
            });
            assert.deepEqual(del, { response: 503, error: STORAGE_UNAVAILABLE });
            const users = await alice.request({ action: "get_users", time: now() });
            assert.deepEqual(users, { response: 503, error: STORAGE_UNAVAILABLE });
            const offline = await alice.request({
              action: "msg",
              time: now(),
              to: "erin",
              message: "x",
            });
            assert.deepEqual(offline, { response: 503, error: STORAGE_UNAVAILABLE });
            assert.equal(server.isOnline("alice"), true);
          },
        );

        await pg.start();
        await t.step("once it is back, the same server serves everything again", async () => {
          await waitUntil(
            "get_contacts to work",
            async () => (await contacts(alice)).response === 202,
          );
          await alice.next(); // the one contact_list push of the 202 above
          await using erin = await connectRaw(at);
          assert.equal((await erin.login("erin", "erin-pw")).response, 200);
          const sent = await alice.request({
            action: "msg",
            time: now(),
            to: "erin",
            message: "hello",
          });
          assert.deepEqual(sent, { response: 200, alert: "OK" });
          assert.equal((await erin.next()).message, "hello");
        });
      },
    );
  },
});
