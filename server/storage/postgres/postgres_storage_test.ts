/**
 * What only the PostgreSQL adapter promises, against a throwaway server (tests/_services.ts):
 * nodes starting at once migrate once, name keys are recomputed when the rules change, the
 * pool is bounded, limits hold across handles, and an outage gives 503s and then recovers
 * without reopening anything. The port contract itself is in ../contract_test.ts.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { POSTGRESQL, startPostgres } from "../../../tests/_services.ts";
import { testWithTools } from "../../../tests/_tools.ts";
import { addUser, deriveCredentials } from "../../accounts.ts";
import { STORAGE_UNAVAILABLE } from "../errors.ts";
import type { StorageChange, StoredMessage } from "../ports.ts";
import { reconnectDelay } from "./_client.ts";
import type { PostgresMessages } from "./_messages.ts";
import { PostgresStorage, SCHEMA_VERSION } from "./mod.ts";

const FAST = { iterations: 4096 };
const UNAVAILABLE = { name: "StorageUnavailableError", code: 503, message: STORAGE_UNAVAILABLE };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Resolves to the value, or undefined while the call fails (the database is still down). */
function settled<T>(call: () => Promise<T>): () => Promise<T | undefined> {
  return () => call().catch(() => undefined);
}

function message(id: number, from: string, to: string, text: string): StoredMessage {
  return { id, ts: id, time: id / 1000, from, to, message: text };
}

Deno.test("reconnectDelay() doubles from 0.1 s and stops at the bound", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 10, 100].map((n) => reconnectDelay(n, 1)), [
    0.05,
    0.1,
    0.2,
    0.4,
    0.8,
    1,
    1,
    1,
  ]);
  assert.equal(reconnectDelay(3, 0.25), 0.25);
});

testWithTools([POSTGRESQL], {
  name: "PostgresStorage against a real PostgreSQL",
  async fn(t) {
    await using pg = await startPostgres();
    const admin = postgres(pg.adminUrl, { max: 1, onnotice: () => {} });
    let databases = 0;
    /** A fresh database owned by the test role, and its URL. */
    const freshDatabase = async () => {
      const name = `pgtest_${++databases}`;
      await admin`CREATE DATABASE ${admin(name)} OWNER ${admin(pg.user)}`;
      const url = new URL(pg.url);
      url.pathname = `/${name}`;
      return url.href;
    };
    try {
      await t.step("nodes starting at once migrate once; a newer schema is refused", async () => {
        const url = await freshDatabase();
        const nodes = await Promise.all(
          Array.from({ length: 4 }, () => PostgresStorage.open(url, { pool: 2 })),
        );
        try {
          assert.deepEqual(await Promise.all(nodes.map((n) => n.users.count())), [0, 0, 0, 0]);
          await addUser(nodes[0]!.users, "alice", "pw", FAST);
          assert.equal(await nodes[3]!.users.canonicalLogin("ALICE"), "alice");
        } finally {
          for (const node of nodes) await node.close();
        }
        await using sql = sqlFor(url);
        const versions = await sql<{ version: number }[]>`
          SELECT version FROM schema_migrations ORDER BY version`;
        assert.deepEqual(
          versions.map((r) => r.version),
          Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
        );
        await sql`INSERT INTO schema_migrations (version, applied) VALUES (${
          SCHEMA_VERSION + 1
        }, 0)`;
        await assert.rejects(PostgresStorage.open(url), {
          message: `Cannot open database: schema version ${
            SCHEMA_VERSION + 1
          } is newer than this program's ${SCHEMA_VERSION}`,
        });
      });

      await t.step("name keys are recomputed when the name rules change", async () => {
        const url = await freshDatabase();
        await (await PostgresStorage.open(url)).close();
        await using sql = sqlFor(url);
        // Two accounts from before the rules: fullwidth ａlice kept its own key then.
        const { scram } = await deriveCredentials("pw", FAST);
        const rows: [string, number][] = [["alice", 1], ["\uff41lice", 2]];
        for (const [login, created] of rows) {
          await sql`INSERT INTO users (login, login_key, salt, iterations, stored_key, server_key,
              created)
            VALUES (${login}, ${login}, ${scram.salt}, ${scram.iterations}, ${scram.storedKey},
              ${scram.serverKey}, ${created})`;
        }
        await sql`UPDATE name_rules SET version = 'older rules'`;
        await using storage = await PostgresStorage.open(url);
        assert.deepEqual(await storage.users.nameConflicts(), [
          { login: "\uff41lice", conflictsWith: "alice", kind: "same" },
        ]);
        assert.equal(await storage.users.canonicalLogin("\uff41lice"), "alice");
        // The older account keeps its name; the newer one can still be removed by its own.
        await storage.users.remove("\uff41lice");
        assert.deepEqual(await storage.users.loginsAfter(undefined, 10), ["alice"]);
      });

      await t.step("the pool never holds more connections than its size", async () => {
        const url = await freshDatabase();
        await using storage = await PostgresStorage.open(url, { pool: 2 });
        await using sql = sqlFor(url);
        // Hold a lock that every query of the storage waits for, then send twelve of them.
        const locked = Promise.withResolvers<void>();
        let counts: Promise<number[]> | undefined;
        await sql.begin(async (tx) => {
          await tx`LOCK TABLE users IN ACCESS EXCLUSIVE MODE`;
          locked.resolve();
          counts = Promise.all(Array.from({ length: 12 }, () => storage.users.count()));
          // Polled slowly: a client busy every few ms holds back its own new connections.
          await waitFor("both pooled connections to wait", async () => {
            await new Promise((resolve) => setTimeout(resolve, 100));
            const [row] = await tx<{ n: number }[]>`
              SELECT count(*)::int4 AS n FROM pg_stat_activity
              WHERE application_name = 'jim-server' AND wait_event_type = 'Lock'`;
            return row!.n === 2 ? true : undefined;
          });
          const [all] = await tx<{ n: number }[]>`
            SELECT count(*)::int4 AS n FROM pg_stat_activity
            WHERE application_name = 'jim-server' AND datname = current_database()`;
          assert.equal(all!.n, 2, "twelve queries, two connections");
        });
        await locked.promise;
        assert.deepEqual(await counts, Array(12).fill(0));
      });

      await t.step("a contact limit holds while two handles add at once", async () => {
        const url = await freshDatabase();
        await using a = await PostgresStorage.open(url, { pool: 4 });
        await using b = await PostgresStorage.open(url, { pool: 4 });
        const credentials = await deriveCredentials("pw", FAST);
        const names = Array.from({ length: 12 }, (_, i) => `c${i}`);
        for (const name of ["owner", ...names]) await a.users.add(name, credentials);
        const results = await Promise.allSettled(
          names.map((name, i) => (i % 2 ? a : b).contacts.add("owner", name, { max: 5 })),
        );
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
        for (const r of results) {
          if (r.status === "rejected") assert.equal(r.reason.code, 403, String(r.reason));
        }
        assert.equal((await a.contacts.list("owner")).length, 5);
      });

      await t.step("handles opening at once agree on each secret", async () => {
        const url = await freshDatabase();
        const handles = await Promise.all([1, 2, 3].map(() => PostgresStorage.open(url)));
        try {
          const secrets = await Promise.all(handles.map((h) => h.secrets.get("decoy")));
          assert.deepEqual(secrets[1], secrets[0]);
          assert.deepEqual(secrets[2], secrets[0]);
        } finally {
          for (const handle of handles) await handle.close();
        }
      });

      await t.step("appends that arrive together share a commit; any text survives", async () => {
        const url = await freshDatabase();
        await using storage = await PostgresStorage.open(url);
        await addUser(storage.users, "alice", "pw", FAST);
        await addUser(storage.users, "bob", "pw", FAST);
        const messages = storage.messages as PostgresMessages;
        // JIM text may hold what PostgreSQL text cannot: U+0000, and lone surrogates.
        const odd = ["\u0000", "\ud800 alone", "a\udc00b", "\u0000\u0000'--"];
        const all = Array.from(
          { length: 300 },
          (_, i) => message(i + 1, "alice", "bob", odd[i % odd.length]!),
        );
        const before = messages.commits;
        await Promise.all(all.map((m) => messages.append(m, { delivered: false })));
        const commits = messages.commits - before;
        assert.ok(commits >= 1 && commits < 30, `${commits} commits for 300 appends`);
        const got = await messages.undelivered("bob", { limit: 1000 });
        assert.deepEqual(got, all);
      });

      await t.step(
        "an outage gives 503s, keeps login history, and recovers by itself",
        async (t) => {
          const url = await freshDatabase();
          await using storage = await PostgresStorage.open(url, {
            pool: 2,
            historyFlushMs: 10,
            maxBackoffMs: 200,
          });
          await using other = await PostgresStorage.open(url, { pool: 1, maxBackoffMs: 200 });
          await addUser(storage.users, "alice", "pw", FAST);
          await addUser(storage.users, "bob", "pw", FAST);
          const changes: StorageChange[] = [];
          const unsubscribe = storage.changes.subscribe((change) => changes.push(change));
          const writeErrors: string[] = [];
          const offErrors = storage.logins.onWriteError((e) => writeErrors.push(e.message));
          try {
            await pg.stop();
            await t.step("every call that needs the database is a 503", async () => {
              await assert.rejects(storage.users.credentials("alice"), UNAVAILABLE);
              await assert.rejects(storage.users.canonicalLogin("alice"), UNAVAILABLE);
              await assert.rejects(storage.contacts.list("alice"), UNAVAILABLE);
              await assert.rejects(storage.users.remove("bob"), UNAVAILABLE);
              await assert.rejects(storage.secrets.get("decoy"), UNAVAILABLE);
              await assert.rejects(
                storage.messages.append(message(1, "alice", "bob", "hi"), { delivered: false }),
                UNAVAILABLE,
              );
              await assert.rejects(
                storage.messages.history({ caller: "alice", limit: 5 }),
                UNAVAILABLE,
              );
            });
            await t.step("login history waits in its queue, said once", async () => {
              storage.logins.record({ login: "alice", time: 5000, ip: "10.0.0.7", port: 1 });
              await storage.logins.flush();
              storage.logins.seen("alice", 6000);
              await storage.logins.flush();
              assert.equal(storage.pendingHistory, 2);
              assert.deepEqual(writeErrors, [
                "Cannot write login history: the database is unavailable; will retry",
              ]);
            });
            await pg.start();
            await t.step("the same handles work again, with nothing reopened", async () => {
              assert.equal(
                await waitFor("a query to succeed", settled(() => storage.users.count())),
                2,
              );
              await waitFor("the queued history", async () => {
                const row = await storage.users.get("alice").catch(() => undefined);
                return row?.lastSeen === 6000 && row.lastIp === "10.0.0.7" ? true : undefined;
              });
              assert.equal(storage.pendingHistory, 0);
              assert.deepEqual((await storage.logins.list()).map((r) => r.time), [5000]);
            });
            await t.step(
              "the change feed listens again and says something may have changed",
              async () => {
                await waitFor("the renewed LISTEN", () =>
                  Promise.resolve(
                    changes.some((c) => c.kind === "unknown") ? true : undefined,
                  ));
                await waitFor("the other handle", settled(() => other.users.count()));
                await other.users.remove("bob");
                await waitFor("bob's removal", () =>
                  Promise.resolve(
                    changes.some((c) => c.kind === "user-removed" && c.login === "bob")
                      ? true
                      : undefined,
                  ));
              },
            );
            await t.step("messages are stored again", async () => {
              await storage.messages.append(message(2, "alice", "alice", "back"), {
                delivered: true,
              });
              assert.deepEqual(
                (await storage.messages.history({ caller: "alice", limit: 5 })).items.map((i) =>
                  i.id
                ),
                [2],
              );
            });
            await t.step(
              "closing while the database is down finishes and says what was lost",
              async () => {
                await pg.stop();
                storage.logins.record({ login: "alice", time: 7000, ip: "10.0.0.8", port: 1 });
                await storage.close();
                await other.close();
                assert.ok(
                  writeErrors.includes("Cannot write login history: 1 records lost at close"),
                  writeErrors.join("\n"),
                );
                await pg.start();
              },
            );
          } finally {
            offErrors();
            unsubscribe();
          }
        },
      );
    } finally {
      await admin.end({ timeout: 5 });
    }
  },
});

/** A client of the test's own on `url`, closed by `await using`. */
function sqlFor(url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  return Object.assign(sql, {
    [Symbol.asyncDispose]: () => sql.end({ timeout: 5 }),
  });
}
