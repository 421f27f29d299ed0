import assert from "node:assert/strict";
import { addUser } from "./accounts.ts";
import { LocalHub } from "./hub/local_hub.ts";
import {
  connectRaw,
  now,
  type RawConnection,
  startTestServer,
  TEST_ITERATIONS,
} from "./testing.ts";

const USERS = ["alice", "bob", "carol", "dave", "erin"].map((login) => ({
  login,
  password: `${login}-pw`,
}));
const JIM = { capabilities: ["ids", "carbons", "presence", "receipts"] };

async function online(
  srv: { host: string; port: number },
  login: string,
  options: { capabilities?: string[] } = {},
): Promise<RawConnection> {
  const conn = await connectRaw(srv);
  const reply = await conn.login(login, `${login}-pw`, options);
  assert.equal(reply.response, 200, JSON.stringify(reply));
  return conn;
}

/** The next frame, which must be a presence push; as "login status". */
async function pushed(conn: RawConnection): Promise<string> {
  const frame = await conn.next();
  assert.equal(frame.action, "presence", JSON.stringify(frame));
  assert.equal(frame.type, "status");
  assert.equal(typeof frame.time, "number");
  const user = frame.user as { account_name: string; status: string };
  return `${user.account_name} ${user.status}`;
}

/** Proves nothing was pushed before: the next frame is the answer to a request sent now. */
async function nothingPushed(conn: RawConnection): Promise<void> {
  const reply = await conn.request({ action: "get_users", time: now() });
  assert.equal(reply.response, 202, `expected no push first, got ${JSON.stringify(reply)}`);
}

Deno.test("presence push over real sockets: contacts hear online and offline, seed sessions nothing", async (t) => {
  await using srv = await startTestServer({ users: USERS });
  await srv.storage.contacts.add("alice", "bob");
  await srv.storage.contacts.add("alice", "carol");
  await srv.storage.contacts.add("carol", "bob");
  await using alice = await online(srv, "alice", JIM);
  await using carol = await online(srv, "carol"); // the seed client: no capabilities
  assert.equal(await pushed(alice), "carol online");

  await t.step("bob logs in, then quits: alice hears both, carol (seed) nothing", async () => {
    await using bob = await online(srv, "bob");
    assert.equal(await pushed(alice), "bob online");
    await nothingPushed(carol);
    await bob.send({ action: "quit", time: now() });
    assert.equal(await pushed(alice), "bob offline");
  });
  await t.step("a dropped connection counts as going offline too", async () => {
    const bob = await online(srv, "bob");
    assert.equal(await pushed(alice), "bob online");
    bob.close();
    assert.equal(await pushed(alice), "bob offline");
    await nothingPushed(carol);
  });

  await t.step("add_contact starts the pushes, del_contact stops them", async () => {
    const added = await alice.request({ action: "add_contact", time: now(), user_id: "Dave" });
    assert.equal(added.response, 200);
    const dave = await online(srv, "dave");
    assert.equal(await pushed(alice), "dave online");
    const removed = await alice.request({ action: "del_contact", time: now(), user_id: "dave" });
    assert.equal(removed.response, 200);
    await dave.send({ action: "quit", time: now() });
    await dave.closedByServer();
    await nothingPushed(alice);
  });

  await t.step("a failed add_contact changes no watch", async () => {
    const reply = await alice.request({ action: "add_contact", time: now(), user_id: "nobody" });
    assert.equal(reply.response, 404);
    assert.deepEqual((srv.server.hub as LocalHub).watchedBy("alice").sort(), ["bob", "carol"]);
  });
});

Deno.test("presence push: a removed user is nobody's contact, even under its name added again", async () => {
  await using srv = await startTestServer({ users: USERS, limits: { rateLimit: 0 } });
  const hub = srv.server.hub as LocalHub;
  await srv.storage.contacts.add("alice", "erin");
  await using alice = await online(srv, "alice", JIM);
  assert.equal(hub.watcherCount("erin"), 1);
  await srv.storage.users.remove("erin");
  // The server hears of it through the change feed, asynchronously.
  const deadline = Date.now() + 5000;
  while (hub.watcherCount("erin") > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(hub.watcherCount("erin"), 0);
  assert.deepEqual(hub.watchedBy("alice"), []);
  await addUser(srv.storage.users, "erin", "erin-pw", { iterations: TEST_ITERATIONS });
  await using _erin = await online(srv, "erin");
  await nothingPushed(alice);
});

Deno.test("presence push: a watcher's sessions each hear it, and a contact online already is not news", async () => {
  await using hub = new LocalHub({ maxSessionsPerAccount: 2 });
  await using srv = await startTestServer({ users: USERS, hub });
  await srv.storage.contacts.add("alice", "bob");
  await using bob = await online(srv, "bob");
  await using phone = await online(srv, "alice", JIM);
  await using laptop = await online(srv, "alice", JIM);
  await nothingPushed(phone);
  bob.close();
  assert.equal(await pushed(phone), "bob offline");
  assert.equal(await pushed(laptop), "bob offline");
});
