/**
 * The cluster's building blocks, real and on loopback: the fixtures in _services.ts, and the
 * npm clients the cluster issue will use (`@nats-io/transport-node` with `@nats-io/kv`, and
 * `postgres`) under this Deno, against Debian's nats-server 2.9 and PostgreSQL 15.
 *
 * The client tests pin down what those clients do here, including what nats-server 2.9
 * lacks, so that a change of version that breaks an assumption fails a test.
 */
import assert from "node:assert/strict";
import {
  connect,
  type NatsConnection,
  NoRespondersError,
  RequestError,
  type Status,
  TimeoutError,
} from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { type KV, type KvEntry, Kvm } from "@nats-io/kv";
import postgres from "postgres";
import {
  NATS_SERVER,
  type NatsServer,
  POSTGRESQL,
  type PostgresServer,
  startNats,
  startPostgres,
} from "./_services.ts";
import { testWithTools } from "./_tools.ts";

/** Generous: an upper bound for things that happen "soon" on a loaded machine, never a speed. */
const SOON_MS = 30_000;

/** Polls `check` until it holds; fails naming `what` after SOON_MS. */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + SOON_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The service directories in the temporary directory that this process created. */
async function ownServiceDirs(prefix: string): Promise<string[]> {
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const mine: string[] = [];
  for await (const entry of Deno.readDir(tmp)) {
    if (!entry.name.startsWith(prefix)) continue;
    const owner = await Deno.readTextFile(`${tmp}/${entry.name}/owner.pid`).catch(() => "");
    if (Number(owner) === Deno.pid) mine.push(entry.name);
  }
  return mine.sort();
}

/** Collects everything an async iterable yields, in the background, until it ends. */
function collect<T>(iterable: AsyncIterable<T>): { items: T[]; done: Promise<void> } {
  const items: T[] = [];
  const done = (async () => {
    for await (const item of iterable) items.push(item);
  })();
  return { items, done };
}

/** Records unhandled rejections during `fn`, so that a test can assert there were none. */
async function noUnhandledRejections(fn: () => Promise<void>): Promise<void> {
  const seen: unknown[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    seen.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    await fn();
    // Let rejections from the last step surface before judging.
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  assert.deepEqual(seen, [], "no unhandled rejection");
}

// ------------------------------------------------------------------------------ fixtures

testWithTools([NATS_SERVER], {
  name: "startNats() serves JetStream on a free port, restarts on that port, and cleans up",
  async fn(t) {
    const nats = await startNats();
    const { port, dir } = nats;
    try {
      await t.step("it runs with JetStream on 127.0.0.1", async () => {
        assert.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(nats.running);
        assert.ok(nats.pid! > 0);
        const nc = await connect({ servers: nats.url });
        try {
          assert.equal(nc.info?.jetstream, true);
          assert.match(nc.info?.version ?? "", /^2\.\d+\.\d+/);
        } finally {
          await nc.close();
        }
      });

      await t.step(
        "kill() stops it at once; restart() brings it back on the same port",
        async () => {
          const before = nats.pid;
          await nats.kill();
          assert.equal(nats.running, false);
          assert.equal(nats.pid, undefined);
          assert.ok(await refused(port));
          await nats.restart();
          assert.equal(nats.port, port);
          assert.notEqual(nats.pid, before);
          assert.ok(!(await refused(port)));
        },
      );

      await t.step("stop() is graceful and restart() works after it too", async () => {
        await nats.stop();
        assert.ok(await refused(port));
        await nats.restart();
        assert.ok(nats.running);
      });

      await t.step("restart() of a running server replaces the process", async () => {
        const before = nats.pid;
        await nats.restart();
        assert.notEqual(nats.pid, before);
        assert.equal(nats.port, port);
      });
    } finally {
      await nats.close();
    }
    await t.step("close() kills it, deletes its directory, and is idempotent", async () => {
      assert.equal(nats.running, false);
      assert.ok(await refused(port));
      assert.equal(await exists(dir), false);
      await nats.close();
      await nats[Symbol.asyncDispose]();
      await assert.rejects(nats.restart(), /Cannot restart nats-server: it is closed/);
    });
  },
});

testWithTools([NATS_SERVER], {
  name: "startNats() honours its signal",
  async fn(t) {
    await t.step("an aborted signal starts nothing", async () => {
      const controller = new AbortController();
      controller.abort(new Error("not wanted"));
      await assert.rejects(startNats({ signal: controller.signal }), /not wanted/);
    });

    await t.step("aborting during start-up rejects with the reason, leaving nothing", async () => {
      const before = await ownServiceDirs("jim-nats-");
      const controller = new AbortController();
      const starting = startNats({ signal: controller.signal });
      controller.abort(new Error("changed my mind"));
      await assert.rejects(starting, /changed my mind/);
      assert.deepEqual(await ownServiceDirs("jim-nats-"), before);
    });

    await t.step("aborting later closes the server", async () => {
      const controller = new AbortController();
      const nats = await startNats({ signal: controller.signal });
      controller.abort();
      await nats.close(); // the same close the abort started
      assert.equal(nats.running, false);
      assert.equal(await exists(nats.dir), false);
    });
  },
});

testWithTools([POSTGRESQL], {
  name: "startPostgres() honours its signal",
  async fn(t) {
    await t.step("aborting during start-up rejects with the reason, leaving nothing", async () => {
      const before = await ownServiceDirs("jim-pg-");
      const controller = new AbortController();
      const starting = startPostgres({ signal: controller.signal });
      controller.abort(new Error("changed my mind"));
      await assert.rejects(starting, /changed my mind/);
      assert.deepEqual(await ownServiceDirs("jim-pg-"), before);
    });
  },
});

testWithTools([POSTGRESQL], {
  name: "startPostgres() makes a throwaway cluster with a password role, restarts, and cleans up",
  async fn(t) {
    const pg = await startPostgres();
    const { port, dir } = pg;
    try {
      await t.step("the test role logs in over TCP with SCRAM and owns its database", async () => {
        assert.match(pg.url, /^postgres:\/\/jim:[0-9a-f]{32}@127\.0\.0\.1:\d+\/jim$/);
        const sql = postgres(pg.url, { max: 1 });
        try {
          const [row] = await sql<{ user: string; db: string; superuser: boolean }[]>`
            select current_user as user, current_database() as db,
                   (select rolsuper from pg_roles where rolname = current_user) as superuser`;
          assert.deepEqual({ ...row }, { user: "jim", db: "jim", superuser: false });
          // Password hashes are for the superuser only.
          await assert.rejects(sql`select rolpassword from pg_authid`, /permission denied/);
        } finally {
          await sql.end({ timeout: 5 });
        }
      });

      await t.step("a wrong password is refused", async () => {
        const sql = postgres(pg.url.replace(/:[0-9a-f]{32}@/, ":wrong@"), { max: 1 });
        try {
          await assert.rejects(sql`select 1`, (e: Error & { code?: string }) => {
            assert.equal(e.code, "28P01");
            return true;
          });
        } finally {
          await sql.end({ timeout: 5 });
        }
      });

      await t.step("the superuser URL is an administrator", async () => {
        const sql = postgres(pg.adminUrl, { max: 1 });
        try {
          const [row] = await sql`select rolsuper from pg_roles where rolname = current_user`;
          assert.equal(row?.rolsuper, true);
          const [auth] = await sql`select rolpassword like 'SCRAM-SHA-256$%' as scram
            from pg_authid where rolname = 'jim'`;
          assert.equal(auth?.scram, true);
        } finally {
          await sql.end({ timeout: 5 });
        }
      });

      await t.step("stop() closes the port; start() reopens it with the data kept", async () => {
        const sql = postgres(pg.url, { max: 1 });
        try {
          await sql`create table kept (v text)`;
          await sql`insert into kept values ('still here')`;
          await sql.end({ timeout: 5 });
          await pg.stop();
          assert.equal(pg.running, false);
          assert.equal(pg.pid, undefined);
          assert.ok(await refused(port));
          await pg.start();
          assert.equal(pg.port, port);
          assert.ok(pg.pid! > 0);
          const again = postgres(pg.url, { max: 1 });
          try {
            assert.deepEqual([...await again`select v from kept`], [{ v: "still here" }]);
          } finally {
            await again.end({ timeout: 5 });
          }
        } finally {
          await sql.end({ timeout: 5 });
        }
      });

      await t.step("an immediate stop (a crash) recovers on start()", async () => {
        await pg.stop({ mode: "immediate" });
        assert.ok(await refused(port));
        await pg.start();
        await pg.start(); // already running: nothing to do
        const sql = postgres(pg.url, { max: 1 });
        try {
          assert.deepEqual([...await sql`select v from kept`], [{ v: "still here" }]);
        } finally {
          await sql.end({ timeout: 5 });
        }
      });
    } finally {
      await pg.close();
    }
    await t.step("close() stops it, deletes its directory, and is idempotent", async () => {
      assert.equal(pg.running, false);
      assert.ok(await refused(port));
      assert.equal(await exists(dir), false);
      await pg.close();
      await pg[Symbol.asyncDispose]();
      await assert.rejects(pg.start(), /Cannot start PostgreSQL: it is closed/);
    });
  },
});

// ------------------------------------------------------------- @nats-io/transport-node

/** A client that retries for ever, quickly: what a cluster node wants. */
function natsClient(nats: NatsServer): Promise<NatsConnection> {
  return connect({
    servers: nats.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    reconnectJitter: 0,
    name: "jim-services-test",
  });
}

testWithTools([NATS_SERVER], {
  name: "@nats-io/transport-node publishes, subscribes, requests and drains",
  async fn(t) {
    await using nats = await startNats();
    const nc = await natsClient(nats);
    const other = await natsClient(nats);
    try {
      await t.step(
        "a wildcard subscriber on another connection gets each message in order",
        async () => {
          const sub = other.subscribe("jim.account.*", { max: 3 });
          const got = collect(sub);
          await other.flush(); // the server knows the subscription before anyone publishes
          for (const [account, text] of [["alice", "1"], ["bob", "2"], ["alice", "3"]]) {
            nc.publish(`jim.account.${account}`, text);
          }
          await got.done; // max: 3 ends the subscription
          assert.deepEqual(got.items.map((m) => [m.subject, m.string()]), [
            ["jim.account.alice", "1"],
            ["jim.account.bob", "2"],
            ["jim.account.alice", "3"],
          ]);
        },
      );

      await t.step("a subject with no subscriber drops the message without error", async () => {
        nc.publish("jim.account.nobody", "lost");
        await nc.flush();
      });

      await t.step("request() gets the reply of a responder on another connection", async () => {
        const service = other.subscribe("jim.rpc.echo");
        const served = (async () => {
          for await (const m of service) m.respond(`echo:${m.string()}`);
        })();
        await other.flush();
        const reply = await nc.request("jim.rpc.echo", "hi", { timeout: SOON_MS });
        assert.equal(reply.string(), "echo:hi");
        service.unsubscribe();
        await served;
      });

      await t.step("request() with no responder fails at once with NoRespondersError", async () => {
        await assert.rejects(
          nc.request("jim.rpc.nobody", "hi", { timeout: SOON_MS }),
          (e: Error) => {
            assert.ok(e instanceof RequestError && e.isNoResponders(), `${e.name}: ${e.message}`);
            assert.ok(e.cause instanceof NoRespondersError);
            return true;
          },
        );
      });

      await t.step("request() to a silent responder times out with TimeoutError", async () => {
        const silent = other.subscribe("jim.rpc.silent");
        await other.flush();
        await assert.rejects(nc.request("jim.rpc.silent", "hi", { timeout: 200 }), TimeoutError);
        silent.unsubscribe();
      });

      await t.step("headers travel with a message", async () => {
        const sub = other.subscribe("jim.headers", { max: 1 });
        const got = collect(sub);
        await other.flush();
        const { headers } = await import("@nats-io/transport-node");
        const h = headers();
        h.set("Jim-Node", "node-a");
        nc.publish("jim.headers", "x", { headers: h });
        await got.done;
        assert.equal(got.items[0]?.headers?.get("Jim-Node"), "node-a");
      });
    } finally {
      await nc.drain();
      await other.close();
    }
    await t.step("a drained connection refuses to publish", () => {
      assert.ok(nc.isClosed());
      assert.throws(() => nc.publish("jim.account.alice", "late"), /closed/i);
    });
  },
});

testWithTools([NATS_SERVER], {
  name: "@nats-io/transport-node reconnects by itself after the server dies and comes back",
  async fn(t) {
    await using nats = await startNats();
    const nc = await natsClient(nats);
    const status = collect<Status>(nc.status());
    const sub = nc.subscribe("jim.account.alice");
    const got = collect(sub);
    try {
      await nc.flush();
      for (const how of ["kill", "stop"] as const) {
        await t.step(`after ${how}() and restart() the subscription delivers again`, async () => {
          const from = status.items.length;
          await nats[how]();
          await eventually(
            "a disconnect event",
            () => status.items.slice(from).some((s) => s.type === "disconnect"),
          );
          // nats.js 3 discards what was published while disconnected: every reconnect
          // attempt resets its outbound buffer. No error, no buffering: core NATS is
          // at-most-once, so the cluster must treat a disconnected hub as "recipient offline".
          nc.publish("jim.account.alice", `dropped-${how}`);
          await nats.restart();
          await eventually(
            "a reconnect event",
            () => status.items.slice(from).some((s) => s.type === "reconnect"),
          );
          nc.publish("jim.account.alice", `after-${how}`);
          await nc.flush();
          await eventually(
            `after-${how}`,
            () => got.items.some((m) => m.string() === `after-${how}`),
          );
          assert.deepEqual(got.items.slice(-1).map((m) => m.string()), [`after-${how}`]);
          assert.ok(!got.items.some((m) => m.string() === `dropped-${how}`));
        });
      }
    } finally {
      await nc.close();
    }
    await status.done;
    await got.done;
    assert.equal(status.items.at(-1)?.type, "close");
  },
});

// --------------------------------------------------------------------------- @nats-io/kv

async function nextEntry(
  entries: { items: KvEntry[] },
  from: number,
  predicate: (e: KvEntry) => boolean,
): Promise<KvEntry> {
  let found: KvEntry | undefined;
  await eventually("a watched entry", () => {
    found = entries.items.slice(from).find(predicate);
    return found !== undefined;
  });
  return found!;
}

testWithTools([NATS_SERVER], {
  name: "@nats-io/kv on nats-server 2.9: put, get, compare-and-set, watch",
  async fn(t) {
    await using nats = await startNats();
    const nc = await natsClient(nats);
    try {
      const kv: KV = await new Kvm(nc).create("sessions", { history: 1 });

      await t.step("put() then get() returns the value and its revision", async () => {
        const revision = await kv.put("alice", "node-a");
        const entry = await kv.get("alice");
        assert.equal(entry?.string(), "node-a");
        assert.equal(entry?.revision, revision);
        assert.equal(await kv.get("nobody"), null);
      });

      await t.step("create() succeeds once: a cluster-wide 'first one wins'", async () => {
        await kv.create("lock.alice", "node-a");
        await assert.rejects(kv.create("lock.alice", "node-b"), /wrong last sequence/);
        assert.equal((await kv.get("lock.alice"))?.string(), "node-a");
      });

      await t.step("update() with a stale revision is refused", async () => {
        const first = await kv.put("cap.alice", "1");
        await kv.update("cap.alice", "2", first);
        await assert.rejects(kv.update("cap.alice", "3", first), /wrong last sequence/);
        assert.equal((await kv.get("cap.alice"))?.string(), "2");
      });

      await t.step("keys that are not valid subjects are refused by the client", async () => {
        for (const bad of ["", "has space", "star*", "gt>", ".lead", "trail.", "ünï"]) {
          await assert.rejects(kv.put(bad, "x"), /invalid key/i, JSON.stringify(bad));
        }
      });

      await t.step("an empty token passes the client but not the server", async () => {
        // The server finds no stream for "$KV.sessions.a..b", and the client reports that
        // as "jetstream is not enabled": the hub must validate keys itself.
        await assert.rejects(kv.put("a..b", "x"), /jetstream is not enabled/);
        assert.deepEqual(await Array.fromAsync(await kv.keys()), [
          "alice",
          "lock.alice",
          "cap.alice",
        ]);
      });

      await t.step(
        "watch() replays the current values, then streams puts, deletes and purges",
        async () => {
          const watcher = await kv.watch({ key: "presence.>" });
          const entries = collect(watcher);
          try {
            await kv.put("presence.carol", "online");
            await nextEntry(entries, 0, (e) => e.key === "presence.carol");
            const from = entries.items.length;
            await kv.put("presence.dave", "online");
            await kv.delete("presence.carol");
            await kv.put("elsewhere", "not watched");
            await kv.purge("presence.dave");
            await kv.put("presence.erin", "online");
            await nextEntry(entries, from, (e) => e.key === "presence.erin");
            assert.deepEqual(
              entries.items.slice(from).map((e) => `${e.operation} ${e.key}`),
              [
                "PUT presence.dave",
                "DEL presence.carol",
                "PURGE presence.dave",
                "PUT presence.erin",
              ],
            );
          } finally {
            watcher.stop();
            await entries.done;
          }
        },
      );

      await t.step("while the server is down, KV calls fail after their timeout", async () => {
        const quick = await new Kvm(jetstream(nc, { timeout: 300 })).open("sessions");
        await nats.stop();
        await assert.rejects(quick.put("alice", "node-b"), TimeoutError);
        await assert.rejects(quick.get("alice"), TimeoutError);
        await nats.restart();
        await eventually(
          "KV back",
          async () => (await quick.get("alice").catch(() => null))?.string() === "node-a",
        );
      });

      await t.step("a watch resumes after the server is killed and restarted", async () => {
        const watcher = await kv.watch({ key: "presence.>" });
        const entries = collect(watcher);
        try {
          await kv.put("presence.frank", "before");
          await nextEntry(entries, 0, (e) => e.key === "presence.frank");
          await nats.kill();
          await nats.restart();
          // The file store outlived the crash.
          await eventually(
            "the store back",
            async () => (await kv.get("presence.frank").catch(() => null))?.string() === "before",
          );
          await kv.put("presence.frank", "after");
          const entry = await nextEntry(entries, 0, (e) => e.string() === "after");
          assert.equal(entry.key, "presence.frank");
        } finally {
          watcher.stop();
          await entries.done;
        }
      });
    } finally {
      await nc.close();
    }
  },
});

testWithTools([NATS_SERVER], {
  name: "@nats-io/kv on nats-server 2.9: bucket TTL expires entries silently",
  async fn(t) {
    await using nats = await startNats();
    const nc = await natsClient(nats);
    try {
      const kvm = new Kvm(nc);
      const leases = await kvm.create("leases", { history: 1, ttl: 1000 });
      assert.equal((await leases.status()).ttl, 1000);

      await t.step("an entry is gone once the bucket's TTL passes", async () => {
        const watcher = await leases.watch();
        const entries = collect(watcher);
        try {
          await leases.put("node-a", "alive");
          await nextEntry(entries, 0, (e) => e.key === "node-a");
          await eventually("node-a to expire", async () => (await leases.get("node-a")) === null);
          assert.deepEqual(await Array.fromAsync(await leases.keys()), []);
          // Watch order is stream order: had expiry produced a delete, it would come before
          // this put. nats-server 2.9 writes no marker, so a watcher never learns of it.
          await leases.put("sentinel", "x");
          await nextEntry(entries, 0, (e) => e.key === "sentinel");
          assert.deepEqual(entries.items.map((e) => `${e.operation} ${e.key}`), [
            "PUT node-a",
            "PUT sentinel",
          ]);
        } finally {
          watcher.stop();
          await entries.done;
        }
      });

      await t.step(
        "a put replaces the entry: only the newest message is kept, and ages",
        async () => {
          const first = await leases.put("node-b", "1");
          const second = await leases.put("node-b", "2");
          assert.ok(second > first);
          const history = await Array.fromAsync(await leases.history({ key: "node-b" }));
          assert.deepEqual(history.map((e) => [e.revision, e.string()]), [[second, "2"]]);
        },
      );

      const version = nc.info!.version.split(".").map(Number) as [number, number, number];
      const hasMessageTtl = version[0] > 2 || (version[0] === 2 && version[1] >= 11);
      await t.step(
        `per-key TTL (markerTTL) on ${nc.info!.version}: ${
          hasMessageTtl ? "kept" : "silently dropped"
        }`,
        async () => {
          const bucket = await kvm.create("markers", { markerTTL: 1000 });
          // The bucket is created either way; only reading the config back tells the truth.
          assert.equal((await bucket.status()).markerTTL, hasMessageTtl ? 1000 : 0);
          if (!hasMessageTtl) {
            // The Nats-TTL header is accepted and ignored: the key does not expire.
            await bucket.create("k", "v", "1s");
            await new Promise((r) => setTimeout(r, 1500));
            assert.equal((await bucket.get("k"))?.string(), "v");
          }
        },
      );
    } finally {
      await nc.close();
    }
  },
});

// ------------------------------------------------------------------------------ postgres

/**
 * A client as an adapter would make it: a bounded pool, short timeouts, quiet notices, and a
 * bounded reconnect backoff. The default backoff grows with every failed connect of the
 * whole pool (3^n / 100 s, up to 20 s), so after an outage the first query could wait 20 s.
 */
function pgClient(pg: PostgresServer, max = 4) {
  return postgres(pg.url, {
    max,
    idle_timeout: 30,
    connect_timeout: 5,
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    onnotice: () => {},
  });
}

testWithTools([POSTGRESQL], {
  name: "npm:postgres: bounded pool, parameterised queries, transactions",
  async fn(t) {
    await using pg = await startPostgres();
    const sql = pgClient(pg, 2);
    try {
      await sql`create table users (
        id bigint generated always as identity primary key,
        login text not null unique,
        note text
      )`;

      await t.step("hostile text goes in as a parameter and comes back unchanged", async () => {
        const hostile = ["x'); drop table users; --", "\\\\'\"", "ünïcødé 💬"];
        for (const [i, note] of hostile.entries()) {
          await sql`insert into users (login, note) values (${`user${i}`}, ${note})`;
        }
        const rows = await sql<{ note: string }[]>`select note from users order by id`;
        assert.deepEqual(rows.map((r) => r.note), hostile);
      });

      await t.step("a NUL byte is refused with a clear error and changes nothing", async () => {
        await assert.rejects(
          sql`insert into users (login) values (${"nul\u0000byte"})`,
          /invalid byte sequence|0x00/,
        );
        const [row] = await sql`select count(*)::int as count from users`;
        assert.equal(row?.count, 3);
      });

      await t.step("bigint columns come back as strings, not lossy numbers", async () => {
        const [row] = await sql`select id from users order by id limit 1`;
        assert.equal(typeof row?.id, "string");
      });

      await t.step("the pool never opens more than max connections", async () => {
        const pids = await Promise.all(
          Array.from(
            { length: 12 },
            () =>
              sql<{ pid: number }[]>`select pg_backend_pid() as pid, pg_sleep(0.02)`.then((r) =>
                r[0]!.pid
              ),
          ),
        );
        assert.equal(pids.length, 12);
        assert.ok(new Set(pids).size <= 2, `distinct backends: ${new Set(pids).size}`);
      });

      await t.step("a transaction commits, and a failure inside it rolls back", async () => {
        await sql.begin(async (tx) => {
          await tx`insert into users (login) values ('committed')`;
        });
        await assert.rejects(
          sql.begin(async (tx) => {
            await tx`insert into users (login) values ('rolled-back')`;
            await tx`insert into users (login) values ('committed')`; // unique violation
          }),
          (e: Error & { code?: string }) => e.code === "23505",
        );
        const logins = await sql`select login from users where login in
          ('committed', 'rolled-back')`;
        assert.deepEqual(logins.map((r) => r.login), ["committed"]);
      });

      await t.step("LISTEN/NOTIFY delivers payloads to a listener", async () => {
        const got: string[] = [];
        const listening = await sql.listen("jim_changes", (payload) => got.push(payload));
        try {
          await sql.notify("jim_changes", "user:alice");
          await sql`select pg_notify('jim_changes', ${"from sql"})`;
          await eventually("two notifications", () => got.length === 2);
          assert.deepEqual(got, ["user:alice", "from sql"]);
        } finally {
          await listening.unlisten();
        }
      });
    } finally {
      await sql.end({ timeout: 5 });
    }
  },
});

testWithTools([POSTGRESQL], {
  name: "npm:postgres while PostgreSQL is down: clear errors, no crash, recovery by itself",
  async fn(t) {
    await using pg = await startPostgres();
    const sql = pgClient(pg, 2);
    const notes: string[] = [];
    let listens = 0;
    try {
      await noUnhandledRejections(async () => {
        await sql`create table notes (v text)`;
        const listening = await sql.listen("jim_changes", (p) => notes.push(p), () => listens++);
        assert.equal(listens, 1);

        await t.step(
          "a query in flight when the server stops fails with a clear error",
          async () => {
            const inFlight = sql`select pg_sleep(60)`;
            const settled = inFlight.then(() => undefined, (e: Error & { code?: string }) => e);
            await eventually("the query to run", async () => {
              const admin = postgres(pg.adminUrl, { max: 1 });
              try {
                const rows = await admin`select 1 from pg_stat_activity
                where query like 'select pg_sleep(60)%' and state = 'active'`;
                return rows.length === 1;
              } finally {
                await admin.end({ timeout: 5 });
              }
            });
            await pg.stop();
            const error = await settled;
            assert.ok(error instanceof Error, "the query failed");
            // 57P01 admin_shutdown, or the socket closing first.
            assert.ok(
              error.code === "57P01" || error.code === "CONNECTION_CLOSED",
              `${error.code}: ${error.message}`,
            );
          },
        );

        await t.step("new queries fail at once with ECONNREFUSED, again and again", async () => {
          for (let i = 0; i < 3; i++) {
            await assert.rejects(
              sql`insert into notes values ('lost')`,
              (e: Error & { code?: string }) => {
                assert.equal(e.code, "ECONNREFUSED");
                assert.match(e.message, /ECONNREFUSED 127\.0\.0\.1:\d+/);
                return true;
              },
            );
          }
          await assert.rejects(sql.begin((tx) => tx`select 1`), /ECONNREFUSED/);
        });

        await t.step("after start() the same client works and LISTEN is renewed", async () => {
          await pg.start();
          await sql`insert into notes values ('kept')`;
          assert.deepEqual([...await sql`select v from notes`], [{ v: "kept" }]);
          await eventually("LISTEN again", () => listens >= 2);
          await sql.notify("jim_changes", "after restart");
          await eventually("the notification", () => notes.includes("after restart"));
        });

        await t.step("a backend killed by an administrator is replaced", async () => {
          const listensBefore = listens;
          const admin = postgres(pg.adminUrl, { max: 1 });
          try {
            await admin`select pg_terminate_backend(pid) from pg_stat_activity
              where usename = 'jim' and pid <> pg_backend_pid()`;
          } finally {
            await admin.end({ timeout: 5 });
          }
          await eventually("a working query", async () => {
            try {
              await sql`select 1`;
              return true;
            } catch {
              return false;
            }
          });
          await eventually("LISTEN again", () => listens > listensBefore);
        });

        await listening.unlisten();
      });
    } finally {
      await sql.end({ timeout: 5 });
    }
  },
});
