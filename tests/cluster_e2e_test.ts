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
import { addUser, clusterSessions, joinCluster } from "../server/mod.ts";
import { startAdminGui } from "../ui/server/mod.ts";
import { PostgresStorage } from "../server/storage/postgres/mod.ts";
import { connectRaw, now, type RawConnection } from "../server/testing.ts";
import { JimServerProcess } from "./_jim_server.ts";
import { NATS_SERVER, POSTGRESQL, startNats, startPostgres } from "./_services.ts";
import { testWithTools } from "./_tools.ts";

const USERS = [
  "alice",
  "bob",
  "carol",
  "dave",
  "erin",
  "frank",
  "gina",
  "hank",
  "ivy",
  "jack",
  "kate",
  "lena",
  "mona",
  "nora",
  "otto",
  "pia",
];
const FAST = { iterations: 4096 };

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
async function loggedIn(
  port: number,
  login: string,
  capabilities?: string[],
): Promise<RawConnection> {
  const conn = await connectRaw({ host: "127.0.0.1", port });
  const reply = await conn.login(login, `${login}-pw`, { capabilities });
  assert.equal(reply.response, 200, `${login} on ${port}: ${JSON.stringify(reply)}`);
  return conn;
}

/** What `from` is told for a message: "OK" (a session took it) or "Stored for NAME". */
async function send(from: RawConnection, to: string, text: string): Promise<string> {
  const reply = await from.request(msg(to, text));
  assert.equal(reply.response, 200, JSON.stringify(reply));
  return reply.alert as string;
}

/** The next message pushed to `conn`, as who sent what. */
async function received(conn: RawConnection): Promise<string> {
  const push = await conn.next();
  assert.equal(push.action, "msg", JSON.stringify(push));
  return `${push.from}: ${push.message}`;
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
        ...["--db", pg.url, "--cluster", nats.url, "--node-name", name],
        ...["--max-sessions-per-user", "2", "--max-failed-logins", "3", "--log-level", "warn"],
      ]);
    await using n1 = start("n1");
    await using n2 = start("n2");
    await using n3 = start("n3");
    const [p1, p2, p3] = await Promise.all([n1.port(), n2.port(), n3.port()]);
    await n1.waitFor(/Cluster: joined as node n1/);
    /** The cluster's sessions as the admin views see them, crashed nodes' included. */
    const leases = async () =>
      (await clusterSessions({ servers: nats.url, leaseTtlMs: Number.MAX_SAFE_INTEGER }))
        .map((s) => `${s.login}@${s.node}`).sort();
    const online = async (who: string) => (await leases()).includes(who);

    await t.step("a message crosses nodes, both ways", async () => {
      await using alice = await loggedIn(p1, "alice");
      await using bob = await loggedIn(p2, "bob");
      await waitUntil("bob online", () => online("bob@n2"));
      assert.equal(await send(alice, "bob", "hi"), "OK");
      assert.equal(await received(bob), "alice: hi");
      assert.equal(await send(bob, "alice", "hello back"), "OK");
      assert.equal(await received(alice), "bob: hello back");
    });

    await t.step("a message for a user offline everywhere waits for any node", async () => {
      {
        await using alice = await loggedIn(p1, "alice");
        assert.equal(await send(alice, "carol", "while you were out"), "Stored for carol");
      }
      await using carol = await loggedIn(p3, "carol");
      assert.equal(await received(carol), "alice: while you were out");
    });

    await t.step("several devices on different nodes, the cap across the cluster", async () => {
      await using phone = await loggedIn(p1, "dave");
      await using laptop = await loggedIn(p2, "dave");
      await using erin = await loggedIn(p3, "erin");
      await waitUntil("both of dave's", async () => {
        const all = await leases();
        return all.includes("dave@n1") && all.includes("dave@n2");
      });
      assert.equal(await send(erin, "dave", "to every device"), "OK");
      assert.equal(await received(phone), "erin: to every device");
      assert.equal(await received(laptop), "erin: to every device");
      // A third login probes both (on other nodes); both answer, so it is refused.
      await using third = await connectRaw({ host: "127.0.0.1", port: p3 });
      const refused = third.login("dave", "dave-pw");
      for (const device of [phone, laptop]) {
        assert.equal((await device.next()).action, "probe");
        await device.send({ action: "presence", time: now(), user: { account_name: "dave" } });
      }
      assert.deepEqual(await refused, { response: 409, error: "Client already online" });
    });

    await t.step("a room's members on three nodes, and its history from any node", async () => {
      const caps = ["ids", "rooms"];
      await using nora = await loggedIn(p1, "nora", caps);
      await using otto = await loggedIn(p2, "otto", caps);
      await using pia = await loggedIn(p3, "pia", caps);
      /** The next room message pushed to `conn`, past the room's events. */
      const roomMessage = async (conn: RawConnection) => {
        for (;;) {
          const push = await conn.next();
          if (push.action === "msg") return `${push.to} ${push.from}: ${push.message}`;
          assert.equal(push.action, "room_event", JSON.stringify(push));
        }
      };
      /**
       * The answer to `request`, past room events, which other nodes may push at any time; a
       * room message meanwhile fails the test.
       */
      const answer = async (conn: RawConnection, request: Record<string, unknown>) => {
        await conn.send({ time: now(), ...request });
        for (;;) {
          const frame = await conn.next();
          if (frame.response !== undefined) return frame;
          assert.equal(frame.action, "room_event", JSON.stringify(frame));
        }
      };
      for (const member of [nora, otto, pia]) {
        const joined = await answer(member, { action: "join", room: "#crew" });
        assert.equal(joined.response, 200, JSON.stringify(joined));
      }
      await waitUntil("the members online", async () => {
        const all = await leases();
        return ["nora@n1", "otto@n2", "pia@n3"].every((s) => all.includes(s));
      });
      const sent = await answer(nora, msg("#crew", "all hands"));
      assert.equal(sent.response, 200, JSON.stringify(sent));
      assert.equal(await roomMessage(otto), "#crew nora: all hands");
      assert.equal(await roomMessage(pia), "#crew nora: all hands");
      const left = await answer(pia, { action: "leave", room: "#crew" });
      assert.equal(left.response, 200, JSON.stringify(left));
      assert.equal((await answer(otto, msg("#crew", "after pia left"))).response, 200);
      assert.equal(await roomMessage(nora), "#crew otto: after pia left");
      // pia gets nothing more of #crew: what she sees next is the answer to her own request.
      assert.equal((await answer(pia, { action: "get_users" })).response, 202);
      // The history is the same from a node that did not route the messages.
      await using other = await loggedIn(p3, "otto", caps);
      const page = await answer(other, { action: "history", with: "#crew", limit: 10 });
      assert.equal(page.response, 202, JSON.stringify(page));
      const items: string[] = [];
      while (items.length < (page.quantity as number)) {
        const item = await other.next();
        if (item.action === "history_item") items.push(`${item.from}: ${item.message}`);
      }
      assert.deepEqual(items, ["nora: all hands", "otto: after pia left"]);
    });

    await t.step("presence pushes follow a contact's logins on other nodes", async () => {
      await using erin = await connectRaw({ host: "127.0.0.1", port: p1 });
      assert.equal(
        (await erin.login("erin", "erin-pw", { capabilities: ["presence"] })).response,
        200,
      );
      const added = await erin.request({ action: "add_contact", time: now(), user_id: "frank" });
      assert.equal(added.response, 200, JSON.stringify(added));
      const status = async () => {
        const push = await erin.next();
        assert.equal(push.action, "presence", JSON.stringify(push));
        return push.user;
      };
      {
        await using _frank = await loggedIn(p3, "frank");
        assert.deepEqual(await status(), { account_name: "frank", status: "online" });
      }
      assert.deepEqual(await status(), { account_name: "frank", status: "offline" });
      const removed = await erin.request({ action: "del_contact", time: now(), user_id: "frank" });
      assert.equal(removed.response, 200);
    });

    await t.step("presence follows a logout on another node", async () => {
      await using erin = await loggedIn(p1, "erin");
      {
        await using _frank = await loggedIn(p2, "frank");
        await waitUntil("frank online", () => online("frank@n2"));
      }
      await waitUntil("frank offline", async () => !await online("frank@n2"));
      assert.equal(await send(erin, "frank", "later"), "Stored for frank");
    });

    await t.step("failed logins on one node count on every node", async () => {
      for (let i = 0; i < 3; i++) {
        await using guess = await connectRaw({ host: "127.0.0.1", port: p1 });
        assert.equal((await guess.login("mona", "wrong")).response, 402);
      }
      // The right password on another node, from the same address: refused there too.
      await waitUntil("the lockout on n2", async () => {
        await using next = await connectRaw({ host: "127.0.0.1", port: p2 });
        const reply = await next.login("mona", "mona-pw");
        assert.notEqual(reply.response, 200, "n2 let in a login that n1 locked out");
        return reply.response === 403 && typeof reply.retry_after === "number";
      });
    });

    await t.step("user list --cluster shows every node's sessions", async () => {
      await using _bob = await loggedIn(p2, "bob");
      await using _carol = await loggedIn(p3, "carol");
      await waitUntil("both listed", async () => {
        const list = await new JimServerProcess(
          ["user", "list", "--db", pg.url, "--cluster", nats.url],
        ).finished();
        return /^bob\s.*\bn2#\d+/m.test(list.output) && /^carol\s.*\bn3#\d+/m.test(list.output);
      });
    });

    await t.step("the admin GUI of a node shows and ends sessions on every node", async () => {
      await using storage = await PostgresStorage.open(pg.url, { pool: 2 });
      const hub = await joinCluster({ servers: nats.url, node: "admin" });
      try {
        await using gui = await startAdminGui({
          storage,
          jim: { host: "127.0.0.1", port: 0, hub },
          guiPort: 0,
          warn: () => {},
        });
        const opened = await fetch(gui.url, { redirect: "manual" });
        await opened.body?.cancel();
        const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0]!;
        const api = async (method: string, path: string) => {
          const res = await fetch(`${gui.origin}${path}`, {
            method,
            headers: { cookie, origin: gui.origin },
          });
          const text = await res.text();
          return { status: res.status, body: text ? JSON.parse(text) : undefined };
        };
        await using bob = await loggedIn(p2, "bob");
        type Row = { login: string; online: boolean; sessions: { id: string; node: string }[] };
        let row: Row | undefined;
        await waitUntil("bob's session in the GUI", async () => {
          const clients = (await api("GET", "/api/clients")).body as Row[];
          row = clients.find((c) => c.login === "bob");
          return row?.sessions.length === 1;
        });
        assert.equal(row!.online, true);
        assert.equal(row!.sessions[0]!.node, "n2");
        assert.match(row!.sessions[0]!.id, /^n2#\d+$/);
        const id = encodeURIComponent(row!.sessions[0]!.id);
        assert.equal((await api("DELETE", `/api/clients/bob/sessions/${id}`)).status, 200);
        const frames = await bob.closedByServer();
        assert.deepEqual(frames.at(-1), {
          response: 403,
          error: "Session ended by the administrator",
        });
      } finally {
        await hub.close();
      }
    });

    await t.step("a removed user's session ends, whichever node it is on", async () => {
      await using ivy = await loggedIn(p3, "ivy");
      const removed = await new JimServerProcess(["user", "remove", "ivy", "--db", pg.url])
        .finished();
      assert.equal(removed.code, 0, removed.output);
      const frames = await ivy.closedByServer();
      assert.deepEqual(frames.at(-1), { response: 403, error: "Account removed" });
    });

    await t.step("kill -9 of a node", async (t) => {
      await using gina = await loggedIn(p1, "gina");
      await using hank = await loggedIn(p2, "hank");
      await using kate = await loggedIn(p3, "kate");
      await waitUntil("gina online", () => online("gina@n1"));
      await n1.kill("SIGKILL");
      await t.step("a message for its users meanwhile is stored, not lost", async () => {
        assert.equal(await send(hank, "gina", "are you there?"), "Stored for gina");
      });
      await t.step("its users are offline within the lease TTL", async () => {
        await waitUntil("gina's lease purged", async () => !await online("gina@n1"));
      });
      await t.step("the other nodes kept serving", async () => {
        assert.equal(await send(hank, "kate", "still here"), "OK");
        assert.equal(await received(kate), "hank: still here");
      });
      await t.step("its clients log in on another node and get what was stored", async () => {
        gina.close();
        await using back = await loggedIn(p3, "gina");
        assert.equal(await received(back), "hank: are you there?");
        await waitUntil("gina on n3", () => online("gina@n3"));
        assert.equal(await send(hank, "gina", "welcome back"), "OK");
        assert.equal(await received(back), "hank: welcome back");
      });
    });

    await t.step("NATS down: each node goes on alone, then reconnects by itself", async (t) => {
      await using jack = await loggedIn(p2, "jack");
      await using kate = await loggedIn(p2, "kate");
      await using lena = await loggedIn(p3, "lena");
      await waitUntil("lena online", () => online("lena@n3"));
      await nats.stop();
      await t.step("sessions on one node keep chatting", async () => {
        assert.equal(await send(jack, "kate", "same node"), "OK");
        assert.equal(await received(kate), "jack: same node");
      });
      await t.step("messages for other nodes are stored", async () => {
        await n2.waitFor(/Cluster: lost NATS/);
        assert.equal(await send(jack, "lena", "across the outage"), "Stored for lena");
      });
      await t.step("when NATS is back they are delivered, with no node restarted", async () => {
        await nats.restart();
        assert.equal(await received(lena), "jack: across the outage");
        await n2.waitFor(/NATS is back/);
        await n3.waitFor(/NATS is back/);
        await waitUntil("lena online again", () => online("lena@n3"));
        // Until n3 has seen n2 beat again since the outage, it stores what is for n2's users
        // and nudges n2, which delivers it at once: either way jack gets it now.
        assert.match(await send(lena, "jack", "and back"), /^(OK|Stored for jack)$/);
        assert.equal(await received(jack), "lena: and back");
      });
    });
  },
});
