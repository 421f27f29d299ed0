/**
 * Cluster mode end to end (issue 14): three real `jim-server serve --cluster` processes on
 * loopback, sharing one PostgreSQL and one nats-server, each started by tests/_services.ts.
 * Chat and presence across nodes, admin views of the whole cluster, a user removed on every
 * node, `kill -9` of a node (its users offline within the lease TTL, their clients back on
 * another node, the others serving throughout), and NATS stopped and started under running
 * nodes (each goes on alone and reconnects by itself).
 *
 * @module
 */
import assert from "node:assert/strict";
import { addUser } from "../server/mod.ts";
import { PostgresStorage } from "../server/storage/postgres/mod.ts";
import { connectRaw, now, type RawConnection } from "../server/testing.ts";
import { JimServerProcess } from "./_jim_server.ts";
import { NATS_SERVER, POSTGRESQL, startNats, startPostgres } from "./_services.ts";
import { testWithTools } from "./_tools.ts";

const USERS = ["alice", "bob", "carol", "dave"];

async function waitUntil(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

function msg(to: string, message: string) {
  return { action: "msg", time: now(), to, encoding: "utf-8", message };
}

/** Logs `login` in on `port`. */
async function loggedIn(port: number, login: string): Promise<RawConnection> {
  const conn = await connectRaw({ host: "127.0.0.1", port });
  const reply = await conn.login(login, `${login}-pw`);
  assert.equal(reply.response, 200, `${login} on ${port}: ${JSON.stringify(reply)}`);
  return conn;
}

/** What `from` is told for a message to `to`: 200 when online somewhere, 410 when not. */
async function sendCode(from: RawConnection, to: string, text: string): Promise<number> {
  return (await from.request(msg(to, text))).response as number;
}

testWithTools([NATS_SERVER, POSTGRESQL], {
  name: "jim-server cluster: three nodes on NATS and PostgreSQL, a crash and a NATS outage",
  async fn(t) {
    await using nats = await startNats();
    await using pg = await startPostgres();
    {
      await using storage = await PostgresStorage.open(pg.url);
      for (const name of USERS) await addUser(storage.users, name, `${name}-pw`, FAST);
    }
    const start = (name: string) =>
      JimServerProcess.serve([
        "--db",
        pg.url,
        "--cluster",
        nats.url,
        "--node-name",
        name,
        "--log-level",
        "warn",
      ]);
    await using n1 = start("n1");
    await using n2 = start("n2");
    await using n3 = start("n3");
    const [p1, p2, p3] = await Promise.all([n1.port(), n2.port(), n3.port()]);
    await n1.waitFor(/Cluster: joined as node n1/);

    await t.step("a message crosses nodes, both ways", async () => {
      await using alice = await loggedIn(p1, "alice");
      await using bob = await loggedIn(p2, "bob");
      await waitUntil("bob online on n1", async () => await sendCode(alice, "bob", "hi") === 200);
      const push = await bob.next();
      assert.deepEqual(
        { action: push.action, from: push.from, to: push.to, message: push.message },
        { action: "msg", from: "alice", to: "bob", message: "hi" },
      );
      assert.equal(await sendCode(bob, "alice", "hello back"), 200);
      assert.equal((await alice.next()).message, "hello back");
      await using carol = await loggedIn(p3, "carol");
      await waitUntil(
        "carol online on n1",
        async () => await sendCode(alice, "carol", "c") === 200,
      );
      assert.equal((await carol.next()).message, "c");
    });

    await t.step("presence follows logouts on other nodes", async () => {
      await using alice = await loggedIn(p1, "alice");
      {
        await using _bob = await loggedIn(p2, "bob");
        await waitUntil("bob online", async () => await sendCode(alice, "bob", "x") === 200);
      }
      await waitUntil("bob offline", async () => await sendCode(alice, "bob", "y") === 410);
    });

    await t.step("one session per account holds across the cluster", async () => {
      await using alice = await loggedIn(p1, "alice");
      await using again = await connectRaw({ host: "127.0.0.1", port: p2 });
      // The login on n2 probes the session on n1, which answers: refused, as on one server.
      const refused = again.login("alice", "alice-pw");
      assert.equal((await alice.next()).action, "probe");
      await alice.send({ action: "presence", time: now(), user: { account_name: "alice" } });
      assert.deepEqual(await refused, { response: 409, error: "Client already online" });
    });

    await t.step("user list --cluster shows every node's sessions", async () => {
      await using _bob = await loggedIn(p2, "bob");
      await using _carol = await loggedIn(p3, "carol");
      await waitUntil("both listed", async () => {
        const list = await new JimServerProcess([
          "user",
          "list",
          "--db",
          pg.url,
          "--cluster",
          nats.url,
        ]).finished();
        return /^bob\s.*\bn2#\d+/m.test(list.output) && /^carol\s.*\bn3#\d+/m.test(list.output);
      });
    });

    await t.step("a removed user's session ends, whichever node it is on", async () => {
      await using dave = await loggedIn(p3, "dave");
      const removed = await new JimServerProcess(["user", "remove", "dave", "--db", pg.url])
        .finished();
      assert.equal(removed.code, 0, removed.output);
      const frames = await dave.closedByServer();
      assert.deepEqual(frames.at(-1), { response: 403, error: "Account removed" });
    });

    await t.step("kill -9 of a node", async (t) => {
      await using alice = await loggedIn(p1, "alice");
      await using bob = await loggedIn(p2, "bob");
      await using carol = await loggedIn(p3, "carol");
      await waitUntil("alice online", async () => await sendCode(bob, "alice", "1") === 200);
      await alice.next();
      await n1.kill("SIGKILL");
      await t.step("its users are offline within the lease TTL", async () => {
        await waitUntil("alice offline", async () => await sendCode(bob, "alice", "2") === 410);
      });
      await t.step("the other nodes kept serving", async () => {
        assert.equal(await sendCode(bob, "carol", "still here"), 200);
        assert.equal((await carol.next()).message, "still here");
      });
      await t.step("its clients log in on another node at once", async () => {
        await using back = await loggedIn(p3, "alice");
        await waitUntil(
          "alice online again",
          async () => await sendCode(bob, "alice", "3") === 200,
        );
        assert.equal((await back.next()).message, "3");
      });
    });

    await t.step("NATS down: each node goes on alone, then reconnects by itself", async (t) => {
      await using bob = await loggedIn(p2, "bob");
      await using dave = await connectRaw({ host: "127.0.0.1", port: p2 });
      assert.equal((await dave.login("carol", "carol-pw")).response, 200);
      await using alice = await loggedIn(p3, "alice");
      await waitUntil("alice seen from n2", async () => await sendCode(bob, "alice", "a") === 200);
      await alice.next();
      await nats.stop();
      await t.step("sessions on one node keep chatting", async () => {
        assert.equal(await sendCode(bob, "carol", "same node"), 200);
        assert.equal((await dave.next()).message, "same node");
      });
      await t.step("users on other nodes count as offline", async () => {
        await waitUntil(
          "alice offline from n2",
          async () => await sendCode(bob, "alice", "b") === 410,
        );
      });
      await t.step("no node crashed, and each is back by itself", async () => {
        await nats.restart();
        await n2.waitFor(/NATS is back/);
        await n3.waitFor(/NATS is back/);
        await waitUntil(
          "alice online from n2",
          async () => await sendCode(bob, "alice", "c") === 200,
        );
        assert.equal((await alice.next()).message, "c");
        assert.equal(await sendCode(alice, "bob", "and back"), 200);
        assert.equal((await bob.next()).message, "and back");
      });
    });
  },
});

const FAST = { iterations: 4096 };
