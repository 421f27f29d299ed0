/** JimClient against the real server on 127.0.0.1 port 0. */
import { JimError } from "../protocol/mod.ts";
import { connectRaw, startTestServer } from "../server/testing.ts";
import { assert, rejectsWith, waitFor } from "./_assert.ts";
import { ConnectionError } from "./errors.ts";
import { seedDisguise } from "./_fake_peer.ts";
import { type IncomingMessage, JimClient } from "./jim_client.ts";

const USERS = [
  { login: "alice", password: "alice-pw" },
  { login: "bob", password: "bob-pw" },
  { login: "carol", password: "carol-pw", legacy: true },
];

Deno.test("JimClient.login() against the real server", async (t) => {
  await using srv = await startTestServer({
    users: USERS,
    legacyAuth: true,
    limits: { maxSessionsPerUser: 1 },
  });

  await t.step("SCRAM-SHA-256 with a verified server", async () => {
    await using client = await JimClient.connect({ port: srv.port });
    assert.deepEqual(await client.login("alice", "alice-pw"), {
      user: "alice",
      mechanism: "SCRAM-SHA-256",
    });
    await client.quit();
    assert.equal(client.connected, false);
  });

  await t.step("SCRAM is preferred even when legacy is allowed and offered", async () => {
    await using client = await JimClient.connect({ port: srv.port });
    const result = await client.login("carol", "carol-pw", { allowLegacy: true });
    assert.equal(result.mechanism, "SCRAM-SHA-256");
  });

  await t.step("wrong password: 402 Access denied", async () => {
    await using client = await JimClient.connect({ port: srv.port });
    const error = await rejectsWith(() => client.login("bob", "nope"), JimError, "Access denied");
    assert.equal(error.code, 402);
    assert.equal(client.user, undefined);
  });

  await t.step("unknown user: 402 Access denied, as for a wrong password", async () => {
    await using client = await JimClient.connect({ port: srv.port });
    const error = await rejectsWith(() => client.login("mallory", "x"), JimError, "Access denied");
    assert.equal(error.code, 402);
  });

  await t.step("a login already online elsewhere: 409", async () => {
    await using first = await JimClient.connect({ port: srv.port });
    await first.login("bob", "bob-pw");
    await using second = await JimClient.connect({ port: srv.port });
    const error = await rejectsWith(
      () => second.login("bob", "bob-pw"),
      JimError,
      "Client already online",
    );
    assert.equal(error.code, 409);
  });
});

Deno.test("JimClient.login() falls back to legacy HMAC-MD5 with a seed-like server", async (t) => {
  await using srv = await startTestServer({ users: USERS, legacyAuth: true });

  await t.step("allowed: the real server checks the seed's digest", async () => {
    await using proxy = seedDisguise(srv);
    await using client = await JimClient.connect({ port: proxy.port });
    const result = await client.login("carol", "carol-pw", { allowLegacy: true });
    assert.equal(result.mechanism, "HMAC-MD5");
    assert.deepEqual(proxy.sawMechanisms, [["SCRAM-SHA-256", "HMAC-MD5"]]);
    assert.deepEqual(await client.users(), ["alice", "bob", "carol"]);
    await client.quit();
  });

  await t.step("allowed, wrong password: 402", async () => {
    await using proxy = seedDisguise(srv);
    await using client = await JimClient.connect({ port: proxy.port });
    const error = await rejectsWith(
      () => client.login("carol", "wrong", { allowLegacy: true }),
      JimError,
      "Access denied",
    );
    assert.equal(error.code, 402);
  });

  await t.step("not allowed: refused by the client", async () => {
    await using proxy = seedDisguise(srv);
    await using client = await JimClient.connect({ port: proxy.port });
    await rejectsWith(
      () => client.login("carol", "carol-pw"),
      JimError,
      "offers only legacy HMAC-MD5",
    );
  });
});

Deno.test("JimClient sends and receives both ways, and reports 410 for an offline recipient", async () => {
  await using srv = await startTestServer({ users: USERS, offlineMessages: "reject" });
  await using alice = await JimClient.connect({ port: srv.port });
  await alice.login("alice", "alice-pw");
  await rejectsWith(() => alice.send("bob", "are you there?"), JimError, "Client not online: bob")
    .then((e) => assert.equal(e.code, 410));
  await rejectsWith(() => alice.send("nobody", "hi"), JimError, "No such client: nobody")
    .then((e) => assert.equal(e.code, 404));

  await using bob = await JimClient.connect({ port: srv.port });
  await bob.login("bob", "bob-pw");
  const toBob = bob.messages();
  const toAlice: IncomingMessage[] = [];
  alice.addEventListener("message", (e) => toAlice.push(e.detail));

  const before = Date.now() - 1000;
  await alice.send("bob", "Hey! Привет 👋");
  const first = await toBob.next();
  assert.equal(first.done, false);
  const m = first.value as IncomingMessage;
  assert.deepEqual([m.from, m.to, m.text], ["alice", "bob", "Hey! Привет 👋"]);
  assert.ok(m.time >= before && m.time <= Date.now() + 1000, `time ${m.time}`);

  await bob.send("alice", "hello back");
  await waitFor(() => toAlice.length === 1, "alice to receive");
  assert.deepEqual([toAlice[0]!.from, toAlice[0]!.text], ["bob", "hello back"]);

  // The server keeps `from` honest and the iterator ends with the connection.
  await bob.quit();
  assert.deepEqual(await toBob.next(), { value: undefined, done: true });
  await rejectsWith(() => alice.send("bob", "gone?"), JimError, "Client not online: bob");
});

Deno.test("JimClient manages contacts on the server", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using alice = await JimClient.connect({ port: srv.port });
  await alice.login("alice", "alice-pw");
  assert.deepEqual(await alice.contacts(), []);
  await alice.addContact("bob");
  await alice.addContact("carol");
  assert.deepEqual(await alice.contacts(), [
    { login: "bob", online: false },
    { login: "carol", online: false },
  ]);
  await rejectsWith(() => alice.addContact("bob"), JimError, "Client already in contacts: bob")
    .then((e) => assert.equal(e.code, 409));
  await rejectsWith(() => alice.addContact("nobody"), JimError, "No such client: nobody");

  await using bob = await JimClient.connect({ port: srv.port });
  await bob.login("bob", "bob-pw");
  assert.deepEqual(
    (await alice.contacts()).find((c) => c.login === "bob"),
    { login: "bob", online: true },
  );
  await alice.removeContact("carol");
  assert.deepEqual((await alice.contacts()).map((c) => c.login), ["bob"]);
  await rejectsWith(() => alice.removeContact("carol"), JimError, "Client not in contacts: carol");
  assert.deepEqual(await alice.users(), ["alice", "bob", "carol"]);
});

Deno.test("JimClient answers probes and keeps replies in order", async (t) => {
  await t.step("control: a connection that ignores the probe is closed by the server", async () => {
    await using srv = await startTestServer({
      users: USERS,
      limits: { idleProbeMs: 100, probeGraceMs: 100 },
    });
    await using raw = await connectRaw(srv, { timeoutMs: 30_000 });
    assert.equal((await raw.login("bob", "bob-pw")).response, 200);
    assert.equal((await raw.next()).action, "probe");
    assert.deepEqual(await raw.closedByServer(), []);
  });

  await t.step("JimClient answers, so the server probes it again", async () => {
    // The grace is far longer than any test runs: only the order of events is checked, and a
    // second probe comes only after the first was answered and the connection idled again.
    await using srv = await startTestServer({
      users: USERS,
      limits: { idleProbeMs: 100, probeGraceMs: 600_000 },
    });
    using probes = srv.server.events.subscribe({ types: ["push", "request"] });
    await using client = await JimClient.connect({ port: srv.port });
    await client.login("alice", "alice-pw");
    let seen = 0;
    client.addEventListener("probe", () => seen++);
    await waitFor(() => seen >= 2, "two probes", 30_000);
    // Between the two probes the server got the answer: presence from alice.
    const order: string[] = [];
    while (order.filter((o) => o === "probe").length < 2) {
      const event = await probes.next();
      if (!event) throw new Error("The event feed ended");
      const payload = event?.payload as { action?: string } | undefined;
      if (payload?.action === "probe" || payload?.action === "presence") {
        order.push(event.type === "push" ? "probe" : "presence");
      }
    }
    assert.deepEqual(order.slice(-3), ["probe", "presence", "probe"]);
    assert.equal(client.connected, true);
    assert.deepEqual(await client.users(), ["alice", "bob", "carol"]);
    assert.deepEqual(await client.contacts(), []);
  });
});

Deno.test("JimClient reports the server's shutdown notice as the reason the connection ended", async () => {
  const srv = await startTestServer({ users: USERS });
  try {
    await using client = await JimClient.connect({ port: srv.port });
    await client.login("alice", "alice-pw");
    const reasons: string[] = [];
    client.addEventListener("disconnected", (e) => reasons.push(e.detail.reason));
    await srv.server.close();
    await client.closed;
    // The server says why and half-closes before it goes, so the notice always comes first.
    assert.deepEqual(reasons, [
      "Connection lost: server closed the connection: Server shutting down",
    ]);
    await rejectsWith(() => client.contacts(), ConnectionError, "Connection lost");
  } finally {
    await srv[Symbol.asyncDispose]();
  }
});

Deno.test("JimClient rejects pending calls when the server goes away", async () => {
  // The rate limit holds the calls after the login in the server's backlog, unanswered.
  const srv = await startTestServer({ users: USERS, limits: { rateLimit: 0.001, rateBurst: 4 } });
  try {
    await using client = await JimClient.connect({ port: srv.port });
    await client.login("alice", "alice-pw"); // presence and two authenticate steps
    assert.deepEqual(await client.users(), ["alice", "bob", "carol"]); // the burst's last one
    const pending = [client.contacts(), client.send("bob", "held back"), client.users()];
    assert.equal(client.pendingRequests, 3);
    await srv.server.close();
    const outcomes = await Promise.allSettled(pending);
    // JIM replies carry no ids: the parting 503 answers the oldest call, the rest fail with
    // the connection, which says why it ended.
    const [first, ...rest] = outcomes.map((o) => (o as PromiseRejectedResult).reason);
    assert.deepEqual(outcomes.map((o) => o.status), ["rejected", "rejected", "rejected"]);
    assert.ok(first instanceof JimError, String(first));
    assert.deepEqual([first.code, first.message], [503, "Server shutting down"]);
    for (const reason of rest) {
      assert.ok(reason instanceof ConnectionError, String(reason));
      assert.equal(
        reason.message,
        "Connection lost: server closed the connection: Server shutting down",
      );
    }
    assert.equal(client.pendingRequests, 0);
    assert.equal(client.connected, false);
  } finally {
    await srv[Symbol.asyncDispose]();
  }
});

Deno.test("JimClient reports a removed account as the reason its session ended", async () => {
  await using srv = await startTestServer({ users: USERS });
  await using client = await JimClient.connect({ port: srv.port });
  await client.login("alice", "alice-pw");
  const reasons: string[] = [];
  client.addEventListener("disconnected", (e) => reasons.push(e.detail.reason));
  await srv.storage.users.remove("alice");
  await srv.server.endSessionsOfRemovedUsers();
  await client.closed;
  assert.deepEqual(reasons, ["Connection lost: server closed the connection: Account removed"]);
});
